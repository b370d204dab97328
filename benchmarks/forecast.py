"""What the project's question set forecasts for a held-out set of the same kind, given how hard
that set is for the baseline peers.

A held-out set may be easier or harder than the project's own. One thing is known of it: how often
the peers put a right passage first there (issue 5: the ten-line RAG about 0.58, BM25 over the same
windows about 0.69; on the project's set they score about 0.40 and 0.49). This script splits the
project's questions by whether a peer got each one first, measures itsqa's default on each part,
and weights the parts as they would fall on the held-out set (post-stratification), with a
stratified bootstrap interval. The forecast assumes that, given the peer's outcome, a held-out
question is as hard for itsqa as the project's are; the backtest at the end tests that on the
project's own blind batches (each forecast from the questions written before it) and prints the
error, so the forecast can be read with its track record.

    python benchmarks/forecast.py                     # runs the evaluation (about 2 min)
    python benchmarks/forecast.py --rag 0.58 --bm25 0.69     # the peers' hit@1 held out
    python benchmarks/forecast.py --batches q77 q103 q130 q150 q170 q190 q210 q230 q250 \
        q270 q290 q310 q330 q350 q370 q390 q410 q430
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from itsqa.config import Settings
from itsqa.eval_runs import peer_rankers_for, system_ranker
from itsqa.evaluation import evaluate_questions, hit_at, load_questions, reciprocal_rank
from itsqa.service import open_index

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("hit@1", "hit@5", "MRR@10")


def per_question(rank: int | None) -> tuple[float, float, float]:
    return hit_at(rank, 1), hit_at(rank, 5), reciprocal_rank(rank, 10)


def reweighted(scores: np.ndarray, peer_first: np.ndarray, rate: float) -> np.ndarray:
    """Mean of each metric column with the questions the peer got first weighted to `rate`."""
    if peer_first.all() or not peer_first.any():
        return scores.mean(axis=0)
    return rate * scores[peer_first].mean(axis=0) + (1 - rate) * scores[~peer_first].mean(axis=0)


def interval(scores: np.ndarray, peer_first: np.ndarray, rate: float, rounds: int = 5000,
             seed: int = 0) -> np.ndarray:
    """95% percentile interval (2 x metrics) of the reweighted means, resampling within each part."""
    rng = np.random.default_rng(seed)
    a, b = scores[peer_first], scores[~peer_first]
    out = np.empty((rounds, scores.shape[1]))
    for i in range(rounds):
        ra = a[rng.integers(0, len(a), len(a))].mean(axis=0) if len(a) else 0.0
        rb = b[rng.integers(0, len(b), len(b))].mean(axis=0) if len(b) else 0.0
        out[i] = rate * ra + (1 - rate) * rb
    return np.percentile(out, [2.5, 97.5], axis=0)


def fmt(values: Iterable[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.jsonl")
    ap.add_argument("--rag", type=float, default=0.58,
                    help="the ten-line RAG peer's hit@1 on the held-out set (issue 5)")
    ap.add_argument("--bm25", type=float, default=0.69,
                    help="BM25 over the same windows: its hit@1 on the held-out set (issue 5)")
    ap.add_argument("--batches", nargs="*",
                    default=["q77", "q103", "q130", "q150", "q170", "q190", "q210", "q230", "q250",
                             "q270", "q290", "q310", "q330", "q350", "q370", "q390", "q410",
                             "q430"],
                    help="first question id of each batch written before the system was run on "
                         "it (README, 'Question set'); the first is where blind questions begin")
    args = ap.parse_args()

    questions = [q for q in load_questions(args.questions) if q.answerable]
    order = {q.id: i for i, q in enumerate(questions)}
    starts = [order[b] for b in args.batches if b in order]
    settings = Settings()
    retriever = open_index(settings).retriever
    rankers = {"itsqa": system_ranker(retriever, settings.mode, 5, highlight=False),
               **peer_rankers_for(retriever, 5)}
    ranks = {name: [r.first_relevant_rank for r in
                    evaluate_questions(questions, rank, 5, name="q", mode=name).questions]
             for name, rank in rankers.items()}
    scores = np.array([per_question(r) for r in ranks["itsqa"]])
    peers = [(name, rate, np.array([r == 1 for r in ranks[name]]))
             for name, rate in zip(list(rankers)[1:], (args.rag, args.bm25), strict=True)]

    print(f"Forecast of itsqa's default ({settings.mode}) for a held-out set, from "
          f"{args.questions.name} ({len(questions)} answerable questions).\n")
    print("| questions used | weighted by | peer hit@1 here | peer hit@1 held out | "
          + " / ".join(METRICS) + " | 95% interval (hit@1; hit@5; MRR@10) |")
    print("| --- " * 6 + "|")
    uses = [("all", np.ones(len(questions), bool))]
    if starts:
        blind = np.zeros(len(questions), bool)
        blind[starts[0]:] = True
        uses.append((f"blind only ({questions[starts[0]].id} on)", blind))
    for label, sel in uses:
        print(f"| {label} | none (as measured) | | | {fmt(scores[sel].mean(axis=0))} | |")
        for name, rate, first in peers:
            f = reweighted(scores[sel], first[sel], rate)
            lo, hi = interval(scores[sel], first[sel], rate)
            spans = "; ".join(f"{a:.3f}–{b:.3f}" for a, b in zip(lo, hi, strict=True))
            print(f"| {label} | {name} | {first[sel].mean():.3f} | {rate:.2f} | {fmt(f)} | {spans} |")

    if len(starts) < 2:
        return
    print("\nBacktest: each blind batch forecast from every question written before it, weighted "
          "to the batch's own peer hit@1; error = forecast − observed; each cell hit@1 / hit@5 / MRR@10.\n")
    print("| batch | n | observed | peer | forecast | error | unweighted error |")
    print("| --- " * 7 + "|")
    bounds = starts[1:] + [len(questions)]
    totals: dict[str, list[float]] = {}
    for lo_i, hi_i in zip(starts[1:], bounds[1:], strict=True):
        train, test = slice(0, lo_i), slice(lo_i, hi_i)
        observed = scores[test].mean(axis=0)
        raw_err = scores[train].mean(axis=0) - observed
        batch = f"{questions[lo_i].id}–{questions[hi_i - 1].id}"
        totals.setdefault("none", []).append(abs(raw_err[0]))
        for name, _, first in peers:
            f = reweighted(scores[train], first[train], float(first[test].mean()))
            totals.setdefault(name, []).append(abs(f[0] - observed[0]))
            print(f"| {batch} | {hi_i - lo_i} | {fmt(observed)} | {name} "
                  f"({first[test].mean():.2f} here) | {fmt(f)} | {fmt(f - observed)} | "
                  f"{fmt(raw_err)} |")
    print("\nMean absolute hit@1 error over the batches: "
          + "; ".join(f"{k if k != 'none' else 'unweighted'} {np.mean(v):.3f}"
                      for k, v in totals.items()))


if __name__ == "__main__":
    main()
