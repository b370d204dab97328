"""The format readers: HTML (article text, nesting depth), PDF (pages, encryption, size limits),
Markdown titles, and text in other encodings or with a byte-order mark."""

from __future__ import annotations

import pytest

from itsqa import store
from itsqa.build import update_index
from itsqa.service import open_index

from .helpers import make_settings
from .pdfmaker import make_pdf


def test_a_page_nested_too_deep_for_the_html_reader_is_skipped_saying_so(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    para = "<p>" + "The United Kingdom will expand its network of technology envoys. " * 4 + "</p>"

    def page(divs: int) -> str:  # html, body, the divs and the paragraph
        return f"<html><body>{'<div>' * divs}{para}{'</div>' * divs}</body></html>"

    (corpus / "deepest-read.html").write_text(page(253), encoding="utf-8")  # 256 elements deep
    (corpus / "too-deep.html").write_text(page(254), encoding="utf-8")
    (corpus / "menu.html").write_text("<html><body><div><img src='a.png'></div></body></html>",
                                      encoding="utf-8")
    report = update_index(make_settings(corpus, tmp_path))
    w = "\n".join(report.warnings)
    assert "skipped too-deep.html: its elements nest more than 256 deep" in w, w
    assert "skipped menu.html: no article text found in it" in w, w
    assert "deepest-read.html" not in w, w
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"deepest-read.html"}
    assert "technology envoys" in loaded.chunks[0].text


