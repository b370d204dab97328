"""Asking against a Qdrant store (qdrant_store.py). A question is read as with the index folder,
from the corpus-wide tables the store keeps (stems' document frequencies, expansion terms).
Then Qdrant finds the candidates: the best `CANDIDATES` passages by dense MAX_SIM over each
passage's vectors and the best by its own BM25 (sparse vectors, IDF in the server), in one
batch; their payloads and dense vectors come back in a second call, their BM25 scores in a
third, and the token vectors of the few that late interaction re-scores in a fourth.
The candidates become a small in-memory index, and the ranking, fusion, re-scoring, folding and
highlighting of retrieval.py run on it unchanged: z-scores are taken over the candidates
instead of every passage, the one difference from the index folder (none where the candidates
are the whole corpus)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from .answer import Answer
from .config import Settings
from .dense import DenseVectors
from .index_cache import IndexCache
from .lexical import Bm25Tables
from .qdrant_store import Address, decode_array, opened_collection, read_meta, talking
from .question import Query
from .ranking import Ranking, Scored
from .retrieval import Retriever
from .scope import Scope, in_scope
from .similar import COUNT
from .store import LoadedIndex, Terms, TokenData
from .tables import ChunkRecord, ChunkTable, SentenceRow, SentenceTable

CANDIDATES = 200  # from each side (dense, BM25), at least the ranking's depth


@dataclass(frozen=True)
class PresetBm25(Bm25Tables):
    """The corpus's BM25 tables without the score matrix (document frequencies only, in
    `indptr`), and the scores Qdrant gave the candidates for one question."""

    preset: Any = None

    def scores(self, query: str, n_docs: int, extra: dict[str, float] | None = None,
               function_words: bool = False) -> Any:
        return self.preset


def _record(p: dict[str, Any]) -> ChunkRecord:
    return ChunkRecord(p["source"], int(p["ordinal"]), int(p["start"]), int(p["end"]), p["text"],
                       p["heading"], p["embed_hash"], p.get("page"))


class RemoteChunks(Sequence[ChunkRecord]):
    """The store's passages by row, fetched when read (and kept)."""

    def __init__(self, fetch: Callable[[Any], list[dict[str, Any]]], n: int) -> None:
        self._fetch, self._n = fetch, n
        self._rows: dict[int, ChunkRecord] = {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, row: Any) -> Any:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        row = int(row)
        if row not in self._rows:
            from qdrant_client import models

            found = self._fetch(models.FieldCondition(key="row",
                                                      match=models.MatchValue(value=row)))
            if not found:
                raise IndexError(row)
            self._rows[row] = _record(found[0])
        return self._rows[row]

    def __iter__(self) -> Iterator[ChunkRecord]:
        return (self[i] for i in range(len(self)))


@dataclass
class QdrantIndex(LoadedIndex):
    """An index in a Qdrant store: its corpus-wide tables in memory, its passages there."""

    client: Any = None
    address: Address | None = None
    collection: str = ""
    expansion_terms: Terms | None = None

    def terms(self) -> Terms:
        assert self.expansion_terms is not None
        return self.expansion_terms

    @property
    def texts(self) -> dict[str, str]:
        """Every source's text as indexed (read from the store on first use: the source view,
        a cited range and the peers need it, an ask does not)."""
        if self._texts is None:
            assert self.address is not None
            self._texts = read_meta(self.client, self.address, self.collection,
                                    ["texts"]).get("texts", {})
        return self._texts

    def chunks_of(self, name: str) -> list[ChunkRecord]:
        from qdrant_client import models

        found = self.fetch(models.FieldCondition(key="source", match=models.MatchValue(value=name)))
        return [_record(p) for p in sorted(found, key=lambda p: p["row"])]

    def fetch(self, condition: Any) -> list[dict[str, Any]]:
        """The payloads of the passages that meet `condition`."""
        from qdrant_client import models

        assert self.address is not None
        out: list[dict[str, Any]] = []
        offset = None
        flt = models.Filter(must=[condition, models.FieldCondition(
            key="kind", match=models.MatchValue(value="passage"))])
        with talking(self.address, "reading passages"):
            while True:
                points, offset = self.client.scroll(self.collection, scroll_filter=flt,
                                                    limit=256, offset=offset, with_payload=True,
                                                    with_vectors=False)
                out += [p.payload for p in points]
                if offset is None:
                    return out


