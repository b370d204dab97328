from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itsqa.errors import QuestionSetError
from itsqa.evaluation import (
    Question,
    bootstrap_interval,
    first_relevant_rank,
    fold,
    hit_at,
    load_beir,
    load_questions,
    ndcg,
    paired_p,
    ratio_interval,
    reciprocal_rank,
)

from .conftest import CORPUS, ROOT

QUESTIONS = ROOT / "eval" / "questions.jsonl"


@pytest.mark.parametrize("raw,folded", [
    ("The UK’s  “world-leading” R&D!", "the uk s world leading r d"),
    ("£500 million ($1tn)", "£500 million $1tn"),
    ("Open – promotion", "open promotion"),
    ("Zürich\u00a0Straße", "zürich straße"),
    ("", ""),
])
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@given(st.text())
def test_fold_is_idempotent_and_clean(s: str) -> None:
    f = fold(s)
    assert fold(f) == f
    assert f == f.strip() and "  " not in f
    assert all(c.isalnum() or c in "£$ " for c in f)


def test_curly_and_straight_apostrophes_match() -> None:
    q = Question("x", "q", ("the UK's data protection regime",))
    assert q.relevant("Reform the UK’s data protection regime.", "a.txt")
    assert not q.relevant("Reform the data protection regime.", "a.txt")


def test_hand_computed_metrics() -> None:
    rels = [False, False, True, False, True]
    assert first_relevant_rank(rels) == 3
    assert hit_at(3, 1) == 0 and hit_at(3, 3) == 1
    assert reciprocal_rank(3) == pytest.approx(1 / 3)
    assert reciprocal_rank(11, 10) == 0
    # DCG = 1/log2(4) + 1/log2(6); ideal with 2 relevant = 1 + 1/log2(3)
    expected = (1 / 2 + 1 / math.log2(6)) / (1 + 1 / math.log2(3))
    assert ndcg([0, 0, 1, 0, 1], [1, 1]) == pytest.approx(expected)
    # graded, trec_eval's linear gain: gains 3,0,2 vs ideal 3,2
    assert ndcg([3, 0, 2], [2, 3]) == pytest.approx((3 + 2 / 2) / (3 + 2 / math.log2(3)))
    assert ndcg([0, 0], []) == 0.0


def test_ndcg_matches_an_independent_formula() -> None:
    import numpy as np

    gains = np.array([2.0, 0.0, 3.0, 1.0])
    ideal = np.sort(gains)[::-1]
    disc = 1 / np.log2(np.arange(2, 6))
    assert ndcg(list(gains), list(gains)) == pytest.approx(float((gains * disc).sum() /
                                                                  (ideal * disc).sum()))


def test_malformed_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "q.jsonl"
    p.write_text('{"id": "a", "question": "q", "evidence": ["x"]}\nnot json\n'
                 '{"id": "b", "question": ""}\n'
                 '{"id": "c", "question": "q", "evidence": ["x"], "kind": 3}\n', encoding="utf-8")
    with pytest.raises(QuestionSetError) as exc:
        load_questions(p)
    assert "line 2" in str(exc.value) and "line 3" in str(exc.value)
    assert "line 4: \"kind\" must be a string" in str(exc.value)


