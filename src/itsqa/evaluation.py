"""Question sets and test collections -> metrics and explained misses, as report objects.
Prints nothing; `cli_eval.py` formats the reports."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import QuestionSetError

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


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set; every malformed line is reported with its number."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError as exc:
        raise QuestionSetError(f"question set {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise QuestionSetError(f"question set {path} is a folder: give its .jsonl file (for a "
                               "BEIR dataset folder, use --beir)") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"question set {path} cannot be read as UTF-8 text ({exc})") from exc
    out: list[Question] = []
    errors: list[str] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            errors.append(f"line {n}: not JSON ({exc.args[0] if exc.args else exc})")
            continue
        except RecursionError:
            errors.append(f"line {n}: nested too deeply to be a question")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {n}: expected an object")
            continue
        qid, q = obj.get("id"), obj.get("question")
        ev, srcs = obj.get("evidence", []), obj.get("sources", [])
        answerable, kind = obj.get("answerable", True), obj.get("kind", "")
        if not isinstance(qid, str) or not qid:
            errors.append(f"line {n}: \"id\" must be a non-empty string")
        elif qid in seen:
            errors.append(f"line {n}: duplicate id {qid!r}")
        elif not isinstance(q, str) or not q.strip():
            errors.append(f"line {n}: \"question\" must be a non-empty string")
        elif not isinstance(ev, list) or not all(isinstance(e, str) and fold(e) for e in ev):
            errors.append(f"line {n}: \"evidence\" must be a list of non-empty strings")
        elif not isinstance(srcs, list) or not all(isinstance(s, str) for s in srcs):
            errors.append(f"line {n}: \"sources\" must be a list of file names")
        elif not isinstance(answerable, bool):
            errors.append(f"line {n}: \"answerable\" must be true or false")
        elif answerable and not ev and not srcs:
            errors.append(f"line {n}: an answerable question needs \"evidence\" or \"sources\"")
        elif not isinstance(kind, str):
            errors.append(f"line {n}: \"kind\" must be a string (\"direct\", \"paraphrase\" …)")
        else:
            seen.add(qid)
            out.append(Question(qid, q, tuple(ev), tuple(srcs), answerable, kind))
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


def paired_p(a: Sequence[float], b: Sequence[float], rounds: int = 10_000, seed: int = 0) -> float:
    """Two-sided p-value that paired per-query scores `a` and `b` differ only by chance: a
    randomisation (sign-flip) test on their differences, the usual check in IR evaluation. Exact
    to within sampling error; seeded, so the same scores always give the same p."""
    import numpy as np

    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if len(d) == 0 or not np.any(np.abs(d) > 1e-12):
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(rounds, len(d)))
    extreme = int((np.abs((signs * d).mean(axis=1)) >= observed - 1e-12).sum())
    return (extreme + 1) / (rounds + 1)


def _resampled_means(*columns: Sequence[float], rounds: int, seed: int) -> list[Any]:
    """The mean of each column over `rounds` resamples of the queries with replacement, the same
    resample for every column (so paired scores stay paired). Seeded."""
    import numpy as np

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(columns[0]), size=(rounds, len(columns[0])))
    return [np.asarray(c, dtype=np.float64)[idx].mean(axis=1) for c in columns]


def _percentile_interval(samples: Any, level: float) -> tuple[float, float]:
    import numpy as np

    if not len(samples):
        return (0.0, 0.0)
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return (round(float(lo), 4), round(float(hi), 4))


def bootstrap_interval(values: Sequence[float], rounds: int = 10_000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """The `level` percentile interval of the mean of per-query `values`, over `rounds` resamples
    of the queries with replacement: how far the mean could move on another set of the same
    size and kind. Seeded, so the same values always give the same interval."""
    if len(values) == 0:
        return (0.0, 0.0)
    (means,) = _resampled_means(values, rounds=rounds, seed=seed)
    return _percentile_interval(means, level)


def ratio_interval(a: Sequence[float], b: Sequence[float], rounds: int = 10_000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float]:
    """The `level` interval of mean(a) / mean(b) for paired per-query scores, resampling the
    queries (the same ones for both) with replacement. Seeded."""
    if len(a) == 0 or len(a) != len(b):
        return (0.0, 0.0)
    num, den = _resampled_means(a, b, rounds=rounds, seed=seed)
    return _percentile_interval(num[den > 0] / den[den > 0], level)


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


# -- BEIR test collections ------------------------------------------------------------------

@dataclass(frozen=True)
class BeirDataset:
    name: str
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """corpus.jsonl, queries.jsonl and qrels/<split>.tsv, checked line by line."""
    if not folder.is_dir():
        raise QuestionSetError(f"{folder} is not a folder in the BEIR layout (corpus.jsonl, "
                               "queries.jsonl, qrels/test.tsv)")
    paths = {"corpus": folder / "corpus.jsonl", "queries": folder / "queries.jsonl",
             "qrels": folder / "qrels" / f"{split}.tsv"}
    for what, p in paths.items():
        if not p.is_file():
            raise QuestionSetError(f"{folder} has no {p.relative_to(folder)} ({what}): not a BEIR "
                                   "dataset")

    def lines(p: Path) -> Iterator[str]:
        """The file's lines without their ends, read as they come (a BEIR corpus can be large)."""
        try:
            with p.open(encoding="utf-8-sig", newline=None) as fh:
                for line in fh:
                    yield line.rstrip("\n")
        except UnicodeDecodeError as exc:
            raise QuestionSetError(f"{p} is not UTF-8 text ({exc})") from exc
        except OSError as exc:
            raise QuestionSetError(f"{p} cannot be read ({exc.strerror or exc})") from exc

    def jsonl(p: Path) -> Iterable[tuple[int, dict[str, Any]]]:
        for n, line in enumerate(lines(p), 1):
            if line.strip():
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise QuestionSetError(f"{p}: line {n} is not JSON ({exc})") from exc
                except RecursionError as exc:
                    raise QuestionSetError(f"{p}: line {n} is nested too deeply") from exc
                if not isinstance(obj, dict) or "_id" not in obj:
                    raise QuestionSetError(f"{p}: line {n} has no \"_id\"")
                yield n, obj

    corpus = {str(o["_id"]): (str(o.get("title") or ""), str(o.get("text") or ""))
              for _, o in jsonl(paths["corpus"])}
    queries = {str(o["_id"]): str(o.get("text") or "") for _, o in jsonl(paths["queries"])}
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(lines(paths["qrels"]), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if n == 1 and not parts[-1].lstrip("-").isdigit():
            continue  # header
        if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
            raise QuestionSetError(f"{paths['qrels']}: line {n} is not 'query-id<TAB>corpus-id"
                                   "<TAB>score'")
        if int(parts[2]) > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    qrels = {q: d for q, d in qrels.items() if q in queries}
    if not qrels:
        raise QuestionSetError(f"{folder}: no judged queries")
    return BeirDataset(folder.resolve().name, corpus, queries, qrels)  # "." named as its folder


@dataclass(frozen=True)
class BeirReport:
    name: str
    mode: str
    n: int
    metrics: dict[str, float]
    ndcg_per_query: tuple[float, ...] = ()  # nDCG@10 of each judged query, by query id

    def intervals(self) -> dict[str, tuple[float, float]]:
        """A 95% bootstrap interval for nDCG@10 over the judged queries."""
        return {"ndcg@10": bootstrap_interval(self.ndcg_per_query)}

    def as_json(self) -> dict[str, Any]:
        return {"dataset": self.name, "mode": self.mode, "n": self.n, "metrics": self.metrics,
                "intervals": {m: list(lo_hi) for m, lo_hi in self.intervals().items()}}


def evaluate_beir(ds: BeirDataset, rank_docs: Callable[[str], list[str]], *, mode: str
                  ) -> BeirReport:
    """nDCG@10 (linear graded gain), recall@100 and MRR@10 over the judged queries."""
    nd, rec, rr = [], [], []
    for qid, judged in sorted(ds.qrels.items()):
        docs = rank_docs(ds.queries[qid])
        gains = [float(judged.get(d, 0)) for d in docs]
        nd.append(ndcg(gains, judged.values(), 10))
        rec.append(sum(1 for d in docs[:100] if d in judged) / len(judged))
        rr.append(reciprocal_rank(first_relevant_rank([g > 0 for g in gains]), 10))
    n = len(nd)
    metrics = {"ndcg@10": sum(nd) / n, "recall@100": sum(rec) / n, "mrr@10": sum(rr) / n}
    return BeirReport(ds.name, mode, n, {k: round(v, 4) for k, v in metrics.items()}, tuple(nd))
