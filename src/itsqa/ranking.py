"""Ranking the passages of one index for a read question (question.py): dense scores from FAISS,
BM25 scores with expansion, fused as z-scores and regularised by similar passages; then the best
`rescore_depth` re-scored by term proximity and late interaction, or re-ordered by a local
cross-encoder. Scores are comparable within one question only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .config import Settings
from .embedding import Encoder
from .errors import UsageError
from .index_cache import IndexCache
from .question import Query

# hybrid: dense + BM25 (expanded), its best passages re-scored by term proximity and late
# interaction; late: the same, late interaction weighted more.
MODES = ("hybrid", "dense", "bm25", "late")


class Scored(NamedTuple):
    """A passage (its row in the index) and its score."""

    row: int
    score: float


@dataclass(frozen=True)
class Ranking:
    """Passages best first, and the best single dense cosine (for confidence; 0 in BM25 mode)."""

    rows: list[Scored]
    top_similarity: float = 0.0


def standardise(x: Any) -> Any:
    """z-scores (all zeros when the values do not vary)."""
    import numpy as np

    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def splice(rescored: list[Scored], rest: list[Scored], depth: int) -> list[Scored]:
    """Re-scored passages, then the rest in their own order with their scores shifted beneath
    the re-scored ones', so the scores still fall down the list."""
    if rest and rescored:
        shift = min(s for _, s in rescored) - rest[0].score - 1.0
        rest = [Scored(r, s + shift) for r, s in rest]
    return (rescored + rest)[:depth]


def top(scores: Any, depth: int, positive: bool = False) -> list[Scored]:
    """The `depth` best rows by score (finite scores only; with `positive`, above zero)."""
    import numpy as np

    order = np.argsort(-scores, kind="stable")[:depth]
    return [Scored(int(r), float(scores[r])) for r in order
            if np.isfinite(scores[r]) and (scores[r] > 0 or not positive)]


def _outside(scores: Any, scope: Any, value: float) -> Any:
    """`scores` with the passages outside `scope` set to `value` (unchanged without a scope)."""
    import numpy as np

    return scores if scope is None else np.where(scope, scores, value)


