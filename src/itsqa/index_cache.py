"""Data derived from one loaded index on first use, shared by every retriever over it (a
retriever per mode or setting, as `itsqa eval --compare` makes): the expansion terms, each
passage's word shingles and sentence stems, and its sentences' stored vectors."""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from typing import Any

from . import lexical
from .chunking import sentence_spans
from .store import LoadedIndex, Terms

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Bounds what a long evaluation keeps of each per-passage cache.
_MOST_KEPT = 4096
TOKENS_KEPT = 256  # passages whose float32 token vectors are kept (about 60 MB)


def fold_words(text: str) -> list[str]:
    """Lower-case words (NFKC, curly apostrophes straight), for comparing passages."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower().replace("’", "'"))


def first_word(text: str) -> str:
    """The text's first word ("" when it has none)."""
    m = _WORD.search(text)
    return m.group() if m else ""


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """The text's runs of `n` words (the whole text when shorter)."""
    words = fold_words(text)
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class WordVectors:
    """word -> its row of the expansion terms' vectors, without a Python object per word."""

    def __init__(self, rows: dict[str, int], vectors: Any) -> None:
        self.rows, self.vectors = rows, vectors

    def __contains__(self, word: object) -> bool:
        return word in self.rows

    def __getitem__(self, word: str) -> Any:
        return self.vectors[self.rows[word]]


class IndexCache:
    """Lazily derived, read-only views of one index."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index
        self._terms: Terms | None = None
        self._shingles: dict[int, set[tuple[str, ...]]] = {}
        self._stems: dict[int, list[frozenset[str]]] = {}
        self._embeddings: Any = None
        self._chunk_sources: Any = None
        self._word_vectors: WordVectors | None = None
        self._tokens: OrderedDict[int, Any] = OrderedDict()

    def word_vectors(self) -> WordVectors:
        """Each corpus word's vector, from the expansion terms."""
        if self._word_vectors is None:
            terms = self.terms()
            self._word_vectors = WordVectors({w: i for i, w in enumerate(terms.words)},
                                             terms.vectors)
        return self._word_vectors

    def rows_of(self, sources: set[str]) -> Any:
        """A boolean mask over the passages: True for those of `sources`."""
        import numpy as np

        if self._chunk_sources is None:
            self._chunk_sources = np.array([c.source for c in self.index.chunks], dtype=object)
        return np.isin(self._chunk_sources, list(sources))

    def terms(self) -> Terms:
        """The corpus's words, stems and vectors (query expansion, spelling)."""
        if self._terms is None:
            self._terms = self.index.terms()
        return self._terms

    def shingles(self, row: int) -> set[tuple[str, ...]]:
        """Passage `row`'s 5-word runs."""
        if row not in self._shingles:
            self._shingles[row] = shingles(self.index.chunks[row].text)
        return self._shingles[row]

    def sentence_stems(self, row: int) -> list[frozenset[str]]:
        """The BM25 stems of each sentence of passage `row` (the whole passage where it is one
        sentence)."""
        if row not in self._stems:
            if len(self._stems) > _MOST_KEPT:
                self._stems.clear()
            text = self.index.chunks[row].text
            stops = self.index.bm25.stopwords
            spans = sentence_spans(text, min_chars=1) or [(0, len(text))]
            self._stems[row] = [frozenset(lexical.tokenize(text[s:e], stops)) for s, e in spans]
        return self._stems[row]

    def prefetch_tokens(self, rows: list[int]) -> None:
        """Where the token vectors live in a store, read those of `rows` in one request."""
        self.index.tokens.prefetch([r for r in rows if r not in self._tokens])

    def token_vectors(self, row: int) -> Any:
        """Passage `row`'s token vectors as float32, kept for the TOKENS_KEPT passages asked
        about most recently (late interaction reads the same few passages question after
        question; each takes ~0.2 MB)."""
        import numpy as np

        found = self._tokens.get(row)
        if found is None:
            found = self._tokens[row] = np.asarray(self.index.passage_tokens(row), dtype=np.float32)
            while len(self._tokens) > TOKENS_KEPT:
                self._tokens.popitem(last=False)
        else:
            self._tokens.move_to_end(row)
        return found

    def sentence_vectors(self, row: int) -> list[tuple[int, int, Any]]:
        """(start, end) within passage `row` and the stored vector of each of its sentences."""
        import numpy as np

        ix = self.index
        found = np.flatnonzero(ix.sentences.rows() == row)  # vectorised: no walk of the table
        if not len(found):
            return []
        if self._embeddings is None:
            self._embeddings = ix.embeddings()
        start, base = ix.chunks[row].start, len(ix.chunks)
        spans = ix.sentences.columns[found]
        return [(int(a) - start, int(b) - start, self._embeddings[base + int(i)])
                for (_, a, b), i in zip(spans, found, strict=True)]
