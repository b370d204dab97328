"""BM25 over passages: tables made with bm25s at build time, scored at question time from bm25s's
own score matrix with numpy alone (importing bm25s costs ~0.2 s, too much for a sub-second ask).
No file access: store.py saves and loads the tables.

Both sides share `tokenize`, so a question sees exactly the vocabulary the index was built with.
A question also drops a longer list of function words (bm25s's "en_plus": what, how, does,
will, ...): its own wording carries no topic, and in a small collection such words still have
enough idf to favour passages that happen to repeat them. The passages keep them, so length
normalisation is unchanged.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

# Words of two or more characters, and short ampersand abbreviations as one word ("R&D", "S&T",
# "AT&T"), which would otherwise vanish: their parts are single letters.
_TOKEN = re.compile(r"(?u)\b[^\W\d_]{1,3}&[^\W\d_]{1,3}\b|\b\w\w+\b")
# Bump when `tokenize` changes, so that indexes rebuild their BM25 tables.
TOKENIZER_VERSION = 3
K1 = 1.5
B = 0.75


@lru_cache(maxsize=1)
def stemmer() -> Any:
    """The Snowball English stemmer (PyStemmer), made once."""
    import Stemmer

    return Stemmer.Stemmer("english")


def default_stopwords() -> list[str]:
    """The passages' stopwords: bm25s's English list."""
    from bm25s.stopwords import STOPWORDS_EN

    return sorted(STOPWORDS_EN)


def query_stopwords() -> list[str]:
    """Words a question loses before BM25: the passages' stopwords and bm25s's longer list."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return sorted(set(default_stopwords()) | set(STOPWORDS_EN_PLUS))


def tokenize(text: str, stopwords: frozenset[str], stem: bool = True) -> list[str]:
    """Lower-case words of two or more characters, stopwords removed, Snowball-stemmed. NFKC
    first, as the model reads text: "ﬁnancial" (a PDF's ligature) is "financial"."""
    words = [w for w in _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
             if w not in stopwords]
    return list(stemmer().stemWords(words)) if stem and words else words


def content_words(text: str, stopwords: frozenset[str], lower: bool = True) -> list[str]:
    """The words of `text` as `tokenize` finds them, unstemmed, without stopwords and numbers
    (in their own case when not `lower`)."""
    text = unicodedata.normalize("NFKC", text)
    found = _TOKEN.findall(text.lower() if lower else text)
    return [w for w in found if w.lower() not in stopwords and not w.isdigit()]


@dataclass(frozen=True)
class Bm25Tables:
    """bm25s's score matrix (a column of passage scores per token, CSC layout), its vocabulary
    and the two stopword lists."""

    data: Any  # numpy: the non-zero scores, column by column
    indices: Any  # numpy: the passage row of each score
    indptr: Any  # numpy: where each token's column starts
    vocab: dict[str, int]
    stopwords: frozenset[str]  # left out of the passages
    query_stopwords: frozenset[str]  # left out of a question: the above and function words

    @cached_property
    def function_stems(self) -> frozenset[str]:
        """The stems of a question's function words (what expansion must not reach for from afar)."""
        words = sorted(self.query_stopwords)
        return frozenset(stemmer().stemWords(words) if words else [])

    def postings(self, token: str) -> tuple[int, int] | None:
        """Where `token`'s column of the score matrix lies (start, end), or None if it has none."""
        tid = self.vocab.get(token)
        if tid is None or tid + 1 >= len(self.indptr):
            return None
        return int(self.indptr[tid]), int(self.indptr[tid + 1])

    def document_frequency(self, token: str) -> int:
        """How many passages hold `token` (a stem)."""
        span = self.postings(token)
        return span[1] - span[0] if span else 0

    def idf(self, token: str, n_docs: int) -> float:
        """`token`'s idf over the passages by Lucene's formula (as bm25s weighs it); 0 for a token
        no passage holds."""
        df = self.document_frequency(token)
        return math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) if df else 0.0

    def query_tokens(self, query: str, function_words: bool = False) -> list[str]:
        """The stems of `query` that BM25 counts: function words out unless `function_words`."""
        return tokenize(query, self.stopwords if function_words else self.query_stopwords)

    def scores(self, query: str, n_docs: int, extra: dict[str, float] | None = None,
               function_words: bool = False) -> Any:
        """BM25 score of every passage for `query`, as bm25s computes it; plus each stem in
        `extra` (query expansion) counted at its weight."""
        import numpy as np

        out = np.zeros(n_docs, dtype=np.float32)
        weighted = [(tok, 1.0) for tok in self.query_tokens(query, function_words)]
        weighted += list((extra or {}).items())
        for token, weight in weighted:
            span = self.postings(token)
            if span is None:
                continue
            s, e = span
            scores = self.data[s:e]
            np.add.at(out, self.indices[s:e], scores if weight == 1.0 else weight * scores)
        return out


def build_tables(texts: Sequence[str], stopwords: list[str] | None = None) -> Bm25Tables:
    """Index `texts` with bm25s (Lucene BM25, k1=1.5, b=0.75)."""
    import logging

    import bm25s
    import numpy as np

    # bm25s sets its logger to DEBUG; where a root handler exists (the MCP SDK adds one in
    # `itsqa serve`), every rebuild would print "Building index from tokens"
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    stops = frozenset(stopwords if stopwords is not None else default_stopwords())
    corpus = [tokenize(t, stops) or [""] for t in texts]
    retriever = bm25s.BM25(k1=K1, b=B)
    retriever.index(corpus, show_progress=False)
    arrays = {name: np.asarray(retriever.scores[name]) for name in ("data", "indices", "indptr")}
    return Bm25Tables(**arrays, vocab=dict(retriever.vocab_dict), stopwords=stops,
                      query_stopwords=stops | frozenset(query_stopwords()))
