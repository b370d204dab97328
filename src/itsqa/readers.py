"""Reading one source file's bytes into text (offsets refer to this text), by format: plain text,
Markdown and reStructuredText decoded, HTML through trafilatura, PDF through pypdf, Word through
python-docx, PowerPoint through python-pptx. Each reader bounds its work on hostile input and
raises Unreadable, with the reason to report, for a file it cannot read."""

from __future__ import annotations

import codecs
import logging
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import UsageError
from .frontmatter import FrontMatter, read_front_matter
from .metadata import SourceMeta
from .text_blocks import TextBlocks


class Unreadable(Exception):
    """A source that can never be read as it is; the message says why, for the warning."""


@dataclass(frozen=True)
class Parsed:
    """A source's text as read, with what the file itself says about the source."""

    text: str
    meta: SourceMeta  # the document's own metadata ("" where it says nothing)
    pages: tuple[tuple[int, int], ...] = ()  # PDF: (start, end) of each page in `text`
    encoding: str = "utf-8"
    front: FrontMatter | None = None  # Markdown front matter, kept out of the passages
    # What the format states about its structure: headings (start, end, level) and code blocks
    # (start, end). `explicit`: the headings come from markup (HTML, Markdown, a PDF's
    # outline), so no other line is taken for one.
    headings: tuple[tuple[int, int, int], ...] = ()
    code: tuple[tuple[int, int], ...] = ()
    explicit: bool = False
    # Lines that are markup, not text (reStructuredText's adornments, comments, directives' own
    # lines): never a piece of a passage, though a passage's range may span them
    markup: tuple[tuple[int, int], ...] = ()


# A source's text is limited to ITSQA_MAX_SOURCE_MB (default 5 MB, about 2,000 pages: embedding
# more takes hours on a laptop CPU); PDF and HTML files may be ten times that in bytes.
def max_text_bytes() -> int:
    raw = os.environ.get("ITSQA_MAX_SOURCE_MB", "").strip() or "5"
    try:
        mb = float(raw)
    except ValueError:
        mb = math.nan
    if not math.isfinite(mb) or mb <= 0 or mb > 2**40:
        raise UsageError(f"ITSQA_MAX_SOURCE_MB must be a positive number of megabytes, not {raw!r}")
    return max(1, int(mb * 1024 * 1024))


def megabytes(size: float) -> str:
    """Bytes as megabytes to three figures: "0.01", "5", "100", "1020"."""
    return f"{float(f'{size / 2**20:.3g}'):g}"


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(data: bytes, declared: str = "") -> tuple[str, str]:
    """Bytes -> (text, encoding), newlines as Python's text mode reads them, so that
    `open(path, encoding="utf-8").read()[start:end]` matches the offsets we store. A UTF-8
    byte-order mark (Windows Notepad writes one) reads as a blank line: the same length, so the
    offsets still match, and a title or heading on the first line is still seen as one. A file
    saved as UTF-16 (it opens with a byte-order mark) is read as such. Bytes that are not UTF-8
    are read in the `declared` encoding where that reads them, else as Windows-1252."""
    tried = ("utf-16",) if data.startswith(_UTF16_BOMS) else ()
    for enc in (*tried, "utf-8", *((declared,) if declared else ()), "cp1252"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # latin-1 decodes any bytes
        text, enc = data.decode("latin-1"), "latin-1"
    if enc == "utf-8" and text.startswith("\ufeff"):
        text = "\n" + text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n"), enc


def looks_binary(data: bytes) -> bool:
    if data.startswith(_UTF16_BOMS):  # UTF-16 text: every other byte of ASCII is a zero
        return False
    head = data[:8192]
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return bool(head) and control / len(head) > 0.1


# A page's own statement of its encoding, within its first 1,024 bytes as browsers look for it:
# <meta charset="shift_jis">, <meta http-equiv="Content-Type" content="text/html; charset=...">,
# or an XHTML page's <?xml version="1.0" encoding="..."?>.
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)"
                           rb"|^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]+)",
                           re.IGNORECASE)


