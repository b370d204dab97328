"""Scope filters: sources by name or glob, publishers by part of their name, dates as periods."""

from __future__ import annotations

import json

import pytest

from itsqa.errors import UnknownSourceError, UsageError
from itsqa.scope import Scope, in_scope, matching_sources, period, scope_from

from .helpers import BS, WIGGIN, invoke

SOURCES = {
    "a.txt": {"publisher": "Burges Salmon LLP", "date": "2023-04-11"},
    "b.txt": {"publisher": "Computer Weekly", "date": "2023-03"},
    "sub/c.pdf": {"publisher": "Wiggin LLP, on Lexology", "date": "2023"},
    "d.md": {"publisher": "", "date": ""},
}


@pytest.mark.parametrize("date, first, last", [
    ("2023", "2023-01-01", "2023-12-31"), ("2024-02", "2024-02-01", "2024-02-29"),
    ("2023-03-22", "2023-03-22", "2023-03-22")])
def test_a_partial_date_names_a_period(date, first, last) -> None:
    assert period(date) == (first, last)


def test_sources_by_name_glob_or_path() -> None:
    assert matching_sources(["a.txt"], SOURCES) == {"a.txt"}
    assert matching_sources(["*.txt"], SOURCES) == {"a.txt", "b.txt"}
    assert matching_sources(["corpus/sub/c.pdf", "./d.md"], SOURCES) == {"sub/c.pdf", "d.md"}
    with pytest.raises(UnknownSourceError, match="no source is named 'e.txt'"):
        matching_sources(["a.txt", "e.txt"], SOURCES)


def test_publishers_and_dates_narrow_and_undated_sources_fall_outside_ranges() -> None:
    assert in_scope(Scope(publishers=("llp",)), SOURCES) == {"a.txt", "sub/c.pdf"}
    assert in_scope(Scope(since="2023-04"), SOURCES) == {"a.txt", "sub/c.pdf"}
    assert in_scope(Scope(until="2023-03-31"), SOURCES) == {"b.txt", "sub/c.pdf"}
    assert in_scope(Scope(since="2023-03-15", until="2023-03-20"), SOURCES) == {"b.txt", "sub/c.pdf"}
    assert in_scope(Scope(sources=("*.txt",), publishers=("weekly",)), SOURCES) == {"b.txt"}
    assert in_scope(Scope(), SOURCES) == set(SOURCES)
    with pytest.raises(UsageError, match="no source is in the scope"):
        in_scope(Scope(since="2024"), SOURCES)


@pytest.mark.parametrize("kwargs, message", [
    ({"since": "2023-13"}, "is not a date"), ({"until": "23"}, "is not a date"),
    ({"since": "2024", "until": "2023"}, "is after"), ({"since": "2023-02-30"}, "is not a date")])
def test_bad_dates_are_usage_errors(kwargs, message) -> None:
    with pytest.raises(UsageError, match=message):
        scope_from(**kwargs)


def test_blank_values_do_not_narrow() -> None:
    scope = scope_from(["", " a.txt "], ["  "], " ", None)
    assert scope == Scope(sources=("a.txt",)) and scope.narrows
    assert not scope_from().narrows


def test_ask_and_eval_take_the_filters(runner, tmp_path, monkeypatch, corpus_copy,
                                       fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    out = json.loads(invoke(runner, ["ask", "technology", "--json", "-k", "4", "--source", WIGGIN])
                     .output.splitlines()[-1])
    assert len(out["results"]) == 4 and {r["name"] for r in out["results"]} == {WIGGIN}
    assert out["scope"]["source"] == [WIGGIN]
    both = json.loads(invoke(runner, ["ask", "technology", "--json", "--source", WIGGIN,
                                      "--source", BS]).output.splitlines()[-1])
    assert {r["name"] for r in both["results"]} <= {WIGGIN, BS}
    unknown = invoke(runner, ["ask", "x", "--source", "nope.txt"])
    assert unknown.exit_code == 2 and "no source is named 'nope.txt'" in unknown.output
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "a", "question": "quantum priorities",
                                     "evidence": ["National Quantum Strategy"]}), encoding="utf-8")
    kept = json.loads(invoke(runner, ["eval", str(questions), "--json", "--publisher", "burges"])
                      .output.splitlines()[-1])
    assert kept["metrics"]["hit@1"] == 1.0
    assert all(r["source"].endswith(BS) for q in kept["questions"] for r in q["results"])
    gone = json.loads(invoke(runner, ["eval", str(questions), "--json", "--publisher", "wiggin"])
                      .output.splitlines()[-1])
    assert gone["questions"][0]["first_relevant_rank"] is None
