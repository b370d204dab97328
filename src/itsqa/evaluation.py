"""Question sets -> metrics, as report objects: loading a set, judging each returned passage by
its evidence phrases, hit@k, MRR@10, nDCG@10, recall@k, confidence and the marked answer. Prints
nothing; `cli_eval.py` formats the reports. BEIR collections are beir.py's."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import QuestionSetError
from .stats import bootstrap_interval

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "′": "'"})


def fold(text: str) -> str:
    """NFKC ("ﬁ" as "fi"); lower case; curly apostrophes as straight ones; every run of characters
    other than letters, digits, £ and $ becomes one space. Letters outside a-z are kept as letters
    (é stays é)."""
    lowered = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    out = []
    for ch in lowered:
        out.append(ch if (ch.isalnum() or ch in "£$") else " ")
    return " ".join("".join(out).split())


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    evidence: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    answerable: bool = True
    kind: str = ""  # optional label ("direct", "paraphrase", ...) for a per-kind breakdown

    def relevant(self, text: str, source: str) -> bool:
        """A passage is relevant when it contains a folded evidence phrase, or, for a question
        judged only by sources, when it comes from one of them."""
        if self.evidence:
            f = fold(text)
            return any(fold(e) in f for e in self.evidence if fold(e))
        return any(Path(source).name == Path(s).name for s in self.sources)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError as exc:
        raise QuestionSetError(f"question set {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise QuestionSetError(f"question set {path} is a folder: give its .jsonl file (for a "
                               "BEIR dataset folder, use --beir)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"question set {path} cannot be read as UTF-8 text ({exc})") from exc


def _question(line: str, seen: set[str]) -> Question | str:
    """One line of a question set as a Question, or what is wrong with it."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        return f"not JSON ({exc.args[0] if exc.args else exc})"
    except RecursionError:
        return "nested too deeply to be a question"
    if not isinstance(obj, dict):
        return "expected an object"
    qid, q = obj.get("id"), obj.get("question")
    ev, srcs = obj.get("evidence", []), obj.get("sources", [])
    answerable, kind = obj.get("answerable", True), obj.get("kind", "")
    if not isinstance(qid, str) or not qid:
        return "\"id\" must be a non-empty string"
    if qid in seen:
        return f"duplicate id {qid!r}"
    if not isinstance(q, str) or not q.strip():
        return "\"question\" must be a non-empty string"
    if not isinstance(ev, list) or not all(isinstance(e, str) and fold(e) for e in ev):
        return "\"evidence\" must be a list of non-empty strings"
    if not isinstance(srcs, list) or not all(isinstance(s, str) for s in srcs):
        return "\"sources\" must be a list of file names"
    if not isinstance(answerable, bool):
        return "\"answerable\" must be true or false"
    if answerable and not ev and not srcs:
        return "an answerable question needs \"evidence\" or \"sources\""
    if not isinstance(kind, str):
        return "\"kind\" must be a string (\"direct\", \"paraphrase\" …)"
    return Question(qid, q, tuple(ev), tuple(srcs), answerable, kind)


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set (one object per line: id, question, evidence or sources,
    optionally answerable and kind).

    Raises:
        QuestionSetError: the file cannot be read, is empty, or has malformed lines (the first
            three named with their line numbers).
    """
    out: list[Question] = []
    errors: list[str] = []
    seen: set[str] = set()
    for n, line in enumerate(_read_lines(path), 1):
        if not line.strip():
            continue
        found = _question(line, seen)
        if isinstance(found, str):
            errors.append(f"line {n}: {found}")
        else:
            seen.add(found.id)
            out.append(found)
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise QuestionSetError(f"{path}: " + "; ".join(errors[:3]) + more)
    if not out:
        raise QuestionSetError(f"{path} holds no questions")
    return out


# -- metrics --------------------------------------------------------------------------------

def first_relevant_rank(rels: Sequence[bool]) -> int | None:
    return next((i + 1 for i, r in enumerate(rels) if r), None)


def hit_at(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg(gains: Sequence[float], ideal: Iterable[float], k: int = 10) -> float:
    """nDCG@k with linear gains (trec_eval's convention): sum gain_i / log2(i + 1)."""
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    best = sorted((g for g in ideal if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(best))
    return dcg / idcg if idcg > 0 else 0.0


@dataclass(frozen=True)
class Result:
    rank: int
    score: float
    text: str
    source: str
    start: int
    end: int
    title: str = ""
    relevant: bool = False
    # The marked answer sentences, as ranges of `text`; None when the ranker marks none.
    highlights: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True)
class Miss:
    """Why a question was missed at 5: what came first and where its evidence really is."""

    first: Result | None
    evidence: tuple[str, ...]  # one explanation line per evidence phrase


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    first_relevant_rank: int | None
    results: tuple[Result, ...]
    recall: float
    ndcg: float
    confident: bool
    miss: Miss | None = None
    # Whether an evidence phrase lies in the marked sentences of the first relevant passage in
    # the top k, and in the one-line answer; None where that cannot be judged.
    answer_marked: bool | None = None
    answer_line: bool | None = None
    best_answer: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.question.id, "question": self.question.question,
            "answerable": self.question.answerable,
            "first_relevant_rank": self.first_relevant_rank, "confident": self.confident,
            "results": [{"rank": r.rank, "score": round(r.score, 6), "text": r.text,
                         "source": r.source, "start": r.start, "end": r.end,
                         "relevant": r.relevant,
                         **({"highlights": [list(h) for h in r.highlights]}
                            if r.highlights is not None else {})}
                        for r in self.results[:10]],
            **({"best_answer": self.best_answer} if self.best_answer is not None else {}),
            **({"answer_marked": self.answer_marked} if self.answer_marked is not None else {}),
            **({"answer_line": self.answer_line} if self.answer_line is not None else {}),
            **({"miss": {"evidence": list(self.miss.evidence)}} if self.miss else {}),
        }


