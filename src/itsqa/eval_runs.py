"""Running itsqa (and its peers) over a question set or a BEIR collection: one report per row,
every mode and the peers side by side with --compare, and the default again with a local
cross-encoder when one is given. The engine behind `itsqa eval` and the benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .answer import display_path
from .baselines import (
    BEIR_PEERS,
    Bm25Peer,
    DensePeer,
    Window,
    corpus_windows,
    peer_label,
    peer_rankers,
)
from .beir import BeirDataset, BeirReport, beir_cache, evaluate_beir, load_beir, materialise
from .build import ProgressFactory, update_index
from .config import DEFAULT_MODEL_NAME, Settings
from .evaluation import EvalReport, RankFn, Result, evaluate_questions, load_questions
from .misses import explainer
from .retrieval import MODES, Retriever
from .scope import Scope, in_scope
from .service import open_index

Note = Callable[[str], None]


def system_ranker(retriever: Retriever, mode: str, k: int, highlight: bool = True,
                  scope: Scope | None = None) -> RankFn:
    """itsqa as a question-set ranker: the top max(k, 10) results of an ask."""

    def rank(question: str) -> tuple[list[Result], bool, str | None]:
        ans = retriever.ask(question, k=max(k, 10), mode=mode, highlight=highlight, scope=scope)
        return ([Result(h.rank, h.score, h.text, h.citation.source, h.citation.start,
                        h.citation.end, h.citation.title,
                        highlights=h.highlights if highlight else None) for h in ans.hits],
                ans.confident, ans.best_answer if highlight else None)

    return rank


def system_rows(settings: Settings, mode: str, compare: bool) -> list[tuple[str, Settings, str]]:
    """(label, settings, mode) for each row of itsqa: every mode with `compare`, and with a
    cross-encoder the chosen mode again with it, so its effect reads as before and after."""
    plain = replace(settings, reranker=None)
    rows = [(m, plain, m) for m in (MODES if compare else [mode])]
    if settings.reranker is not None:
        rows.append((f"{mode}+reranker", settings, mode))
    return rows


def model_name(retriever: Retriever) -> str:
    """The name of the model that embedded the retriever's index."""
    return str(retriever.index.manifest.get("model", {}).get("name", DEFAULT_MODEL_NAME))


def source_texts(retriever: Retriever, scope: Scope | None = None) -> dict[str, str]:
    """Every indexed source's text as the index read it (those `scope` keeps)."""
    ix = retriever.index
    names = in_scope(scope, ix.sources) if scope is not None and scope.narrows else ix.sources
    return {name: ix.texts.get(name) or (retriever.settings.corpus_dir / name).read_text(
        encoding="utf-8") for name in names}


def run_questions(settings: Settings, path: Path, k: int, mode: str, compare: bool,
                  note: Note | None = None, scope: Scope | None = None) -> list[EvalReport]:
    """Score itsqa (and with `compare` every mode and the peers) on the question set at `path`,
    asking each question of the sources `scope` keeps (all of them when None).

    Returns:
        One report per row: the chosen mode first, then the other modes, a cross-encoder row
        when the settings name one, and the peers.
    """
    questions = load_questions(path)
    base = open_index(settings, note=note, warm=True).retriever
    reports = []
    for label, row_settings, m in system_rows(settings, mode, compare):
        r = base.with_settings(row_settings)
        reports.append(evaluate_questions(questions, system_ranker(r, m, k, scope=scope), k,
                                          name=path.name, mode=label, explain=explainer(r, m)))
    if compare:
        for label, ranker in peer_rankers_for(base, k, scope).items():
            reports.append(evaluate_questions(questions, ranker, k, name=path.name, mode=label))
    return reports


