"""Measure retrieval settings on the project's question set (and optionally Cranfield), each
against the same baselines, so a setting is kept only when it helps both corpora.

    python benchmarks/sweep.py                      # the question set, a few settings
    python benchmarks/sweep.py --beir ../shared/benchmarks/cranfield
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from itsqa.build import update_index
from itsqa.cli_eval import _materialise, _system_ranker, beir_cache, doc_ranker
from itsqa.config import ChunkSettings, Settings
from itsqa.evaluation import evaluate_beir, evaluate_questions, load_beir, load_questions
from itsqa.service import open_index

ROOT = Path(__file__).resolve().parent.parent

VARIANTS = {
    "default": {},
    "target 450": {"target_chars": 450},
    "target 350": {"target_chars": 350},
    "no sentence vectors": {"sentence_vectors": False},
    "no overlap": {"overlap_sentences": 0},
    "context on sentences": {"sentence_context": True},
    "no context": {"passage_context": False},
    "no publisher": {"context_publisher": False},
    "target 500": {"target_chars": 500},
    "target 900": {"target_chars": 900},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beir", type=Path)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--rrf-k", type=int, nargs="*", default=[60])
    args = ap.parse_args()
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    work = Path(tempfile.mkdtemp(prefix="itsqa-sweep-"))
    for name, change in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        chunking = replace(ChunkSettings(), **change)
        for rrf_k in args.rrf_k:
            s = Settings(corpus_dir=ROOT / "corpus", index_dir=work / name.replace(" ", "-"),
                         chunking=chunking, rrf_k=rrf_k)
            update_index(s)
            r = open_index(s, refresh=False).retriever
            for mode in ("hybrid", "dense"):
                rep = evaluate_questions(questions, _system_ranker(r, mode, 5), 5,
                                         name="questions", mode=mode)
                m = rep.metrics
                print(f"{name:22} rrf_k={rrf_k:<3} {mode:7} hit@1 {m['hit@1']:.3f} "
                      f"hit@5 {m['hit@5']:.3f} mrr {m['mrr@10']:.3f} "
                      f"flagged {m.get('unanswerable_flagged', 0):.2f}/{m['answerable_flagged']:.2f}",
                      flush=True)
            if args.beir:
                ds = load_beir(args.beir)
                cache = beir_cache(args.beir).with_name(beir_cache(args.beir).name + "-" +
                                                        name.replace(" ", "-"))
                mapping = _materialise(ds, cache / "corpus")
                bs = replace(s, corpus_dir=cache / "corpus", index_dir=cache / "index")
                t0 = time.time()
                update_index(bs)
                br = open_index(bs, refresh=False).retriever
                for mode in ("hybrid", "dense"):
                    rank_docs = doc_ranker(br, mapping, mode)
                    rep_b = evaluate_beir(ds, rank_docs, mode=mode)
                    print(f"{name:22} rrf_k={rrf_k:<3} {mode:7} cranfield ndcg@10 "
                          f"{rep_b.metrics['ndcg@10']:.3f} (build {time.time() - t0:.0f} s)",
                          flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
