"""Passages' contextual token vectors for late interaction, stored compressed by product
quantisation (Jégou et al., 2011): each 384-dimensional vector as 48 sub-vectors of 8 dimensions,
each replaced by the nearest of 256 centroids learnt from the corpus, one byte apiece: 48 bytes a
token where float16 takes 768 (about 6 KB a passage instead of 90 KB). A corpus too small to learn
centroids from keeps its vectors in float16. Decoding is a numpy lookup: asking needs no FAISS."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

SUBVECTORS = 48
CENTROIDS = 256
# Learn from this many token vectors (64 per centroid: a few seconds on one core); a corpus with
# fewer (some 140 passages) keeps float16, its index small whatever the format.
TRAIN_TOKENS = 16_384
MIN_TRAIN = TRAIN_TOKENS
ITERATIONS = 15


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """FAISS on one thread for the duration (then as many as before)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


@dataclass(frozen=True)
class Codebook:
    """The centroids: (SUBVECTORS, CENTROIDS, dimension / SUBVECTORS) float32."""

    centroids: Any

    @property
    def dimension(self) -> int:
        return int(self.centroids.shape[0] * self.centroids.shape[2])

    @classmethod
    def train(cls, samples: Any) -> Codebook:
        """Centroids learnt from `samples` (float, n x dimension; n >= MIN_TRAIN)."""
        import faiss
        import numpy as np

        x = np.ascontiguousarray(samples[:TRAIN_TOKENS], dtype=np.float32)
        pq = faiss.ProductQuantizer(x.shape[1], SUBVECTORS, 8)
        pq.cp.niter = ITERATIONS
        pq.cp.max_points_per_centroid = TRAIN_TOKENS // CENTROIDS
        pq.cp.seed = 1234  # the same corpus gives the same index
        with _one_thread():  # small work: threads only wait on each other
            pq.train(x)
        return cls(faiss.vector_to_array(pq.centroids).reshape(SUBVECTORS, CENTROIDS, -1))

    def encode(self, vectors: Any) -> Any:
        """uint8 codes (n x SUBVECTORS): each sub-vector's nearest centroid, by FAISS's encoder
        on one thread (a build calls it between model runs, which have the cores)."""
        import numpy as np

        with _one_thread():
            return self._quantiser.compute_codes(np.ascontiguousarray(vectors, dtype=np.float32))

    @cached_property
    def _quantiser(self) -> Any:
        import faiss
        import numpy as np

        pq = faiss.ProductQuantizer(self.dimension, SUBVECTORS, 8)
        faiss.copy_array_to_vector(np.ascontiguousarray(self.centroids, np.float32).ravel(),
                                   pq.centroids)
        return pq

    def decode(self, codes: Any) -> Any:
        """float32 unit vectors (n x dimension) from their codes. The sum of nearest centroids
        falls short of the unit vector it stands for, the more so the rarer the token: scaled
        back to unit length, a rare token's match is not discounted against common ones."""
        import numpy as np

        parts = self.centroids[np.arange(SUBVECTORS)[None, :], np.asarray(codes, dtype=np.int64)]
        return unit_rows(parts.reshape(len(codes), -1))

    def same_as(self, other: Codebook | None) -> bool:
        import numpy as np

        return other is not None and np.array_equal(self.centroids, other.centroids)

    def save(self, path: Path) -> None:
        import numpy as np

        np.save(path, np.asarray(self.centroids, dtype=np.float32), allow_pickle=False)

    @classmethod
    def load(cls, path: Path) -> Codebook:
        import numpy as np

        return cls(np.load(path, allow_pickle=False))


def unit_rows(x: Any) -> Any:
    """The rows of `x` as float32 vectors of unit length (an all-zero row stays zero)."""
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def can_train(tokens: int) -> bool:
    """Whether a corpus with this many token vectors has enough to learn centroids from."""
    return tokens >= MIN_TRAIN
