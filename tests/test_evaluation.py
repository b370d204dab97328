"""Question sets and their metrics: folding text for matching, hand-computed metrics, the project
question set, judging the marked answer, and the peers' labels."""

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
    first_relevant_rank,
    fold,
    hit_at,
    load_questions,
    ndcg,
    reciprocal_rank,
)

from .helpers import CORPUS, ROOT

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


@pytest.mark.parametrize("model, expected", [
    (None, "ten-line RAG (800-char windows, MiniLM)"),
    ("/models/all-mpnet-base-v2", "ten-line RAG (800-char windows, all-mpnet-base-v2)"),
])
def test_the_dense_peer_is_named_after_the_model_it_ran_on(model: str | None, expected: str) -> None:
    from types import SimpleNamespace

    from itsqa.baselines import PEERS, peer_label
    from itsqa.config import DEFAULT_MODEL_NAME
    from itsqa.eval_runs import model_name

    index = SimpleNamespace(manifest={"model": {"name": model or DEFAULT_MODEL_NAME}})
    retriever = SimpleNamespace(index=index)
    assert peer_label(PEERS[0], model_name(retriever)) == expected  # type: ignore[arg-type]