def peer_rankers_for(retriever: Retriever, k: int, scope: Scope | None = None
                     ) -> dict[str, RankFn]:
    """The two peers over the retriever's sources (those `scope` keeps), as `run_questions`
    runs them: {label: ranker}."""
    s = retriever.settings
    return peer_rankers(corpus_windows(source_texts(retriever, scope)), retriever.encoder,
                        s.confidence_threshold, k, lambda name: display_path(s.corpus_dir, name),
                        model_name(retriever))


def doc_ranker(retriever: Retriever, mapping: dict[str, str], mode: str
               ) -> Callable[[str], list[str]]:
    """Documents ranked by their best passage: the top 100 document ids for a query."""
    n = len(retriever.index.chunks)

    def rank_docs(query: str) -> list[str]:
        seen: dict[str, None] = {}
        for row, _ in retriever.rank(query, mode, depth=min(n, 1000)).rows:
            seen.setdefault(mapping[retriever.index.chunks[row].source], None)
            if len(seen) >= 100:
                break
        return list(seen)

    return rank_docs


def open_beir(settings: Settings, folder: Path, index_dir: Path | None,
              progress: ProgressFactory | None = None, note: Note | None = None
              ) -> tuple[BeirDataset, Retriever, dict[str, str], Path]:
    """Load a BEIR collection, index it once (under `index_dir`, else a cache keyed by its
    corpus), and open it: (dataset, retriever, {file name: document id}, cache folder)."""
    ds = load_beir(folder)
    cache = index_dir if index_dir is not None else beir_cache(folder)
    mapping = materialise(ds, cache / "corpus")
    # a BEIR collection has its own index folder; it is never published to the user's store
    bsettings = replace(settings.with_paths(cache / "corpus", cache / "index"), store="")
    update_index(bsettings, progress=progress, note=note)
    return ds, open_index(bsettings, note=note, warm=True).retriever, mapping, cache


def run_beir(settings: Settings, folder: Path, index_dir: Path | None, mode: str, compare: bool,
             progress: ProgressFactory | None = None, note: Note | None = None) -> list[BeirReport]:
    """Score itsqa (and with `compare` every mode and the peers) on a BEIR collection, ranking
    documents by their best passage."""
    ds, base, mapping, cache = open_beir(settings, folder, index_dir, progress, note)
    reports = [evaluate_beir(ds, doc_ranker(base.with_settings(s), mapping, m), mode=label)
               for label, s, m in system_rows(base.settings, mode, compare)]
    if compare:
        reports.extend(beir_peer_reports(ds, base, cache))
    return reports


def beir_peer_reports(ds: BeirDataset, retriever: Retriever, cache: Path) -> list[BeirReport]:
    """The peers on whole documents (title and text joined, as the published peers ran them);
    the dense peer's vectors are kept in `cache`, keyed by the model."""
    import os

    import numpy as np

    ids = list(ds.corpus)
    items = [Window(d, 0, 0, "") for d in ids]
    texts = [f"{t} {x}".strip() for t, x in (ds.corpus[d] for d in ids)]
    vec_file = cache / f"peer-dense-title-text-{retriever.index.manifest['model']['key']}.npy"
    vectors: Any = np.load(vec_file, allow_pickle=False) if vec_file.is_file() else None
    if vectors is not None and len(vectors) != len(ids):
        vectors = None
    dense = DensePeer(items, retriever.encoder, inputs=texts, vectors=vectors)
    if vectors is None:
        tmp = vec_file.with_suffix(".tmp.npy")
        np.save(tmp, dense.vectors, allow_pickle=False)
        os.replace(tmp, vec_file)
    peers: list[tuple[str, DensePeer | Bm25Peer]] = [
        (peer_label(BEIR_PEERS[0], model_name(retriever)), dense),
        (BEIR_PEERS[1], Bm25Peer(items, inputs=texts))]
    out = []
    for label, peer in peers:
        def rank_docs(q: str, p: DensePeer | Bm25Peer = peer) -> list[str]:
            return [w.key for w, _ in p.search(q, 100)]

        out.append(evaluate_beir(ds, rank_docs, mode=label))
    return out
