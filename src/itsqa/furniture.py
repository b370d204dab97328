"""Page furniture: the parts of a captured web page that are not the article.

Pure text -> character spans. The rules look at the shape of a line (links, credits, breadcrumbs,
tag lists, trailing "more news" or contact blocks, a closing "get in touch"), not at any one
source, so they carry over to new captures. Each span carries the rule that found it so
`itsqa sources` can report it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    rule: str


class StatedSpans:
    """Spans a format states (code blocks, markup lines: (start, end, ...), none overlapping
    another), looked up by bisection: a file can state tens of thousands."""

    def __init__(self, spans: Iterable[Sequence[int]]) -> None:
        self.spans = sorted((int(sp[0]), int(sp[1])) for sp in spans)
        self.ends = [b for _, b in self.spans]

    def within(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of the spans inside start:end, as offsets from `start`."""
        out = []
        for a, b in self.spans[bisect.bisect_right(self.ends, start):]:
            if a >= end:
                break
            out.append((max(a, start) - start, min(b, end) - start))
        return out

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.ends, start)  # the first span that ends after `start`
        return i < len(self.spans) and self.spans[i][0] < end


_CREDIT = re.compile(
    r"(?i)^(?:(?:image|photo|picture|photograph)(?: credit)?s?\s*[:\-–]|.{0,50}\s[-–|]\s*"
    r"(?:fotolia|getty images|shutterstock|alamy|istock(?:photo)?|adobe stock|reuters|pa images)\b)"
)
_LINK = re.compile(
    r"(?i)^(?:read (?:more|full|the full|hansard)|find out more|learn more|click here|"
    r"book (?:your )?tickets|subscribe|sign up|share (?:this|on)|follow us|back to top|"
    r"see also|print this|download (?:the )?pdf|view (?:all|more))\b"
)
# A line that opens a block running to the end of the page (only honoured in the page's last part).
_TAIL_OPENER = re.compile(
    r"(?i)^(?:more news|latest news|related (?:articles|news|content|stories|topics)|"
    r"you (?:may|might) also like|recommended(?: for you)?|key contacts?|contact us|"
    r"about the author|subscribe to .*|.*\bcareers|newsletter|tags?|topics)\s*:?\s*$"
)
_RELATIVE_TIME = re.compile(
    r"(?i)^\(?\d+\s+(?:years?|months?|weeks?|days?|hours?)(?:,\s*\d+\s+\w+)*\s+ago\)?$"
)
_CONTACT = re.compile(
    r"(?i)(?:\b(?:tel(?:ephone)?|phone)\b.{0,20}\+?\d[\d ()-]{6,}|\[email[^\]]*\]|\b[\w.+-]+@[\w-]+\.[\w.]+)"
)
# A closing invitation to get in touch ("If you have any questions …, please contact …"): the
# author's sign-off, not the article. Both halves must match: an opener and a way to reach someone.
_SIGN_OFF = re.compile(
    r"(?i)^(?:if you (?:have|would like|wish|want|need)|for (?:more|further) (?:information|details)|"
    r"should you (?:have|wish|need|require)|(?:please )?(?:do )?(?:feel free to|get in touch|reach out)|"
    r"to (?:find out|learn|hear) more|we(?:(?:'|’)?d| would) (?:love|like) to hear)\b"
)
_REACH = re.compile(
    r"(?i)\b(?:please (?:contact|e-?mail|call|speak|talk|reach out|visit)|contact (?:us|our)|"
    r"get in touch|let us know|reach out to (?:us|our|me)|(?:speak|talk) (?:to|with) (?:us|our|your usual|"
    r"one of)|e-?mail us|call us|drop us|visit our)\b"
)
SIGN_OFF_CHARS = 300
# Where a page's last part begins, as a share of its length: a trailing block or a sign-off is
# only recognised after it.
TAIL_START = 0.55
_SENTENCE_END = re.compile(r"[.!?:;\"”’)]\s*$")
# A line that ends a sentence: a full stop, question or exclamation mark, maybe inside quotes.
_FULL_STOP = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
# A Markdown heading: the chunker's sign of a section, and never page chrome.
MD_HEADING = re.compile(r"^#{1,6}\s")
STRANDED = "stranded fragment"
# The metadata block atop a Markdown file (frontmatter.py), kept out of the passages like furniture.
FRONT_MATTER = "front matter"
# Lines a format states are markup (readers.Parsed): passed over, without parting the text
# around them as furniture does (a title's underline or a directive's line sits inside a section).
MARKUP = "markup"
STRANDED_LINES = 3
STRANDED_CHARS = 200


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line, whitespace trimmed."""
    spans = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group()
        stripped = line.strip()
        if not stripped:
            continue
        lead = len(line) - len(line.lstrip())
        spans.append((m.start() + lead, m.start() + lead + len(stripped)))
    return spans


# A table of contents' or an index's line: a name, dot leaders, a page number.
_LEADERS = re.compile(r"(?:\.[ \t]?){4,}[ \t]*\d{1,5}[ \t]*$")
# What a trail of links ("Home › News › Technology") puts between its words; not "|", which
# stands between a table row's cells.
_SEPARATORS = frozenset({">", "›", "»", "/", "\\", "•", "·", "-", "–", "—", ":", "::"})


def _is_breadcrumb(line: str) -> bool:
    """A short line of a few words between one separator repeated: a trail of links. A list
    item's bullet does not count, and a sentence's words outnumber what a trail holds."""
    tokens = line.split()
    if tokens and not any(c.isalnum() for c in tokens[0]):
        tokens = tokens[1:]  # a bullet, or a trail's leading separator
    seps = [t for t in tokens if t in _SEPARATORS]
    words = sum(1 for t in tokens if any(c.isalnum() for c in t))
    most = max((seps.count(t) for t in set(seps)), default=0)
    return len(line) <= 80 and len(seps) >= 2 and most >= 2 and words <= 3 * (len(seps) + 1)


Lines = list[tuple[int, int]]
Marked = dict[int, str]  # line number -> the rule that found it


def _mark_lines(text: str, lines: Lines, marked: Marked) -> None:
    """Lines that are furniture by their own shape: credits, links, chrome, contact details."""
    for i, (s, e) in enumerate(lines):
        line = text[s:e]
        if len(line) <= 120 and _CREDIT.search(line):
            marked[i] = "image credit"
        elif len(line) <= 120 and _LINK.search(line):
            marked[i] = "link"
        elif _RELATIVE_TIME.match(line) or _is_breadcrumb(line):
            marked[i] = "page chrome"
        elif _LEADERS.search(line):
            marked[i] = "contents line"
        elif len(line) <= 600 and _CONTACT.search(line):
            marked[i] = "contact details"


def _mark_tail(text: str, lines: Lines, marked: Marked) -> None:
    """A tail block, from its opener ("More news") to the end, when the opener sits in the
    page's last part; and a trailing run of short label lines with no sentence punctuation
    (tag lists, section links) after furniture."""
    n = len(text)
    for i, (s, e) in enumerate(lines):
        if s >= TAIL_START * n and len(text[s:e]) <= 80 and _TAIL_OPENER.match(text[s:e]):
            for j in range(i, len(lines)):
                marked.setdefault(j, "trailing block")
            break
    j = len(lines) - 1
    while j >= 0 and j not in marked:
        s, e = lines[j]
        line = text[s:e]
        if len(line) > 40 or _SENTENCE_END.search(line):
            break
        j -= 1
    if j < len(lines) - 1 and j >= 0 and j in marked:
        for k in range(j + 1, len(lines)):
            marked[k] = "tag list"


def _mark_sign_off(text: str, lines: Lines, marked: Marked) -> None:
    """The article's last line (only furniture after it), in the page's last part, inviting the
    reader to get in touch. Left in, it ends a passage with words ("questions", the strategy's
    name) that match many questions and answer none."""
    last = max((i for i in range(len(lines)) if i not in marked), default=-1)
    if last >= 0:
        s, e = lines[last]
        line = text[s:e]
        if (s >= TAIL_START * len(text) and len(line) <= SIGN_OFF_CHARS and _SIGN_OFF.match(line)
                and _REACH.search(line)):
            marked[last] = "sign-off"


def _mark_stranded_labels(text: str, lines: Lines, marked: Marked) -> None:
    """A short label line stranded between furniture lines (a dateline, a section name of the
    page chrome) is chrome too: it says nothing without the links around it."""
    for i, (s, e) in enumerate(lines):
        line = text[s:e]
        if i in marked or len(line) > 60 or _SENTENCE_END.search(line) or MD_HEADING.match(line):
            continue
        before = i == 0 or (i - 1) in marked
        after = i == len(lines) - 1 or (i + 1) in marked
        if before and after and (i - 1 in marked or i + 1 in marked):
            marked[i] = "page chrome"


def _mark_stranded_fragments(text: str, lines: Lines, marked: Marked) -> None:
    """A few short lines with furniture (or the page's edge) on both sides, a furniture line on
    at least one, and no sentence among them (a byline, a page notice, the page's own title
    above its links; never a Markdown heading). Left in, it would be a passage of its own that
    matches any question about the document and says nothing."""
    i = 0
    while i < len(lines):
        if i in marked:
            i += 1
            continue
        j = i
        while j < len(lines) and j not in marked:
            j += 1
        # lines[i:j] is a maximal unmarked run, so the page's edge or furniture bounds it on
        # both sides; it must touch furniture on one (a page with no furniture is left alone).
        run = [text[s:e] for s, e in lines[i:j]]
        if ((i - 1 in marked or j in marked) and j - i <= STRANDED_LINES
                and sum(map(len, run)) <= STRANDED_CHARS
                and not any(_FULL_STOP.search(line) or MD_HEADING.match(line) for line in run)):
            for k in range(i, j):
                marked[k] = STRANDED
        i = j


def find_furniture(text: str) -> list[Span]:
    """Spans of `text` that are page furniture, in order, not overlapping, each with the rule
    that found it. The rules run in order, each seeing what the ones before it marked."""
    lines = _lines(text)
    if not lines:
        return []
    marked: Marked = {}
    for rule in (_mark_lines, _mark_tail, _mark_sign_off, _mark_stranded_labels,
                 _mark_stranded_fragments):
        rule(text, lines, marked)
    spans: list[Span] = []
    for i in sorted(marked):
        s, e = lines[i]
        rule_name = marked[i]
        if spans and spans[-1].rule == rule_name and text[spans[-1].end : s].strip() == "":
            spans[-1] = Span(spans[-1].start, e, rule_name)
        else:
            spans.append(Span(s, e, rule_name))
    return spans
