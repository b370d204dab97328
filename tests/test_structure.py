"""Headings, titles, dates and code blocks from each format's own structure: HTML (a Sphinx page
and a news page), Markdown, a PDF with an outline; plain text keeps its heuristics."""

from __future__ import annotations

import io
from pathlib import Path

from itsqa.chunking import HEADING_JOIN, chunk_text, cited_path, furniture_to_skip
from itsqa.config import ChunkSettings
from itsqa.corpus import Document, SourceFile, read_document
from itsqa.html_text import clean_title

from .pdfmaker import make_pdf

SPHINX = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>7. Input and Output &#8212; Python 3.11.2 documentation</title>
<link rel="stylesheet" href="_static/pydoctheme.css"></head><body>
<div class="related" role="navigation"><ul><li><a href="index.html">3.11.2 Documentation</a>
&#187;</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
<section id="input-and-output">
<h1><span class="section-number">7. </span>Input and Output<a class="headerlink"
href="#input-and-output" title="Permalink to this headline">&#182;</a></h1>
<p>There are several ways to present the output of a program; data can be printed in a
human-readable form, or written to a file for future use.</p>
<section id="fancier"><h2>7.1. Fancier Output Formatting<a class="headerlink" href="#fancier">&#182;</a></h2>
<p>To use formatted string literals, begin a string with <code>f</code> before the quote:</p>
<div class="highlight"><pre>&gt;&gt;&gt; year = 2016
&gt;&gt;&gt; event = 'Referendum'
# this comment is code, not a heading
&gt;&gt;&gt; f'Results of the {year} {event}'
'Results of the 2016 Referendum'
</pre></div>
<dl class="py function"><dt class="sig">open(file, mode='r')</dt>
<dd><p>Open file and return a corresponding file object.</p></dd></dl>
</section>
<section id="files"><h2>7.2. Reading and Writing Files<a class="headerlink" href="#files">&#182;</a></h2>
<p>open() returns a file object, and is most commonly used with two positional arguments.</p>
</section></section></div></div></div></div>
<div class="footer">Last updated on Feb 13, 2023. Found a bug?</div>
</body></html>"""

NEWS = """<html><head><title>Ministers unveil chip plan | The Daily Example</title>
<meta property="og:site_name" content="The Daily Example">
<meta property="article:published_time" content="2023-03-22T09:30:00Z">
<link rel="canonical" href="https://news.example/chips"></head><body>
<header><nav><a href="/">Home</a> <a href="/tech">Tech</a></nav></header>
<article><h1>Ministers unveil chip plan</h1>
<p>The government set out a plan for semiconductors on Wednesday, with money for design.</p>
<h2>What it means for industry</h2>
<p>Chip designers welcomed the plan but asked for more detail on skills and funding.</p>
</article><footer>Copyright The Daily Example</footer></body></html>"""


def _read(tmp_path: Path, name: str, data: bytes) -> Document:
    path = tmp_path / name
    path.write_bytes(data)
    fmt = {".html": "html", ".md": "markdown", ".pdf": "pdf", ".txt": "text"}[path.suffix]
    doc, warnings = read_document(SourceFile(name, path, fmt, len(data), 0), None)
    assert doc is not None, warnings
    return doc


def _sections(doc: Document) -> list[tuple[str, str]]:
    """(heading path, text) of each passage."""
    cfg = ChunkSettings()
    chunks = chunk_text(doc.text, cfg, furniture_to_skip(doc.furniture, cfg),
                        breaks=[s for s, _ in doc.pages], structure=doc.structure)
    return [(c.heading, c.text) for c in chunks]


def test_a_sphinx_page_gives_its_headings_title_and_code(tmp_path) -> None:
    doc = _read(tmp_path, "inputoutput.html", SPHINX.encode())
    assert doc.meta.title == "7. Input and Output"
    assert doc.meta.date == "", "no date of its own: none, never the file's"
    assert "¶" not in doc.text and "Documentation »" not in doc.text
    passages = _sections(doc)
    headings = {h for h, _ in passages}
    assert headings <= {"7. Input and Output", "7. Input and Output › 7.1. Fancier Output Formatting",
                        "7. Input and Output › 7.2. Reading and Writing Files"}
    code = next(t for _, t in passages if "year = 2016" in t)
    assert "'Results of the 2016 Referendum'" in code, "the code block is kept whole"
    assert "begin a string with f before the quote" in code, "with the text that explains it"
    assert ">>> year = 2016\n>>> event" in code, "its lines are kept"
    assert all("this comment is code" not in h and "open(file" not in h for h in headings)


def test_a_news_page_gives_its_headline_site_and_date(tmp_path) -> None:
    doc = _read(tmp_path, "chips.html", NEWS.encode())
    assert doc.meta.title == "Ministers unveil chip plan"
    assert doc.meta.publisher == "The Daily Example"
    assert doc.meta.date == "2023-03-22"
    assert doc.meta.url == "https://news.example/chips"
    assert "Home" not in doc.text and "Copyright" not in doc.text
    sections = {h for h, _ in _sections(doc)}
    assert "Ministers unveil chip plan › What it means for industry" in sections


def test_a_date_from_json_ld(tmp_path) -> None:
    page = NEWS.replace('<meta property="article:published_time" content="2023-03-22T09:30:00Z">',
                        '<script type="application/ld+json">{"@type": "NewsArticle", '
                        '"datePublished": "2023-04-11"}</script>')
    assert _read(tmp_path, "ld.html", page.encode()).meta.date == "2023-04-11"


def test_titles_lose_glyphs_and_site_suffixes() -> None:
    assert clean_title("7. Input and Output¶ — Python 3.11.2 documentation",
                       "7. Input and Output") == "7. Input and Output"
    assert clean_title("Ministers unveil chip plan | The Daily Example", "",
                       "The Daily Example") == "Ministers unveil chip plan"
    assert clean_title("A page - Some Site") == "A page"
    assert clean_title("Plain title") == "Plain title"


def test_markdown_headings_are_hash_lines_and_never_code(tmp_path) -> None:
    md = ("# Guide\n\nIntro text that explains the tool in a sentence or two.\n\n"
          "## Install\n\nRun the command below to install it on your machine:\n\n"
          "```sh\n# this is a shell comment, not a heading\npip install tool\n```\n\n"
          "Key points\n\nShort lines like the one above are not headings in Markdown.\n")
    doc = _read(tmp_path, "guide.md", md.encode())
    passages = _sections(doc)
    assert {h for h, _ in passages} <= {"Guide", "Guide › Install"}
    install = next(t for _, t in passages if "pip install tool" in t)
    assert "# this is a shell comment" in install and "Run the command below" in install


def test_a_pdf_outline_names_its_sections(tmp_path) -> None:
    from pypdf import PdfReader, PdfWriter

    pages = [["Reference manual"],
             ["1 Introduction", "This library decodes DER data for applications."],
             ["2 Decoding", "der: DER data to decode", "len: the length of the data in bytes.",
              "The function returns zero on success."]]
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf(pages, title="Manual"))))
    writer.add_outline_item(title="1 Introduction", page_number=1)
    top = writer.add_outline_item(title="2 Decoding", page_number=2)
    writer.add_outline_item(title="der: DER data to decode", page_number=2, parent=top)
    buffer = io.BytesIO()
    writer.write(buffer)
    doc = _read(tmp_path, "manual.pdf", buffer.getvalue())
    assert doc.structure.explicit and len(doc.structure.headings) == 3
    heads = {h for h, _ in _sections(doc)}
    assert "2 Decoding" in heads or "2 Decoding › der: DER data to decode" in heads
    assert not any("len: the length" in h for h in heads)


def test_a_pdf_outline_entry_is_found_on_its_heading_line(tmp_path) -> None:
    """Not in the page's running header, nor in a sentence that names it first."""
    from pypdf import PdfReader, PdfWriter

    pages = [["Contents"],
             ["Chapter 7: Randomness 12", "Applications should be using Yarrow instead.",
              "7.8 Yarrow", "Yarrow is a pseudorandomness generator."]]
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf(pages, title="Manual"))))
    writer.add_outline_item(title="Randomness", page_number=1)
    writer.add_outline_item(title="Yarrow", page_number=1)
    buffer = io.BytesIO()
    writer.write(buffer)
    doc = _read(tmp_path, "manual.pdf", buffer.getvalue())
    found = [doc.text[a:b] for a, b, _ in doc.structure.headings]
    assert found == ["7.8 Yarrow"]  # "Randomness" stands only in the running header


def test_a_pdf_without_an_outline_falls_back_to_the_shape_of_lines(tmp_path) -> None:
    doc = _read(tmp_path, "plain.pdf", make_pdf([["Background", "The report covers two years."]]))
    assert not doc.structure.explicit
    assert _sections(doc)[0][0] == "Background"


def test_plain_text_headings_are_still_guessed(tmp_path) -> None:
    report = ("Annual report\n\n1. Introduction\n\nThis report covers the year's work in full.\n\n"
              "2. Results\n\nSales rose. Costs fell. Margins improved across all divisions.\n")
    passages = _sections(_read(tmp_path, "report.txt", report.encode()))
    paths = [HEADING_JOIN.join(cited_path(h, "Annual report")) for h, _ in passages]
    assert any(p.endswith("2. Results") for p in paths)
