"""The points a generation of the index becomes in a Qdrant store (qdrant_store.py): one per
passage with its vectors and citation, and the meta points that reading a question needs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from .lexical import Bm25Tables
from .qdrant_store import encode_array, point_id
from .store import LoadedIndex


def sparse_rows(tables: Bm25Tables, n: int) -> tuple[Any, Any, Any]:
    """BM25's term-frequency part of each (passage, stem), row by row: (stem ids, values, where
    each passage's entries start). bm25s stores idf x that part; Qdrant's IDF modifier
    multiplies the idf back in (the same Lucene formula, over the same passages)."""
    import numpy as np

    df = np.diff(tables.indptr)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    stem = np.repeat(np.arange(len(df)), df)
    tf = np.asarray(tables.data, dtype=np.float64) / idf[stem]
    order = np.argsort(tables.indices, kind="stable")
    rows = np.asarray(tables.indices)[order]
    return stem[order], tf[order], np.searchsorted(rows, np.arange(n + 1))


def _sentence_spans(loaded: LoadedIndex) -> tuple[Any, Any]:
    """The sentence vectors' order by passage, and where each passage's start."""
    import numpy as np

    owners = np.asarray(loaded.sentences.rows())
    order = np.argsort(owners, kind="stable")
    return order, np.searchsorted(owners[order], np.arange(len(loaded.chunks) + 1))


def passage_points(loaded: LoadedIndex) -> Iterator[Any]:
    """One point per passage of `loaded`, in row order."""
    import numpy as np
    from qdrant_client import models

    n = len(loaded.chunks)
    emb = loaded.embeddings()
    stems, tfs, starts = sparse_rows(loaded.bm25, n)
    order, s_starts = _sentence_spans(loaded)
    for row in range(n):
        rec = loaded.chunks[row]
        mine = order[s_starts[row]: s_starts[row + 1]]
        sentences = [loaded.sentences[int(i)] for i in mine]
        dense = np.vstack([emb[row:row + 1], emb[n + mine]]) if len(mine) else emb[row:row + 1]
        a, b = int(starts[row]), int(starts[row + 1])
        vector: dict[str, Any] = {
            "dense": np.asarray(dense, dtype=np.float32).tolist(),
            "bm25": models.SparseVector(indices=stems[a:b].tolist(), values=tfs[a:b].tolist()),
        }
        tokens = np.asarray(loaded.passage_tokens(row), dtype=np.float32)
        if len(tokens):
            vector["tokens"] = tokens.tolist()
        similar = [[int(r), float(s)] for r, s in zip(loaded.similar_rows[row],
                                                      loaded.similar_sims[row], strict=True)
                   if r >= 0] if loaded.similar_rows.size else []
        payload = {"kind": "passage", "row": row, "source": rec.source, "ordinal": rec.ordinal,
                   "start": rec.start, "end": rec.end, "page": rec.page, "heading": rec.heading,
                   "text": rec.text, "embed_hash": rec.embed_hash, "similar": similar,
                   "sentences": [[s.start, s.end, s.embed_hash] for s in sentences]}
        yield models.PointStruct(id=point_id(rec.source, rec.start, rec.end, rec.embed_hash),
                                 vector=vector, payload=payload)


def meta_parts(loaded: LoadedIndex, texts: dict[str, str]) -> dict[str, Any]:
    """What reading a question needs, by part name (each JSON-able)."""
    import numpy as np

    t = loaded.bm25
    vocab = sorted(t.vocab, key=t.vocab.__getitem__)
    terms = loaded.terms()
    return {
        "manifest": loaded.manifest,
        "sources": loaded.sources,
        "texts": texts,
        "lexicon": {"vocab": vocab, "df": encode_array(np.diff(t.indptr).astype(np.int64)),
                    "stopwords": sorted(t.stopwords),
                    "query_stopwords": sorted(t.query_stopwords)},
        "terms": {"words": terms.words, "stems": terms.stems,
                  "vectors": encode_array(np.asarray(terms.vectors, dtype=np.float16))},
        "wordpiece_df": encode_array(np.asarray(loaded.wordpiece_df)),
    }


def meta_points(loaded: LoadedIndex, texts: dict[str, str], piece_chars: int,
                meta_id: Callable[[str, int], str]) -> Iterator[Any]:
    """The meta parts as payload-only points, each part cut into pieces of `piece_chars`."""
    from qdrant_client import models

    for part, value in meta_parts(loaded, texts).items():
        text = json.dumps(value, ensure_ascii=False)
        pieces = [text[i:i + piece_chars] for i in range(0, len(text), piece_chars)] or [""]
        for seq, piece in enumerate(pieces):
            yield models.PointStruct(id=meta_id(part, seq), vector={},
                                     payload={"kind": "meta", "part": part, "seq": seq,
                                              "data": piece})
