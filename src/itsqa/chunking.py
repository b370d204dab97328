"""Pure text -> passages with exact character offsets. No file access, no model.

Passages are what a person would quote: whole sentences, grouped within a paragraph or a section,
about `target_chars` long and never over `max_chars` or the model's token window. A heading starts
a new passage and is remembered, with the headings above it ("International priorities › 2) Quantum
technology"), as the passage's section, for context in the embedding. A section that fits within
the limits is one passage; a longer one is cut, at paragraphs where it can be, into the fewest
passages of about equal length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .config import ChunkSettings
from .furniture import MD_HEADING, Span

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Chunk:
    """One passage: `text == source_text[start:end]`."""

    ordinal: int
    start: int
    end: int
    text: str
    heading: str


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    para_start: bool  # first unit of a paragraph
    heading: bool


# A sentence ends at . ! ? … (after any closing quotes or brackets) before a capital, digit, quote,
# bullet or currency sign; or before a lower-case word when it follows a word of three or more
# lower-case letters ("... slipstream. an experimental ...", not "e.g. for" or "U.K. plan");
# or at a stop standing alone (" . ", as tokenised text has it).
_SENTENCE_BREAK = re.compile(
    r"(?:(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[£$€•·\-–\d]|[^\W\d_](?<![a-z]))"
    r"|(?<=[a-z]{3}[.!?])\s+(?=[a-z])|(?<=\s[.!?])\s+)"
)
_TERMINAL = re.compile(r"[.!?:;,\"”’)…]\s*$")
_MONTH = (r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*")
_DATELINE = re.compile(
    rf"(?i)^(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?)\s+\d{{4}}$|^\d{{4}}-\d{{2}}-\d{{2}}$|^\d{{1,2}}/\d{{1,2}}/\d{{2,4}}$"
)
_ASIDE = re.compile(r"\s+\([^()]{1,30}\)$")
# An item's number or letter: "2.", "b)", "iv." (or an initial, "J."). Bounded, so that a year
# ("2023.") or a word is not taken for one.
_ITEM = r"(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,4})[.)]"
_MARKER = re.compile(rf"\s*{_ITEM}")  # such a marker alone is not a sentence
_BULLET = re.compile(r"^\s*(?:[•·\-–*]|\d+[.)])\s+")


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 3)


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Non-blank lines, whitespace trimmed, as (start, end)."""
    out = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group()
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            out.append((m.start() + lead, m.start() + lead + len(stripped)))
    return out


def is_heading(line: str) -> bool:
    """A short line with no sentence punctuation at its end, or a Markdown heading."""
    if MD_HEADING.match(line):
        return True
    if _BULLET.match(line) and not re.match(r"^\d+[.)]\s", line):
        return False
    if len(line) > 80:  # before the patterns: _ASIDE backtracks through a long run of spaces
        return False
    if _DATELINE.match(line):
        return False  # "11 April 2023" above an article dates it; it is not a section
    # A closing bracket ends a heading when it closes an aside: "Artificial intelligence (AI)".
    core = _ASIDE.sub("", line)
    return bool(core) and len(line.split()) <= 12 and not _TERMINAL.search(core)


HEADING_JOIN = " › "


def cited_path(heading: str, title: str) -> list[str]:
    """A passage's heading path, outermost first, without a top heading that only repeats the
    source's title (compared ignoring case and spacing): what the model reads as context and
    what a citation names as the section."""
    parts = [h for h in heading.split(HEADING_JOIN) if h] if heading else []
    if parts and " ".join(parts[0].split()).casefold() == " ".join(title.split()).casefold():
        parts = parts[1:]
    return parts


MAX_HEADING_DEPTH = 3
_NUMBERED = re.compile(rf"^{_ITEM}\s")  # a numbered heading: "2) Quantum", "iv. Data"


