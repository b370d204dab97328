"""BM25 over passages: indexed with bm25s at build time, scored at query time from bm25s's own
score matrix with numpy alone (importing bm25s costs ~0.2 s, too much for a sub-second ask).

Both sides share `tokenize`, so the query sees exactly the vocabulary the index was built with.
The query also drops a longer list of function words (bm25s's "en_plus": what, how, does, will,
...): a question's own wording carries no topic, and in a small collection such words still
have enough idf to favour passages that happen to repeat them. The passages keep them, so
length normalisation is unchanged (stopping them in the passages too was worse on both corpora).

Query expansion ("term neighbours"): every word of the corpus is embedded once at build time;
a query word also counts, at a discount, the corpus words the model places nearest to it
(young companies -> startups, armed forces -> defence), which BM25 alone cannot match. A query
word that no passage holds at all ("chips" where the sources say "semiconductors") adds nothing
to BM25 by itself, so it may borrow less close words (cosine 0.35 rather than 0.6), though never
function words ("them", "our") at that distance.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

# Words of two or more characters, and short ampersand abbreviations as one word ("R&D", "S&T",
# "AT&T"), which would otherwise vanish: their parts are single letters.
_TOKEN = re.compile(r"(?u)\b[^\W\d_]{1,3}&[^\W\d_]{1,3}\b|\b\w\w+\b")
# Bump when `tokenize` changes, so that indexes rebuild their BM25 tables.
TOKENIZER_VERSION = 3
K1 = 1.5
B = 0.75
# Expansion: up to PER_WORD corpus words with cosine >= THRESHOLD to a query word, each adding
# WEIGHT x cosine x its BM25 column. Chosen from a 12-cell grid on both the question set and
# Cranfield (benchmarks/ABLATION.md): every cell helped Cranfield, all but one the set; this is
# its middle, not its best cell.
EXPANSION_THRESHOLD = 0.6
EXPANSION_PER_WORD = 3
EXPANSION_WEIGHT = 0.75
# A query word that no passage holds takes neighbours down to this cosine (function words only
# above EXPANSION_THRESHOLD). Tried on q01-q129 (MRR +0.009, 7 questions up, 1 down; Cranfield,
# whose queries use its own words, unmoved), then confirmed on 20 questions written and committed
# before it was run on them (benchmarks/ABLATION.md).
ABSENT_THRESHOLD = 0.35
# The most frequent words are embedded; beyond this a corpus's rarest words go unexpanded.
MAX_TERMS = 50_000


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def default_stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return sorted(STOPWORDS_EN)


def query_stopwords() -> list[str]:
    """Words a query loses before BM25: the index's stopwords and bm25s's longer English list."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return sorted(set(default_stopwords()) | set(STOPWORDS_EN_PLUS))


def tokenize(text: str, stopwords: frozenset[str], stem: bool = True) -> list[str]:
    """Lower-case words of two or more characters, stopwords removed, Snowball-stemmed. NFKC
    first, as the model reads text: "ﬁnancial" (a PDF's ligature) is "financial"."""
    words = [w for w in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
             if w not in stopwords]
    return list(_stemmer().stemWords(words)) if stem and words else words


def content_words(text: str, stopwords: frozenset[str], lower: bool = True) -> list[str]:
    """The words of `text` that expansion works with: as `tokenize` finds them, unstemmed, and
    not numbers (in their own case when not `lower`)."""
    text = unicodedata.normalize("NFKC", text)
    found = _TOKEN.findall(text.lower() if lower else text)
    return [w for w in found if w.lower() not in stopwords and not w.isdigit()]


def expansion_terms(texts: Sequence[str], stopwords: frozenset[str], limit: int = MAX_TERMS
                    ) -> tuple[list[str], list[str]]:
    """The corpus's words (the `limit` most frequent) and their stems, sorted by word."""
    from collections import Counter

    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(content_words(t, stopwords))
    words = sorted(w for w, _ in counts.most_common(limit))
    return words, list(_stemmer().stemWords(words)) if words else []


