"""Dense search over an index's vectors (passages, then sentences). Up to EXACT_SEARCH_MAX vectors
the search is exact, a product of the memory-mapped vectors with the question's (no FAISS needed
to ask, and every passage gets its score); beyond, an HNSW graph (FAISS) searches a bounded head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXACT_SEARCH_MAX = 200_000
HNSW_M = 32
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 200
HNSW_DEPTH = 1_000  # vectors an approximate search returns


def hnsw_index(dim: int) -> Any:
    """An empty HNSW inner-product index with the project's construction and search settings."""
    import faiss

    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def needs_hnsw(vectors: int) -> bool:
    return vectors > EXACT_SEARCH_MAX


def build_hnsw(vectors: Any, path: Path) -> None:
    """Write an HNSW graph of `vectors` to `path` (FAISS's own format)."""
    import faiss
    import numpy as np

    index = hnsw_index(vectors.shape[1])
    for start in range(0, len(vectors), 50_000):  # a memory map is added a slice at a time
        index.add(np.ascontiguousarray(vectors[start:start + 50_000], dtype=np.float32))
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:  # FAISS reports a failed write this way
        raise OSError(f"FAISS could not write {path.name}") from exc


class DenseVectors:
    """The vectors of one generation, searched exactly or through its HNSW graph."""

    def __init__(self, embeddings: Any, vector_rows: Any, graph: Path | None = None) -> None:
        self.embeddings = embeddings  # float32 (vectors x dimension), memory-mapped
        self.vector_rows = vector_rows  # the passage of each vector
        self._graph_path = graph
        self._graph: Any = None

    @property
    def ntotal(self) -> int:
        return len(self.embeddings)

    def search(self, query: Any, scope: Any = None) -> tuple[Any, Any]:
        """(cosines, vector ids) of the vectors the search reaches for the (1 x dimension)
        query: all of them when exact; of passages in `scope` (a mask over passages) only."""
        import numpy as np

        if self._graph_path is None:
            ids = (np.arange(self.ntotal) if scope is None
                   else np.flatnonzero(scope[self.vector_rows]))
            vectors = self.embeddings if scope is None else self.embeddings[ids]
            return np.asarray(vectors @ np.asarray(query[0], dtype=np.float32)), ids
        return self._approximate(query, scope)

    def _approximate(self, query: Any, scope: Any) -> tuple[Any, Any]:
        import faiss as faiss_module
        import numpy as np

        faiss: Any = faiss_module  # its stubs lack the search-parameter classes
        if self._graph is None:
            self._graph = faiss.read_index(str(self._graph_path), faiss.IO_FLAG_MMAP)
            self._graph.hnsw.efSearch = HNSW_EF_SEARCH
        params = None
        depth = min(self.ntotal, HNSW_DEPTH)
        if scope is not None:
            ids = np.flatnonzero(scope[self.vector_rows]).astype(np.int64)
            params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(ids),
                                                efSearch=HNSW_EF_SEARCH)
            depth = min(depth, max(len(ids), 1))
        scores, found = self._graph.search(np.asarray(query, dtype=np.float32), depth,
                                           params=params)
        keep = found[0] >= 0
        return scores[0][keep], found[0][keep]