# Web labels Python does not know, and labels that browsers read as a larger encoding (both from
# the WHATWG Encoding standard).
_LABELS = {"x-mac-cyrillic": "mac-cyrillic", "windows-874": "cp874", "windows-31j": "cp932"}
_SUPERSETS = {"iso8859-1": "cp1252", "ascii": "cp1252", "gb2312": "gbk", "shift_jis": "cp932",
              "euc_kr": "cp949"}
# The encodings a browser reads a page in, as Python names them: a page declaring anything else
# ("utf-16" in a byte stream, "base64", "unicode-escape") is read as if it declared nothing.
_WEB_ENCODINGS = frozenset({
    "utf-8", "cp866", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic", "cp874",
    *(f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)),
    *(f"cp{n}" for n in range(1250, 1259)),
    "gbk", "gb18030", "big5", "euc_jp", "iso2022_jp", "cp932", "cp949"})


def declared_charset(html: bytes) -> str:
    """The encoding an HTML page declares, as Python names it, or "" where it declares none
    a browser reads; as browsers read it (Latin-1 as Windows-1252, GB2312 as GBK)."""
    m = _META_CHARSET.search(html[:1024])
    if not m:
        return ""
    try:
        label = (m.group(1) or m.group(2)).decode("ascii").lower()
        name = codecs.lookup(_LABELS.get(label, label)).name
    except LookupError:
        return ""
    name = _SUPERSETS.get(name, name)
    return name if name in _WEB_ENCODINGS else ""


# libxml2, which trafilatura parses with, gives up on elements nested deeper than this and
# returns no text at all for the page.
HTML_MAX_DEPTH = 256


def html_too_deep(html: str) -> bool:
    """Whether the page's elements nest deeper than HTML_MAX_DEPTH, read by libxml2 with its
    depth limit lifted (huge_tree): milliseconds even for a page nested a million deep."""
    from lxml import etree

    try:
        root = etree.fromstring(html, etree.HTMLParser(huge_tree=True))
    except (etree.Error, ValueError):
        return False
    if root is None:
        return False
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > HTML_MAX_DEPTH:
            return True
    return False


def read_html(data: bytes) -> Parsed:
    """An HTML page's main content with its headings and code blocks (html_text.py; where the
    page marks no main content, trafilatura finds it), and the page's own title, publisher,
    date and address."""
    from .html_text import from_trafilatura, page_metadata_of, structured_text

    html, _ = decode_text(data, declared_charset(data))
    found = structured_text(html)
    if found is None:
        import trafilatura  # lazy: only HTML sources need it

        xml = trafilatura.extract(html, output_format="xml", include_comments=False,
                                  include_tables=True)
        found = from_trafilatura(xml, page_metadata_of(html)) if xml else None
    if found is None:
        if html_too_deep(html):
            raise Unreadable(f"its elements nest more than {HTML_MAX_DEPTH} deep, deeper than the "
                             "HTML reader follows: save the article as .txt or .md")
        return Parsed("", SourceMeta(title=""))
    return _from_blocks(found, explicit=True)


def _from_blocks(found: TextBlocks, explicit: bool) -> Parsed:
    """A structured document's text, headings, code blocks and own metadata, as a reader gives
    them (`explicit`: its headings are the only ones, no other line is taken for one)."""
    return Parsed(found.text, SourceMeta(title=found.title, publisher=found.publisher,
                                         date=found.date, url=found.url),
                  headings=tuple(found.headings), code=tuple(found.code), explicit=explicit)


# An Office package (Word, PowerPoint) may unpack to this many times the text limit (200 MB by
# default): its images, styles and fonts besides its text; a zip bomb goes far past it.
DOCX_UNPACKED_TIMES = 40


