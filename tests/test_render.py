"""Terminal output: one source, one citation line, whatever its file name or title holds."""

from __future__ import annotations

import pytest

from itsqa.answer import Answer, Citation, Hit
from itsqa.catalog import SourceRow
from itsqa.render import print_answer, print_sources

NAME = "two\nlines.txt"


def _citation(name: str) -> Citation:
    return Citation(source="corpus/" + name, name=name, title="A\ntitle", publisher="P",
                    date="2023-03-22", url="", start=0, end=20)


def test_a_newline_in_a_file_name_or_title_does_not_break_a_citation(
        capsys: pytest.CaptureFixture[str]) -> None:
    hit = Hit(rank=1, score=0.5, text="Quantum is a priority.", citation=_citation(NAME),
              also_in=(_citation("copy\r\nof.txt"),))
    print_answer(Answer(question="q", hits=(hit,), confident=True, best_answer="Quantum."))
    out = capsys.readouterr().out
    assert "corpus/two\\nlines.txt: characters 0–20" in out
    assert "also in: A title (corpus/copy\\r\\nof.txt: 0–20)" in out
    assert "A title — P, 2023-03-22" in out


def test_a_newline_in_a_file_name_does_not_break_the_sources_list(
        capsys: pytest.CaptureFixture[str]) -> None:
    row = SourceRow(name=NAME, status="indexed", title="A\ntitle", publisher="P\nLLP", date="",
                    url="", format="text", chunks=3, furniture_chars=0)
    print_sources([row])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["indexed", "two\\nlines.txt"]
    assert lines[1].strip() == "A title — P LLP, text"


def test_a_long_list_of_missing_words_is_cut_in_the_text_output(
        capsys: pytest.CaptureFixture[str]) -> None:
    from itsqa.answer import MISSING_SHOWN

    hit = Hit(rank=1, score=0.5, text="Quantum is a priority.", citation=_citation("a.txt"))
    words = tuple(f"w{i}" for i in range(MISSING_SHOWN + 30))
    answer = Answer(question="q", hits=(hit,), confident=True, missing_words=words)
    print_answer(answer)
    out = " ".join(capsys.readouterr().out.split())
    assert f"w{MISSING_SHOWN - 1} and 30 more (matched by meaning only)" in out
    assert f"w{MISSING_SHOWN}," not in out and f"w{MISSING_SHOWN} " not in out
    assert len(answer.as_json()["missing_words"]) == MISSING_SHOWN + 30
    print_answer(Answer(question="q", hits=(hit,), confident=True, missing_words=("Brazil",)))
    assert "Not in any source: Brazil (matched by meaning only)" in capsys.readouterr().out


def test_a_very_long_missing_word_is_cut_in_the_text_output(
        capsys: pytest.CaptureFixture[str]) -> None:
    from itsqa.answer import WORD_SHOWN

    hit = Hit(rank=1, score=0.5, text="Quantum is a priority.", citation=_citation("a.txt"))
    word = "x" * 5000
    answer = Answer(question=word, hits=(hit,), confident=False, missing_words=(word,))
    print_answer(answer)
    out = capsys.readouterr().out
    assert "x" * (WORD_SHOWN - 1) + "… (matched by meaning only)" in " ".join(out.split())
    assert "x" * (WORD_SHOWN + 1) not in out
    assert answer.as_json()["missing_words"] == [word]
