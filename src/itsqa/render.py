"""Terminal output (rich): wrapped to the terminal, 80 columns when not a terminal. Passage text
is never read as markup, so a source cannot inject styles or control sequences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from .furniture import MARKUP
from .terminal import one_line

if TYPE_CHECKING:
    from .answer import Answer, Citation
    from .catalog import SourceRow

NOTE_STYLES = {"low-confidence": "bold yellow", "corrections": "italic", "missing-words": "dim"}


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, emoji=False)


def _printable(s: str) -> str:
    return "".join(c if c.isprintable() or c == "\n" else " " for c in s)


def _oneline(s: str) -> str:
    return " ".join(s.split())


def cite_line(c: Citation) -> str:
    pub = ", ".join(_oneline(x) for x in (c.publisher, c.date) if x)
    head = f"{_oneline(c.title)} — {pub}" if pub else _oneline(c.title)
    where = f"page {c.page}, " if c.page else ""
    section = f", under “{_oneline(c.section)}”" if c.section else ""
    return f"{head}\n{one_line(c.source)}: {where}characters {c.start}–{c.end}{section}"


def print_answer(answer: Answer) -> None:
    con = _console()
    if not answer.hits:
        con.print("No passages found.")
        return
    notes = answer.notes()  # low confidence first, in place of the one-line answer
    if answer.confident and answer.best_answer:
        t = Text("Answer: ", style="bold")
        t.append(_printable(answer.best_answer))
        con.print(t)
    for kind, text in notes:
        con.print(Text(_printable(text), style=NOTE_STYLES[kind]))
    for h in answer.hits:
        con.print()
        head = Text(f"[{h.rank}] ", style="bold cyan")
        head.append(f"score {h.score:.3f}  ", style="dim")
        head.append(_printable(cite_line(h.citation)))
        con.print(head)
        body = Text(_printable(h.text.strip("\n")))
        lead = len(h.text) - len(h.text.lstrip("\n"))
        for s, e in h.highlights:
            body.stylize("bold", max(0, s - lead), max(0, e - lead))
        con.print(body)
        if h.also_in:
            also = "; ".join(f"{_oneline(a.title)} ({one_line(a.source)}: {a.start}–{a.end})"
                             for a in h.also_in)
            con.print(Text(_printable(f"also in: {also}"), style="dim"))


def _by_rule(spans: tuple[tuple[int, int, str], ...]) -> str:
    """'link 3, page chrome 2': how many furniture spans each rule found, most first."""
    from collections import Counter

    counts = Counter(rule for _, _, rule in spans)
    return ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))


def print_sources(rows: list[SourceRow]) -> None:
    con = _console()
    if not rows:
        con.print("No sources.")
        return
    from rich.padding import Padding

    for r in rows:
        t = Text(f"{r.status:8} ", style="bold green" if r.status == "indexed" else "bold yellow")
        t.append(_printable(one_line(r.name)))
        con.print(t)
        meta = ", ".join(_oneline(x) for x in (r.publisher, r.date, r.format) if x)
        lines = [_oneline(r.title) + (f" — {meta}" if meta else "")]
        facts = []
        if r.chunks is not None:
            facts.append(f"{r.chunks} passages")
        markup = [f for f in r.furniture if f[2] == MARKUP]  # a format's markup is not furniture
        furniture = [f for f in r.furniture if f[2] != MARKUP]
        chars = r.furniture_chars - sum(f[1] - f[0] for f in markup)
        if chars > 0:
            facts.append(f"{chars} characters of page furniture left out"
                         + (f" (by rule: {_by_rule(tuple(furniture))})" if furniture else ""))
        if markup:
            facts.append(f"{len(markup)} spans of markup passed over")
        if r.reason:
            facts.append(f"not indexed: {r.reason}")
        if facts:
            lines.append("; ".join(facts))
        con.print(Padding(Text(_printable("\n".join(lines))), (0, 0, 0, 9), expand=False))
