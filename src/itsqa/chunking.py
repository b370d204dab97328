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
from .furniture import FRONT_MATTER, MARKUP, MD_HEADING, STRANDED, Span

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
class _Piece:
    start: int
    end: int
    para_start: bool  # first unit of a paragraph
    heading: bool
    level: int = 0  # a heading's level where the format states it (1 = h1), else 0
    code: bool = False  # (part of) a code block: never a heading, never cut inside a line


@dataclass(frozen=True)
class Structure:
    """What a structured format states about its text: its headings as (start, end, level) and
    its code blocks as (start, end). `explicit`: the headings come from markup, so no other line
    is taken for one by its shape (plain text has no markup, and its headings are guessed)."""

    headings: tuple[tuple[int, int, int], ...] = ()
    code: tuple[tuple[int, int], ...] = ()
    explicit: bool = False

    def level(self, start: int, end: int) -> int:
        """The level of a heading that starts within the line start:end (0 when none does)."""
        import bisect

        i = bisect.bisect_left(self.headings, (start, -1, -1))
        return self.headings[i][2] if i < len(self.headings) and self.headings[i][0] < end else 0


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


def heading_path(path: list[tuple[str, str]], line: str, after_heading: bool, level: int = 0
                 ) -> list[tuple[str, str]]:
    """The headings a passage stands under, outermost first, once `line` is read: a heading of
    a stated `level` (HTML, a PDF outline) or a Markdown heading sits under those of higher
    level; a numbered heading ("2) Quantum") under the heading its first sibling followed; any
    other heading read straight after another, with no text between, under that one; any other
    plain heading starts afresh under the Markdown headings above it. Each entry is (kind, text)."""
    name = line.lstrip("# ").strip()
    if level or MD_HEADING.match(line):
        kind = "#" * (level or len(line) - len(line.lstrip("#")))
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


# A line runs on into the next when it ends without a stop and the next opens in lower case: a
# sentence wrapped at the margin, as PDF text and hard-wrapped files have them.
_STOPPED = re.compile(r"[.!?:;…][\"'”’)\]]*\Z")
_OPENS_LOWER = re.compile(r"[a-z(]")


def _runs_on(text: str, prev: tuple[int, int], line: tuple[int, int]) -> bool:
    """Whether the text prev (ending a line) runs on into `line`, the line after it."""
    return (text.count("\n", prev[1], line[0]) == 1
            and not _STOPPED.search(text, max(prev[0], prev[1] - 16), prev[1])
            and bool(_OPENS_LOWER.match(text, line[0])))


