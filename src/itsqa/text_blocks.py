"""Text assembled block by block from a structured document (an HTML page, a Word file): blocks
joined by a blank line, with where its headings (and their levels) and code blocks stand in it,
and the document's own metadata. The chunker cuts at those headings rather than guessing them."""

from __future__ import annotations

from dataclasses import dataclass, field

# Glyphs a heading's permalink leaves at its end (HTML documentation pages).
GLYPHS = "¶§#🔗⚓"


def clean_heading(text: str) -> str:
    """A heading as text: one line, without the permalink glyphs documentation pages add."""
    return " ".join(text.split()).rstrip(GLYPHS).strip()


@dataclass
class TextBlocks:
    """A document's text with its headings and code blocks as spans, and its metadata."""

    text: str = ""
    headings: list[tuple[int, int, int]] = field(default_factory=list)  # start, end, level
    code: list[tuple[int, int]] = field(default_factory=list)
    title: str = ""
    publisher: str = ""
    date: str = ""
    url: str = ""

    def _add(self, text: str) -> tuple[int, int]:
        if self.text:
            self.text += "\n\n"
        start = len(self.text)
        self.text += text
        return start, len(self.text)

    def paragraph(self, text: str) -> None:
        text = " ".join(text.split())
        if text:
            self._add(text)

    def heading(self, text: str, level: int) -> None:
        text = clean_heading(text)
        if text:
            start, end = self._add(text)
            self.headings.append((start, end, level))

    def code_block(self, text: str) -> None:
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            self.code.append(self._add("\n".join(lines)))
