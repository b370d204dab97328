"""Dense search over an index's vectors (passages, then sentences). Up to EXACT_SEARCH_MAX vectors
the search is exact, a product of the memory-mapped vectors with the question's (no FAISS needed
to ask, and every passage gets its score); beyond, an HNSW graph (FAISS) searches a bounded head.
The graph keeps its vectors in 8 bits (a quarter of the memory and disk of float32); the head it
finds is scored again exactly from the stored float32 vectors.

An update that changes few vectors keeps the previous generation's graph rather than building one
again (a minute or more at this size): its nodes are mapped to the new rows (a removed vector's
node to none), and the vectors it lacks are searched exactly beside it, until they are too many."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import npy_parts

EXACT_SEARCH_MAX = 200_000
HNSW_M = 32
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 200
HNSW_DEPTH = 1_000  # vectors an approximate search returns
TRAIN_ROWS = 50_000
# A previous graph is kept while at most this many vectors lie outside it (each searched exactly,
# read from disk on a cold ask) and at most this share of its nodes name removed vectors.
GRAPH_KEPT_NEW_MAX = 20_000
GRAPH_KEPT_GONE_MAX = 0.1


def hnsw_index(dim: int, compact: bool = False) -> Any:
    """An empty HNSW inner-product index with the project's construction and search settings;
    `compact` keeps its vectors as 8-bit scalar codes (it must then be trained) instead of
    float32."""
    import faiss as faiss_module

    faiss: Any = faiss_module  # its stubs take the quantiser's type for a ScalarQuantizer
    if compact:
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, HNSW_M,
                                  faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def needs_hnsw(vectors: int) -> bool:
    return vectors > EXACT_SEARCH_MAX


def kept_graph_rows(node_keys: list[str | None], keys: list[str]) -> Any:
    """The new row of each node of a previous graph, whose nodes hold the vectors `node_keys`
    (None: removed before), for a generation whose vectors are `keys`; -1 where a node's vector
    is gone. None when the graph is not worth keeping: too many of its nodes gone, or too many
    new vectors outside it."""
    import numpy as np

    first: dict[str, int] = {}  # a row a key, and the rows of its copies apart: few lists
    copies: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        if key in first:
            copies.setdefault(key, []).append(row)
        else:
            first[key] = row
    # A node takes the first row of its key not yet taken: copies of a text keep one node each.
    rows = np.full(len(node_keys), -1, dtype=np.int64)
    for node, held in enumerate(node_keys):
        if held is None:
            continue
        row = first.pop(held, -1)
        if row < 0 and copies.get(held):
            row = copies[held].pop(0)
        rows[node] = row
    outside = len(keys) - int((rows >= 0).sum())
    gone = int((rows < 0).sum())
    if outside > GRAPH_KEPT_NEW_MAX or gone > GRAPH_KEPT_GONE_MAX * max(len(rows), 1):
        return None
    return rows


def _rows(path: Path, start: int, stop: int) -> Any:
    """Rows start:stop of a 2-D .npy file as float32, never making the whole file resident."""
    import numpy as np

    return np.asarray(npy_parts.spans(path, [(start, stop)])[0], dtype=np.float32)


def npy_blocks(path: Path, rows: int = 50_000) -> Iterator[Any]:
    """The rows of a 2-D .npy file as float32 blocks of `rows`."""
    for start in range(0, npy_parts.shape(path)[0], rows):
        yield _rows(path, start, start + rows)


def _spread_sample(path: Path, runs: int = 50) -> Any:
    """About TRAIN_ROWS rows of a .npy file in `runs` runs spread over it (the 8-bit codes'
    range in each dimension is learnt from them); a strided read would make the whole file
    resident."""
    import numpy as np

    total, length = npy_parts.shape(path)[0], max(1, TRAIN_ROWS // runs)
    starts = np.linspace(0, max(total - length, 0), runs).astype(np.int64)
    return np.concatenate([_rows(path, int(a), int(a) + length) for a in starts])


def build_hnsw(vectors: Path, path: Path) -> None:
    """Write an HNSW graph of the vectors stored in the .npy file `vectors` to `path` (FAISS's
    own format), reading them a block at a time."""
    import faiss

    sample = _spread_sample(vectors)
    index = hnsw_index(sample.shape[1], compact=True)
    index.train(sample)
    del sample
    for block in npy_blocks(vectors):
        index.add(block)
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:  # FAISS reports a failed write this way
        raise OSError(f"FAISS could not write {path.name}") from exc


class DenseVectors:
    """The vectors of one generation, searched exactly or through its HNSW graph (with the
    vectors the graph lacks searched exactly beside it)."""

    def __init__(self, embeddings: Any, vector_rows: Any, graph: Path | None = None,
                 graph_rows: Any = None) -> None:
        self.embeddings = embeddings  # float32 (vectors x dimension), memory-mapped
        self.vector_rows = vector_rows  # the passage of each vector
        self._graph_path = graph
        self._graph: Any = None
        # The row of each graph node (-1: its vector is gone); None: node i is row i.
        self.graph_rows = graph_rows
        self._outside: Any = None  # rows no graph node holds
        self._node_of: Any = None  # the graph node of each row (-1: none)

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
        depth = min(self._graph.ntotal, HNSW_DEPTH)
        if scope is not None:
            nodes = self._nodes(np.flatnonzero(scope[self.vector_rows]))
            params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorBatch(nodes),
                                                efSearch=HNSW_EF_SEARCH)
            depth = min(depth, max(len(nodes), 1))
        _, found = self._graph.search(np.asarray(query, dtype=np.float32), depth, params=params)
        ids = self._rows_of(found[0][found[0] >= 0], scope)
        return np.asarray(self.embeddings[ids] @ np.asarray(query[0], dtype=np.float32)), ids

    def _nodes(self, rows: Any) -> Any:
        """The graph nodes that hold `rows` (those the graph holds)."""
        import numpy as np

        if self.graph_rows is None:
            return rows.astype(np.int64)
        if self._node_of is None:
            self._node_of = np.full(self.ntotal, -1, dtype=np.int64)
            held = np.flatnonzero(self.graph_rows >= 0)
            self._node_of[self.graph_rows[held]] = held
        nodes = self._node_of[rows]
        return nodes[nodes >= 0]

    def _rows_of(self, nodes: Any, scope: Any) -> Any:
        """The rows the graph found as `nodes`, with the rows outside the graph (in `scope`),
        in file order: fewer, longer reads of the memory map."""
        import numpy as np

        if self.graph_rows is None:
            return np.sort(nodes)
        rows = self.graph_rows[nodes]
        if self._outside is None:  # a mask, not setdiff1d: milliseconds, not a third of a second
            lacked = np.ones(self.ntotal, dtype=bool)
            lacked[self.graph_rows[self.graph_rows >= 0]] = False
            self._outside = np.flatnonzero(lacked)
        outside = self._outside
        if scope is not None:
            outside = outside[scope[self.vector_rows[outside]]]
        return np.union1d(rows[rows >= 0], outside)