def sentence_spans(text: str, min_chars: int = 25, code: Sequence[tuple[int, int]] = (),
                   markup: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """The sentences of a passage worth a vector of their own: not tiny, not the whole passage.
    A code block (`code`: spans within `text`) counts as one sentence; a line of `markup` none;
    a sentence wrapped over lines is read whole."""
    out: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    prose: list[tuple[int, int]] = []  # lines of text, a line that runs on joined to the next
    for ps, pe in paragraphs(text):
        if any(a <= ps and pe <= b for a, b in markup):
            continue
        block = next(((a, b) for a, b in code if a <= ps < b), None)
        if block is None:
            if prose and _runs_on(text, prose[-1], (ps, pe)):
                prose[-1] = (prose[-1][0], pe)
            else:
                prose.append((ps, pe))
        elif block not in seen:
            seen.add(block)
            if block[1] - block[0] >= min_chars and block[1] - block[0] < 0.9 * len(text):
                out.append(block)
    out.extend((s, e) for ps, pe in prose for s, e in sentences(text, ps, pe)
               if e - s >= min_chars and (e - s) < 0.9 * len(text))
    return sorted(out)


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


def _leads_in(text: str, unit: _Piece) -> bool:
    """Does `unit` end with a colon, introducing what follows (a list, a quotation)?"""
    return text[unit.start : unit.end].rstrip().endswith(":")


def _paragraph_end(block: Sequence[_Piece], i: int) -> int:
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


class _Window:
    """Whether a span of the text fits in one passage: within max_chars and the model's token
    window (less the room kept for the context line)."""

    def __init__(self, text: str, cfg: ChunkSettings, count: TokenCounter) -> None:
        self.text, self.max_chars, self.count = text, cfg.max_chars, count
        self.budget = cfg.max_tokens - 2 - cfg.context_tokens

    def fits(self, a: int, b: int) -> bool:
        return b - a <= self.max_chars and self.count(self.text[a:b]) <= self.budget


def _in_furniture(furn: Sequence[Span], fi: int, ps: int, pe: int) -> tuple[int, bool]:
    """(the first furniture span that may still hold a later paragraph, whether one holds
    the paragraph ps:pe); `furn` is sorted and scanned forward from `fi`."""
    while fi < len(furn) and furn[fi].end <= ps:
        fi += 1
    return fi, fi < len(furn) and furn[fi].start <= ps and pe <= furn[fi].end


def _code_pieces(text: str, start: int, end: int, window: _Window) -> list[_Piece]:
    """A code block as pieces that fit the passage window, cut between lines where it must be
    cut (and inside a line only where one line is too long); only the first opens a paragraph,
    so the block reads as one."""
    runs: list[tuple[int, int]] = []  # consecutive lines that fit together
    for m in re.finditer(r"[^\n]+", text[start:end]):
        a, b = start + m.start(), start + m.end()
        if runs and window.fits(runs[-1][0], b):
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    pieces: list[_Piece] = []
    for a, b in runs:
        for x, y in ([(a, b)] if window.fits(a, b) else
                     _split_long(text, a, b, window.max_chars, window.fits)):
            pieces.append(_Piece(x, y, not pieces, False, code=True))
    return pieces


def _blocks(text: str, furniture: Sequence[Span], breaks: Sequence[int], window: _Window,
            structure: Structure) -> list[list[_Piece]]:
    """The text's pieces (headings, code blocks, and sentences split further where too long), in
    blocks that furniture and page breaks separate: no passage crosses a block's edge."""
    blocks: list[list[_Piece]] = [[]]
    fi = 0
    furn = sorted(furniture, key=lambda sp: sp.start)
    pending = sorted(b for b in breaks if b > 0)
    code = sorted(structure.code)
    ci = 0
    for ps, pe in paragraphs(text):
        if pending and ps >= pending[0]:
            while pending and ps >= pending[0]:
                pending.pop(0)
            if blocks[-1]:
                blocks.append([])
        fi, furniture_line = _in_furniture(furn, fi, ps, pe)
        if furniture_line:
            if blocks[-1] and furn[fi].rule != MARKUP:  # markup sits inside the text it marks
                blocks.append([])
            continue
        while ci < len(code) and code[ci][1] <= ps:
            ci += 1
        if ci < len(code) and code[ci][0] <= ps:
            if not blocks[-1] or blocks[-1][-1].end < code[ci][0]:  # the block's first line
                blocks[-1].extend(_code_pieces(text, code[ci][0], code[ci][1], window))
            continue
        level = structure.level(ps, pe) if structure.explicit else 0
        if level or (not structure.explicit and is_heading(text[ps:pe])):
            blocks[-1].append(_Piece(ps, pe, True, True, level))
            continue
        first = True
        for ss, se in sentences(text, ps, pe):
            fitted = ([(ss, se)] if window.fits(ss, se)
                      else _split_long(text, ss, se, window.max_chars, window.fits))
            for a, b in fitted:
                blocks[-1].append(_Piece(a, b, first, False))
                first = False
    return blocks


def _section_ends(block: Sequence[_Piece]) -> list[int]:
    """Where each piece's section (heading to heading, or the block's edge) ends."""
    ends = [0] * len(block)
    end = block[-1].end if block else 0
    for i in range(len(block) - 1, -1, -1):
        ends[i] = end
        if block[i].heading and i > 0 and not block[i - 1].heading:
            end = block[i - 1].end
    return ends


def _opens_section(block: Sequence[_Piece], i: int) -> bool:
    return i == 0 or (block[i].heading and not block[i - 1].heading)


def _only_headings(pieces: Sequence[_Piece]) -> bool:
    return all(p.heading for p in pieces)


class _Packer:
    """Packs blocks of pieces into passages, one block after another. The rules, in the order
    they are tried for each sentence, are the methods named `_rule_*`."""

    def __init__(self, text: str, cfg: ChunkSettings, window: _Window) -> None:
        self.text, self.cfg, self.window = text, cfg, window
        self.chunks: list[Chunk] = []
        # A short opening passage waiting to open the next one: (start, end, heading).
        self.held: tuple[int, int, str] | None = None
        self.path: list[tuple[str, str]] = []  # the headings above the current piece
        self.heading = ""  # that path joined, as a passage cites it
        self.after_heading = False  # the last piece read was a heading
        # Per block: the passage being packed, and how far rules take pieces without asking.
        self.block_first = 0  # the first passage of the current block
        self.current: list[_Piece] = []
        self.current_heading = ""
        self.whole_until = -1  # the current section fits in one passage up to here
        self.para_until = -1  # the paragraph being added goes in whole up to here
        self.target = cfg.target_chars

    # -- emitting passages ----------------------------------------------------------------
    def _emit(self, s: int, e: int, head: str) -> None:
        self.chunks.append(Chunk(len(self.chunks), s, e, self.text[s:e], head))

    def _release(self) -> None:
        if self.held is not None:
            self._emit(*self.held)
            self.held = None

    def _flush(self) -> None:
        """Close the passage being packed: a short one joins the passage before it in the block,
        or, opening the block, is held to open the next one."""
        units, head = self.current, self.current_heading
        if not units:
            return
        s, e = units[0].start, units[-1].end
        if self.held is not None and self.window.fits(self.held[0], e):
            s, self.held = self.held[0], None
        self._release()
        small = _only_headings(units) or e - s < self.cfg.target_chars // 3
        if small and len(self.chunks) > self.block_first and self.window.fits(self.chunks[-1].start, e):
            last = self.chunks.pop()
            s, head = last.start, last.heading
        elif small and len(self.chunks) == self.block_first and not _only_headings(units):
            self.held = (s, e, head)
            return
        self._emit(s, e, head)

    def _restart(self, pieces: list[_Piece]) -> None:
        self.current = pieces
        self.current_heading = self.heading

    # -- one block ------------------------------------------------------------------------
    def pack(self, block: list[_Piece]) -> None:
        """Pack one block's pieces; nothing is held across the block's end."""
        self.block_first = len(self.chunks)
        self.current = []
        self.current_heading = self.heading
        self.whole_until = -1
        self.para_until = -1
        self.target = self.cfg.target_chars
        ends = _section_ends(block)
        for i, piece in enumerate(block):
            if _opens_section(block, i):
                self._start_section(piece, ends[i])
            if piece.heading:
                self._take_heading(piece)
            else:
                self._take_sentence(block, i, piece)
        self._flush()
        self._release()

    def _start_section(self, piece: _Piece, end: int) -> None:
        """A section that fits is one passage; a longer one is cut into the fewest passages of
        about equal length (with balanced sections)."""
        whole = self.window.fits(piece.start, end)
        self.whole_until = end if self.cfg.whole_sections and whole else -1
        self.target = self.cfg.target_chars
        if self.cfg.balanced_sections and not whole:
            length = end - piece.start
            self.target = length // -(-length // self.cfg.target_chars)

    def _take_heading(self, piece: _Piece) -> None:
        """A heading closes the passage before it and opens the next one."""
        cur = self.current
        if cur and (not _only_headings(cur) or not self.window.fits(cur[0].start, piece.end)):
            self._flush()
            self.current = []
        self.path = heading_path(self.path if self.cfg.heading_path else [],
                                 self.text[piece.start : piece.end], self.after_heading,
                                 piece.level)
        self.heading = HEADING_JOIN.join(h for _, h in self.path)
        if not self.current:
            self.current_heading = self.heading
        self.current.append(piece)
        self.after_heading = True

    def _take_sentence(self, block: list[_Piece], i: int, piece: _Piece) -> None:
        self.after_heading = False
        if not self.current:
            self._restart([piece])
            return
        for rule in (self._rule_whole_section, self._rule_rest_of_paragraph,
                     self._rule_code_stays_with_its_text, self._rule_heading_leads_in,
                     self._rule_lead_in_keeps_its_paragraph, self._rule_grow_towards_target):
            if rule(block, i, piece):
                return
        self._flush()
        self._restart(self._overlap(piece) + [piece])

    # -- the rules: each returns True when it has placed the piece ---------------------------
    def _rule_whole_section(self, block: list[_Piece], i: int, piece: _Piece) -> bool:
        if piece.end <= self.whole_until:
            self.current.append(piece)
            return True
        return False

    def _rule_rest_of_paragraph(self, block: list[_Piece], i: int, piece: _Piece) -> bool:
        if piece.end <= self.para_until:
            self.current.append(piece)
            return True
        return False

    def _rule_code_stays_with_its_text(self, block: list[_Piece], i: int, piece: _Piece) -> bool:
        """A code block joins the text that explains it when the two fit in one passage."""
        if piece.code and self.window.fits(self.current[0].start, piece.end):
            self.current.append(piece)
            return True
        return False

    def _rule_heading_leads_in(self, block: list[_Piece], i: int, piece: _Piece) -> bool:
        """A heading always leads into its first sentence."""
        if _only_headings(self.current) and self.window.fits(self.current[0].start, piece.end):
            self.current.append(piece)
            return True
        return False

    def _rule_lead_in_keeps_its_paragraph(self, block: list[_Piece], i: int, piece: _Piece) -> bool:
        """A lead-in ("… include:") keeps the paragraph it introduces, if it fits."""
        if piece.para_start and _leads_in(self.text, self.current[-1]):
            para_end = _paragraph_end(block, i)
            if self.window.fits(self.current[0].start, para_end):
                self.para_until = para_end
                self.current.append(piece)
                return True
        return False

    def _rule_grow_towards_target(self, block: list[_Piece], i: int, piece: _Piece) -> bool:
        """Grow while that lands nearer the target, preferring to break at a paragraph that
        would not fit whole."""
        start = self.current[0].start
        size = self.current[-1].end - start
        balanced = self.cfg.balanced_sections
        if not (_takes(size, piece.end - start, self.target, balanced)
                and self.window.fits(start, piece.end)):
            return False
        if piece.para_start and size >= self.target * 0.6:
            para_end = _paragraph_end(block, i)
            if not _takes(size, para_end - start, self.target, balanced):
                self._flush()
                self._restart([piece])
                return True
            if self.window.fits(start, para_end):
                self.para_until = para_end
        self.current.append(piece)
        return True

    def _overlap(self, piece: _Piece) -> list[_Piece]:
        """The short sentence(s) repeated from the passage just closed when a paragraph is split."""
        carry: list[_Piece] = []
        if not piece.para_start and self.cfg.overlap_sentences > 0:
            for prev in self.current[-self.cfg.overlap_sentences :]:
                if (not prev.heading and not prev.code
                        and prev.end - prev.start <= self.cfg.target_chars // 3):
                    carry.append(prev)
            while carry and not self.window.fits(carry[0].start, piece.end):
                carry.pop(0)
        return carry


def chunk_text(
    text: str,
    settings: ChunkSettings | None = None,
    furniture: Sequence[Span] = (),
    count_tokens: TokenCounter | None = None,
    breaks: Sequence[int] = (),
    structure: Structure | None = None,
) -> list[Chunk]:
    """Cut `text` into passages.

    Args:
        text: the source's text; every passage is `text[start:end]`.
        settings: sizes and rules (ChunkSettings()'s defaults when None).
        furniture: spans to leave out (page furniture, front matter).
        count_tokens: the model's word-piece count of a text (else about 3 characters a token).
        breaks: offsets no passage may cross (page starts in a PDF), so each has one page.
        structure: the headings and code blocks the format states (else headings are guessed
            from the shape of lines).

    Returns:
        The passages in order, numbered from 0.
    """
    cfg = settings or ChunkSettings()
    window = _Window(text, cfg, count_tokens or _approx_tokens)
    packer = _Packer(text, cfg, window)
    for block in _blocks(text, furniture, breaks, window, structure or Structure()):
        packer.pack(block)
    return [Chunk(i, c.start, c.end, c.text, c.heading) for i, c in enumerate(packer.chunks)]


def furniture_to_skip(spans: Sequence[Span], cfg: ChunkSettings) -> list[Span]:
    """The furniture spans the chunker leaves out, as the settings ask (front matter and markup
    always: they are not text, not page furniture that an ablation may keep)."""
    return [sp for sp in spans if sp.rule in (FRONT_MATTER, MARKUP) or (
        cfg.drop_furniture and (cfg.drop_stranded or sp.rule != STRANDED))]
