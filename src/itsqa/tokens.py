"""Passages' contextual token vectors for late interaction, stored compressed by optimised
product quantisation (OPQ; Ge et al., 2013): each 384-dimensional vector is turned by a learnt
rotation (which balances the information between slices), then cut into 24 slices of 16
dimensions, each replaced by the nearest of 256 centroids learnt from the corpus, one byte apiece:
24 bytes a token where float16 takes 768 (under 4 KB a passage instead of 90 KB). A corpus too
small to learn from keeps its vectors in float16. Decoding is a numpy lookup (asking needs no
FAISS) and stays in the rotated space: a rotation keeps inner products, so late interaction turns
the question's few vectors instead of every passage's many."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUBVECTORS = 24
CENTROIDS = 256
# Learn from this many token vectors (64 per centroid: seconds on one core); a corpus with
# fewer (some 140 passages) keeps float16, its index small whatever the format.
TRAIN_TOKENS = 16_384
MIN_TRAIN = TRAIN_TOKENS
ITERATIONS = 15
ROTATION_ITERATIONS = 25


@dataclass(frozen=True)
class Codebook:
    """The rotation, (dimension x dimension) orthogonal float32, and the centroids,
    (SUBVECTORS, CENTROIDS, dimension / SUBVECTORS) float32, of the rotated vectors."""

    centroids: Any
    rotation: Any

    @property
    def dimension(self) -> int:
        return int(self.centroids.shape[0] * self.centroids.shape[2])

    @classmethod
    def train(cls, samples: Any) -> Codebook:
        """The rotation and centroids learnt from `samples` (float, n x dimension; n >=
        MIN_TRAIN)."""
        import faiss
        import numpy as np

        x = np.ascontiguousarray(samples[:TRAIN_TOKENS], dtype=np.float32)
        opq = faiss.OPQMatrix(x.shape[1], SUBVECTORS)  # ~10 s on two cores
        opq.niter = ROTATION_ITERATIONS
        opq.train(x)
        rotation = faiss.vector_to_array(opq.A).reshape(x.shape[1], x.shape[1])
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # small work: threads only wait on each other
        try:
            pq = faiss.ProductQuantizer(x.shape[1], SUBVECTORS, 8)
            pq.cp.niter = ITERATIONS
            pq.cp.max_points_per_centroid = TRAIN_TOKENS // CENTROIDS
            pq.cp.seed = 1234  # the same corpus gives the same index
            pq.train(np.ascontiguousarray(x @ rotation.T))
        finally:
            faiss.omp_set_num_threads(threads)
        centroids = faiss.vector_to_array(pq.centroids).reshape(SUBVECTORS, CENTROIDS, -1)
        return cls(centroids, rotation.astype(np.float32))

    def rotate(self, vectors: Any) -> Any:
        """Vectors (n x dimension) turned into the space the codes are in."""
        import numpy as np

        return np.asarray(vectors, dtype=np.float32) @ self.rotation.T

    def encode(self, vectors: Any) -> Any:
        """uint8 codes (n x SUBVECTORS): each rotated sub-vector's nearest centroid."""
        import numpy as np

        x = self.rotate(vectors).reshape(len(vectors), SUBVECTORS, -1)
        codes = np.empty((len(vectors), SUBVECTORS), dtype=np.uint8)
        for m in range(SUBVECTORS):
            c = self.centroids[m]
            dist = (c * c).sum(axis=1)[None, :] - 2.0 * x[:, m, :] @ c.T
            codes[:, m] = dist.argmin(axis=1)
        return codes

    def decode(self, codes: Any) -> Any:
        """float32 vectors (n x dimension) from their codes, in the rotated space."""
        import numpy as np

        parts = self.centroids[np.arange(SUBVECTORS)[None, :], np.asarray(codes, dtype=np.int64)]
        return parts.reshape(len(codes), -1)

    def same_as(self, other: Codebook | None) -> bool:
        import numpy as np

        return (other is not None and np.array_equal(self.centroids, other.centroids)
                and np.array_equal(self.rotation, other.rotation))

    def save(self, path: Path) -> None:
        """Both arrays in one .npz file (written whole, so it can be renamed into place)."""
        import numpy as np

        with path.open("wb") as fh:
            np.savez(fh, centroids=np.asarray(self.centroids, dtype=np.float32),
                     rotation=np.asarray(self.rotation, dtype=np.float32))

    @classmethod
    def load(cls, path: Path) -> Codebook:
        import numpy as np

        with np.load(path, allow_pickle=False) as saved:
            centroids, rotation = saved["centroids"], saved["rotation"]
        d = centroids.shape[0] * centroids.shape[2]
        if rotation.shape != (d, d):
            raise ValueError(f"{path.name}: a rotation of shape {rotation.shape} for {d} dimensions")
        return cls(centroids, rotation)


def can_train(tokens: int) -> bool:
    """Whether a corpus with this many token vectors has enough to learn centroids from."""
    return tokens >= MIN_TRAIN