def open_store(settings: Settings, model_key: str) -> QdrantIndex:
    """The index the store in `settings.store` answers from.

    Raises:
        NoIndexError, BadIndexError, StoreError: as `qdrant_store.opened_collection`.
    """
    import numpy as np

    c, addr, collection, meta = opened_collection(settings.store, model_key,
                                                  settings.chunking.as_dict())
    parts = read_meta(c, addr, collection, ["manifest", "sources", "lexicon", "terms",
                                            "wordpiece_df"])
    lex, terms = parts["lexicon"], parts["terms"]
    df = decode_array(lex["df"])
    indptr = np.concatenate([[0], np.cumsum(df)])
    stops = frozenset(lex["stopwords"])
    tables = Bm25Tables(np.zeros(0, np.float32), np.zeros(0, np.int64), indptr,
                        {w: i for i, w in enumerate(lex["vocab"])}, stops,
                        frozenset(lex["query_stopwords"]))
    dim = int(meta["model"]["dimension"])
    ix = QdrantIndex(
        path=Path(collection), manifest=parts["manifest"], chunks=ChunkTable.of([]), sources=parts["sources"],
        bm25=tables, sentences=SentenceTable.of([]), vector_rows=np.zeros(0, np.int64),
        dense=DenseVectors(np.zeros((0, dim), np.float32), np.zeros(0, np.int64)),
        wordpiece_df=decode_array(parts["wordpiece_df"]),
        similar_rows=np.zeros((0, COUNT), np.int64), similar_sims=np.zeros((0, COUNT)),
        tokens=TokenData(np.zeros((0, dim), np.float16), np.zeros(1, np.int64)),
        client=c, address=addr, collection=collection,
        expansion_terms=Terms(terms["words"], terms["stems"],
                              decode_array(terms["vectors"]).astype(np.float32)))
    ix.chunks = RemoteChunks(ix.fetch, int(meta["passages"]))  # type: ignore[assignment]
    return ix


def sparse_query(tables: Bm25Tables, query: Query, settings: Settings, expand: bool) -> Any:
    """The question's BM25 terms as a sparse query (expansion's at their weights), or None."""
    from qdrant_client import models

    weights: dict[int, float] = {}
    pairs = [(t, 1.0) for t in tables.query_tokens(query.text,
                                                   function_words=not settings.query_stopwords)]
    pairs += list(query.expansion.items()) if expand else []
    for stem, w in pairs:
        sid = tables.vocab.get(stem)
        if sid is not None:
            weights[sid] = weights.get(sid, 0.0) + w
    return models.SparseVector(indices=list(weights), values=list(weights.values())) if weights \
        else None


class StoreRetriever(Retriever):
    """A Retriever over a Qdrant store: each question ranked among the candidates Qdrant finds."""

    index: QdrantIndex

    def with_settings(self, settings: Settings) -> StoreRetriever:
        return StoreRetriever(settings, self.index, lambda: self.encoder, self.cache)

    def rank(self, question: str | Query, mode: str | None = None, depth: int = 100,
             scope: Scope | None = None) -> Ranking:
        mode = mode or self.settings.mode
        query = question if isinstance(question, Query) else self.read(question)
        sub, rows = self.candidates(query, mode, scope, depth)
        got = sub.ranker.rank(query, mode, depth)
        return Ranking([Scored(rows[s.row], s.score) for s in got.rows], got.top_similarity)

    def ask(self, question: str, k: int = 5, mode: str | None = None,
            highlight: bool = True, scope: Scope | None = None) -> Answer:
        mode = mode or self.settings.mode
        sources = self._sources(scope)  # a bad scope fails before the model runs
        query = self.read(question)
        sub, rows = self.candidates(query, mode, scope, max(100, 4 * k), sources)
        out = sub.answer(query, k, mode, highlight)
        return replace(out, hits=tuple(replace(h, row=rows[h.row]) for h in out.hits))

    def _sources(self, scope: Scope | None) -> list[str] | None:
        if scope is None or not scope.narrows:
            return None
        return sorted(in_scope(scope, self.index.sources))

    def candidates(self, query: Query, mode: str, scope: Scope | None, depth: int,
                   sources: list[str] | None = None) -> tuple[Retriever, list[int]]:
        """A retriever over the question's candidates, and each candidate's row in the store."""
        sources = sources if sources is not None else self._sources(scope)
        expand = self.settings.expansion and mode != "bm25"
        sparse = sparse_query(self.index.bm25, query, self.settings, expand)
        points, lex = _fetch_candidates(self.index, query.vector, sparse, sources,
                                        max(CANDIDATES, depth))
        sub = candidate_index(self.index, points, lex)
        return Retriever(self.settings, sub, lambda: self.encoder, IndexCache(sub)), \
            [int(p.payload["row"]) for p in points]


