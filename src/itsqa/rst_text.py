"""reStructuredText's structure, read from its lines (the text keeps its raw form, so offsets cite
the file): section titles, underlined or over- and underlined, each adornment style a level in the
order it first appears (as docutils assigns them); literal blocks (after "::", in code-block and
doctest directives, ">>>" sessions); markup lines that say nothing to a reader (adornments,
comments, link targets, directive options, a toctree's list of files); and the file's own
metadata, from a field list before its first paragraph (":title:", ":author:", ":date:").

docutils itself reports no character offsets, and a Sphinx project's roles and directives are
unknown to it, so the few constructs that shape passages are read here, line by line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .frontmatter import FIELDS, date_of

# A line of one punctuation character repeated: a title's adornment or a transition.
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1{2,}[ \t]*")
_DIRECTIVE = re.compile(r"([ \t]*)\.\.[ \t]+([\w.+:-]+?)::(?:[ \t]+(.*))?[ \t]*")
_EXPLICIT = re.compile(r"([ \t]*)\.\.(?:[ \t]|$)")  # a comment, target or directive opens
_FOOTNOTE = re.compile(r"[ \t]*\.\.[ \t]+\[")  # a footnote or citation: prose
_OPTION = re.compile(r"[ \t]+:[\w-]+:")
_FIELD = re.compile(r":([\w][\w .-]*):(?:[ \t]+(.*))?")
# Directives whose body is code, shown as written; and those whose body is for the build only.
CODE_DIRECTIVES = frozenset({"code-block", "code", "sourcecode", "doctest", "testcode",
                             "testoutput", "testsetup", "testcleanup", "parsed-literal",
                             "productionlist", "math"})
BUILD_ONLY = frozenset({"toctree", "contents", "index", "meta", "raw", "include", "image",
                        "literalinclude", "highlight", "sectnum", "autosummary", "tabularcolumns"})


@dataclass
class RstStructure:
    """Headings (start, end, level), code blocks (start, end) and markup lines (start, end)."""

    headings: list[tuple[int, int, int]] = field(default_factory=list)
    code: list[tuple[int, int]] = field(default_factory=list)
    markup: list[tuple[int, int]] = field(default_factory=list)
    title: str = ""  # the first section title, unless the fields name one
    fields: dict[str, str] = field(default_factory=dict)  # title, publisher, date, url


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = _line_spans(text)
        self.out = RstStructure()
        self.styles: list[tuple[str, bool]] = []
        self.prose = False  # whether a paragraph was read yet (fields come before one)

    def line(self, i: int) -> str:
        a, b = self.spans[i]
        return self.text[a:b]

    def blank(self, i: int) -> bool:
        return i >= len(self.spans) or not self.line(i).strip()

    def block_end(self, i: int, indent: int) -> int:
        """The first line from `i` on that is not blank and not indented past `indent`."""
        while i < len(self.spans) and (self.blank(i) or _indent(self.line(i)) > indent):
            i += 1
        return i

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Lines i to j - 1 as one span, trailing blank lines left out."""
        while j > i and self.blank(j - 1):
            j -= 1
        return self.spans[i][0], self.spans[max(i, j - 1)][1]

    def heading(self, i: int, style: tuple[str, bool]) -> None:
        if style not in self.styles:
            self.styles.append(style)
        a, b = self.spans[i]
        line = self.text[a:b]
        lead = _indent(line)
        self.out.headings.append((a + lead, a + len(line.rstrip()), self.styles.index(style) + 1))
        if not self.out.title:
            self.out.title = line.strip()

    def read(self) -> RstStructure:
        i = 0
        while i < len(self.spans):
            i = self.step(i)
        return self.out

    def step(self, i: int) -> int:
        """Read the construct that starts at line i; the index of the line after it."""
        line = self.line(i)
        if not line.strip():
            return i + 1
        adorned = _ADORNMENT.fullmatch(line)
        if adorned:
            return self.adorned(i, adorned.group(1))
        nxt = self.line(i + 1) if i + 1 < len(self.spans) else ""
        under = _ADORNMENT.fullmatch(nxt)
        if (under and not _indent(line) and len(nxt.rstrip()) >= len(line.rstrip())
                and (i == 0 or self.blank(i - 1))):
            self.heading(i, (under.group(1), False))
            self.out.markup.append(self.spans[i + 1])
            return i + 2
        if _EXPLICIT.match(line) and not _FOOTNOTE.match(line):
            return self.explicit(i)
        if not self.prose and _FIELD.fullmatch(line):
            return self.field_list(i)
        if line.lstrip().startswith(">>>"):
            j = i
            while not self.blank(j):
                j += 1
            self.out.code.append(self.span(i, j))
            return j
        return self.paragraph(i)

    def adorned(self, i: int, char: str) -> int:
        """An overline, title, underline trio; else a transition."""
        self.out.markup.append(self.spans[i])
        if i + 2 < len(self.spans) and not self.blank(i + 1):
            under = _ADORNMENT.fullmatch(self.line(i + 2))
            if under and under.group(1) == char:
                self.heading(i + 1, (char, True))
                self.out.markup.append(self.spans[i + 2])
                return i + 3
        return i + 1

    def explicit(self, i: int) -> int:
        """A directive, comment or target starting at line i."""
        line = self.line(i)
        indent = _indent(line)
        end = self.block_end(i + 1, indent)
        m = _DIRECTIVE.fullmatch(line)
        if m is None or m.group(2).lower() in BUILD_ONLY:  # a comment, target or build directive
            self.out.markup.append(self.span(i, end))
            return end
        name, argument = m.group(2).lower(), (m.group(3) or "").strip()
        if not argument or name in CODE_DIRECTIVES:
            self.out.markup.append(self.spans[i])
        j = i + 1
        while j < end and _OPTION.match(self.line(j)):
            self.out.markup.append(self.spans[j])
            j += 1
        if name in CODE_DIRECTIVES:
            while j < end and self.blank(j):
                j += 1
            if j < end:
                self.out.code.append(self.span(j, end))
            return end
        return j

    def field_list(self, i: int) -> int:
        """The file's metadata fields: markup, read for the source's title, author and date."""
        j = i
        while j < len(self.spans) and not self.blank(j):
            m = _FIELD.fullmatch(self.line(j))
            if m is None and _indent(self.line(j)) == 0:
                break
            key = FIELDS.get(m.group(1).strip().lower(), "") if m else ""
            value = " ".join((m.group(2) or "").split()) if m else ""
            if key and value and key not in self.out.fields:
                self.out.fields[key] = date_of(value) if key == "date" else value
            j += 1
        self.out.markup.append(self.span(i, j))
        return max(j, i + 1)

    def paragraph(self, i: int) -> int:
        """A paragraph's lines; one ending in "::" introduces the indented literal block after it."""
        self.prose = True
        indent = _indent(self.line(i))
        j = i
        while not self.blank(j) and not (j > i and _ADORNMENT.fullmatch(self.line(j))):
            j += 1
        last = self.line(j - 1).rstrip()
        if not last.endswith("::"):
            return j
        if last.strip() == "::":
            self.out.markup.append(self.spans[j - 1])
        k = j
        while k < len(self.spans) and self.blank(k):
            k += 1
        if k < len(self.spans) and _indent(self.line(k)) > indent:
            end = self.block_end(k, indent)
            self.out.code.append(self.span(k, end))
            return end
        return j


def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line, newline left out."""
    spans, start = [], 0
    for m in re.finditer("\n", text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def rst_structure(text: str) -> RstStructure:
    """The headings, code blocks, markup lines and title (the first heading) of a
    reStructuredText document."""
    return _Reader(text).read()
