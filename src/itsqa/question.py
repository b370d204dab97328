"""Reading a question once per ask, before anything is ranked: its typing errors read as meant
(spelling.py), the words of it that no source holds, its vector, the corpus words expansion adds
to its BM25 query, and the weight of each of its BM25 terms (for term proximity and for choosing
the answer sentence)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import expansion, lexical, spelling, subjects
from .config import Settings
from .embedding import Encoder, TokenVectors, encode_with_tokens
from .index_cache import IndexCache, first_word
from .spelling import Correction


@dataclass(frozen=True)
class Query:
    """A question as it is ranked."""

    typed: str  # as asked
    text: str  # as ranked: mistyped words read as the words meant
    corrections: tuple[Correction, ...] = ()
    # Words of `text` (not function words or numbers) that no passage holds, even stemmed.
    missing_words: tuple[str, ...] = ()
    vector: Any = None  # (1, dimension): the question's vector
    # {stem: weight} that expansion adds to the BM25 query ({} when expansion is off).
    expansion: dict[str, float] = field(default_factory=dict)
    # {stem: weight x idf} of every stem the BM25 query counts, expansion's included.
    term_weights: dict[str, float] = field(default_factory=dict)
    tokens: TokenVectors | None = None  # its word pieces' contextual vectors (late interaction)
    # The names it asks about when no source holds any of them in any form (else empty).
    absent_names: tuple[str, ...] = ()


MOST_WORDS_KEPT = 50_000  # word vectors remembered (about 80 MB at most)


class QueryReader:
    """Reads questions against one index."""

    def __init__(self, settings: Settings, cache: IndexCache,
                 encoder: Callable[[], Encoder]) -> None:
        self.settings = settings
        self.cache = cache
        self.tables = cache.index.bm25
        self.n = len(cache.index.chunks)
        self._encoder = encoder
        # Question words recur from question to question: each is embedded once per process.
        self._word_vectors: dict[str, Any] = {}
        self._sorted_vocab: list[str] | None = None

    def read(self, question: str) -> Query:
        """The question with its typing errors read as meant, embedded, and its BM25 terms
        weighed (expansion's included)."""
        text, corrections = self.corrected(question) if self.n else (question, ())
        unheld = self.missing_words(text, framing=True)
        missing = tuple(w for w in unheld if w.lower() not in subjects.FRAMING)
        words = (expansion.question_words(text, self.tables.stopwords)
                 if self.settings.expansion else [])
        vector, word_vectors, tokens = self._embed(text, words)
        extra = self._expansion(words, word_vectors, unheld) if self.settings.expansion else {}
        return Query(question, text, corrections, missing, vector, extra,
                     self._term_weights(text, extra), tokens, self.absent_names(text, missing))

    def absent_names(self, question: str, missing: tuple[str, ...]) -> tuple[str, ...]:
        """The names `question` asks about (subjects.names) when every one is among the
        `missing` words and no corpus word is a near form of it; else ()."""
        named = subjects.names(question)
        gone = {w.lower() for w in missing}
        if not named or any(n.lower() not in gone for n in named):
            return ()
        if self._sorted_vocab is None:
            self._sorted_vocab = sorted(self.tables.vocab)
        for n in named:
            stems = lexical.tokenize(n, frozenset())
            if any(subjects.has_near_form(st, self._sorted_vocab) for st in stems):
                return ()
            if any(c.isdigit() for c in n) and any(n.lower() in v for v in self._sorted_vocab):
                return ()  # "v4" in "ipv4"
        return tuple(named)

    def _embed(self, text: str, words: list[str]) -> tuple[Any, Any, TokenVectors]:
        """The question's vector (1 x dimension), its words' vectors and its token vectors, in
        one model call for the question and the words neither the corpus holds (their vectors
        are stored) nor an earlier question had."""
        import numpy as np

        known = self.cache.word_vectors()  # corpus words, embedded at build time
        new = [w for w in words if w not in self._word_vectors and w not in known]
        vectors, tokens = encode_with_tokens(self._encoder(), [text, *new])
        if len(self._word_vectors) > MOST_WORDS_KEPT:
            self._word_vectors.clear()
        self._word_vectors.update(zip(new, vectors[1:], strict=True))
        dim = vectors.shape[1]
        word_vectors = (np.stack([known[w] if w in known else self._word_vectors[w]
                                  for w in words]) if words
                        else np.zeros((0, dim), dtype=np.float32))
        return vectors[:1], word_vectors, tokens

    def missing_words(self, question: str, framing: bool = False) -> tuple[str, ...]:
        """The question's words (not function words, words that frame a question unless
        `framing`, or numbers) that occur in no passage, even after stemming, in the order
        asked: what a search engine would list as "missing". If the question's subject is among
        them, the corpus probably does not answer it."""
        words: dict[str, str] = {}  # each word once, as first typed
        for w in lexical.content_words(question, self.tables.query_stopwords, lower=False):
            if framing or w.lower() not in subjects.FRAMING:
                words.setdefault(w.lower(), w)
        out = []
        for w in words.values():
            stems = lexical.tokenize(w, frozenset())  # lower-casing may split a word ("İ")
            if stems and not any(st in self.tables.vocab for st in stems):
                out.append(w)
        return tuple(out)

    def corrected(self, question: str) -> tuple[str, tuple[Correction, ...]]:
        """The question with each word that no passage holds and that looks mistyped read as
        the nearest corpus or English word, and those corrections."""
        if not self.settings.spelling:
            return question, ()
        typos = [w for w in self.missing_words(question, framing=True)[: spelling.MOST_CHECKED]
                 if spelling.may_be_typo(w)][: spelling.MOST_WORDS]
        if not typos:
            return question, ()
        words = self.cache.terms().words
        first = first_word(question)
        fixes: list[Correction] = []
        for w in typos:
            fixed = spelling.suggest(w, words, self._frequency,
                                     name=spelling.looks_like_name(w, first=w == first))
            if fixed is not None:
                fixes.append(Correction(w, spelling.match_case(fixed, w)))
        return spelling.apply(question, fixes), tuple(fixes)

    def _frequency(self, word: str) -> int:
        stems = lexical.tokenize(word, frozenset())
        return self.tables.document_frequency(stems[0]) if stems else 0

    def _expansion(self, words: list[str], vectors: Any, missing: tuple[str, ...]
                   ) -> dict[str, float]:
        terms = self.cache.terms()
        if not words or not terms.words:
            return {}
        absent = (frozenset(w.lower() for w in missing) if self.settings.absent_expansion
                  else frozenset())
        return expansion.related_terms(words, vectors, terms.vectors, terms.stems, absent,
                                       self.tables.function_stems)

    def _term_weights(self, text: str, extra: dict[str, float]) -> dict[str, float]:
        """{stem: weight x idf} for the stems the BM25 query counts (its own at 1, expansion's
        at their weight), idf by Lucene's formula, as bm25s computes it."""
        terms = {t: 1.0 for t in self.tables.query_tokens(
            text, function_words=not self.settings.query_stopwords)}
        for stem, w in extra.items():
            terms[stem] = max(terms.get(stem, 0.0), w)
        return {t: w * self.tables.idf(t, self.n) for t, w in terms.items()}
