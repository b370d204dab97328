"""The similar-passage graph for score regularisation: each passage's most similar passages from
other sources, found exactly or by HNSW, and rebuilt with the index."""

from __future__ import annotations

import numpy as np
import pytest

from itsqa import similar
from itsqa.build import update_index
from itsqa.service import open_index

from .helpers import WIGGIN, make_settings


@pytest.mark.parametrize("exact_max", [similar.EXACT_MAX, 0])
def test_passage_neighbours_are_the_most_similar_of_other_sources(exact_max: int) -> None:
    """Exact search and the HNSW path (forced with exact_max=0) give each passage its most
    similar passages of other sources, best first, -1 where there is none with a positive
    cosine."""
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(60, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    sources = [f"s{i % 4}" for i in range(60)]
    rows, sims = similar.similar_passages(vecs, sources, k=5, exact_max=exact_max)
    assert rows.shape == sims.shape == (60, 5) and rows.dtype == np.int32
    for i in range(60):
        cos = vecs @ vecs[i]
        want = [j for j in np.argsort(-cos) if sources[j] != sources[i] and cos[j] > 0][:5]
        assert list(rows[i]) == want + [-1] * (5 - len(want))
        assert np.allclose(sims[i, : len(want)], cos[want], atol=1e-5)
    lone, lone_sims = similar.similar_passages(vecs[:3], ["a"] * 3, k=5)
    assert (lone == -1).all() and (lone_sims == 0).all()


def test_each_passages_neighbours_come_from_other_sources_and_follow_edits(corpus_copy, tmp_path,
                                                                          fake_encoder):
    """The neighbour table (for score regularisation) is rebuilt with the index: each passage's
    neighbours are the most similar passages of other sources, by the stored vectors."""
    s = make_settings(corpus_copy, tmp_path)
    for step in ("built", "removed"):
        if step == "removed":
            (corpus_copy / WIGGIN).unlink()
        update_index(s)
        r = open_index(s, refresh=False).retriever
        chunks, rows, sims = r.index.chunks, r.index.similar_rows, r.index.similar_sims
        vecs = np.asarray(r.index.embeddings())[: len(chunks)]
        assert rows.shape == (len(chunks), similar.COUNT)
        for i, c in enumerate(chunks):
            got = [int(j) for j in rows[i] if j >= 0]
            assert got and all(chunks[j].source != c.source for j in got)
            assert np.allclose(sims[i, : len(got)], vecs[got] @ vecs[i], atol=1e-5)
            assert list(sims[i, : len(got)]) == sorted(sims[i, : len(got)], reverse=True)
            others = [j for j, o in enumerate(chunks) if o.source != c.source and j not in got]
            assert all(vecs[j] @ vecs[i] <= sims[i, len(got) - 1] + 1e-6 for j in others)
        if step == "removed":
            assert all(c.source != WIGGIN for c in chunks)