def neighbours(words: Sequence[str], word_vectors: Any, term_vectors: Any,
               term_stems: Sequence[str], absent: frozenset[str] = frozenset(),
               function_stems: frozenset[str] = frozenset()) -> dict[str, float]:
    """{stem: weight} to add to a query made of `words`: for each word its nearest corpus words
    (by the model's vectors) above the threshold, leaving out stems the query already has. Words
    in `absent` (held by no passage) go down to ABSENT_THRESHOLD, but not to `function_stems`
    below the usual threshold."""
    import numpy as np

    if not len(words) or not len(term_stems):
        return {}
    own = set(_stemmer().stemWords(list(words)))
    sims = np.asarray(word_vectors, dtype=np.float32) @ np.asarray(term_vectors, dtype=np.float32).T
    extra: dict[str, float] = {}
    for word, row in zip(words, sims, strict=True):
        taken = 0
        low = word in absent
        floor = ABSENT_THRESHOLD if low else EXPANSION_THRESHOLD
        for j in np.argsort(-row, kind="stable")[: EXPANSION_PER_WORD * 4]:
            if row[j] < floor or taken >= EXPANSION_PER_WORD:
                break
            stem = term_stems[j]
            if stem in own or (low and row[j] < EXPANSION_THRESHOLD and stem in function_stems):
                continue
            extra[stem] = max(extra.get(stem, 0.0), float(row[j]))
            taken += 1
    return {s: EXPANSION_WEIGHT * w for s, w in extra.items()}


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
    # Saved with the index so that asking need not import bm25s.
    (folder / "query_stopwords.json").write_text(json.dumps(sorted(set(stops) | set(query_stopwords()))),
                                                 encoding="utf-8")


def load(folder: Path) -> dict[str, Any]:
    """The tables `build` saved in `folder` (raises OSError or ValueError when unreadable)."""
    import numpy as np

    return {
        "data": np.load(folder / "data.npy", allow_pickle=False),
        "indices": np.load(folder / "indices.npy", allow_pickle=False),
        "indptr": np.load(folder / "indptr.npy", allow_pickle=False),
        "vocab": json.loads((folder / "vocab.json").read_text(encoding="utf-8")),
        "stopwords": json.loads((folder / "stopwords.json").read_text(encoding="utf-8")),
        "query_stopwords": json.loads((folder / "query_stopwords.json").read_text(encoding="utf-8")),
    }


def stopset(tables: dict[str, Any], key: str = "stopwords") -> frozenset[str]:
    """The index's stopwords ("stopwords") or a query's ("query_stopwords"), as a set."""
    found = tables.get("_" + key)
    if found is None:
        found = tables["_" + key] = frozenset(tables[key])
    return found


def function_stems(tables: dict[str, Any]) -> frozenset[str]:
    """The stems of a query's function words (what expansion must not reach for from afar)."""
    found = tables.get("_function_stems")
    if found is None:
        words = sorted(stopset(tables, "query_stopwords"))
        found = tables["_function_stems"] = frozenset(_stemmer().stemWords(words) if words else [])
    return found


def _postings(tables: dict[str, Any], token: str) -> tuple[int, int] | None:
    """Where `token`'s column of the score matrix lies (start, end), or None if it has none."""
    tid = tables["vocab"].get(token)
    indptr = tables["indptr"]
    if tid is None or tid + 1 >= len(indptr):
        return None
    return int(indptr[tid]), int(indptr[tid + 1])


def document_frequency(tables: dict[str, Any], token: str) -> int:
    """How many passages hold `token` (a stem)."""
    span = _postings(tables, token)
    return span[1] - span[0] if span else 0


def idf(tables: dict[str, Any], token: str, n_docs: int) -> float:
    """`token`'s idf over the indexed passages, by Lucene's formula (as bm25s weighs it); 0 for a
    token no passage holds."""
    import math

    df = document_frequency(tables, token)
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) if df else 0.0


def query_tokens(tables: dict[str, Any], query: str, function_words: bool = False) -> list[str]:
    """The stems of `query` that BM25 counts: function words out unless `function_words`."""
    return tokenize(query, stopset(tables, "stopwords" if function_words else "query_stopwords"))


def scores(tables: dict[str, Any], query: str, n_docs: int,
           extra: dict[str, float] | None = None, function_words: bool = False) -> Any:
    """BM25 score of every passage for `query`, as bm25s computes it; plus, for expansion, each
    stem in `extra` counted at its weight. The query's function words are dropped unless
    `function_words` (then only the index's own stopwords are)."""
    import numpy as np

    out = np.zeros(n_docs, dtype=np.float32)
    indices, data = tables["indices"], tables["data"]
    weighted = [(tok, 1.0) for tok in query_tokens(tables, query, function_words)]
    weighted += list((extra or {}).items())
    for token, weight in weighted:
        span = _postings(tables, token)
        if span is None:
            continue
        s, e = span
        np.add.at(out, indices[s:e], data[s:e] if weight == 1.0 else weight * data[s:e])
    return out
