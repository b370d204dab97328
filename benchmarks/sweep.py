"""Ablation: each retrieval technique switched off in turn, measured on the project's question set
and on a BEIR collection in the same run, beside the baselines. A technique stays in the default
only if it helps both (or, where one corpus cannot show it, does not hurt there).

    python benchmarks/sweep.py                                   # question set only
    python benchmarks/sweep.py --beir ../shared/benchmarks/cranfield --write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import replace_between, stamp

from itsqa.beir import beir_cache, evaluate_beir, load_beir, materialise
from itsqa.build import update_index
from itsqa.config import ChunkSettings, Settings
from itsqa.eval_runs import beir_peer_reports, doc_ranker, peer_rankers_for, system_ranker
from itsqa.evaluation import evaluate_questions, load_questions
from itsqa.service import open_index
from itsqa.stats import paired_p

ROOT = Path(__file__).resolve().parent.parent

# (label, changes to ChunkSettings, changes to Settings)
VARIANTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("itsqa default (hybrid)", {}, {}),
    ("mode late: hybrid + late-interaction rerank of the top 20", {}, {"mode": "late"}),
    ("no query expansion", {}, {"expansion": False}),
    ("expansion: words no passage holds held to the usual bar (0.6)", {},
     {"absent_expansion": False}),
    ("BM25 query keeps its function words", {}, {"query_stopwords": False}),
    ("confidence by the cosine alone (absent names not flagged)", {}, {"absent_names": False}),
    ("dense only", {}, {"mode": "dense"}),
    ("BM25 only", {}, {"mode": "bm25"}),
    ("fusion: reciprocal rank (k=60)", {}, {"fusion": "rrf"}),
    ("fusion: dense weight 0.5", {}, {"dense_weight": 0.5}),
    ("no score regularisation (neighbours' scores)", {}, {"regularise_weight": 0.0}),
    ("pooling: best vector only", {}, {"dense_pool": "max"}),
    ("no sentence vectors", {"sentence_vectors": False}, {}),
    ("no title/heading context", {"passage_context": False}, {}),
    ("title context on sentences too", {"sentence_context": True}, {}),
    ("no publisher in context", {"context_publisher": False}, {}),
    ("BM25 counts the title/heading line once, not twice", {"bm25_context_repeats": 1}, {}),
    ("furniture kept", {"drop_furniture": False}, {}),
    ("fragments stranded between furniture kept", {"drop_stranded": False}, {}),
    ("section: its own heading only, not the headings above it", {"heading_path": False}, {}),
    ("sections cut at ~700 chars even where whole they fit in 1,000", {"whole_sections": False},
     {}),
    ("longer sections cut greedily (full passages, then what is left)",
     {"balanced_sections": False}, {}),
    ("passages ~450 chars", {"target_chars": 450}, {}),
    ("passages ~900 chars", {"target_chars": 900}, {}),
    ("no sentence repeated between neighbouring passages", {"overlap_sentences": 0}, {}),
]


def key(chunking: ChunkSettings) -> str:
    return hashlib.sha1(json.dumps(chunking.as_dict(), sort_keys=True).encode()).hexdigest()[:10]


def seed(index_dir: Path, *candidates: Path) -> None:
    """Start a variant's index from a copy of the default's (or of an index `itsqa` built
    before), so that the build embeds only the texts the variant shows the model differently:
    vectors are keyed by model and exact text, and the build checks what it copies."""
    if index_dir.exists():
        return
    for found in candidates:
        if (found / "CURRENT").is_file():
            shutil.copytree(found, index_dir, ignore=shutil.ignore_patterns("LOCK"))
            return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--beir", type=Path)
    ap.add_argument("--write", action="store_true", help="save the table to benchmarks/ABLATION.md")
    ap.add_argument("--only", nargs="*", help="run only the variants with these labels")
    args = ap.parse_args()
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    work = Path(tempfile.mkdtemp(prefix="itsqa-sweep-"))
    ds = load_beir(args.beir) if args.beir else None
    rows: list[str] = []

    def emit(cells: list[str]) -> None:
        line = "| " + " | ".join(cells) + " |"
        rows.append(line)
        print(line, flush=True)

    head = ["variant", "hit@1", "hit@5", "MRR@10", "nDCG@10", "p (MRR)"]
    if ds:
        head += [f"{ds.name} nDCG@10", f"{ds.name} recall@100", "p (nDCG)"]
    emit(head)
    emit(["---"] * len(head))
    peers_done = False
    # Per-query scores of the default, for a paired test of each variant against it.
    base_rr: list[float] | None = None
    base_nd: tuple[float, ...] | None = None

    def p_cell(base: Any, other: Any) -> str:
        return "—" if base is None else f"{paired_p(base, other):.2f}"

    for label, chunk_change, setting_change in VARIANTS:
        if args.only and label not in args.only and not label.startswith("itsqa default"):
            continue
        chunking = replace(ChunkSettings(), **chunk_change)
        base = Settings(chunking=chunking, **setting_change)
        s = replace(base, corpus_dir=ROOT / "corpus", index_dir=work / f"its-{key(chunking)}")
        seed(s.index_dir, work / f"its-{key(ChunkSettings())}", ROOT / "index")
        update_index(s)
        r = open_index(s, refresh=False).retriever
        rep = evaluate_questions(questions, system_ranker(r, s.mode, 5, highlight=False), 5, name="q",
                                 mode=s.mode)
        m, rr = rep.metrics, rep.reciprocal_ranks()
        cells = [label, f"{m['hit@1']:.3f}", f"{m['hit@5']:.3f}", f"{m['mrr@10']:.3f}",
                 f"{m['ndcg@10']:.3f}", p_cell(base_rr, rr)]
        base_rr = rr if base_rr is None else base_rr
        peer_rows: list[list[str]] = []
        if not peers_done:
            for plabel, ranker in peer_rankers_for(r, 5).items():
                pm = evaluate_questions(questions, ranker, 5, name="q", mode=plabel).metrics
                peer_rows.append([f"baseline: {plabel}", f"{pm['hit@1']:.3f}", f"{pm['hit@5']:.3f}",
                                  f"{pm['mrr@10']:.3f}", f"{pm['ndcg@10']:.3f}", ""])
        if ds and args.beir:
            cache = beir_cache(args.beir)
            mapping = materialise(ds, cache / "corpus")
            bs = replace(s, corpus_dir=cache / "corpus", index_dir=work / f"beir-{key(chunking)}")
            seed(bs.index_dir, work / f"beir-{key(ChunkSettings())}", cache / "index")
            t = time.time()
            update_index(bs)
            br = open_index(bs, refresh=False).retriever
            brep = evaluate_beir(ds, doc_ranker(br, mapping, s.mode), mode=s.mode)
            bm = brep.metrics
            cells += [f"{bm['ndcg@10']:.3f}", f"{bm['recall@100']:.3f}",
                      p_cell(base_nd, brep.ndcg_per_query)]
            base_nd = brep.ndcg_per_query if base_nd is None else base_nd
            print(f"  ({label}: {ds.name} index {time.time() - t:.0f} s)", flush=True)
            if not peers_done:
                for peer in beir_peer_reports(ds, br, cache):
                    peer_rows.append([f"baseline: {peer.mode}", "", "", "", "", "",
                                      f"{peer.metrics['ndcg@10']:.3f}",
                                      f"{peer.metrics['recall@100']:.3f}", ""])
        emit(cells)
        for pr in peer_rows:
            emit(pr + [""] * (len(head) - len(pr)))
        peers_done = True
    if args.write:
        write_table(rows, ds.name if ds else "")


COMMAND = "python benchmarks/sweep.py --beir ../shared/benchmarks/cranfield --write"


def write_table(rows: list[str], beir: str) -> None:
    """Put the table between ABLATION.md's sweep markers, stamped; the record below stays."""
    replace_between(ROOT / "benchmarks" / "ABLATION.md", "sweep",
                    "\n".join([stamp(COMMAND), "", *rows]) + (
                        f"\n\nCranfield columns: {beir}, as `itsqa eval --beir` scores it."
                        if beir else ""))


if __name__ == "__main__":
    main()
