"""Why a question was missed: where each of its evidence phrases stands in the index, and the
rank the passage holding it got (or that it was shown only as a copy of another result)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .evaluation import Question, Result, fold
from .retrieval import Retriever

Explain = Callable[[Question, list[Result]], tuple[str, ...]]


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st …"""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _find_in_sources(retriever: Retriever, folded: str) -> str:
    """Which source holds the folded phrase when no passage does ("" when none)."""
    for name in retriever.index.sources:
        text = retriever.index.texts.get(name)
        if text is None:
            try:
                text = (retriever.settings.corpus_dir / name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
        if folded in fold(text):
            return f"{name}, split across passages or left out as page furniture"
    return ""


def _shown(retriever: Retriever, ranked: list) -> dict[int, tuple[int, int]]:
    """Where the top 10 results show each passage: {row: (result number, row shown)}, a copy
    folded into another result listed under that one."""
    shown: dict[int, tuple[int, int]] = {}
    for r, group in enumerate(retriever.answers.distinct(ranked, 10), 1):
        shown[group.row] = (r, group.row)
        for m in group.copies:
            shown.setdefault(m, (r, group.row))
    return shown


def explainer(retriever: Retriever, mode: str) -> Explain:
    """A function that explains, line by line, a question missed at 5 in `mode`."""

    def explain(q: Question, results: list[Result]) -> tuple[str, ...]:
        ranked = retriever.rank(q.question, mode, depth=len(retriever.index.chunks)).rows
        position = {row: i + 1 for i, (row, _) in enumerate(ranked)}
        shown = _shown(retriever, ranked)
        lines = [_evidence_line(retriever, ev, position, shown) for ev in q.evidence or ()]
        for s in q.sources:
            rows = [position.get(i, 10**9) for i, c in enumerate(retriever.index.chunks)
                    if Path(c.source).name == Path(s).name]
            lines.append(f"source {s}: its best passage ranked {ordinal(min(rows))}" if rows
                         else f"source {s}: not in the index")
        return tuple(lines)

    return explain


def _evidence_line(retriever: Retriever, ev: str, position: dict[int, int],
                   shown: dict[int, tuple[int, int]]) -> str:
    f = fold(ev)
    chunks = retriever.index.chunks
    rows = [i for i, c in enumerate(chunks) if f in fold(c.text)]
    if not rows:
        where = _find_in_sources(retriever, f)
        return (f"evidence {ev!r}: no passage contains it whole"
                + (f" (it stands in {where})" if where else " (not in the index)"))
    best = min(rows, key=lambda r: position.get(r, 10**9))
    c = chunks[best]
    title = retriever.index.sources.get(c.source, {}).get("title", c.source)
    rank = position.get(best)
    where = f"ranked {ordinal(rank) if rank else 'below every other passage'}"
    if best in shown:
        r, row = shown[best]
        if row == best:
            where = f"shown {ordinal(r)} ({where} before copies were folded)"
        else:
            home = chunks[row]
            where = (f"{where}, but shown only as a copy under result {r} "
                     f"({home.source}: {home.start}–{home.end}, 'also in')")
    return (f"evidence {ev!r} is in passage {c.ordinal + 1} of {title!r} "
            f"({c.source}: {c.start}–{c.end}), {where}")
