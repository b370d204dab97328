"""A Word document (.docx) as text that keeps its structure: paragraphs in their order (those in
content controls and text boxes too), headings from the heading styles (Heading 1–9; Title as
level 1), list items with a bullet, and each table row as one line of cells; the text as Word
shows it (tracked insertions in, deletions out); and the document's own title, author and
creation date. Page headers, footers, footnotes and comments are left out. Opened with
python-docx, after the package's unpacked size is checked, so that a small hostile file cannot
inflate to gigabytes in memory."""

from __future__ import annotations

import functools
import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from .text_blocks import TextBlocks

# The start of an OLE compound file: what a Word file protected by a password (or an old .doc
# renamed .docx) is, rather than the zip package a .docx is.
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"  # WordprocessingML's tags
_BREAKS = {_W + "tab": "\t", _W + "br": "\n", _W + "cr": "\n"}
# A text box is written twice, as DrawingML and as a VML fallback: the fallback is not read.
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


class NotOfficeFile(ValueError):
    """The bytes are not an Office package (Word, PowerPoint) that can be read; the message says
    why."""


# Each Office format this reads: its application and extension, for the messages.
_EXTENSIONS = {"Word": ".docx", "PowerPoint": ".pptx"}


def check_package(data: bytes, most: int, app: str = "Word") -> None:
    """Raise NotOfficeFile unless `data` is a zip package unpacking to at most `most` bytes."""
    ext = _EXTENSIONS[app]
    if data.startswith(_OLE):
        raise NotOfficeFile(f"it is protected by a password, or is an older {app} file renamed "
                            f"{ext}: save a copy as {ext} without a password")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except zipfile.BadZipFile as exc:
        raise NotOfficeFile(f"it is not a {app} {ext} file (not a zip package)") from exc
    if unpacked > most:
        raise NotOfficeFile(f"it unpacks to {unpacked / 2**20:,.0f} MB, over the "
                            f"{most / 2**20:,.0f} MB allowed (set ITSQA_MAX_SOURCE_MB to raise it)")


def _open(data: bytes) -> Any:
    import docx  # lazy: only Word sources need it
    from docx.opc.exceptions import PackageNotFoundError

    try:
        return docx.Document(io.BytesIO(data))
    except (KeyError, ValueError, PackageNotFoundError) as exc:  # no Word main part in it
        raise NotOfficeFile("it is not a Word document: the package holds no Word text "
                            "(another Office file renamed .docx?)") from exc


def docx_text(data: bytes) -> TextBlocks:
    """The document's blocks and metadata (NotOfficeFile for a package that is not Word's)."""
    from docx.text.paragraph import Paragraph

    document = _open(data)
    out = TextBlocks()
    for block in _blocks(document.element.body):
        if block.tag == _W + "tbl":
            for row in block.iterchildren(_W + "tr"):
                out.paragraph(" | ".join(_cells(row)))
        else:
            _paragraph(Paragraph(block, document), out)
    metadata(document.core_properties, out)
    if not out.title and out.headings:  # no title in the properties: its first top heading
        start, end, level = min(out.headings, key=lambda h: (h[2], h[0]))
        out.title = out.text[start:end] if level == 1 else ""
    return out


def _blocks(container: Any) -> Iterator[Any]:
    """The paragraphs (w:p) and tables (w:tbl) of `container` in order, those inside content
    controls (w:sdt, which templates wrap around much of a document) included, and after each
    paragraph the paragraphs of the text boxes it anchors."""
    for child in container.iterchildren():
        if child.tag == _W + "tbl":
            yield child
        elif child.tag == _W + "p":
            yield child
            yield from _xpath(".//w:txbxContent[not(ancestor::mc:Fallback)]/w:p")(child)
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _blocks(content)


def _text(paragraph: Any) -> str:
    """A paragraph's text as Word shows it: every run's, tracked insertions, fields' results and
    inline content controls included (python-docx's `text` leaves these out); deleted text (in
    w:delText), field codes (w:instrText) and the text boxes it anchors (read as paragraphs of
    their own) left out."""
    boxes = _xpath("count(ancestor::w:txbxContent)")(paragraph)  # its own text box's depth
    runs = _xpath(".//w:r[not(ancestor::mc:Fallback) and count(ancestor::w:txbxContent) = $boxes]"
                  "/*[self::w:t or self::w:tab or self::w:br or self::w:cr]")
    return "".join((el.text or "") if el.tag == _W + "t" else _BREAKS[el.tag]
                   for el in runs(paragraph, boxes=boxes))


@functools.cache
def _xpath(path: str) -> Any:
    """`path` compiled, with the prefixes w (WordprocessingML) and mc (markup compatibility)."""
    from lxml import etree

    return etree.XPath(path, namespaces={"w": _W[1:-1], "mc": _MC})


def _paragraph(paragraph: Any, out: TextBlocks) -> None:
    style = paragraph.style.name if paragraph.style is not None else ""
    level = 1 if style == "Title" else _heading_level(style)
    text = _text(paragraph._p)
    if level:
        out.heading(text, level)
    elif style.startswith("List") or _numbered(paragraph):
        out.paragraph("• " + text if text.strip() else "")
    else:
        out.paragraph(text)


def _heading_level(style: str) -> int:
    m = _HEADING_STYLE.fullmatch(style)
    return int(m.group(1)) if m else 0


def _numbered(paragraph: Any) -> bool:
    """Whether the paragraph is an item of a bulleted or numbered list made by hand."""
    props = paragraph._p.pPr
    return props is not None and props.numPr is not None


def _cells(row: Any) -> list[str]:
    """A table row's cells' texts (a cell merged across columns is one w:tc; a table inside a
    cell is read into it)."""
    paragraphs = _xpath(".//w:p[not(ancestor::mc:Fallback)]")
    return [" ".join(" ".join(_text(p) for p in paragraphs(cell)).split())
            for cell in row.iterchildren(_W + "tc")]


def metadata(core: Any, out: TextBlocks) -> None:
    """An Office package's title, author and creation date (its core properties) into `out`."""
    out.title = " ".join((core.title or "").split())
    out.publisher = " ".join((core.author or "").split())
    try:
        created = core.created
    except ValueError:  # a date the package writes in a form python-docx cannot read
        created = None
    out.date = created.date().isoformat() if created is not None else ""