@dataclass(frozen=True)
class EvalReport:
    """Metrics over the answerable questions; confidence over all of them."""

    name: str
    mode: str
    k: int
    questions: tuple[QuestionResult, ...]
    metrics: dict[str, float] = field(default_factory=dict)

    def by_kind(self) -> dict[str, dict[str, float]]:
        """The metrics again for each `kind` of answerable question, when the set labels them."""
        kinds = sorted({q.question.kind for q in self.questions
                        if q.question.answerable and q.question.kind})
        out = {}
        for kind in kinds:
            sub = [q for q in self.questions if q.question.answerable and q.question.kind == kind]
            m = summarise(sub, self.k)
            out[kind] = {"n": float(len(sub)),
                         **{k: v for k, v in m.items() if not k.endswith("flagged")}}
        return out

    def flagged_by_kind(self) -> dict[str, dict[str, int]]:
        """For each `kind` of unanswerable question: how many there are and how many the
        confidence flag caught."""
        out: dict[str, dict[str, int]] = {}
        for q in self.questions:
            if not q.question.answerable:
                row = out.setdefault(q.question.kind or "unanswerable", {"n": 0, "flagged": 0})
                row["n"] += 1
                row["flagged"] += not q.confident
        return dict(sorted(out.items()))

    def reciprocal_ranks(self) -> list[float]:
        """RR@10 of each answerable question, in the set's order (for paired tests)."""
        return [reciprocal_rank(q.first_relevant_rank, 10) for q in self.questions
                if q.question.answerable]

    def intervals(self) -> dict[str, tuple[float, float]]:
        """A 95% bootstrap interval for hit@1, hit@5 and MRR@10 over the answerable questions."""
        ranks = [q.first_relevant_rank for q in self.questions if q.question.answerable]
        per = {"hit@1": [hit_at(r, 1) for r in ranks], "hit@5": [hit_at(r, 5) for r in ranks],
               "mrr@10": self.reciprocal_ranks()}
        return {m: bootstrap_interval(values) for m, values in per.items()}

    def as_json(self) -> dict[str, Any]:
        answerable = [q for q in self.questions if q.question.answerable]
        return {"n": len(answerable), "mode": self.mode, "metrics": self.metrics,
                "intervals": {m: list(lo_hi) for m, lo_hi in self.intervals().items()},
                "by_kind": self.by_kind(), "unanswerable_by_kind": self.flagged_by_kind(),
                "questions": [q.as_json() for q in self.questions]}