def read_docx(data: bytes) -> Parsed:
    """A Word document's text with its headings, and its own title, author and date
    (docx_text.py); Unreadable where the file is not a Word package or unpacks too large."""
    from .docx_text import NotOfficeFile, check_package, docx_text

    try:
        check_package(data, DOCX_UNPACKED_TIMES * max_text_bytes())
        found = docx_text(data)
    except NotOfficeFile as exc:
        raise Unreadable(str(exc)) from exc
    return _from_blocks(found, explicit=bool(found.headings))


def read_pptx(data: bytes) -> Parsed:
    """A presentation's text, a page a slide, with the slides' titles as headings, and its own
    title, author and date (pptx_text.py); Unreadable as for a Word file."""
    from .docx_text import NotOfficeFile, check_package
    from .pptx_text import pptx_text

    try:
        check_package(data, DOCX_UNPACKED_TIMES * max_text_bytes(), app="PowerPoint")
        found, slides = pptx_text(data)
    except NotOfficeFile as exc:
        raise Unreadable(str(exc)) from exc
    return replace(_from_blocks(found, explicit=bool(found.headings)), pages=tuple(slides))


def read_text(data: bytes, markdown: bool) -> Parsed:
    """Plain text or Markdown, decoded (see decode_text); a Markdown file's title is its front
    matter's, else its first level-one heading."""
    text, encoding = decode_text(data)
    if not markdown:
        return Parsed(text, SourceMeta(title=""), encoding=encoding)
    front = read_front_matter(text)
    own = SourceMeta(title=markdown_title(text, front.end if front else 0))
    if front is not None and front.end:
        own = SourceMeta(title=front.title or own.title, publisher=front.publisher,
                         date=front.date, url=front.url)
    headings, code = markdown_structure(text, front.end if front else 0)
    return Parsed(text, own, encoding=encoding, front=front, headings=headings, code=code,
                  explicit=True)


def read_rst(data: bytes) -> Parsed:
    """reStructuredText, decoded (see decode_text); its title, author and date from a field list
    atop it, else its title is its first section title."""
    from .rst_text import rst_structure

    text, encoding = decode_text(data)
    found = rst_structure(text)
    f = found.fields
    own = SourceMeta(title=f.get("title") or found.title,
                     publisher=f.get("publisher") or f.get("author", ""),
                     date=f.get("date", ""), url=f.get("url", ""))
    return Parsed(text, own, encoding=encoding,
                  headings=tuple(found.headings), code=tuple(found.code), explicit=True,
                  markup=tuple(found.markup))


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]|$)")


def markdown_structure(text: str, start: int = 0
                       ) -> tuple[tuple[tuple[int, int, int], ...], tuple[tuple[int, int], ...]]:
    """A Markdown text's ATX headings ("## Title": start, end, level) and fenced code blocks
    (start, end, fences included), from `start` (past any front matter). A "#" line inside a
    code block is code, not a heading."""
    headings: list[tuple[int, int, int]] = []
    code: list[tuple[int, int]] = []
    fence, opened = "", 0
    for m in re.finditer(r"[^\n]*", text[start:]):
        a, b = start + m.start(), start + m.end()
        line = m.group()
        found = _FENCE.match(line)
        if fence:
            if found and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence):
                code.append((opened, b))
                fence = ""
        elif found:
            fence, opened = found.group(1), a
        elif _ATX.match(line) and line.strip("# \t"):
            headings.append((a, b, len(_ATX.match(line).group(1))))  # type: ignore[union-attr]
    if fence:
        code.append((opened, len(text)))  # an unclosed fence runs to the end, as CommonMark says
    return tuple(headings), tuple(code)


# A Markdown file's first "# Title" line. Its closing hashes are cut in code: the pattern this
# replaces, `^#\s+(.+?)\s*#*\s*$`, took over 20 s on "# a", 4,000 spaces and "b", and its `\s+`
# ran across blank lines to take the next paragraph for a title.
_MD_TITLE = re.compile(r"(?m)^#[ \t]+(\S.*)$")