class Ranker:
    """Ranks the passages of one index under one set of settings."""

    def __init__(self, settings: Settings, cache: IndexCache,
                 encoder: Callable[[], Encoder]) -> None:
        self.settings = settings
        self.cache = cache
        self.index = cache.index
        self._encoder = encoder
        self._cross_encoder: Any = None

    def rank(self, query: Query, mode: str, depth: int = 100, scope: Any = None) -> Ranking:
        """The `depth` best passages for `query` in `mode`, re-ordered by the cross-encoder
        where the settings name one. `scope`, a boolean mask over the passages, keeps the
        others out of every step (None: all passages)."""
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
        n = len(self.index.chunks) if scope is None else int(scope.sum())
        if n == 0:
            return Ranking([])
        depth = min(max(depth, 1), n)
        ranking = self._rank_mode(query, mode, depth, scope)
        if self.settings.reranker is not None and ranking.rows:
            ranking = Ranking(self.cross_encode(query, ranking.rows, depth),
                              ranking.top_similarity)
        return ranking

    def _rank_mode(self, query: Query, mode: str, depth: int, scope: Any) -> Ranking:
        if mode == "bm25":
            lex = self.bm25_scores(query, expand=False)
            return Ranking(top(_outside(lex, scope, 0.0), depth, positive=True))
        dense, top_sim = self.dense_scores(query.vector, scope)
        if mode == "dense":
            return Ranking(top(dense, depth), top_sim)
        fused = self.regularise(self.fuse(dense, self.bm25_scores(query, self.settings.expansion),
                                          scope), scope)
        s = self.settings
        if s.rescore_depth <= 1 or (mode == "hybrid" and s.proximity_weight <= 0
                                    and s.late_weight <= 0):
            return Ranking(top(fused, depth), top_sim)
        rescored = self.rescore(query, fused, late_mode=mode == "late")
        taken = {r for r, _ in rescored}
        rest = [x for x in top(fused, depth + len(rescored)) if x.row not in taken]
        return Ranking(splice(rescored, rest, depth), top_sim)

    def dense_scores(self, vector: Any, scope: Any = None) -> tuple[Any, float]:
        """Every passage's dense score, pooled from its vectors (its own and its sentences'),
        and the best single cosine. Exact for a flat index; with HNSW, passages not reached
        get -inf, as do passages outside `scope`."""
        import numpy as np

        ix = self.index
        sim, ids = ix.dense.search(vector, scope)
        owner = ix.vector_rows[ids]
        n = len(ix.chunks)
        best = np.full(n, -np.inf, dtype=np.float32)
        np.maximum.at(best, owner, sim)
        top_sim = float(best.max()) if n else 0.0
        if self.settings.dense_pool == "max":
            return best, top_sim
        # "top2": the mean of a passage's two best vectors, so a passage that answers with more
        # than one sentence beats a list that mentions the topic once.
        order = np.lexsort((-sim, owner))
        lead = np.ones(len(order), dtype=bool)
        lead[1:] = owner[order][1:] != owner[order][:-1]
        first = np.zeros(len(owner), dtype=bool)
        first[order[lead]] = True
        second = np.full(n, -np.inf, dtype=np.float32)
        np.maximum.at(second, owner[~first], sim[~first])
        second = np.where(np.isfinite(second), second, best)
        return (best + second) / 2, top_sim


    def bm25_scores(self, query: Query, expand: bool) -> Any:
        """BM25 over the passages; with `expand`, the question's words also match their nearest
        corpus words, at a discount."""
        return self.index.bm25.scores(query.text, len(self.index.chunks),
                                      query.expansion if expand else None,
                                      function_words=not self.settings.query_stopwords)

    def fuse(self, dense: Any, lex: Any, scope: Any = None) -> Any:
        """Hybrid score: a weighted sum of the two scores standardised over the passages
        (z-scores), or reciprocal-rank fusion when the settings ask for it. With a `scope`,
        over the passages in it, the others at -inf."""
        import numpy as np

        if scope is not None:
            out = np.full(len(dense), -np.inf)
            out[scope] = self.fuse(dense[scope], lex[scope])
            return out
        finite = np.isfinite(dense)  # passages HNSW did not reach score as the lowest it did
        d = np.where(finite, dense, dense[finite].min() if finite.any() else 0.0)
        if self.settings.fusion == "rrf":
            out = np.zeros(len(d))
            for x in (d, lex):
                ranks = np.empty(len(x))
                ranks[np.argsort(-x, kind="stable")] = np.arange(len(x))
                out += 1.0 / (self.settings.rrf_k + ranks + 1)
            return out
        w = self.settings.dense_weight
        return w * standardise(d) + (1 - w) * standardise(lex)

    def regularise(self, fused: Any, scope: Any = None) -> Any:
        """Score regularisation (Diaz, 2005; the cluster hypothesis): the fused scores as
        z-scores, each plus `regularise_weight` x the cosine-weighted mean z-score of the
        passage's similar passages from other sources. A passage with none keeps its own.
        With a `scope`, only passages in it count, and the others stay at -inf."""
        import numpy as np

        weight = self.settings.regularise_weight
        rows, sims = self.index.similar_rows, self.index.similar_sims
        if weight <= 0 or len(fused) < 2 or not rows.size:
            return fused
        if scope is not None:
            return self._regularise_within(fused, scope, weight)
        z = standardise(fused)
        sims = np.where(rows >= 0, sims.astype(np.float64), 0.0)
        total = sims.sum(axis=1)
        mean = (sims * z[np.where(rows >= 0, rows, 0)]).sum(axis=1) / np.where(total > 0, total, 1)
        return z + weight * np.where(total > 0, mean, z)

    def _regularise_within(self, fused: Any, scope: Any, weight: float) -> Any:
        import numpy as np

        rows, sims = self.index.similar_rows, self.index.similar_sims
        z = np.zeros(len(fused))
        z[scope] = standardise(fused[scope])
        kept = (rows >= 0) & scope[np.where(rows >= 0, rows, 0)]
        sims = np.where(kept, sims.astype(np.float64), 0.0)
        total = sims.sum(axis=1)
        mean = (sims * z[np.where(rows >= 0, rows, 0)]).sum(axis=1) / np.where(total > 0, total, 1)
        return np.where(scope, z + weight * np.where(total > 0, mean, z), -np.inf)

    def rescore(self, query: Query, fused: Any, late_mode: bool = False) -> list[Scored]:
        """The best `rescore_depth` passages by fused score, re-scored: their fused score plus
        `proximity_weight` x the proximity score and `late_weight` (`late_mode_weight` in late
        mode) x the late-interaction score, each standardised among them."""
        import numpy as np

        s = self.settings
        depth = min(s.rescore_depth, len(fused))
        rows = [int(r) for r in np.argsort(-fused, kind="stable")[:depth] if np.isfinite(fused[r])]
        if len(rows) < 2:
            return [Scored(r, float(fused[r])) for r in rows]
        combined = standardise(fused[rows])
        if s.proximity_weight > 0:
            combined = combined + s.proximity_weight * standardise(self.proximity_scores(query, rows))
        late_weight = s.late_mode_weight if late_mode else s.late_weight
        if late_weight > 0:
            combined = combined + late_weight * standardise(self.late_scores(query, rows))
        order = np.argsort(-combined, kind="stable")
        return [Scored(rows[i], float(combined[i])) for i in order]

    def proximity_scores(self, query: Query, rows: list[int]) -> Any:
        """Term proximity at the sentence level: for each passage, the most that one of its
        sentences holds of the question's BM25 terms, each counted once at idf x its query
        weight (expansion's at theirs), as the answer sentence is scored."""
        import numpy as np

        terms = query.term_weights
        return np.array([max((sum(terms.get(t, 0.0) for t in stems)
                              for stems in self.cache.sentence_stems(r)), default=0.0)
                         for r in rows], dtype=np.float64)

    def late_scores(self, query: Query, rows: list[int]) -> Any:
        """Late interaction: for each word piece of the question its best cosine among a
        passage's contextual token vectors (stored at build time, from the passage read with
        its context line), averaged with weights by how rare the piece is among the passages
        (BM25's idf). A second look, word by word, at the passages fusion ranked highest."""
        import numpy as np

        tokens = query.tokens or self._encoder().tokens([query.text])[0]
        df = self.index.wordpiece_df
        n = self.index.passage_count
        got = np.clip(df[np.clip(tokens.ids, 0, len(df) - 1)], 0, n).astype(np.float64)
        weights = np.log((n - got + 0.5) / (got + 0.5) + 1.0) * tokens.content
        out = np.zeros(len(rows))
        if not weights.sum() > 0:
            return out
        weights /= weights.sum()
        self.cache.prefetch_tokens(rows)
        stored = [self.cache.token_vectors(r) for r in rows]
        held = [i for i, v in enumerate(stored) if len(v)]
        if not held:
            return out
        # one product for all the passages, then each passage's best match per question piece
        sims = tokens.vectors @ np.concatenate([stored[i] for i in held]).T
        starts = np.cumsum([0] + [len(stored[i]) for i in held[:-1]])
        best = np.maximum.reduceat(sims, starts, axis=1)
        out[held] = weights @ best
        return out

    def cross_encode(self, query: Query, ranked: list[Scored], depth: int) -> list[Scored]:
        """The first `rescore_depth` of `ranked` re-ordered by the cross-encoder's score; the
        rest keep their order beneath them."""
        import numpy as np

        if self._cross_encoder is None:
            from .cross_encoder import CrossEncoderModel

            assert self.settings.reranker is not None
            self._cross_encoder = CrossEncoderModel(self.settings.reranker)
        head = ranked[: max(self.settings.rescore_depth, 1)]
        scores = self._cross_encoder.scores(query.text,
                                            [self.index.chunks[r].text for r, _ in head])
        order = np.argsort(-scores, kind="stable")
        return splice([Scored(head[i].row, float(scores[i])) for i in order], ranked[len(head):],
                      depth)