def test_html_and_pdf_sources_are_cited(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    html = """<html><head><title>Envoys in the Pacific</title></head><body>
    <nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/about">About us</a></nav>
    <article><h1>Envoys in the Pacific</h1>
    <p>The United Kingdom will appoint a technology envoy to the Indo-Pacific region, based in
    Singapore, to deepen partnerships on semiconductors and telecoms.</p>
    <p>The envoy will work with regional governments on open and interoperable networks, and will
    report to the Foreign Secretary every quarter on progress made.</p></article>
    <footer>Copyright 2023. Cookie settings. Subscribe to our newsletter.</footer></body></html>"""
    (corpus / "envoys.html").write_text(html, encoding="utf-8")
    (corpus / "report.pdf").write_bytes(make_pdf([
        ["Annual report on technology diplomacy.", "Page one covers general progress."],
        ["The lighthouse programme trained four hundred diplomats in quantum policy."],
    ], title="Technology Diplomacy Report"))
    s = make_settings(corpus, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    hit = r.ask("technology envoy based in Singapore", k=1).hits[0]
    assert hit.citation.name == "envoys.html"
    assert hit.citation.title == "Envoys in the Pacific"
    assert "Home | News" not in hit.text
    assert r.index.texts["envoys.html"][hit.citation.start : hit.citation.end] == hit.text
    hit = r.ask("lighthouse programme trained diplomats", k=1).hits[0]
    assert hit.citation.name == "report.pdf"
    assert hit.citation.page == 2
    assert hit.citation.title == "Technology Diplomacy Report"
    assert r.index.texts["report.pdf"][hit.citation.start : hit.citation.end] == hit.text


def _encrypted(pdf: bytes, user_password: str, algorithm: str) -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdfs_open_without_a_password_or_are_skipped_saying_why(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pdf = make_pdf([["Cover page."], ["The lighthouse programme trained four hundred diplomats."]])
    # An owner password only (printing or editing restricted), as many published PDFs have:
    # AES needs the `cryptography` package, which pypdf[crypto] brings.
    (corpus / "aes.pdf").write_bytes(_encrypted(pdf, "", "AES-256"))
    (corpus / "rc4.pdf").write_bytes(_encrypted(pdf, "", "RC4-128"))
    (corpus / "locked.pdf").write_bytes(_encrypted(pdf, "secret", "AES-128"))
    report = update_index(make_settings(corpus, tmp_path))
    assert list(report.warnings) == [
        "skipped locked.pdf: it is protected by a password: save a copy without one"]
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"aes.pdf", "rc4.pdf"}
    assert any("lighthouse programme" in c.text for c in loaded.chunks if c.source == "aes.pdf")


def test_a_pdf_whose_pages_take_too_long_to_read_is_skipped_saying_why(tmp_path, monkeypatch,
                                                                        fake_encoder):
    """Pages read from their drawing instructions: a few kilobytes of PDF can inflate to
    gigabytes of them (hours of reading), so what is read is capped, scaled by the text limit."""
    from itsqa.readers import PDF_CONTENT_PER_TEXT

    monkeypatch.setenv("ITSQA_MAX_SOURCE_MB", "0.01")  # 10 KB of text, 200 KB of instructions
    budget = PDF_CONTENT_PER_TEXT * 0.01 * 2**20
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pages = [["The lighthouse programme trained four hundred diplomats."]] * 3
    (corpus / "padded.pdf").write_bytes(make_pdf(pages, padding=int(budget / 2)))
    (corpus / "plain.pdf").write_bytes(make_pdf(pages, padding=int(budget / 4)))
    # Pages cost time however empty: at most 5,000 per MB of the text limit, here 50.
    (corpus / "blank-pages.pdf").write_bytes(make_pdf([["."]] * 51))
    (corpus / "enough-pages.pdf").write_bytes(make_pdf([["Puffins."]] + [["."]] * 49))
    report = update_index(make_settings(corpus, tmp_path))
    assert sorted(report.warnings) == [
        "skipped blank-pages.pdf: it has 51 pages, over the 50 that the 0.01 MB text limit allows "
        "(set ITSQA_MAX_SOURCE_MB to raise it)",
        "skipped padded.pdf: its pages hold over 0.2 MB of drawing instructions, 20 times the "
        "0.01 MB text limit (set ITSQA_MAX_SOURCE_MB to raise it)"]
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"plain.pdf", "enough-pages.pdf"}


def test_files_saved_with_a_byte_order_mark(tmp_path, fake_encoder):
    # Windows Notepad saves UTF-8 with a byte-order mark, and "Unicode" as UTF-16.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plan.md").write_bytes(b"\xef\xbb\xbf# Quantum plan\n\nSensors for puffin counts.\n")
    (corpus / "notes.txt").write_bytes(b"\xef\xbb\xbfKittiwakes\n\nThey nest on cliffs.\n")
    (corpus / "wide.txt").write_bytes(b"\xff\xfe" + "Gannets dive deep.\n".encode("utf-16-le"))
    (corpus / "sources.toml").write_bytes(b'\xef\xbb\xbf["notes.txt"]\ntitle = "Seabird notes"\n')
    report = update_index(make_settings(corpus, tmp_path))
    assert not any("sources.toml" in w for w in report.warnings), report.warnings
    assert any("wide.txt is not UTF-8: read as utf-16" in w for w in report.warnings)
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert loaded.sources["notes.txt"]["title"] == "Seabird notes"
    assert loaded.sources["plan.md"]["title"] == "Quantum plan"  # its first line, as without a mark
    by_source = {c.source: c for c in loaded.chunks}
    assert by_source["wide.txt"].text == "Gannets dive deep."
    for name in ("plan.md", "notes.txt"):
        c = by_source[name]
        assert "\ufeff" not in c.text and "\ufeff" not in c.heading
        with open(corpus / name, encoding="utf-8") as fh:  # offsets as a user would read the file
            assert fh.read()[c.start : c.end] == c.text


@pytest.mark.parametrize("text,title", [
    ("# Quantum plan ##\n\nBody.", "Quantum plan"),  # closing hashes are not the title
    ("Intro.\n\n#   Spaced  out  \n", "Spaced  out"),
    ("# C#\n", "C#"),  # a hash no space sets apart is the title's own
    ("#\n\nNot a title, a paragraph.\n", ""),  # an empty heading does not reach past its line
    ("## Two\n# One\n", "One"),
    ("# a" + " " * 60_000 + "b\n", "a" + " " * 60_000 + "b"),  # over 20 s before; no timed test
])
def test_a_markdown_title_is_its_first_level_one_heading(text: str, title: str) -> None:
    from itsqa.readers import markdown_title

    assert markdown_title(text) == title


def test_a_pdf_with_a_date_pypdf_cannot_read_keeps_its_text_undated(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = ["The lighthouse programme trained four hundred diplomats."]
    (corpus / "odd.pdf").write_bytes(make_pdf([text], title="Odd", date="D:2023garbage"))
    (corpus / "dated.pdf").write_bytes(make_pdf([text], title="Dated", date="D:20230322120000Z"))
    report = update_index(make_settings(corpus, tmp_path))
    assert list(report.warnings) == []
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"odd.pdf", "dated.pdf"}
    dates = {name: entry.get("date", "") for name, entry in loaded.sources.items()}
    assert dates == {"odd.pdf": "", "dated.pdf": "2023-03-22"}


def _page(head: str, body: str) -> str:
    prolog, head = (head, "") if head.startswith("<?xml") else ("", head)
    return (f"{prolog}<html><head>{head}<title>Page</title></head>"
            f"<body><article><p>{body}</p></article></body></html>")


@pytest.mark.parametrize("head,body,encoding", [
    ('<meta charset="shift_jis">', "技術協力の覚書に署名した。", "shift_jis"),
    ('<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
     "Технологическое партнёрство с Великобританией.", "cp1251"),
    ('<meta charset="gb2312">', "英国与伙伴国家的技术合作。", "gbk"),
    ('<?xml version="1.0" encoding="ISO-8859-15"?>', "Partenariat technologique à 50 €.",
     "iso8859-15"),
    ("", "Café partnerships, 50 € each.", "cp1252"),  # declares nothing, not UTF-8
    ('<meta charset="iso-8859-1">', "Café partnerships, 50 € each.", "utf-8"),  # UTF-8 whatever it says
], ids=["shift_jis", "windows-1251", "gb2312", "xhtml iso-8859-15", "undeclared", "utf-8 declared latin-1"])
def test_an_html_page_is_read_in_the_encoding_it_declares(head: str, body: str, encoding: str) -> None:
    from itsqa.readers import read_html

    parsed = read_html(_page(head, body).encode(encoding))
    assert body in parsed.text


@pytest.mark.parametrize("label", ["base64", "utf-16", "unicode-escape", "undefined", "nonsense"])
def test_a_page_declaring_an_encoding_no_browser_reads_is_read_as_declaring_none(label: str) -> None:
    from itsqa.readers import read_html

    body = "Café partnerships, 50 € each."
    parsed = read_html(_page(f'<meta charset="{label}">', body).encode("cp1252"))
    assert body in parsed.text


def test_a_pdf_cut_short_or_not_a_pdf_at_all_is_skipped_saying_which(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pdf = make_pdf([["The lighthouse programme trained four hundred diplomats."]])
    (corpus / "whole.pdf").write_bytes(pdf)
    (corpus / "cut.pdf").write_bytes(pdf[: len(pdf) // 2])  # a download interrupted
    (corpus / "page.pdf").write_bytes(b"<html><body><p>A saved web page.</p></body></html>")
    report = update_index(make_settings(corpus, tmp_path))
    assert sorted(report.warnings) == [
        "skipped cut.pdf: it ends before a PDF's end marker (%%EOF): the file looks cut short, "
        "as by an interrupted download",
        "skipped page.pdf: it is not a PDF: it does not start as one (%PDF-)"]