def summarise(results: Sequence[QuestionResult], k: int) -> dict[str, float]:
    """hit@1/3/5, MRR@10, nDCG@10 and recall@k over answerable questions, and how the
    confidence flag splits answerable from unanswerable ones."""
    ans = [r for r in results if r.question.answerable]
    una = [r for r in results if not r.question.answerable]
    n = max(1, len(ans))
    m = {
        "hit@1": sum(hit_at(r.first_relevant_rank, 1) for r in ans) / n,
        "hit@3": sum(hit_at(r.first_relevant_rank, 3) for r in ans) / n,
        "hit@5": sum(hit_at(r.first_relevant_rank, 5) for r in ans) / n,
        "mrr@10": sum(reciprocal_rank(r.first_relevant_rank, 10) for r in ans) / n,
        "ndcg@10": sum(r.ndcg for r in ans) / n,
        f"recall@{k}": sum(r.recall for r in ans) / n,
    }
    if una:
        m["unanswerable_flagged"] = sum(1 for r in una if not r.confident) / len(una)
    m["answerable_flagged"] = sum(1 for r in ans if not r.confident) / n
    for key, (hits, judged) in answer_counts(ans).items():
        m[key] = hits / judged
    return {key: round(v, 4) for key, v in m.items()}


def answer_counts(results: Sequence[QuestionResult]) -> dict[str, tuple[int, int]]:
    """{"answer_marked": (yes, judged), "answer_line": (yes, judged)} over the questions where
    each could be judged; a key is left out when none could."""
    out = {}
    for key in ("answer_marked", "answer_line"):
        judged = [v for v in (getattr(r, key) for r in results) if v is not None]
        if judged:
            out[key] = (sum(judged), len(judged))
    return out


def judge_answer(q: Question, results: Sequence[Result], best_answer: str | None, k: int
                 ) -> tuple[bool | None, bool | None]:
    """(answer_marked, answer_line): whether an evidence phrase lies in the marked sentences of
    the first relevant passage among the top k, and in the one-line answer. None where it
    cannot be judged: no evidence phrases, no relevant passage shown, or nothing marked."""
    phrases = [fold(e) for e in q.evidence if fold(e)]
    if not q.answerable or not phrases:
        return None, None
    line = None if best_answer is None else any(e in fold(best_answer) for e in phrases)
    shown = next((r for r in results[:k] if r.relevant), None)
    if shown is None or shown.highlights is None:
        return None, line
    marked_text = fold(" ".join(shown.text[a:b] for a, b in shown.highlights))
    return any(e in marked_text for e in phrases), line


# -- the project's own corpus ---------------------------------------------------------------

# A question's top results best first, whether the answer is confident, and its one-line
# answer (None from a ranker that gives none).
RankFn = Callable[[str], tuple[list[Result], bool, str | None]]


def evaluate_questions(
    questions: Sequence[Question], rank: RankFn, k: int, *, name: str, mode: str,
    explain: Callable[[Question, list[Result]], tuple[str, ...]] | None = None,
    ideal_count: Callable[[Question], int] | None = None,
) -> EvalReport:
    """Run every question through `rank` (top results of an ask, best first, and whether the
    answer was confident) and score it."""
    depth = max(k, 10)
    out = []
    for q in questions:
        results, confident, best_answer = rank(q.question)
        results = [Result(r.rank, r.score, r.text, r.source, r.start, r.end, r.title,
                          q.relevant(r.text, r.source) if q.answerable else False, r.highlights)
                   for r in results[:depth]]
        rels = [r.relevant for r in results]
        first = first_relevant_rank(rels)
        if q.evidence:
            top = [fold(r.text) for r in results[:k]]
            recall = sum(1 for e in q.evidence if any(fold(e) in t for t in top)) / len(q.evidence)
        elif q.sources:
            got = {Path(r.source).name for r in results[:k]}
            recall = sum(1 for s in q.sources if Path(s).name in got) / len(q.sources)
        else:
            recall = 0.0
        n_ideal = ideal_count(q) if ideal_count else sum(rels)
        score_ndcg = ndcg([1.0 if r else 0.0 for r in rels], [1.0] * max(n_ideal, sum(rels[:10])))
        miss = None
        if q.answerable and (first is None or first > 5) and explain is not None:
            miss = Miss(results[0] if results else None, explain(q, results))
        marked, line = judge_answer(q, results, best_answer, k)
        out.append(QuestionResult(q, first, tuple(results), recall, score_ndcg, confident, miss,
                                  marked, line, best_answer))
    return EvalReport(name, mode, k, tuple(out), summarise(out, k))


