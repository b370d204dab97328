"""Ranking the passages for a question: BM25 (the title weighed above the body), fusion and
regularisation by similar passages, and the re-scoring of the hybrid head by term proximity and
late interaction."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from itsqa.build import update_index
from itsqa.config import Settings
from itsqa.service import open_index

from .helpers import make_settings


@pytest.mark.parametrize("mode", ["late", "proximity"])
def test_re_scoring_reorders_only_the_hybrid_head(corpus_copy, tmp_path, fake_encoder, mode):
    """Late mode against hybrid; hybrid (with proximity) against hybrid without it."""
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    base = r if mode == "late" else open_index(replace(s, proximity_weight=0.0),
                                               refresh=False).retriever
    moved = False
    for q in ["what are the quantum priorities", "envoys in Silicon Valley", "?!"]:
        before = base.rank(q, "hybrid", depth=40).rows
        after = r.rank(q, "late" if mode == "late" else "hybrid", depth=40).rows
        d = s.rescore_depth
        assert {row for row, _ in after[:d]} == {row for row, _ in before[:d]}
        assert [row for row, _ in after[d:]] == [row for row, _ in before[d:]]
        scores = [sc for _, sc in after]
        assert scores == sorted(scores, reverse=True)
        moved = moved or [row for row, _ in after] != [row for row, _ in before]
    assert moved  # it does re-order something on this corpus


def test_proximity_prefers_the_passage_that_answers_in_one_sentence(tmp_path, fake_encoder):
    # The same words in both (so BM25 and the bag-of-words passage vectors tie; no sentence
    # vectors, which would see the difference too); only one says "quantum funding" in one
    # sentence.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Quantum sensors are new this year. Funding arrives in the "
                                  "spring for the programme.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("Quantum funding arrives this year. Sensors are new in the "
                                  "spring for the programme.\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    s = replace(s, chunking=replace(s.chunking, sentence_vectors=False))
    update_index(s)
    r = open_index(s, refresh=False).retriever
    rows = {c.source: i for i, c in enumerate(r.index.chunks)}
    prox = r.ranker.proximity_scores(r.read("quantum funding"), [rows["a.txt"], rows["b.txt"]])
    assert prox[1] > prox[0] > 0
    ranked = r.rank("quantum funding", "hybrid").rows
    assert ranked[0][0] == rows["b.txt"]
    plain = open_index(replace(s, proximity_weight=0.0), refresh=False).retriever
    assert plain.rank("quantum funding", "hybrid").rows[0][0] == rows["a.txt"]  # a tie, kept in order


def test_bm25_weighs_the_title_above_the_body(tmp_path, fake_encoder):
    """A word of a source's title counts more in BM25 than the same word once in another source's
    body (the context line is indexed `bm25_context_repeats` times); counted once, they tie."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Notes on ice sheets and the polar climate record.\n")
    (corpus / "b.txt").write_text("Notes on glaciers sheets and the polar climate record.\n")
    (corpus / "sources.toml").write_text('["a.txt"]\ntitle = "Glaciers"\n\n'
                                         '["b.txt"]\ntitle = "Oceans"\n')
    scores = {}
    for repeats in (1, 2):
        s = Settings(corpus_dir=corpus, index_dir=tmp_path / f"index-{repeats}")
        s = replace(s, chunking=replace(s.chunking, bm25_context_repeats=repeats))
        update_index(s)
        r = open_index(s, refresh=False).retriever
        got = r.ranker.bm25_scores(r.read("glaciers"), expand=False)
        scores[repeats] = {r.index.chunks[i].source: float(got[i]) for i in range(len(got))}
    assert scores[1]["a.txt"] == pytest.approx(scores[1]["b.txt"])
    assert scores[2]["a.txt"] > scores[2]["b.txt"] > 0


def test_regularisation_lifts_a_passage_whose_neighbours_also_match():
    """Fused z-score + weight x the cosine-weighted mean z of the passage's neighbours; a
    passage with none keeps its own z as their mean; weight 0 leaves the scores alone."""
    from itsqa.index_cache import IndexCache
    from itsqa.ranking import Ranker

    fused = np.array([1.0, 1.0, 0.8, -0.5, -1.3])
    rows = np.array([[3, -1], [2, 3], [1, 0], [0, -1], [-1, -1]], dtype=np.int32)
    sims = np.array([[0.5, 0], [0.9, 0.1], [0.9, 0.2], [0.5, 0], [0, 0]], dtype=np.float32)
    index = SimpleNamespace(similar_rows=rows, similar_sims=sims)
    r = Ranker(replace(Settings(), regularise_weight=0.5), IndexCache(index), lambda: None)
    got = r.regularise(fused)
    z = (fused - fused.mean()) / fused.std()
    expected = z + 0.5 * np.array([z[3], (0.9 * z[2] + 0.1 * z[3]) / 1.0,
                                   (0.9 * z[1] + 0.2 * z[0]) / 1.1, z[0], z[4]])
    assert np.allclose(got, expected)
    assert got[1] > got[0]  # tied on fused score; passage 1's neighbours match, passage 0's do not
    off = Ranker(replace(Settings(), regularise_weight=0.0), IndexCache(index), lambda: None)
    assert np.array_equal(off.regularise(fused), fused)
    lone = SimpleNamespace(similar_rows=np.full((5, 2), -1, dtype=np.int32),
                           similar_sims=np.zeros((5, 2), dtype=np.float32))
    alone = Ranker(Settings(), IndexCache(lone), lambda: None).regularise(fused)
    assert list(np.argsort(-alone, kind="stable")) == list(np.argsort(-fused, kind="stable"))