def test_the_project_question_set_is_well_formed_and_grounded() -> None:
    questions = load_questions(QUESTIONS)
    answerable = [q for q in questions if q.answerable]
    assert len(answerable) >= 60
    assert sum(1 for q in questions if not q.answerable) >= 5
    kinds = [json.loads(line).get("kind") for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    assert kinds.count("paraphrase") * 3 >= len(answerable)
    texts = {p.name: fold(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.txt")}
    cited_sources = set()
    for q in answerable:
        for e in q.evidence:
            where = [n for n, t in texts.items() if fold(e) in t]
            assert where, f"{q.id}: evidence {e!r} is not in the corpus"
            cited_sources.update(where)
        for s in q.sources:
            assert s in texts, f"{q.id}: no source {s}"
            cited_sources.add(s)
    assert cited_sources == set(texts), "every source is covered"
    everything = " ".join(q.question.lower() + " " + " ".join(q.evidence).lower() for q in answerable)
    for tech in ("quantum", "semiconductor", "engineering biology", "telecom", " ai ", "data"):
        assert tech in f" {everything} ", f"no question about {tech.strip()}"


def test_beir_loader_checks_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QuestionSetError):
        load_beir(tmp_path)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "x"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n")
    ds = load_beir(tmp_path)
    assert ds.qrels == {"q1": {"d1": 2}} and ds.corpus["d1"] == ("T", "x")
    assert ds.name == tmp_path.name
    monkeypatch.chdir(tmp_path)
    assert load_beir(Path(".")).name == tmp_path.name  # not "" for the folder one is in
    # Windows line ends and a blank line are read as they are meant.
    (tmp_path / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\n\r\n")
    assert load_beir(tmp_path).qrels == {"q1": {"d1": 1}}
    # Text that is not UTF-8 is a one-line error naming the file.
    (tmp_path / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "caf\xe9"}\n')
    with pytest.raises(QuestionSetError, match="corpus.jsonl is not UTF-8"):
        load_beir(tmp_path)
    # JSON nested past Python's recursion limit is a one-line error too, not a RecursionError.
    (tmp_path / "corpus.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(QuestionSetError, match="corpus.jsonl: line 1 is nested too deeply"):
        load_beir(tmp_path)


def test_metrics_agree_with_trec_eval() -> None:
    """Cross-check against pytrec_eval (trec_eval's own code) on random graded judgments."""
    import random

    pytrec_eval = pytest.importorskip("pytrec_eval")
    from itsqa.evaluation import BeirDataset, evaluate_beir

    rng = random.Random(3)
    docs = [f"d{i}" for i in range(300)]
    qrels = {f"q{q}": {d: rng.randint(1, 4) for d in rng.sample(docs, rng.randint(1, 30))}
             for q in range(40)}
    runs = {q: rng.sample(docs, 150) for q in qrels}
    ds = BeirDataset("random", {d: ("", "") for d in docs}, {q: q for q in qrels}, qrels)
    ours = evaluate_beir(ds, lambda q: runs[q][:100], mode="test").metrics

    def trec(measures: set[str], depth: int) -> dict[str, dict[str, float]]:
        run = {q: {d: float(1000 - i) for i, d in enumerate(r[:depth])} for q, r in runs.items()}
        return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)

    def mean(res: dict[str, dict[str, float]], key: str) -> float:
        return sum(v[key] for v in res.values()) / len(res)

    assert ours["ndcg@10"] == pytest.approx(mean(trec({"ndcg_cut.10"}, 100), "ndcg_cut_10"), abs=1e-4)
    assert ours["recall@100"] == pytest.approx(mean(trec({"recall.100"}, 100), "recall_100"), abs=1e-4)
    assert ours["mrr@10"] == pytest.approx(mean(trec({"recip_rank"}, 10), "recip_rank"), abs=1e-4)


def test_question_set_with_a_byte_order_mark(tmp_path: Path) -> None:
    p = tmp_path / "q.jsonl"
    p.write_text('\ufeff{"id": "a", "question": "q", "evidence": ["x"]}\n', encoding="utf-8")
    assert load_questions(p)[0].id == "a"


def test_unanswerable_questions_are_counted_by_kind() -> None:
    from itsqa.evaluation import Result, evaluate_questions

    qs = [Question("a", "answerable", ("needle",), kind="direct"),
          Question("b", "far", answerable=False, kind="off-topic"),
          Question("c", "near", answerable=False, kind="on-topic"),
          Question("d", "near too", answerable=False, kind="on-topic")]
    confident = {"answerable": True, "far": False, "near": True, "near too": False}

    def rank(q: str) -> tuple[list[Result], bool, str | None]:
        return [Result(1, 1.0, "a needle here", "s.txt", 0, 13)], confident[q], None

    report = evaluate_questions(qs, rank, 5, name="t", mode="m")
    assert report.flagged_by_kind() == {"off-topic": {"n": 1, "flagged": 1},
                                        "on-topic": {"n": 2, "flagged": 1}}
    assert report.metrics["unanswerable_flagged"] == pytest.approx(2 / 3, abs=1e-4)
    assert report.as_json()["unanswerable_by_kind"] == report.flagged_by_kind()


def test_paired_p_tells_chance_from_a_real_difference() -> None:
    a = [0.5, 0.2, 1.0, 0.0, 0.33, 0.5, 1.0, 0.25] * 5
    assert paired_p(a, a) == 1.0  # nothing moved
    better = [x + 0.2 for x in a]  # every query gains the same: as clear as it gets
    assert paired_p(a, better) < 0.001
    # Two queries swap places and nothing else moves: no evidence of a difference.
    swapped = list(a)
    swapped[0], swapped[1] = a[0] + 0.3, a[1] - 0.3
    assert paired_p(a, swapped) > 0.5
    # Exact for a case small enough to count by hand: differences (+1, +1, +1); of the 8 sign
    # patterns, 2 reach a mean of magnitude 1, so p = 2/8.
    assert abs(paired_p([0, 0, 0], [1, 1, 1], rounds=20_000) - 0.25) < 0.02
    assert paired_p(a, better) == paired_p(a, better)  # seeded: the same every run


def test_bootstrap_interval_brackets_the_mean_as_wide_as_its_sampling_error() -> None:
    assert bootstrap_interval([0.7] * 40) == (0.7, 0.7)  # no spread, no doubt
    coin = [0.0, 1.0] * 50  # mean 0.5, standard error 0.05: a 95% interval of about +-0.1
    lo, hi = bootstrap_interval(coin)
    assert 0.38 < lo < 0.45 and 0.55 < hi < 0.62
    wider = bootstrap_interval(coin[:20])  # fewer questions, more doubt
    assert wider[0] < lo and wider[1] > hi
    assert bootstrap_interval(coin) == (lo, hi)  # seeded: the same every run
    assert bootstrap_interval([]) == (0.0, 0.0)


def test_ratio_interval_is_paired_and_brackets_the_ratio() -> None:
    base = [0.2, 0.4, 0.6, 0.8] * 25
    assert ratio_interval([1.2 * x for x in base], base) == (1.2, 1.2)  # same ratio on every query
    noisy = [x * (1.0 + 0.4 * (i % 2) - 0.2) for i, x in enumerate(base)]  # 0.8x or 1.2x each
    lo, hi = ratio_interval(noisy, base)
    mean = sum(noisy) / sum(base)
    assert lo < mean < hi and hi - lo < 0.2
    assert ratio_interval([], []) == (0.0, 0.0)


def test_answer_marked_and_answer_line_judge_the_marked_sentences() -> None:
    from itsqa.evaluation import Result, evaluate_questions

    text = "The centre opens in 2023. It will train experts abroad. Other news."
    qs = [Question("a", "what will the centre do", ("train experts abroad",)),
          Question("b", "when does it open", ("opens in 2023",)),
          Question("c", "anything else", ("not in the corpus",)),
          Question("d", "far", answerable=False)]
    first, second = (0, 25), (26, 55)
    marks = {"what will the centre do": (first,), "when does it open": (first,)}
    lines = {"what will the centre do": text[slice(*first)], "when does it open": text[slice(*first)]}

    def rank(q: str) -> tuple[list[Result], bool, str | None]:
        return ([Result(1, 1.0, text, "s.txt", 0, len(text), highlights=marks.get(q, (second,)))],
                True, lines.get(q, ""))

    report = evaluate_questions(qs, rank, 5, name="t", mode="m")
    got = {q.question.id: (q.answer_marked, q.answer_line) for q in report.questions}
    # a: the answer is in the passage but the wrong sentence is marked; b: marked and answered;
    # c: no right passage shown, so nothing to judge as marked; d: unanswerable, not judged
    assert got == {"a": (False, False), "b": (True, True), "c": (None, False), "d": (None, None)}
    assert report.metrics["answer_marked"] == 0.5
    assert report.metrics["answer_line"] == pytest.approx(1 / 3, abs=1e-4)
    assert report.questions[0].as_json()["results"][0]["highlights"] == [[0, 25]]

    def plain(q: str) -> tuple[list[Result], bool, str | None]:  # a peer marks nothing
        return [Result(1, 1.0, text, "s.txt", 0, len(text))], True, None

    assert "answer_marked" not in evaluate_questions(qs, plain, 5, name="t", mode="m").metrics
