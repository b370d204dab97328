"""Question -> ranked, cited passages: dense (FAISS) and BM25 (with query expansion) scores fused,
the head re-scored by term proximity and late interaction (and re-ordered by a local
cross-encoder if the user has one),
syndicated copies folded into one result, the answering sentences marked. Writes no files."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import lexical, spelling
from .chunking import HEADING_JOIN, cited_path
from .config import Settings
from .embedding import Encoder
from .errors import UsageError
from .spelling import Correction
from .store import ChunkRecord, LoadedIndex

# hybrid: dense + BM25 (expanded), its head re-scored by term proximity and late interaction;
# late: the same, late interaction weighted more.
MODES = ("hybrid", "dense", "bm25", "late")
# How much worse an earlier-dated copy of a syndicated passage may score and still be the one
# cited, as a share of the spread of scores among the candidates looked at.
DUPLICATE_MARGIN = 0.1
# At most this many distinct words of a question are expanded (a question has a dozen or so).
EXPANSION_WORDS = 64
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Citation:
    """Where a passage stands: enough to open the file and find it."""

    source: str  # the path as the user would open it
    name: str  # the path inside the corpus
    title: str
    publisher: str
    date: str
    url: str
    start: int
    end: int
    page: int | None = None
    section: str = ""  # the headings the passage stands under, outermost first


@dataclass(frozen=True)
class Hit:
    """One result: a passage, its score and citation, copies elsewhere and what to read first."""

    rank: int
    score: float
    text: str
    citation: Citation
    heading: str = ""
    row: int = -1
    also_in: tuple[Citation, ...] = ()
    highlights: tuple[tuple[int, int], ...] = ()  # offsets within `text`

    def as_json(self) -> dict[str, Any]:
        c = self.citation
        return {
            "rank": self.rank, "score": round(self.score, 6), "text": self.text,
            "source": c.source, "title": c.title, "publisher": c.publisher, "date": c.date,
            "url": c.url, "start": c.start, "end": c.end, "page": c.page, "section": c.section,
            "also_in": [{"source": a.source, "title": a.title, "publisher": a.publisher,
                         "date": a.date, "start": a.start, "end": a.end, "page": a.page}
                        for a in self.also_in],
            "highlights": [list(h) for h in self.highlights],
        }


@dataclass(frozen=True)
class Answer:
    """The passages for a question, a one-line best answer and whether to trust them."""

    question: str
    hits: tuple[Hit, ...]
    confident: bool
    best_answer: str = ""
    top_similarity: float = 0.0
    # Words of the question that no source contains (after stemming): matched by meaning only.
    missing_words: tuple[str, ...] = ()
    # Mistyped words and what they were read as (see spelling.py); `question` is as typed.
    corrections: tuple[Correction, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"question": self.question, "confident": self.confident,
                "best_answer": self.best_answer, "missing_words": list(self.missing_words),
                "corrections": [c.as_json() for c in self.corrections],
                "results": [h.as_json() for h in self.hits]}


def display_path(corpus_dir: Path, name: str) -> str:
    """The source's path as the user would open it: relative to the working directory when the
    corpus is under it, else absolute."""
    full = (corpus_dir / name).absolute()
    try:
        return full.relative_to(Path(os.getcwd()).absolute()).as_posix()
    except ValueError:
        return full.as_posix()


def fold_words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower().replace("’", "'"))


def _shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = fold_words(text)
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def near_duplicate(a: set[tuple[str, ...]], b: set[tuple[str, ...]], threshold: float = 0.5) -> bool:
    """True when most of the shorter passage's 5-word runs also stand in the other."""
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= threshold


def _standardise(x: Any) -> Any:
    """z-scores (all zeros when the values do not vary)."""
    import numpy as np

    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def _splice(head: list[tuple[int, float]], rest: list[tuple[int, float]], depth: int
            ) -> list[tuple[int, float]]:
    """A re-scored head, then the rest in their own order with their scores shifted beneath the
    head's, so the scores still fall down the list."""
    if rest and head:
        shift = min(s for _, s in head) - rest[0][1] - 1.0
        rest = [(r, s + shift) for r, s in rest]
    return (head + rest)[:depth]