def _fetch_candidates(ix: QdrantIndex, vector: Any, sparse: Any, sources: list[str] | None,
                      limit: int) -> tuple[list[Any], dict[Any, float]]:
    """The candidate points (payload and vectors, by row) and their BM25 scores by id."""
    from qdrant_client import models

    assert ix.address is not None
    must: list[Any] = [models.FieldCondition(key="kind", match=models.MatchValue(value="passage"))]
    if sources is not None:
        must.append(models.FieldCondition(key="source", match=models.MatchAny(any=sources)))
    flt = models.Filter(must=must)
    requests = [models.QueryRequest(query=[list(map(float, vector[0]))], using="dense",
                                    limit=limit, filter=flt)]
    if sparse is not None:
        requests.append(models.QueryRequest(query=sparse, using="bm25", limit=limit, filter=flt))
    with talking(ix.address, "searching"):
        found = ix.client.query_batch_points(ix.collection, requests)
        ids = list(dict.fromkeys(p.id for r in found for p in r.points))
        points = ix.client.retrieve(ix.collection, ids, with_payload=True,
                                    with_vectors=["dense"]) if ids else []
        lex: dict[Any, float] = {}
        if sparse is not None and ids:
            only = models.Filter(must=[models.HasIdCondition(has_id=ids)])
            scored = ix.client.query_points(ix.collection, query=sparse, using="bm25",
                                            query_filter=only, limit=len(ids))
            lex = {p.id: p.score for p in scored.points}
    return sorted(points, key=lambda p: p.payload["row"]), lex


class RemoteTokens:
    """The candidates' token vectors, read from the store when first needed: only the few
    passages late interaction re-scores are, in one request (see `prefetch`)."""

    def __init__(self, ix: QdrantIndex, ids: list[Any]) -> None:
        self._ix, self._ids = ix, ids
        self._got: dict[int, Any] = {}

    def prefetch(self, rows: list[int]) -> None:
        """Read the token vectors of candidates `rows` not read yet."""
        import numpy as np

        wanted = [r for r in dict.fromkeys(rows) if r not in self._got]
        if not wanted:
            return
        assert self._ix.address is not None
        with talking(self._ix.address, "reading token vectors"):
            found = self._ix.client.retrieve(self._ix.collection, [self._ids[r] for r in wanted],
                                             with_payload=False, with_vectors=["tokens"])
        by_id = {p.id: (p.vector or {}).get("tokens") or [] for p in found}
        dim = int(self._ix.manifest["model"]["dimension"])
        for r in wanted:
            self._got[r] = np.asarray(by_id.get(self._ids[r], []), dtype=np.float32).reshape(-1, dim)

    def passage(self, row: int) -> Any:
        """Candidate `row`'s token vectors (float32)."""
        self.prefetch([row])
        return self._got[row]


def candidate_index(base: QdrantIndex, points: list[Any], lex: dict[Any, float]) -> LoadedIndex:
    """The candidates as an index of their own (rows in store order), with the store's
    corpus-wide tables and each candidate's BM25 score preset."""
    import numpy as np

    local = {int(p.payload["row"]): i for i, p in enumerate(points)}
    passage_vecs, sentence_vecs, sentences = [], [], []
    similar = np.full((len(points), COUNT), -1, dtype=np.int64)
    sims = np.zeros((len(points), COUNT))
    for i, p in enumerate(points):
        dense = np.asarray(p.vector["dense"], dtype=np.float32)
        passage_vecs.append(dense[0])
        for (start, end, key), vec in zip(p.payload["sentences"], dense[1:], strict=True):
            sentences.append(SentenceRow(i, start, end, key))
            sentence_vecs.append(vec)
        near = [(local[r], s) for r, s in p.payload["similar"] if r in local][:COUNT]
        for j, (r, s) in enumerate(near):
            similar[i, j], sims[i, j] = r, s
    dim = int(base.manifest["model"]["dimension"])
    emb = np.asarray(passage_vecs + sentence_vecs, dtype=np.float32).reshape(-1, dim)
    vector_rows = np.array(list(range(len(points))) + [s.row for s in sentences], dtype=np.int64)
    preset = np.array([lex.get(p.id, 0.0) for p in points], dtype=np.float32)
    t = base.bm25
    return LoadedIndex(
        path=base.path, manifest=base.manifest,
        chunks=ChunkTable.of([_record(p.payload) for p in points]), sources=base.sources,
        bm25=PresetBm25(t.data, t.indices, t.indptr, t.vocab, t.stopwords, t.query_stopwords,
                        preset=preset),
        sentences=SentenceTable.of(sentences), vector_rows=vector_rows,
        dense=DenseVectors(emb, vector_rows), wordpiece_df=base.wordpiece_df,
        similar_rows=similar, similar_sims=sims,
        tokens=cast(Any, RemoteTokens(base, [p.id for p in points])),  # duck-typed TokenData
        total=len(base.chunks))  # no texts: ranking and citing a question never reads them

