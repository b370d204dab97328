"""From ranked passages to what the reader sees: syndicated copies folded into one result that
cites the earliest-dated source, each result cited (title, publisher, date, file, range, page,
section), and the sentences that answer the question marked, the best of the first passage
given as a one-line answer."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from . import lexical
from .chunking import HEADING_JOIN, cited_path, sentence_spans
from .config import Settings
from .embedding import Encoder
from .index_cache import IndexCache
from .question import Query
from .ranking import Scored, standardise
from .scope import Scope
from .spelling import Correction
from .store import ChunkRecord

# How much worse an earlier-dated copy of a syndicated passage may score and still be the one
# cited, as a share of the spread of scores among the candidates looked at.
DUPLICATE_MARGIN = 0.1
# Two passages are copies when this share of the shorter one's 5-word runs stand in the other.
COPY_SHARE = 0.5
# A sentence nearer the question by cosine than the chosen one (or within this of it) is marked.
NEAR_COSINE = 0.03
MOST_PASSAGES_KEPT = 4096  # passages whose sentences are kept read for marking answers
# The notes name at most this many missing words (a pasted page can have thousands; the JSON's
# missing_words keeps them all), each cut to WORD_SHOWN characters.
MISSING_SHOWN = 12
WORD_SHOWN = 40
LOW_CONFIDENCE = ("Nothing in the corpus clearly answers this question; the nearest passages are "
                  "below.")


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

    def as_json(self) -> dict[str, Any]:
        """The fields `also_in` lists for a copy."""
        return {"source": self.source, "name": self.name, "title": self.title,
                "publisher": self.publisher, "date": self.date, "start": self.start,
                "end": self.end, "page": self.page}


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
            "source": c.source, "name": c.name, "title": c.title, "publisher": c.publisher, "date": c.date,
            "url": c.url, "start": c.start, "end": c.end, "page": c.page, "section": c.section,
            "also_in": [a.as_json() for a in self.also_in],
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

    def notes(self) -> list[tuple[str, str]]:
        """(kind, text) of what a reader must know before the passages, in the words every
        front end shows: low confidence, corrections, words no source holds."""
        def word(w: str) -> str:
            return w if len(w) <= WORD_SHOWN else w[:WORD_SHOWN - 1] + "…"

        out = []
        if self.hits and not self.confident:
            out.append(("low-confidence", LOW_CONFIDENCE))
        if self.corrections:
            read = "; ".join(f"“{word(c.typed)}” as “{word(c.read_as)}”" for c in self.corrections)
            out.append(("corrections", f"Read {read} (no source has the word as typed)."))
        if self.missing_words:
            shown = [word(w) for w in self.missing_words[:MISSING_SHOWN]]
            more = len(self.missing_words) - len(shown)
            out.append(("missing-words", "Not in any source: " + ", ".join(shown)
                        + (f" and {more} more" if more else "") + " (matched by meaning only)"))
        return out

    def as_json(self) -> dict[str, Any]:
        return {"question": self.question, "confident": self.confident,
                "best_answer": self.best_answer, "missing_words": list(self.missing_words),
                "corrections": [c.as_json() for c in self.corrections],
                "notes": [{"kind": k, "text": t} for k, t in self.notes()],
                "results": [h.as_json() for h in self.hits]}


def ask_json(answer: Answer, typed: str | None = None, stale: bool = False,
             scope: Scope | None = None) -> dict[str, Any]:
    """The JSON of `itsqa ask --json` (docs/json.md), as the CLI, the HTTP API and the MCP server
    give it: the question as typed (valid UTF-8), whether the index was stale, and the scope."""
    out = answer.as_json()
    out["question"] = shown_question(answer.question if typed is None else typed)
    out["stale"] = stale
    out["scope"] = scope.as_json() if scope is not None and scope.narrows else None
    return out


def shown_question(typed: str) -> str:
    """The question as typed, for JSON: bytes that were not valid in the terminal's encoding
    (lone surrogates here) become U+FFFD."""
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in typed)


def answer_from_json(found: dict[str, Any]) -> Answer:
    """An Answer read back from the JSON of `ask_json` (a running server's), for printing."""
    def cite(c: dict[str, Any]) -> Citation:
        return Citation(c["source"], c["name"], c["title"], c["publisher"], c["date"],
                        c.get("url", ""), int(c["start"]), int(c["end"]), c.get("page"),
                        c.get("section", ""))

    hits = tuple(Hit(int(h["rank"]), float(h["score"]), h["text"], cite(h),
                     also_in=tuple(cite(a) for a in h["also_in"]),
                     highlights=tuple((int(a), int(b)) for a, b in h["highlights"]))
                 for h in found["results"])
    return Answer(found["question"], hits, bool(found["confident"]), found.get("best_answer", ""),
                  missing_words=tuple(found.get("missing_words", [])),
                  corrections=tuple(Correction(c["typed"], c["read_as"])
                                    for c in found.get("corrections", [])))


class _Sentences(NamedTuple):
    """A passage's sentences as the answer sentence is chosen among them."""

    spans: list[tuple[int, int]]  # within the passage
    vectors: Any  # float32, one per sentence
    stems: list[frozenset[str]]  # BM25's stems (its stopwords left out)
    content: list[frozenset[str]]  # stems that are not a question's function words


class Group(NamedTuple):
    """A result before citing: the passage shown, its score, and its copies in other sources."""

    row: int
    score: float
    copies: list[int]


def display_path(corpus_dir: Path, name: str) -> str:
    """The source's path as the user would open it: relative to the working directory when the
    corpus is under it, else absolute."""
    full = (corpus_dir / name).absolute()
    try:
        return full.relative_to(Path(os.getcwd()).absolute()).as_posix()
    except ValueError:
        return full.as_posix()


def near_duplicate(a: set[tuple[str, ...]], b: set[tuple[str, ...]],
                   threshold: float = COPY_SHARE) -> bool:
    """True when most of the shorter passage's 5-word runs also stand in the other."""
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= threshold


def date_key(date: str) -> str:
    """Sortable, with a partial date ('2023-03') taken as the end of its period; unknown last."""
    if not date:
        return "9999"
    parts = date.split("-")
    return "-".join(parts + ["12", "31"][len(parts) - 1 :]) if len(parts) < 3 else date


class AnswerBuilder:
    """Turns one index's ranked passages into cited, highlighted results."""

    def __init__(self, settings: Settings, cache: IndexCache,
                 encoder: Callable[[], Encoder]) -> None:
        self.settings = settings
        self.cache = cache
        self.index = cache.index
        self._encoder = encoder
        self._sentence_cache: dict[int, _Sentences | None] = {}

    # -- folding copies ----------------------------------------------------------------------
    def _overlapping(self, a: int, b: int) -> bool:
        """Two passages of one source whose character ranges overlap: consecutive passages
        sharing the sentence the chunker repeats between them, each with text of its own."""
        ca, cb = self.index.chunks[a], self.index.chunks[b]
        return ca.source == cb.source and ca.start < cb.end and cb.start < ca.end

    def _copy_group(self, row: int, groups: list[Group]) -> Group | None:
        """The group whose passages `row` is a copy of, if any."""
        sh = self.cache.shingles(row)
        return next((g for g in groups
                     if any(near_duplicate(sh, self.cache.shingles(m))
                            and not self._overlapping(row, m) for m in [g.row, *g.copies])), None)

    def distinct(self, ranked: list[Scored], k: int, fold: bool = True) -> list[Group]:
        """The top `k` distinct passages: near-duplicates fold into the first one's group, which
        is then shown from its earliest-dated source."""
        groups: list[Group] = []
        # Look a little past the k-th result so that copies of what is shown are listed too, and
        # on until k distinct passages are found where copies fill the head of the ranking.
        limit = min(len(ranked), max(3 * k, k + 20)) if fold else min(len(ranked), k)
        looked = 0
        for row, score in ranked:
            if looked >= limit and len(groups) >= k:
                break
            looked += 1
            home = self._copy_group(row, groups) if fold else None
            if home is not None:
                home.copies.append(row)
            elif len(groups) < k:
                groups.append(Group(row, score, []))
        scores = dict(ranked[:looked])
        spread = (max(scores.values()) - min(scores.values())) if scores else 0.0
        return [self._cite_earliest(g, scores, spread) for g in groups]

    def _cite_earliest(self, group: Group, scores: dict[int, float], spread: float) -> Group:
        """The group shown from its earliest-dated copy, unless that one matches the question
        clearly worse than the best (its passage may be cut differently and miss the answer);
        the other copies listed once per source."""
        chunks, srcs = self.index.chunks, self.index.sources
        members = [group.row, *group.copies]
        eligible = [m for m in members if scores[m] >= group.score - DUPLICATE_MARGIN * spread]
        best = min(eligible, key=lambda m: (date_key(srcs.get(chunks[m].source, {}).get("date", "")),
                                            eligible.index(m)))
        seen = {chunks[best].source}
        copies = []
        for m in members:
            if m != best and chunks[m].source not in seen:
                seen.add(chunks[m].source)
                copies.append(m)
        return Group(best, group.score, copies)

    # -- citing ------------------------------------------------------------------------------
    def citation(self, rec: ChunkRecord) -> Citation:
        """Where passage `rec` stands, with its source's metadata."""
        src = self.index.sources.get(rec.source, {})
        title = src.get("title", rec.source)
        return Citation(
            source=display_path(self.settings.corpus_dir, rec.source), name=rec.source,
            title=title, publisher=src.get("publisher", ""), date=src.get("date", ""),
            url=src.get("url", ""), start=rec.start, end=rec.end, page=rec.page,
            section=HEADING_JOIN.join(cited_path(rec.heading, src.get("title", ""))),
        )

    def hits(self, groups: list[Group]) -> list[Hit]:
        """The groups as cited results, ranked from 1."""
        chunks = self.index.chunks
        return [Hit(rank=i + 1, score=g.score, text=chunks[g.row].text,
                    citation=self.citation(chunks[g.row]), heading=chunks[g.row].heading,
                    row=g.row, also_in=tuple(self.citation(chunks[m]) for m in g.copies))
                for i, g in enumerate(groups)]

    # -- marking the answer ------------------------------------------------------------------
    def highlight(self, query: Query, hits: list[Hit]) -> tuple[list[Hit], str]:
        """Mark the sentence(s) of each passage that best answer the question, and take the
        best of the first passage as the one-line answer (see `_marks`)."""
        out = []
        best_text = ""
        for i, h in enumerate(hits):
            found = self._marks(query, h)
            if found is None:
                out.append(h)
                continue
            ranges, answer = found
            out.append(Hit(h.rank, h.score, h.text, h.citation, h.heading, h.row, h.also_in,
                           ranges))
            # The one-line answer: the best sentence of the first passage (the ranking, which
            # weighs the words as well as the meaning, chooses the passage better than one
            # sentence's cosine does).
            if i == 0:
                best_text = " ".join(h.text[s:e] for s, e in answer)
        return out, " ".join(best_text.split()).lstrip("•·-–*▪◦ ")

    def _sentences(self, h: Hit) -> _Sentences | None:
        """The passage's sentences (kept per passage: they do not depend on the question)."""
        if h.row not in self._sentence_cache:
            if len(self._sentence_cache) > MOST_PASSAGES_KEPT:
                self._sentence_cache.clear()
            self._sentence_cache[h.row] = self._read_sentences(h)
        return self._sentence_cache[h.row]

    def _read_sentences(self, h: Hit) -> _Sentences | None:
        """The passage's sentence spans, their vectors (stored at index time, else, for a
        passage of one sentence, encoded now) and their stems without stopwords and without
        a question's function words. None for an empty passage."""
        import numpy as np

        stored = self.cache.sentence_vectors(h.row)
        if stored:
            spans = [(s, e) for s, e, _ in stored]
            vecs = np.stack([v for _, _, v in stored])
        else:
            lead = len(h.text) - len(h.text.lstrip())
            whole = [(lead, len(h.text.rstrip()))] if h.text.strip() else []
            spans = sentence_spans(h.text, min_chars=1) or whole
            if not spans:
                return None
            vecs = self._encoder().encode([h.text[s:e] for s, e in spans])
        tables = self.index.bm25
        return _Sentences(spans, np.asarray(vecs, dtype=np.float32),
                          [frozenset(lexical.tokenize(h.text[s:e], tables.stopwords))
                           for s, e in spans],
                          [frozenset(lexical.tokenize(h.text[s:e], tables.query_stopwords))
                           for s, e in spans])

    def _marks(self, query: Query, h: Hit
               ) -> tuple[tuple[tuple[int, int], ...], list[tuple[int, int]]] | None:
        """(the ranges to mark, the answer's ranges) for one passage. Sentences are scored as
        passages are: their cosine to the question fused with the idf of the question's terms
        each holds. A sentence that only restates the question (no content word beyond the
        question's own and expansion's) is not chosen while another says something more; a
        lead-in ending in a colon answers with what it introduces; and the sentence nearest
        the question by cosine is marked too where it is another."""
        import numpy as np

        found = self._sentences(h)
        if found is None:
            return None
        spans, terms = found.spans, query.term_weights
        sims = found.vectors @ query.vector[0]
        lex = np.array([sum(terms.get(t, 0.0) for t in stems) for stems in found.stems],
                       dtype=np.float32)
        w = self.settings.dense_weight
        score = w * standardise(sims) + (1 - w) * standardise(lex)
        says_more = np.array([bool(content - terms.keys()) for content in found.content])
        if says_more.any():
            score = np.where(says_more, score, -np.inf)
        best = int(np.argmax(score))
        near = [j for j in range(len(spans)) if j != best and np.isfinite(score[j])
                and sims[j] >= sims[best] - NEAR_COSINE and sims[j] > 0.2]
        answer = [best]
        while (h.text[slice(*spans[answer[-1]])].rstrip().endswith(":")
               and answer[-1] + 1 < len(spans)):
            answer.append(answer[-1] + 1)
        marks = [*answer, *sorted(near, key=lambda j: -sims[j])[:1]]
        return tuple(sorted(set(spans[j] for j in marks))), [spans[j] for j in answer]