def _section(heading: str, title: str) -> str:
    """The passage's heading path as a reader would cite it."""
    return HEADING_JOIN.join(cited_path(heading, title))


def _date_key(date: str) -> str:
    """Sortable, with a partial date ('2023-03') taken as the end of its period; unknown last."""
    if not date:
        return "9999"
    parts = date.split("-")
    return "-".join(parts + ["12", "31"][len(parts) - 1 :]) if len(parts) < 3 else date


class Retriever:
    """Ranks the passages of one loaded index. The encoder is made on first use."""

    def __init__(self, settings: Settings, index: LoadedIndex,
                 encoder_factory: Callable[[], Encoder]) -> None:
        self.settings = settings
        self.index = index
        self._encoder_factory = encoder_factory
        self._encoder: Encoder | None = None
        self._shingle_cache: dict[int, set[tuple[str, ...]]] = {}
        self._sentence_stem_cache: dict[int, list[frozenset[str]]] = {}
        self._units_by_row: dict[int, list[int]] | None = None
        self._vectors: Any = None
        self._terms: tuple[list[str], list[str], Any] | None = None
        self._word_vectors: tuple[str, list[str], Any] | None = None
        self._expanded: tuple[str, dict[str, float]] | None = None
        self._read: dict[str, tuple[str, tuple[Correction, ...]]] = {}
        self._cross_encoder: Any = None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._encoder_factory()
        return self._encoder

    def _expansion_words(self, question: str) -> list[str]:
        """The question's words to expand: each is embedded at question time, so a pasted page
        (thousands of words) keeps only its first EXPANSION_WORDS distinct ones."""
        found = lexical.content_words(question, lexical.stopset(self.index.bm25))
        return sorted(list(dict.fromkeys(found))[:EXPANSION_WORDS])

    def encode_query(self, question: str) -> Any:
        """The question's vector; its words' vectors (for expansion) come from the same call."""
        words = self._expansion_words(question) if self.settings.expansion else []
        vecs = self.encoder.encode([question, *words])
        self._word_vectors = (question, words, vecs[1:])
        return vecs[:1]

    # -- ranking ----------------------------------------------------------------------------
    def dense_scores(self, qvec: Any) -> tuple[Any, float]:
        """Every passage's dense score (pooled from its vectors: its own and its sentences'),
        and the best single cosine. Exact for a flat index; with HNSW, passages not reached
        get -inf."""
        import numpy as np

        from .store import search_depth

        scores, rows = self.index.faiss_index.search(qvec, search_depth(self.index.faiss_index.ntotal))
        found = rows[0] >= 0
        owner, sim = self.index.owners[rows[0][found]], scores[0][found]
        n = len(self.index.chunks)
        best = np.full(n, -np.inf, dtype=np.float32)
        np.maximum.at(best, owner, sim)
        top = float(best.max()) if n else 0.0
        if self.settings.dense_pool == "max":
            return best, top
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
        return (best + second) / 2, top

    def bm25_scores(self, question: str, expand: bool = False) -> Any:
        """BM25 over the passages; with `expand`, query words also match their nearest corpus
        words (the model's vectors, stored at build time), at a discount."""
        extra = self._expansion(question) if expand else None
        return lexical.scores(self.index.bm25, question, len(self.index.chunks), extra,
                              function_words=not self.settings.query_stopwords)

    def _load_terms(self) -> tuple[list[str], list[str], Any]:
        from .store import load_terms

        if self._terms is None:
            self._terms = load_terms(self.index.path)
        return self._terms

    def read(self, question: str) -> tuple[str, tuple[Correction, ...]]:
        """The question as it is ranked: each word that no passage holds and that looks mistyped
        (spelling.py) read as the nearest corpus or English word; and those corrections."""
        if not self.settings.spelling:
            return question, ()
        if question in self._read:
            return self._read[question]
        typos = [w for w in self.missing_words(question)[: spelling.MOST_CHECKED]
                 if spelling.may_be_typo(w)][: spelling.MOST_WORDS]
        fixes: list[Correction] = []
        if typos:
            words = self._load_terms()[0]
            tables = self.index.bm25

            def frequency(word: str) -> int:
                stems = lexical.tokenize(word, frozenset())
                return lexical.document_frequency(tables, stems[0]) if stems else 0

            lead = _WORD.search(question)
            first = lead.group() if lead else ""
            for w in typos:
                fixed = spelling.suggest(w, words, frequency,
                                         name=spelling.looks_like_name(w, first=w == first))
                if fixed is not None:
                    fixes.append(Correction(w, spelling.match_case(fixed, w)))
        read = (spelling.apply(question, fixes), tuple(fixes))
        # the read question reads as itself; only the last few questions are kept
        if len(self._read) > 16:
            self._read.clear()
        self._read[question] = read
        self._read.setdefault(read[0], (read[0], ()))
        return read

    def _expansion(self, question: str) -> dict[str, float]:
        """{stem: weight} that expansion adds to the question's BM25 query (kept for the last
        question: ranking and marking the answer both need it)."""
        if self._expanded is not None and self._expanded[0] == question:
            return self._expanded[1]
        terms = self._load_terms()
        words = self._expansion_words(question)
        extra: dict[str, float] = {}
        if words and terms[0]:
            cached = self._word_vectors
            vecs = (cached[2] if cached and cached[:2] == (question, words)
                    else self.encoder.encode(words))
            absent = (frozenset(w.lower() for w in self.missing_words(question))
                      if self.settings.absent_expansion else frozenset())
            extra = lexical.neighbours(words, vecs, terms[2], terms[1], absent,
                                       lexical.function_stems(self.index.bm25))
        self._expanded = (question, extra)
        return extra

    def late_scores(self, question: str, rows: list[int]) -> Any:
        """Late interaction: for each word piece of the question its best cosine among a
        passage's contextual token vectors (stored at build time, from the passage read with
        its context line as its vector reads it), averaged with weights by how rare the piece
        is among the passages (BM25's idf). A second look at the few passages fusion ranked
        highest, on the words themselves rather than one vector per passage."""
        import numpy as np

        query = self.encoder.tokens([question])[0]
        df = self.index.wordpiece_df
        n = len(self.index.chunks)
        got = np.clip(df[np.clip(query.ids, 0, len(df) - 1)], 0, n).astype(np.float64)
        weights = np.log((n - got + 0.5) / (got + 0.5) + 1.0) * query.content
        if not weights.sum() > 0:
            return np.zeros(len(rows))
        weights /= weights.sum()
        out = np.zeros(len(rows))
        for i, r in enumerate(rows):
            vecs = self.index.passage_tokens(r)  # stored at build time
            if len(vecs):
                out[i] = float(weights @ (query.vectors @ vecs.T.astype(np.float32)).max(axis=1))
        return out

    def _sentence_stems(self, row: int) -> list[frozenset[str]]:
        """The BM25 stems of each sentence of passage `row` (the whole passage where it is one
        sentence)."""
        from .chunking import sentence_spans

        if row not in self._sentence_stem_cache:
            if len(self._sentence_stem_cache) > 4096:  # bound what a long evaluation holds
                self._sentence_stem_cache.clear()
            text = self.index.chunks[row].text
            stops = lexical.stopset(self.index.bm25)
            spans = sentence_spans(text, min_chars=1) or [(0, len(text))]
            self._sentence_stem_cache[row] = [frozenset(lexical.tokenize(text[s:e], stops))
                                              for s, e in spans]
        return self._sentence_stem_cache[row]

    def proximity_scores(self, question: str, rows: list[int]) -> Any:
        """Term proximity at the sentence level: for each passage, the most that one of its
        sentences holds of the question's BM25 terms, each counted once at idf x its query
        weight (expansion stems at theirs), as the answer sentence is scored."""
        import numpy as np

        terms = self._sentence_terms(question)
        return np.array([max((sum(terms.get(t, 0.0) for t in stems)
                              for stems in self._sentence_stems(r)), default=0.0)
                         for r in rows], dtype=np.float64)

    def head(self, question: str, fused: Any, late: bool = False) -> list[tuple[int, float]]:
        """The best `rerank_depth` passages by fused score, re-scored: their fused score plus
        `proximity_weight` x the proximity score and `late_weight` x the late-interaction score
        (`late_weight` + `rerank_weight` in late mode), each standardised among them. The
        scores stay comparable within one question only."""
        import numpy as np

        depth = min(self.settings.rerank_depth, len(fused))
        head = [int(r) for r in np.argsort(-fused, kind="stable")[:depth] if np.isfinite(fused[r])]
        if len(head) < 2:
            return [(r, float(fused[r])) for r in head]
        combined = _standardise(fused[head])
        if self.settings.proximity_weight > 0:
            combined = combined + self.settings.proximity_weight * _standardise(
                self.proximity_scores(question, head))
        late_weight = self.settings.late_weight + (self.settings.rerank_weight if late else 0.0)
        if late_weight > 0:
            combined = combined + late_weight * _standardise(self.late_scores(question, head))
        order = np.argsort(-combined, kind="stable")
        return [(head[i], float(combined[i])) for i in order]

    @staticmethod
    def _top(scores: Any, depth: int, positive: bool = False) -> list[tuple[int, float]]:
        import numpy as np

        order = np.argsort(-scores, kind="stable")[:depth]
        return [(int(r), float(scores[r])) for r in order
                if np.isfinite(scores[r]) and (scores[r] > 0 or not positive)]

    def dense(self, qvec: Any, depth: int) -> list[tuple[int, float]]:
        """Passages by their pooled dense score, best first."""
        return self._top(self.dense_scores(qvec)[0], depth)

    def bm25(self, question: str, depth: int) -> list[tuple[int, float]]:
        return self._top(self.bm25_scores(question), depth, positive=True)

    def fuse(self, dense: Any, lex: Any) -> Any:
        """Hybrid score: a weighted sum of the two scores standardised over the passages
        (z-scores), or reciprocal-rank fusion when the settings ask for it."""
        import numpy as np

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
        return w * _standardise(d) + (1 - w) * _standardise(lex)

    def regularise(self, fused: Any) -> Any:
        """Score regularisation (Diaz, 2005; the cluster hypothesis): the fused scores as
        z-scores, each plus `regularise_weight` x the cosine-weighted mean z-score of the
        passage's nearest passages from other sources. A passage whose neighbours also match the
        question gains a little; one with no neighbour keeps its own score as their mean."""
        import numpy as np

        weight = self.settings.regularise_weight
        rows, sims = self.index.neighbours, self.index.neighbour_sims
        if weight <= 0 or len(fused) < 2 or not rows.size:
            return fused
        z = _standardise(fused)
        sims = np.where(rows >= 0, sims.astype(np.float64), 0.0)
        total = sims.sum(axis=1)
        mean = (sims * z[np.where(rows >= 0, rows, 0)]).sum(axis=1) / np.where(total > 0, total, 1)
        return z + weight * np.where(total > 0, mean, z)

    def rank(self, question: str, mode: str = "hybrid", depth: int = 100,
             qvec: Any = None) -> tuple[list[tuple[int, float]], float]:
        """(row, score) best first, and the best dense cosine (for confidence). The question
        is read with its typing errors corrected (`read`); `qvec`, if given, must be of that."""
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
        n = len(self.index.chunks)
        if n == 0:
            return [], 0.0
        question = self.read(question)[0]
        depth = min(max(depth, 1), n)
        ranked, top_sim = self._rank_mode(question, mode, depth, qvec)
        if self.settings.reranker is not None and ranked:
            ranked = self.cross_rerank(question, ranked, depth)
        return ranked, top_sim

    def _rank_mode(self, question: str, mode: str, depth: int,
                   qvec: Any) -> tuple[list[tuple[int, float]], float]:
        if mode == "bm25":
            return self.bm25(question, depth), 0.0
        dense, top_sim = self.dense_scores(qvec if qvec is not None else self.encode_query(question))
        if mode == "dense":
            return self._top(dense, depth), top_sim
        fused = self.regularise(
            self.fuse(dense, self.bm25_scores(question, expand=self.settings.expansion)))
        if self.settings.rerank_depth <= 1 or (mode == "hybrid" and self.settings.proximity_weight <= 0
                                               and self.settings.late_weight <= 0):
            return self._top(fused, depth), top_sim
        head = self.head(question, fused, late=mode == "late")
        taken = {r for r, _ in head}
        rest = [(r, s) for r, s in self._top(fused, depth + len(head)) if r not in taken]
        return _splice(head, rest, depth), top_sim

    def cross_rerank(self, question: str, ranked: list[tuple[int, float]], depth: int
                     ) -> list[tuple[int, float]]:
        """The first `rerank_depth` of `ranked` re-ordered by the cross-encoder's score; the rest
        keep their order beneath them."""
        import numpy as np

        if self._cross_encoder is None:
            from .rerank import CrossEncoderReranker

            assert self.settings.reranker is not None
            self._cross_encoder = CrossEncoderReranker(self.settings.reranker)
        head = ranked[: max(self.settings.rerank_depth, 1)]
        scores = self._cross_encoder.scores(question, [self.index.chunks[r].text for r, _ in head])
        order = np.argsort(-scores, kind="stable")
        return _splice([(head[i][0], float(scores[i])) for i in order], ranked[len(head):], depth)

    def citation(self, rec: ChunkRecord) -> Citation:
        src = self.index.sources.get(rec.source, {})
        return Citation(
            source=display_path(self.settings.corpus_dir, rec.source), name=rec.source,
            title=src.get("title", rec.source), publisher=src.get("publisher", ""),
            date=src.get("date", ""), url=src.get("url", ""), start=rec.start, end=rec.end,
            page=rec.page, section=_section(rec.heading, src.get("title", "")),
        )

    def _shingles_of(self, row: int) -> set[tuple[str, ...]]:
        if row not in self._shingle_cache:
            self._shingle_cache[row] = _shingles(self.index.chunks[row].text)
        return self._shingle_cache[row]

    def _neighbours(self, a: int, b: int) -> bool:
        """Two passages of one source whose character ranges overlap: neighbours sharing the
        sentence the chunker repeats between them, each with text of its own, not copies."""
        ca, cb = self.index.chunks[a], self.index.chunks[b]
        return ca.source == cb.source and ca.start < cb.end and cb.start < ca.end

    def select(self, ranked: list[tuple[int, float]], k: int, dedup: bool = True
               ) -> list[tuple[int, float, list[int]]]:
        """The top k distinct passages: near-duplicates fold into the first one's group, which
        is then shown from its earliest-dated source."""
        groups: list[tuple[int, float, list[int]]] = []
        # Look a little past the k-th result so that copies of what is shown are listed too, and
        # on until k distinct passages are found where copies fill the head of the ranking.
        limit = min(len(ranked), max(3 * k, k + 20)) if dedup else min(len(ranked), k)
        looked = 0
        for row, score in ranked:
            if looked >= limit and len(groups) >= k:
                break
            looked += 1
            if dedup:
                sh = self._shingles_of(row)
                home = next((g for g in groups
                             if any(near_duplicate(sh, self._shingles_of(m))
                                    and not self._neighbours(row, m) for m in [g[0], *g[2]])),
                            None)
                if home is not None:
                    home[2].append(row)
                    continue
            if len(groups) < k:
                groups.append((row, score, []))
        out = []
        scores = dict(ranked[:looked])
        spread = (max(scores.values()) - min(scores.values())) if scores else 0.0
        for row, score, others in groups:
            # Cite the earliest-dated copy, unless it matches the question clearly worse than the
            # best one (its passage may be cut differently and miss the answer).
            members = [m for m in [row, *others] if scores[m] >= score - DUPLICATE_MARGIN * spread]
            srcs = self.index.sources
            best = min(members, key=lambda m: (_date_key(srcs.get(self.index.chunks[m].source, {})
                                                         .get("date", "")), members.index(m)))
            members = [row, *others]
            rest = [m for m in members if m != best]
            seen = {self.index.chunks[best].source}
            uniq = []
            for m in rest:
                if self.index.chunks[m].source not in seen:
                    seen.add(self.index.chunks[m].source)
                    uniq.append(m)
            out.append((best, score, uniq))
        return out

    def ask(self, question: str, k: int = 5, mode: str | None = None, highlight: bool = True
            ) -> Answer:
        """The k best distinct passages for `question`, cited, with the answer marked."""
        mode = mode or self.settings.mode
        typed = question
        question, corrections = self.read(question) if self.index.chunks else (question, ())
        qvec = self.encode_query(question) if mode != "bm25" else None
        depth = max(100, 4 * k)
        ranked, top_sim = self.rank(question, mode, depth=depth, qvec=qvec)
        if mode == "bm25":
            qvec = self.encode_query(question)
            top_sim = self.dense_scores(qvec)[1] if self.index.chunks else 0.0
        chosen = self.select(ranked, k)
        if len(chosen) < k and len(ranked) >= depth < len(self.index.chunks):
            # Copies of one passage filled the ranking's head: look through all of it.
            ranked = self.rank(question, mode, depth=len(self.index.chunks), qvec=qvec)[0]
            chosen = self.select(ranked, k)
        hits = []
        for i, (row, score, others) in enumerate(chosen):
            rec = self.index.chunks[row]
            hits.append(Hit(rank=i + 1, score=score, text=rec.text, citation=self.citation(rec),
                            heading=rec.heading, row=row,
                            also_in=tuple(self.citation(self.index.chunks[m]) for m in others)))
        best = ""
        if highlight and hits:
            hits, best = self._highlight(question, qvec, hits)
        confident = top_sim >= self.settings.confidence_threshold
        return Answer(typed, tuple(hits), confident, best, top_sim, self.missing_words(question),
                      corrections)

    def missing_words(self, question: str) -> tuple[str, ...]:
        """The question's words (not function words or numbers) that occur in no passage, even
        after stemming, in the order asked: what a search engine would list as "missing". The
        passages can still match them by meaning; if the question's subject is among them, the
        corpus probably does not answer it."""
        tables = self.index.bm25
        words: dict[str, str] = {}  # each word once, as first typed
        for w in lexical.content_words(question, lexical.stopset(tables, "query_stopwords"), lower=False):
            words.setdefault(w.lower(), w)
        out = []
        for w in words.values():
            stems = lexical.tokenize(w, frozenset())  # lower-casing may split a word ("İ")
            if stems and not any(st in tables["vocab"] for st in stems):
                out.append(w)
        return tuple(out)

    def _sentence_vectors(self, row: int) -> list[tuple[int, int, Any]]:
        """(start, end) within the passage and the stored vector of each of its sentences."""
        if self._units_by_row is None:
            self._units_by_row = {}
            base = len(self.index.chunks)
            for i, u in enumerate(self.index.units):
                self._units_by_row.setdefault(int(u[0]), []).append(base + i)
        if not self._units_by_row.get(row):
            return []
        if self._vectors is None:
            from .store import load_embeddings

            self._vectors = load_embeddings(self.index.path)
        start = self.index.chunks[row].start
        return [(self.index.units[i - len(self.index.chunks)][1] - start,
                 self.index.units[i - len(self.index.chunks)][2] - start, self._vectors[i])
                for i in self._units_by_row[row]]

    def _sentence_terms(self, question: str) -> dict[str, float]:
        """{stem: weight x idf} for the stems the question's BM25 query counts (its own at 1,
        expansion's at their weight, as ranking counts them), idf over the passages by Lucene's
        formula, as bm25s computes it."""
        terms = {t: 1.0 for t in lexical.query_tokens(
            self.index.bm25, question, function_words=not self.settings.query_stopwords)}
        if self.settings.expansion:
            for stem, w in self._expansion(question).items():
                terms[stem] = max(terms.get(stem, 0.0), w)
        n = len(self.index.chunks)
        return {t: w * lexical.idf(self.index.bm25, t, n) for t, w in terms.items()}

    def _highlight(self, question: str, qvec: Any, hits: list[Hit]) -> tuple[list[Hit], str]:
        """Mark the sentence(s) of each passage that best answer the question, and take the
        best of the first passage as the one-line answer. Sentences are scored as passages
        are: their cosine to the question (from the vectors stored at index time; encoded now
        where the index has none) fused with a lexical score, the idf of the question's terms
        each holds, by the same weights. The marks are that sentence and, where another is
        nearer the question by cosine (or within 0.03 of it), that one too.

        A sentence that only restates the question (no content word beyond the question's own
        and expansion's: "Protecting our security interests.") is not chosen while another
        says something more; and a lead-in ending in a colon is marked, and answers, with what
        it introduces."""
        import numpy as np

        from .chunking import sentence_spans

        out = []
        best_text = ""
        terms = self._sentence_terms(question)
        stops = lexical.stopset(self.index.bm25)
        function_words = lexical.stopset(self.index.bm25, "query_stopwords")
        # the question's own stems and expansion's: `terms` holds them all (the query's
        # function-word list contains the index's stopwords, so no question stem is missing)
        asked = set(terms)
        w = self.settings.dense_weight
        for i, h in enumerate(hits):
            stored = self._sentence_vectors(h.row)
            if stored:
                spans = [(s, e) for s, e, _ in stored]
                vecs = np.stack([v for _, _, v in stored])
            else:
                # a passage of one sentence has no sentence spans of its own: it is the answer
                lead = len(h.text) - len(h.text.lstrip())
                whole = [(lead, len(h.text.rstrip()))] if h.text.strip() else []
                spans = sentence_spans(h.text, min_chars=1) or whole
                if not spans:
                    out.append(h)
                    continue
                vecs = self.encoder.encode([h.text[s:e] for s, e in spans])
            sims = np.asarray(vecs, dtype=np.float32) @ qvec[0]
            lex = np.array([sum(terms.get(t, 0.0) for t in set(lexical.tokenize(h.text[s:e], stops)))
                            for s, e in spans], dtype=np.float32)
            score = w * _standardise(sims) + (1 - w) * _standardise(lex)
            says_more = np.array([bool(set(lexical.tokenize(h.text[s:e], function_words)) - asked)
                                  for s, e in spans])
            if says_more.any():
                score = np.where(says_more, score, -np.inf)
            top = int(np.argmax(score))
            near = [j for j in range(len(spans)) if j != top and np.isfinite(score[j])
                    and sims[j] >= sims[top] - 0.03 and sims[j] > 0.2]
            answer = [top]
            while h.text[slice(*spans[answer[-1]])].rstrip().endswith(":") and answer[-1] + 1 < len(spans):
                answer.append(answer[-1] + 1)
            marks = [*answer, *sorted(near, key=lambda j: -sims[j])[:1]]
            ranges = tuple(sorted(set(spans[j] for j in marks)))
            out.append(Hit(h.rank, h.score, h.text, h.citation, h.heading, h.row, h.also_in, ranges))
            # The one-line answer: the best sentence of the first passage. The ranking, which
            # weighs the words as well as the meaning, chooses the passage better than one
            # sentence's cosine does (eval: answer_line 60 -> 64 of 100, when the best sentence
            # of the top three passages was taken, the first favoured by 0.05); within it, the
            # words weighed with the meaning choose the sentence better than the cosine alone
            # (answer_line 180 -> 188 of 267, then 14 -> 17 of 20 on a blind batch).
            if i == 0:
                best_text = " ".join(h.text[slice(*spans[j])] for j in answer)
        return out, " ".join(best_text.split()).lstrip("•·-–*▪◦ ")
