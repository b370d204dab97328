"""A PowerPoint presentation (.pptx) as text: each slide in order, a page of its own, its title
as a heading, the text of its shapes (grouped ones too) from top to bottom and left to right, a
table row as one line of cells, then its speaker notes; and the presentation's own title, author
and creation date. Pictures and charts carry no text here. Opened with python-pptx after the
package's unpacked size is checked (docx_text.check_package)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from .docx_text import NotOfficeFile, metadata
from .text_blocks import TextBlocks


def _open(data: bytes) -> Any:
    import pptx  # lazy: only PowerPoint sources need it
    from pptx.exc import PackageNotFoundError

    try:
        return pptx.Presentation(io.BytesIO(data))
    except (KeyError, ValueError, PackageNotFoundError) as exc:  # no presentation part in it
        raise NotOfficeFile("it is not a PowerPoint presentation: the package holds no slides "
                            "part (another Office file renamed .pptx?)") from exc


def pptx_text(data: bytes) -> tuple[TextBlocks, list[tuple[int, int]]]:
    """The presentation's blocks and metadata, and where each slide stands in the text."""
    deck = _open(data)
    out = TextBlocks()
    slides: list[tuple[int, int]] = []
    for slide in deck.slides:
        start = len(out.text) + (2 if out.text else 0)  # TextBlocks puts a blank line between
        _slide(slide, out)
        if len(out.text) > start:
            slides.append((start, len(out.text)))
    metadata(deck.core_properties, out)
    if not out.title and out.headings:  # no title in the properties: the first slide's
        start, end, _ = out.headings[0]
        out.title = out.text[start:end]
    return out, slides


def _slide(slide: Any, out: TextBlocks) -> None:
    title = slide.shapes.title
    if title is not None and title.has_text_frame:
        out.heading(title.text_frame.text, 1)
    for shape in _in_reading_order(slide.shapes):
        if title is not None and shape.shape_id == title.shape_id:
            continue
        _shape(shape, out)
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        for paragraph in slide.notes_slide.notes_text_frame.paragraphs:
            out.paragraph(_paragraph_text(paragraph))


def _in_reading_order(shapes: Any) -> list[Any]:
    """Shapes from top to bottom, then left to right (a shape placed by its layout has no
    position of its own: first)."""
    return sorted(shapes, key=lambda s: (s.top or 0, s.left or 0))


def _shape(shape: Any, out: TextBlocks) -> None:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for inner in _in_reading_order(shape.shapes):
            _shape(inner, out)
    elif shape.has_table:
        for row in shape.table.rows:
            out.paragraph(" | ".join(" ".join(cell.text.split()) for cell in row.cells))
    elif shape.has_text_frame:
        for line in _lines(shape.text_frame):
            out.paragraph(line)


def _lines(frame: Any) -> Iterator[str]:
    """A text frame's paragraphs; those indented as list levels, with a bullet."""
    for paragraph in frame.paragraphs:
        text = _paragraph_text(paragraph)
        if text.strip():
            yield ("• " + text) if paragraph.level > 0 else text


def _paragraph_text(paragraph: Any) -> str:
    return paragraph.text.replace("\v", " ")  # python-pptx reads a line break as a vertical tab
