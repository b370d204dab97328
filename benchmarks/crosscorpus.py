"""Quality on corpora of different kinds (benchmarks/corpora.py): the ITS sources, Cranfield, a
documentation set (the Python tutorial and HOWTOs) and PDF manuals. For each, every mode beside
the ten-line RAG and bm25s; then leave-one-corpus-out: ranking settings chosen from a grid on the
other three corpora, scored on the one left out, beside the default there.

    python benchmarks/crosscorpus.py                 # all four corpora (about 30 minutes)
    python benchmarks/crosscorpus.py --no-loco       # the modes and peers only
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from dataclasses import replace
from typing import Any

from common import table
from corpora import Corpus, cache_root, corpus

CORPORA = ("its", "cranfield", "pydocs", "pdfs")
# Settings that re-rank without re-indexing: fusion's dense weight, late interaction, proximity.
GRID = {"dense_weight": (0.5, 0.7, 0.85), "late_weight": (0.0, 0.9, 1.9),
        "proximity_weight": (0.0, 0.3)}


def _settings(c: Corpus) -> Any:
    from itsqa.config import Settings

    if c.beir is not None:
        return Settings()
    return Settings(corpus_dir=c.folder, index_dir=cache_root() / f"index-{c.name}")


class Scorer:
    """One corpus, indexed once: scores any settings on its questions (MRR@10) or, for a BEIR
    collection, its queries (nDCG@10)."""

    def __init__(self, c: Corpus) -> None:
        from itsqa.eval_runs import open_beir
        from itsqa.evaluation import load_questions
        from itsqa.service import open_index

        self.corpus = c
        if c.beir is not None:
            self.ds, self.base, self.mapping, self.cache = open_beir(_settings(c), c.beir, None)
        else:
            self.base = open_index(_settings(c), warm=True).retriever
            self.questions = load_questions(c.questions[0])

    def reports(self, settings: Any, mode: str = "hybrid") -> Any:
        from itsqa.beir import evaluate_beir
        from itsqa.eval_runs import doc_ranker, system_ranker
        from itsqa.evaluation import evaluate_questions

        r = self.base.with_settings(settings)
        if self.corpus.beir is not None:
            return evaluate_beir(self.ds, doc_ranker(r, self.mapping, mode), mode=mode)
        return evaluate_questions(self.questions, system_ranker(r, mode, 5, highlight=False), 5,
                                  name=self.corpus.name, mode=mode)

    def score(self, settings: Any, mode: str = "hybrid") -> float:
        m = self.reports(settings, mode).metrics
        return float(m["ndcg@10"] if self.corpus.beir is not None else m["mrr@10"])

    def peers(self) -> list[Any]:
        from itsqa.eval_runs import beir_peer_reports, peer_rankers_for
        from itsqa.evaluation import evaluate_questions

        if self.corpus.beir is not None:
            return beir_peer_reports(self.ds, self.base, self.cache)
        return [evaluate_questions(self.questions, rank, 5, name=self.corpus.name, mode=label)
                for label, rank in peer_rankers_for(self.base, 5).items()]


def _row(label: str, metrics: dict[str, float], beir: bool) -> list[str]:
    keys = ["ndcg@10", "recall@100", "mrr@10"] if beir else ["hit@1", "hit@5", "mrr@10"]
    return [label, *(f"{metrics[k]:.3f}" for k in keys)]


def modes_table(scorers: dict[str, Scorer]) -> tuple[str, dict[str, Any]]:
    parts, figures = [], {}
    for name, s in scorers.items():
        beir = s.corpus.beir is not None
        rows = [_row(m, s.reports(s.base.settings, m).metrics, beir)
                for m in ("hybrid", "late", "dense", "bm25")]
        rows += [_row(f"peer: {p.mode}", p.metrics, beir) for p in s.peers()]
        n = len(s.ds.qrels) if beir else sum(q.answerable for q in s.questions)
        what = (f"{n} queries; nDCG@10 / recall@100 / MRR@10" if beir else
                f"{s.corpus.questions[0].name}, {n} answerable questions; hit@1 / hit@5 / MRR@10")
        head = ["system", *(["nDCG@10", "recall@100", "MRR@10"] if beir
                            else ["hit@1", "hit@5", "MRR@10"])]
        parts.append(f"**{name}** ({what})\n\n" + table(head, rows))
        figures[name] = {r[0]: [float(x) for x in r[1:]] for r in rows}
    return "\n\n".join(parts), figures


def loco(scorers: dict[str, Scorer]) -> tuple[str, dict[str, Any]]:
    """Leave one corpus out: the grid setting with the best mean score relative to the default
    on the other corpora, scored on the one left out."""
    names = list(GRID)
    grid = [dict(zip(names, values, strict=True)) for values in itertools.product(*GRID.values())]
    base = {n: s.base.settings for n, s in scorers.items()}
    default = {n: scorers[n].score(base[n]) for n in scorers}
    scores = {n: [scorers[n].score(replace(base[n], **g)) for g in grid] for n in scorers}
    rows, figures = [], {}
    for left in scorers:
        others = [n for n in scorers if n != left]
        rel = [statistics.mean(scores[n][i] / default[n] for n in others) for i in range(len(grid))]
        chosen = max(range(len(grid)), key=lambda i: (rel[i], -i))
        best = max(range(len(grid)), key=lambda i: scores[left][i])
        label = ", ".join(f"{k} {v}" for k, v in grid[chosen].items())
        rows.append([left, label, f"{scores[left][chosen]:.3f}", f"{default[left]:.3f}",
                     f"{scores[left][best]:.3f}"])
        figures[left] = {"chosen": grid[chosen], "chosen_score": scores[left][chosen],
                         "default_score": default[left], "best_score": scores[left][best]}
    md = ("Each corpus left out in turn: of the " + str(len(grid)) + " settings of the grid ("
          + "; ".join(f"{k} {v}" for k, v in GRID.items()) + "), the one with the best mean "
          "score relative to the default on the other three is scored on the corpus left out "
          "(MRR@10; nDCG@10 for Cranfield), beside the default and the best the grid could have "
          "done there (chosen by looking, so not a fair score).\n\n"
          + table(["left out", "chosen on the others", "its score there", "default there",
                   "best of the grid there"], rows))
    return md, figures


def run(with_loco: bool = True) -> tuple[str, dict[str, Any]]:
    scorers = {n: Scorer(corpus(n)) for n in CORPORA}
    md, figures = modes_table(scorers)
    out = {"modes": figures}
    if with_loco:
        loco_md, loco_fig = loco(scorers)
        md += "\n\n### Leave one corpus out\n\n" + loco_md
        out["loco"] = loco_fig
    return md, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-loco", action="store_true")
    args = ap.parse_args()
    print(run(not args.no_loco)[0])


if __name__ == "__main__":
    main()
