"""A Word document (.docx) as text that keeps its structure: paragraphs in their order, headings
from the heading styles (Heading 1–9; Title as level 1), list items with a bullet, and each table
row as one line of cells; and the document's own title, author and creation date. Page headers,
footers, footnotes and text boxes are left out. Read with python-docx, after the package's
unpacked size is checked, so that a small hostile file cannot inflate to gigabytes in memory."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from .text_blocks import TextBlocks

# The start of an OLE compound file: what a Word file protected by a password (or an old .doc
# renamed .docx) is, rather than the zip package a .docx is.
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"heading ([1-9])", re.IGNORECASE)


class NotDocx(ValueError):
    """The bytes are not a Word package that can be read; the message says why."""


def check_package(data: bytes, most: int) -> None:
    """Raise NotDocx unless `data` is a zip package unpacking to at most `most` bytes."""
    if data.startswith(_OLE):
        raise NotDocx("it is protected by a password, or is an older Word file renamed .docx: "
                      "save a copy as .docx without a password")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            unpacked = sum(info.file_size for info in package.infolist())
    except zipfile.BadZipFile as exc:
        raise NotDocx("it is not a Word .docx file (not a zip package)") from exc
    if unpacked > most:
        raise NotDocx(f"it unpacks to {unpacked / 2**20:,.0f} MB, over the {most / 2**20:,.0f} MB "
                      "allowed (set ITSQA_MAX_SOURCE_MB to raise it)")


def _open(data: bytes) -> Any:
    import docx  # lazy: only Word sources need it
    from docx.opc.exceptions import PackageNotFoundError

    try:
        return docx.Document(io.BytesIO(data))
    except (KeyError, ValueError, PackageNotFoundError) as exc:  # no Word main part in it
        raise NotDocx("it is not a Word document: the package holds no Word text (another "
                      "Office file renamed .docx?)") from exc


def docx_text(data: bytes) -> TextBlocks:
    """The document's blocks and metadata (NotDocx for a package that is not Word's)."""
    from docx.table import Table

    document = _open(data)
    out = TextBlocks()
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                out.paragraph(" | ".join(_cells(row)))
        else:
            _paragraph(block, out)
    _metadata(document.core_properties, out)
    if not out.title and out.headings:  # no title in the properties: its first top heading
        start, end, level = min(out.headings, key=lambda h: (h[2], h[0]))
        out.title = out.text[start:end] if level == 1 else ""
    return out


def _paragraph(paragraph: Any, out: TextBlocks) -> None:
    style = paragraph.style.name if paragraph.style is not None else ""
    level = 1 if style == "Title" else _heading_level(style)
    if level:
        out.heading(paragraph.text, level)
    elif style.startswith("List") or _numbered(paragraph):
        out.paragraph("• " + paragraph.text if paragraph.text.strip() else "")
    else:
        out.paragraph(paragraph.text)


def _heading_level(style: str) -> int:
    m = _HEADING_STYLE.fullmatch(style)
    return int(m.group(1)) if m else 0


def _numbered(paragraph: Any) -> bool:
    """Whether the paragraph is an item of a bulleted or numbered list made by hand."""
    props = paragraph._p.pPr
    return props is not None and props.numPr is not None


def _cells(row: Any) -> list[str]:
    """A table row's cells' texts, a cell merged across columns once."""
    out: list[str] = []
    seen: list[Any] = []
    for cell in row.cells:
        if any(cell._tc is s for s in seen):
            continue
        seen.append(cell._tc)
        out.append(" ".join(cell.text.split()))
    return out


def _metadata(core: Any, out: TextBlocks) -> None:
    out.title = " ".join((core.title or "").split())
    out.publisher = " ".join((core.author or "").split())
    try:
        created = core.created
    except ValueError:  # a date the package writes in a form python-docx cannot read
        created = None
    out.date = created.date().isoformat() if created is not None else ""
