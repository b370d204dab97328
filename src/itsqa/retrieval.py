"""Question -> ranked, cited passages. A Retriever joins the three steps of an ask over one loaded
index: reading the question (question.py), ranking the passages (ranking.py) and turning the
best into cited, highlighted results (answer.py). Writes no files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .answer import Answer, AnswerBuilder
from .config import Settings
from .embedding import Encoder
from .index_cache import IndexCache
from .question import Query, QueryReader
from .ranking import MODES, Ranker, Ranking
from .scope import Scope, in_scope
from .store import LoadedIndex

__all__ = ["MODES", "Retriever"]


class Retriever:
    """Answers questions from one loaded index under one set of settings. The encoder is made
    on first use; a retriever for other settings over the same index is `with_settings`."""

    def __init__(self, settings: Settings, index: LoadedIndex,
                 encoder_factory: Callable[[], Encoder], cache: IndexCache | None = None) -> None:
        self.settings = settings
        self.index = index
        self._encoder_factory = encoder_factory
        self._encoder: list[Encoder] = []
        self.cache = cache or IndexCache(index)
        self.reader = QueryReader(settings, self.cache, lambda: self.encoder)
        self.ranker = Ranker(settings, self.cache, lambda: self.encoder)
        self.answers = AnswerBuilder(settings, self.cache, lambda: self.encoder)

    @property
    def encoder(self) -> Encoder:
        if not self._encoder:
            self._encoder.append(self._encoder_factory())
        return self._encoder[0]

    def with_settings(self, settings: Settings) -> Retriever:
        """A retriever over the same index under `settings`, sharing this one's encoder and
        the data derived from the index."""
        return Retriever(settings, self.index, lambda: self.encoder, self.cache)

    def read(self, question: str) -> Query:
        """The question as it is ranked (typing errors read as meant, embedded, terms weighed)."""
        return self.reader.read(question)

    def scope_mask(self, scope: Scope | None) -> Any:
        """The passages `scope` keeps, as a boolean mask (None when it keeps them all).

        Raises:
            UsageError: a source it names is not in the index, or it keeps no source.
        """
        if scope is None or not scope.narrows:
            return None
        return self.cache.rows_of(in_scope(scope, self.index.sources))

    def rank(self, question: str | Query, mode: str | None = None, depth: int = 100,
             scope: Scope | None = None) -> Ranking:
        """The `depth` best passages for `question` (before copies are folded)."""
        query = question if isinstance(question, Query) else self.read(question)
        return self.ranker.rank(query, mode or self.settings.mode, depth, self.scope_mask(scope))

    def ask(self, question: str, k: int = 5, mode: str | None = None,
            highlight: bool = True, scope: Scope | None = None) -> Answer:
        """The `k` best distinct passages for `question`, cited, with the answer marked.

        Args:
            question: as typed; mistyped words are read as meant (unless spelling is off).
            k: how many distinct passages (copies of a passage fold into one result).
            mode: hybrid, dense, bm25 or late (None: the settings' mode).
            highlight: mark the answering sentences and give a one-line answer.
            scope: only passages of the sources it keeps are candidates.

        Returns:
            The passages, the best answer, whether the corpus seems to answer at all, the
            question's words that no source holds, and the corrections made.

        Raises:
            UsageError: an unknown mode, or a scope that keeps no source.
        """
        mode = mode or self.settings.mode
        mask = self.scope_mask(scope)
        return self.answer(self.read(question), k, mode, highlight, mask)

    def answer(self, query: Query, k: int, mode: str, highlight: bool = True,
               mask: Any = None) -> Answer:
        """`ask` for a question already read, the candidates limited by `mask` (a boolean
        mask over the passages, None for all)."""
        question = query.typed
        n = len(self.index.chunks) if mask is None else int(mask.sum())
        depth = max(100, 4 * k)
        ranking = self.ranker.rank(query, mode, depth, mask)
        top_sim = ranking.top_similarity
        if mode == "bm25":
            top_sim = self.ranker.dense_scores(query.vector, mask)[1] if n else 0.0
        groups = self.answers.distinct(ranking.rows, k)
        if len(groups) < k and len(ranking.rows) >= depth < n:
            # Copies of one passage filled the ranking's head: look through all of it.
            groups = self.answers.distinct(self.ranker.rank(query, mode, n, mask).rows, k)
        hits = self.answers.hits(groups)
        best = ""
        if highlight and hits:
            hits, best = self.answers.highlight(query, hits)
        confident = top_sim >= self.settings.confidence_threshold and not (
            self.settings.absent_names and query.absent_names)
        return Answer(question, tuple(hits), confident, best, top_sim, query.missing_words,
                      query.corrections)