def markdown_title(text: str, start: int = 0) -> str:
    """The text of the first level-one ATX heading from `start` ("# Title ##" -> "Title";
    "# C#" keeps its hash, which no space sets apart)."""
    m = _MD_TITLE.search(text, start)
    if not m:
        return ""
    title = m.group(1).rstrip()
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1] in " \t"):
        title = bare.rstrip()
    return title


# A PDF's pages are read from their drawing instructions (content streams), which pypdf parses
# at about 10 MB a second here. A file of a few kilobytes can make its pages share one stream
# that inflates to 75 MB (pypdf's limit for one stream), so page count or file size bound
# nothing: the instructions read are capped instead, at this many times the text limit (100 MB
# by default; text takes a few times less room than the instructions that place it).
PDF_CONTENT_PER_TEXT = 20
# Each page costs about a millisecond to read however little it holds, and a 50 MB file can hold
# 370,000 empty ones (six minutes): at most this many pages per MB of the text limit (25,000 by
# default, about 25 s; a document with 5 MB of text has a few thousand pages).
PDF_PAGES_PER_MB = 5000


def _content_bytes(page: Any) -> int:
    """The size of a page's drawing instructions: its content streams and the form objects its
    resources name (forms nested in forms are not counted)."""
    contents = page.get_contents()
    size = len(contents.get_data()) if contents is not None else 0
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    for ref in xobjects.get_object().values() if xobjects is not None else ():
        form = ref.get_object()
        if form.get("/Subtype") == "/Form":
            size += len(form.get_data())
    return size


def _open_pdf(path: Path) -> Any:
    """A pypdf reader, decrypted where an empty password opens it, its page count bounded."""
    from pypdf import PdfReader  # lazy: only PDF sources need it
    from pypdf.errors import FileNotDecryptedError

    # pypdf reports damage through logging, which with no handler goes raw to stderr ("EOF
    # marker not found"); a file it cannot read is reported once, as a skipped source, instead.
    pdf_log = logging.getLogger("pypdf")
    if not pdf_log.handlers:
        pdf_log.addHandler(logging.NullHandler())
    try:
        reader = PdfReader(str(path))
    except Exception as exc:
        raise (_pdf_damage(path) or exc) from exc
    if reader.is_encrypted:
        try:  # most encrypted PDFs restrict only editing and open with an empty password
            opened = bool(reader.decrypt(""))
        except FileNotDecryptedError:
            opened = False
        if not opened:
            raise Unreadable("it is protected by a password: save a copy without one")
    most = round(PDF_PAGES_PER_MB * max_text_bytes() / 2**20)
    if len(reader.pages) > most:
        raise Unreadable(f"it has {len(reader.pages):,} pages, over the {most:,} that the "
                         f"{megabytes(max_text_bytes())} MB text limit allows (set "
                         "ITSQA_MAX_SOURCE_MB to raise it)")
    return reader


def _pdf_damage(path: Path) -> Unreadable | None:
    """What is plainly wrong with a file pypdf cannot open, where its bytes show it: no PDF
    header (another kind of file named .pdf), or no end marker (cut short, as a download
    interrupted); None where neither is the case."""
    with path.open("rb") as f:
        head = f.read(1024)
        f.seek(max(0, path.stat().st_size - 1024))
        tail = f.read()
    if b"%PDF-" not in head:
        return Unreadable("it is not a PDF: it does not start as one (%PDF-)")
    if b"%%EOF" not in tail:
        return Unreadable("it ends before a PDF's end marker (%%EOF): the file looks cut short, "
                          "as by an interrupted download")
    return None


