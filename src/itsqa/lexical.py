"""BM25 over passages: indexed with bm25s at build time, scored at query time from bm25s's own
score matrix with numpy alone (importing bm25s costs ~0.2 s, too much for a sub-second ask).

Both sides share `tokenize`, so the query sees exactly the vocabulary the index was built with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
K1 = 1.5
B = 0.75


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def default_stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return sorted(STOPWORDS_EN)


def tokenize(text: str, stopwords: frozenset[str], stem: bool = True) -> list[str]:
    """Lower-case words of two or more characters, stopwords removed, Snowball-stemmed."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stopwords]
    return list(_stemmer().stemWords(words)) if stem and words else words


def build(texts: Sequence[str], folder: Path, stopwords: list[str] | None = None) -> None:
    """Index `texts` with bm25s (Lucene BM25, k1=1.5, b=0.75) and save its arrays as .npy + JSON."""
    import bm25s
    import numpy as np

    stops = stopwords if stopwords is not None else default_stopwords()
    stopset = frozenset(stops)
    corpus = [tokenize(t, stopset) or [""] for t in texts]
    retriever = bm25s.BM25(k1=K1, b=B)
    retriever.index(corpus, show_progress=False)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("data", "indices", "indptr"):
        np.save(folder / f"{name}.npy", np.asarray(retriever.scores[name]), allow_pickle=False)
    (folder / "vocab.json").write_text(json.dumps(retriever.vocab_dict, ensure_ascii=False),
                                       encoding="utf-8")
    (folder / "stopwords.json").write_text(json.dumps(stops), encoding="utf-8")


def scores(tables: dict[str, Any], query: str, n_docs: int) -> Any:
    """BM25 score of every passage for `query`, as bm25s computes it."""
    import numpy as np

    out = np.zeros(n_docs, dtype=np.float32)
    stopset = tables.get("_stopset")
    if stopset is None:
        stopset = tables["_stopset"] = frozenset(tables["stopwords"])
    vocab = tables["vocab"]
    indptr, indices, data = tables["indptr"], tables["indices"], tables["data"]
    for token in tokenize(query, stopset):
        tid = vocab.get(token)
        if tid is None or tid + 1 >= len(indptr):
            continue
        s, e = indptr[tid], indptr[tid + 1]
        np.add.at(out, indices[s:e], data[s:e])
    return out
