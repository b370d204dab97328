"""The similar-passage graph for score regularisation: each passage's most similar passages from
other sources, found at build time. Passages that answer the same question tend to resemble each
other (the cluster hypothesis); those of the same source are the passage's own article, and
smoothing across them hurt, so they are left out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .dense import hnsw_index

# How many similar passages each passage keeps; exact search for them up to EXACT_MAX passages,
# HNSW (approximate) beyond.
COUNT = 10
EXACT_MAX = 20_000
_BLOCK = 256  # rows compared at a time: bounds the memory to _BLOCK x passages


def similar_passages(vectors: Any, sources: Sequence[str], k: int = COUNT,
                     exact_max: int = EXACT_MAX) -> tuple[Any, Any]:
    """For each passage, its `k` most similar passages from other sources by cosine (the vectors
    are normalised), best first: (rows, cosines), padded with -1 and 0 where there are fewer with
    a positive cosine. Exact up to `exact_max` passages, HNSW beyond."""
    import numpy as np

    n = len(vectors)
    rows = np.full((n, k), -1, dtype=np.int32)
    sims = np.zeros((n, k), dtype=np.float32)
    if n < 2 or k < 1:
        return rows, sims
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    src = np.unique(np.asarray(sources), return_inverse=True)[1]
    if n <= exact_max:
        _exact(vectors, src, rows, sims)
    else:
        _approximate(vectors, src, rows, sims)
    return rows, sims


def _exact(vectors: Any, src: Any, rows: Any, sims: Any) -> None:
    import numpy as np

    n, k = rows.shape
    m = min(k, n - 1)
    for start in range(0, n, _BLOCK):
        block = vectors[start:start + _BLOCK] @ vectors.T
        block[src[start:start + _BLOCK, None] == src[None, :]] = -np.inf
        cand = np.argpartition(-block, m - 1, axis=1)[:, :m]
        top = np.take_along_axis(block, cand, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        cand, top = np.take_along_axis(cand, order, axis=1), np.take_along_axis(top, order, axis=1)
        keep = np.isfinite(top) & (top > 0)
        rows[start:start + _BLOCK, :m] = np.where(keep, cand, -1)
        sims[start:start + _BLOCK, :m] = np.where(keep, top, 0)


def _approximate(vectors: Any, src: Any, rows: Any, sims: Any) -> None:
    n, k = rows.shape
    index = hnsw_index(vectors.shape[1])
    index.add(vectors)
    found_sims, found_rows = index.search(vectors, min(n, 4 * k))
    for i in range(n):
        ok = (found_rows[i] >= 0) & (found_sims[i] > 0)
        ok &= src[found_rows[i].clip(0, n - 1)] != src[i]
        got = found_rows[i][ok][:k]
        rows[i, :len(got)] = got
        sims[i, :len(got)] = found_sims[i][ok][:k]