def _pdf_pages(reader: Any) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The text of every page, pages joined by a blank line, and where each page stands in it."""
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    pos = 0
    budget, read = PDF_CONTENT_PER_TEXT * max_text_bytes(), 0
    for page in reader.pages:
        read += _content_bytes(page)
        if read > budget:
            raise Unreadable(f"its pages hold over {megabytes(budget)} MB of drawing instructions, "
                             f"{PDF_CONTENT_PER_TEXT} times the {megabytes(max_text_bytes())} MB "
                             "text limit (set ITSQA_MAX_SOURCE_MB to raise it)")
        t = (page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n").strip()
        if parts:
            parts.append("\n\n")
            pos += 2
        pages.append((pos, pos + len(t)))
        parts.append(t)
        pos += len(t)
    return "".join(parts), tuple(pages)


# At most this many outline entries are looked for in the text (a hostile outline can be huge).
PDF_OUTLINE_MAX = 5000


def _outline_entries(reader: Any) -> list[tuple[str, int, int]]:
    """(title, page index, depth) of each entry of the PDF's outline (bookmarks), if it has one."""
    out: list[tuple[str, int, int]] = []

    def visit(items: Any, depth: int) -> None:
        for item in items:
            if len(out) >= PDF_OUTLINE_MAX:
                return
            if isinstance(item, list):
                visit(item, depth + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
                title = " ".join(str(item.title or "").split())
            except Exception:  # a broken entry: the others still count
                continue
            if title and page is not None and page >= 0:
                out.append((title, page, depth))

    try:
        visit(reader.outline, 1)
    except Exception:  # no outline, or one pypdf cannot read
        return []
    return out


def pdf_headings(reader: Any, text: str, pages: tuple[tuple[int, int], ...]
                 ) -> tuple[tuple[int, int, int], ...]:
    """The outline's entries found in the text of the page each points to, as headings (start,
    end, level): a PDF states its sections there, where its lines do not."""
    found = set()
    for title, page, depth in _outline_entries(reader):
        if page >= len(pages):
            continue
        s, e = pages[page]
        m = _heading_line(title, text[s:e])
        if m:
            found.add((s + m.start(), s + m.end(), min(depth, 6)))
    return tuple(sorted(found))


# A section number before a heading: "7.7.1", "A.1", "2.".
_SECTION_NUMBER = r"(?:[0-9A-Z]{1,3}\.)*[0-9A-Z]{1,3}\.?"


def _heading_line(title: str, page: str) -> re.Match[str] | None:
    """Where an outline entry's title stands on its page as a heading: a line that is the
    title (a section number may go before it), else a line it starts. Not a running header
    ("Chapter 6: Compatibility 7") or a sentence that happens to name it."""
    words = r"\s+".join(map(re.escape, title.split()[:40]))
    lead = rf"^[ \t]*(?:{_SECTION_NUMBER}[ \t]+)?<?{words}"  # "<match>": an element's section
    return (re.search(lead + r"[>:.]?[ \t]*$", page, re.IGNORECASE | re.MULTILINE)
            or re.search(lead + r"\b", page, re.IGNORECASE | re.MULTILINE))


def read_pdf(path: Path) -> Parsed:
    """A PDF's text layer, page by page, its outline's sections and its info dictionary's title,
    author and date (the date only when no better source gives one: sources.toml comes first)."""
    reader = _open_pdf(path)
    text, pages = _pdf_pages(reader)
    headings = pdf_headings(reader, text, pages)
    info = reader.metadata
    return Parsed(text, SourceMeta(
        title=str(info.title or "") if info is not None else "",
        publisher=str(info.author or "") if info is not None else "",
        date=_pdf_date(info),
    ), pages=pages, headings=headings, explicit=bool(headings))


def _pdf_date(info: Any) -> str:
    """The info dictionary's creation date as ISO, or "" where it has none or one pypdf cannot
    read ("D:2023garbage"): a bad date in the metadata is no reason to lose the text."""
    try:
        created = info.creation_date if info is not None else None
    except ValueError:
        return ""
    return created.date().isoformat() if created is not None else ""
