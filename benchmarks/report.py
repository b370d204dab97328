"""Regenerate the results: run the evaluations and benchmarks, rewrite each section of
benchmarks/RESULTS.md between its markers (stamped with date, commit and machine), keep the
figures in benchmarks/results.json, and rewrite the README's headline table from them.

    python benchmarks/report.py                          # every part (about an hour on 2 cores)
    python benchmarks/report.py --only questions speed   # some parts; the others keep their figures
    python benchmarks/report.py --readme                 # only the README's table, from the figures
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench
import crosscorpus
import load
import mcp_bench
import qdrant_bench
import scale
import structure
from common import CRANFIELD, ROOT, replace_between, stamp, table, write_atomic

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
FIGURES = ROOT / "benchmarks" / "results.json"
README = ROOT / "README.md"
Part = tuple[str, dict[str, Any]]
QUESTION_KEYS = ["hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "recall@5"]


def _cells(metrics: dict[str, float], keys: list[str]) -> list[str]:
    return [f"{metrics.get(k, float('nan')):.3f}" for k in keys]


def _p_cells(reports: list[Any], per_query: Callable[[Any], Any]) -> list[str]:
    from itsqa.stats import paired_p

    base = per_query(reports[0])
    return ["—"] + [f"{paired_p(base, per_query(r)):.3f}" for r in reports[1:]]


def _question_tables(path: Path) -> tuple[str, dict[str, Any]]:
    """Every mode and the peers on a question set, then per kind of question, then confidence."""
    from itsqa.config import Settings
    from itsqa.eval_runs import run_questions

    reports = run_questions(Settings(corpus_dir=ROOT / "corpus", index_dir=ROOT / "index"),
                            path, 5, "hybrid", compare=True)
    first = reports[0]
    n = sum(q.question.answerable for q in first.questions)
    p = _p_cells(reports, lambda r: r.reciprocal_ranks())
    main = table(["system", *QUESTION_KEYS, "p (MRR@10)"],
                 [[r.mode, *_cells(r.metrics, QUESTION_KEYS), p[i]] for i, r in enumerate(reports)])
    kinds = sorted(first.by_kind())
    by_kind = table(["system", *[f"{k} ({int(first.by_kind()[k]['n'])})" for k in kinds]],
                    [[r.mode, *[" / ".join(_cells(r.by_kind()[k], ["hit@1", "hit@5", "mrr@10"]))
                                for k in kinds]] for r in reports])
    lo_hi = first.intervals()
    flags = first.flagged_by_kind()
    una = ", ".join(f"{row['flagged']} of {row['n']} {kind}" for kind, row in flags.items())
    wrong = round(first.metrics["answerable_flagged"] * n)
    md = "\n\n".join([
        f"`{path.relative_to(ROOT)}`: {n} answerable questions. p: paired sign-flip "
        "randomisation test of MRR@10 against the first row.", main,
        "By kind of question (hit@1 / hit@5 / MRR@10):", by_kind,
        "95% bootstrap interval of the default: " + ", ".join(
            f"{m} {a:.3f}–{b:.3f}" for m, (a, b) in lo_hi.items()) + ".",
        f"Confidence: unanswerable questions flagged `confident: false`: {una or 'none in the set'}; "
        f"answerable ones wrongly flagged: {wrong} of {n}."])
    figures = {"n": n, "rows": {r.mode: r.metrics for r in reports},
               "by_kind": {r.mode: r.by_kind() for r in reports}, "flagged": flags}
    return md, figures


def part_questions() -> Part:
    return _question_tables(ROOT / "eval" / "questions.jsonl")


def part_outside() -> Part:
    """The outside-style sets (issue 37): written blind, as analysts who never read the sources."""
    mds, figs = [], {}
    for name in ("analyst-dev", "analyst-judge"):
        md, fig = _question_tables(ROOT / "eval" / f"{name}.jsonl")
        mds.append(f"### {name}\n\n{md}")
        figs[name] = fig
    return "\n\n".join(mds), figs


def part_cranfield() -> Part:
    from itsqa.config import Settings
    from itsqa.eval_runs import run_beir
    from itsqa.stats import ratio_interval

    reports = run_beir(Settings(), CRANFIELD, None, "hybrid", compare=True)
    keys = ["ndcg@10", "recall@100", "mrr@10"]
    p = _p_cells(reports, lambda r: r.ndcg_per_query)
    bm25s = next(r for r in reports if r.mode.startswith("bm25s"))
    ratio = reports[0].metrics["ndcg@10"] / bm25s.metrics["ndcg@10"]
    lo, hi = ratio_interval(reports[0].ndcg_per_query, bm25s.ndcg_per_query)
    md = "\n\n".join([
        f"{reports[0].n} queries; documents ranked by their best passage; peers on whole "
        "documents (title + text). p: paired sign-flip test of nDCG@10 against the first row.",
        table(["system", *keys, "p (nDCG@10)"],
              [[r.mode, *_cells(r.metrics, keys), p[i]] for i, r in enumerate(reports)]),
        f"Default / bm25s: nDCG@10 **{ratio:.2f}×** (95% interval {lo:.2f}–{hi:.2f}, paired "
        "bootstrap over the queries)."])
    return md, {"rows": {r.mode: r.metrics for r in reports}, "ratio_bm25s": ratio,
                "ratio_interval": [lo, hi]}


def part_corpora() -> Part:
    return crosscorpus.run()


def part_structure() -> Part:
    return structure.run()


def part_speed() -> Part:
    return bench.latency(7)


def part_serve() -> Part:
    return load.run(8, 30)


def part_mcp() -> Part:
    return mcp_bench.run()


def part_build() -> Part:
    return bench.build_throughput(CRANFIELD)


def part_scaling() -> Part:
    return scale.run(["its", "pydocs", "pydocs-all", f"pydocs-all-x{scale.COPIES}"],
                     baseline=scale.BEFORE)


def part_fresh() -> Part:
    return scale.run(["its", f"pydocs-all{scale.DISTINCT}"], runs=3)


def part_store() -> Part:
    return qdrant_bench.run(["its", "pydocs"])


PARTS: dict[str, tuple[str, Callable[[], Part]]] = {
    "questions": ("## The project's question set", part_questions),
    "outside": ("## Outside-style questions", part_outside),
    "cranfield": ("## Cranfield (BEIR layout)", part_cranfield),
    "corpora": ("## Across corpora", part_corpora),
    "structure": ("## Sections and titles", part_structure),
    "speed": ("## Ask latency", part_speed),
    "serve": ("## `itsqa serve` under load", part_serve),
    "mcp": ("## `itsqa mcp` (MCP over stdio)", part_mcp),
    "build": ("## Index build throughput", part_build),
    "scaling": ("## Large folders", part_scaling),
    "fresh": ("## A large folder from scratch", part_fresh),
    "store": ("## The Qdrant store", part_store),
}


def _fmt(row: dict[str, float] | None, keys: list[str]) -> str:
    return " / ".join(f"{row[k]:.3f}" for k in keys) if row else "—"


def _outside_by_kind(o: dict[str, Any], peers: tuple[str, ...]) -> str:
    """The blind outside-style set by kind of question, and how its unanswerable ones fared."""
    modes = ["hybrid", *[next(k for k in o["by_kind"] if k.startswith(p)) for p in peers]]
    kinds = sorted(o["by_kind"]["hybrid"])
    rows = [[f"{k} ({int(o['by_kind']['hybrid'][k]['n'])})",
             *[_fmt(o["by_kind"][m].get(k), ["hit@1", "hit@5"]) for m in modes]] for k in kinds]
    flagged = o.get("flagged", {}).get("on-topic")
    wrong = round(o["rows"]["hybrid"]["answerable_flagged"] * o["n"])
    note = (f"On-topic questions the sources cannot answer, flagged `confident: false`: "
            f"{flagged['flagged']} of {flagged['n']}; answerable ones flagged: {wrong} of "
            f"{o['n']}." if flagged else "")
    return "\n\n".join(x for x in [
        "The outside-style set by kind of question, hit@1 / hit@5:",
        table(["kind", "itsqa (default)", "ten-line RAG (MiniLM)", "bm25s"], rows), note] if x)


def headline(fig: dict[str, Any]) -> str:
    """The README's results table and speed line, from the stored figures."""
    rows = []
    q, o, c = fig.get("questions"), fig.get("outside", {}).get("analyst-judge"), fig.get("cranfield")
    peers = ("ten-line RAG", "bm25s (800")
    for label, f in ((f"ITS sources, the project's {q['n'] if q else ''} questions", q),
                     (f"ITS sources, {o['n'] if o else ''} outside-style questions (written blind)", o)):
        if f:
            pick = [next((v for k, v in f["rows"].items() if k.startswith(p)), None) for p in peers]
            rows.append([f"{label}: hit@1 / MRR@10", _fmt(f["rows"]["hybrid"], ["hit@1", "mrr@10"]),
                         *[_fmt(x, ["hit@1", "mrr@10"]) for x in pick]])
    if c:
        pick = [next((v for k, v in c["rows"].items() if k.startswith(p)), None)
                for p in ("MiniLM dense", "bm25s")]
        rows.append(["Cranfield, 225 queries: nDCG@10", _fmt(c["rows"]["hybrid"], ["ndcg@10"]),
                     *[_fmt(x, ["ndcg@10"]) for x in pick]])
    lines = [table(["corpus and questions", "itsqa (default)", "ten-line RAG (MiniLM)", "bm25s"],
                   rows)]
    if o:
        lines.append(_outside_by_kind(o, peers))
    s = fig.get("speed")
    if s:
        handed = (f"; handed to a running `itsqa serve`, {s['handed_s']:.2f} s "
                  f"({s['handed_ratio']:.3f}×)" if "handed_s" in s else "")
        lines.append(f"Speed: a cold `itsqa ask` takes {s['cold_ask_s']:.2f} s (median), "
                     f"{s['ratio']:.3f}× a naive sentence-transformers script measured in the same "
                     f"run{handed}; inside one process {s['warm_ms']:.0f} ms.")
    scaling = fig.get("scaling", {})
    big, small = scaling.get("pydocs-all"), scaling.get("its")
    huge = next((v for k, v in scaling.items() if k.startswith("pydocs-all-x")), None)
    fresh = fig.get("fresh", {}).get(f"pydocs-all{scale.DISTINCT}")
    if big and small:
        lines.append(
            f"Large folders: the whole Python 3.11 documentation ({big['passages']:,} passages) "
            f"indexes from scratch in {big['seconds'] / 60:.1f} min on 2 cores, peak "
            f"{big['peak_mb']:,.0f} MB; a cold ask there takes {big['cold_s']:.2f} s, "
            f"{big['cold_s'] / small['cold_s']:.2f}× the five-source corpus (same run)."
            + (f" Eight copies made distinct ({fresh['passages']:,} passages), from scratch: "
               f"{fresh['seconds'] / 60:.0f} min, peak {fresh['peak_mb']:,.0f} MB." if fresh
               else f" Eight copies ({huge['passages']:,} passages): peak {huge['peak_mb']:,.0f} MB."
               if huge else ""))
    lines.append("Generated by `python benchmarks/report.py`; details, machine and commit in "
                 "[benchmarks/RESULTS.md](benchmarks/RESULTS.md).")
    return "\n\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", choices=list(PARTS), help="regenerate these parts only")
    ap.add_argument("--readme", action="store_true",
                    help="only rewrite the README's table from the figures already stored")
    args = ap.parse_args()
    figures = json.loads(FIGURES.read_text(encoding="utf-8")) if FIGURES.exists() else {}
    command = "python benchmarks/report.py" + (f" --only {' '.join(args.only)}" if args.only else "")
    for name in [] if args.readme else args.only or list(PARTS):
        heading, run = PARTS[name]
        print(f"running {name} …", file=sys.stderr, flush=True)
        md, fig = run()
        replace_between(RESULTS, f"report:{name}", f"{stamp(command)}\n\n{md}", heading=heading)
        figures[name] = fig
        write_atomic(FIGURES, json.dumps(figures, indent=1, sort_keys=True) + "\n")
    replace_between(README, "results", headline(figures))


if __name__ == "__main__":
    main()