def heading_path(path: list[tuple[str, str]], line: str, after_heading: bool
                 ) -> list[tuple[str, str]]:
    """The headings a passage stands under, outermost first, once `line` is read: a Markdown
    heading sits under those of higher level; a numbered heading ("2) Quantum") under the heading
    its first sibling followed; any other heading read straight after another, with no text between,
    under that one; any other plain heading starts afresh under the Markdown headings above it.
    Each entry is (kind, text)."""
    name = line.lstrip("# ").strip()
    if MD_HEADING.match(line):
        kind = "#" * (len(line) - len(line.lstrip("#")))
        kept = [p for p in path if p[0].startswith("#") and len(p[0]) < len(kind)]
    elif _NUMBERED.match(name):
        kind = "n"
        kept = path[: next((i for i, p in enumerate(path) if p[0] == "n"), len(path))]
    else:
        kind = "p"
        kept = list(path) if after_heading else [p for p in path if p[0].startswith("#")]
    return (kept + [(kind, name)])[-MAX_HEADING_DEPTH:]


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end]."""
    spans = []
    s = start
    for m in _SENTENCE_BREAK.finditer(text, start, end):
        if _MARKER.fullmatch(text, s, m.start()):
            continue  # "2." opening a numbered item, or an initial: not a sentence of its own
        spans.append((s, m.start()))
        s = m.end()
    spans.append((s, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def sentence_spans(text: str, min_chars: int = 25) -> list[tuple[int, int]]:
    """The sentences of a passage worth a vector of their own: not tiny, not the whole passage."""
    out = []
    for ps, pe in paragraphs(text):
        for s, e in sentences(text, ps, pe):
            if e - s >= min_chars and (e - s) < 0.9 * len(text):
                out.append((s, e))
    return out


def _split_long(text: str, start: int, end: int, max_chars: int, fits: Callable[[int, int], bool]
                ) -> list[tuple[int, int]]:
    """Cut an over-long sentence at word boundaries so each piece fits."""
    pieces = []
    s = start
    while s < end:
        e = min(end, s + max_chars)
        while e - s > 1 and not fits(s, e):
            e = s + (e - s) * 3 // 4
        if e < end:
            space = text.rfind(" ", s + 1, e)
            if space > s:
                e = space
        if e <= s:  # a single huge "word": cut it anyway
            e = min(end, s + max(1, max_chars))
        pieces.append((s, e))
        s = e
        while s < end and text[s].isspace():
            s += 1
    return pieces


def _leads_in(text: str, unit: _Unit) -> bool:
    """Does `unit` end with a colon, introducing what follows (a list, a quotation)?"""
    return text[unit.start : unit.end].rstrip().endswith(":")


def _paragraph_end(block: Sequence[_Unit], i: int) -> int:
    """Where the paragraph that begins with block[i] ends."""
    end = block[i].end
    for later in block[i + 1 :]:
        if later.para_start or later.heading:
            break
        end = later.end
    return end


def _takes(size: int, grown: int, target: int, balanced: bool) -> bool:
    """Should a passage of `size` characters grow to `grown`? Yes within its target or, with
    `balanced` cutting, when growing lands nearer the target than stopping short does."""
    return grown <= target or (balanced and grown - target < target - size)


def chunk_text(
    text: str,
    settings: ChunkSettings | None = None,
    furniture: Sequence[Span] = (),
    count_tokens: TokenCounter | None = None,
    breaks: Sequence[int] = (),
) -> list[Chunk]:
    """Cut `text` into passages, skipping furniture spans. No passage crosses an offset in
    `breaks` (page starts in a PDF), so each passage has one page."""
    cfg = settings or ChunkSettings()
    count = count_tokens or _approx_tokens
    token_budget = cfg.max_tokens - 2 - cfg.context_tokens

    def fits(a: int, b: int) -> bool:
        return b - a <= cfg.max_chars and count(text[a:b]) <= token_budget

    # Units: sentences (split further when too long), grouped into blocks that furniture separates.
    blocks: list[list[_Unit]] = [[]]
    fi = 0
    furn = sorted(furniture, key=lambda sp: sp.start)
    pending_breaks = sorted(b for b in breaks if b > 0)
    for ps, pe in paragraphs(text):
        if pending_breaks and ps >= pending_breaks[0]:
            while pending_breaks and ps >= pending_breaks[0]:
                pending_breaks.pop(0)
            if blocks[-1]:
                blocks.append([])
        in_furniture = False
        while fi < len(furn) and furn[fi].end <= ps:
            fi += 1
        if fi < len(furn) and furn[fi].start <= ps and pe <= furn[fi].end:
            in_furniture = True
        if in_furniture:
            if blocks[-1]:
                blocks.append([])
            continue
        line = text[ps:pe]
        if is_heading(line):
            blocks[-1].append(_Unit(ps, pe, True, True))
            continue
        first = True
        for ss, se in sentences(text, ps, pe):
            for a, b in ([(ss, se)] if fits(ss, se) else _split_long(text, ss, se, cfg.max_chars, fits)):
                blocks[-1].append(_Unit(a, b, first, False))
                first = False

    chunks: list[Chunk] = []
    block_first = 0
    held: tuple[int, int, str] | None = None  # a short opening passage waiting for the next one

    def emit(s: int, e: int, head: str) -> None:
        chunks.append(Chunk(len(chunks), s, e, text[s:e], head))

    def release() -> None:
        nonlocal held
        if held is not None:
            emit(*held)
            held = None

    def flush(units: list[_Unit], head: str) -> None:
        nonlocal held
        if not units:
            return
        s, e = units[0].start, units[-1].end
        if held is not None and fits(held[0], e):
            s, held = held[0], None
        release()
        small = all(u.heading for u in units) or e - s < cfg.target_chars // 3
        if small and len(chunks) > block_first and fits(chunks[-1].start, e):
            # A short remainder (or headings with nothing after them) joins the passage before.
            last = chunks.pop()
            s, head = last.start, last.heading
        elif small and len(chunks) == block_first and not all(u.heading for u in units):
            # A short opening (a dateline, a standfirst) has no passage before it to join: it
            # opens the next passage instead, unless nothing follows in its block.
            held = (s, e, head)
            return
        emit(s, e, head)

    heading = ""
    path: list[tuple[str, str]] = []
    after_heading = False
    for block in blocks:
        block_first = len(chunks)
        current: list[_Unit] = []
        current_heading = heading

        # Where each unit's section (heading to heading, or block edge) ends.
        section_end: list[int] = [0] * len(block)
        end = block[-1].end if block else 0
        for i in range(len(block) - 1, -1, -1):
            section_end[i] = end
            if block[i].heading and i > 0 and not block[i - 1].heading:
                end = block[i - 1].end
        whole_until = -1  # the current section fits in one passage up to here
        para_until = -1  # the paragraph being added goes in whole up to here
        target = cfg.target_chars

        for i, unit in enumerate(block):
            if i == 0 or (unit.heading and not block[i - 1].heading):
                whole = fits(unit.start, section_end[i])
                whole_until = section_end[i] if cfg.whole_sections and whole else -1
                target = cfg.target_chars
                if cfg.balanced_sections and not whole:
                    # Cut into the fewest passages of about equal length, not full ones and a scrap.
                    length = section_end[i] - unit.start
                    target = length // -(-length // cfg.target_chars)
            if unit.heading:
                # A heading closes the passage before it and opens the next one.
                if current and (not all(u.heading for u in current)
                                or not fits(current[0].start, unit.end)):
                    flush(current, current_heading)
                    current = []
                path = heading_path(path if cfg.heading_path else [], text[unit.start : unit.end],
                                    after_heading)
                heading = HEADING_JOIN.join(h for _, h in path)
                if not current:
                    current_heading = heading
                current.append(unit)
                after_heading = True
                continue
            after_heading = False
            if not current:
                current = [unit]
                current_heading = heading
                continue
            if unit.end <= whole_until:
                current.append(unit)  # the whole section makes one passage
                continue
            if unit.end <= para_until:
                current.append(unit)  # the rest of a paragraph already taken whole
                continue
            if all(u.heading for u in current) and fits(current[0].start, unit.end):
                current.append(unit)  # a heading always leads into its first sentence
                continue
            if unit.para_start and _leads_in(text, current[-1]):
                # A lead-in ("… include:") keeps the paragraph it introduces, if it fits.
                para_end = _paragraph_end(block, i)
                if fits(current[0].start, para_end):
                    para_until = para_end
                    current.append(unit)
                    continue
            size = current[-1].end - current[0].start
            if (_takes(size, unit.end - current[0].start, target, cfg.balanced_sections)
                    and fits(current[0].start, unit.end)):
                # Prefer to break at a paragraph when the paragraph would not fit whole.
                if unit.para_start and size >= target * 0.6:
                    para_end = _paragraph_end(block, i)
                    if not _takes(size, para_end - current[0].start, target,
                                  cfg.balanced_sections):
                        flush(current, current_heading)
                        current = [unit]
                        current_heading = heading
                        continue
                    if fits(current[0].start, para_end):
                        para_until = para_end
                current.append(unit)
                continue
            flush(current, current_heading)
            carry: list[_Unit] = []
            if not unit.para_start and cfg.overlap_sentences > 0:
                for prev in current[-cfg.overlap_sentences :]:
                    if not prev.heading and prev.end - prev.start <= cfg.target_chars // 3:
                        carry.append(prev)
                while carry and not fits(carry[0].start, unit.end):
                    carry.pop(0)
            current = carry + [unit]
            current_heading = heading
        flush(current, current_heading)
        release()
    return [Chunk(i, c.start, c.end, c.text, c.heading) for i, c in enumerate(chunks)]
