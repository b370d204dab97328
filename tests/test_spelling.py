"""Typing errors in a question: which words are read otherwise, and as what."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from itsqa import spelling
from itsqa.config import Settings
from itsqa.service import open_index
from itsqa.spelling import Correction

from .test_cli import invoke


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def no_frequency(word: str) -> int:
    return 0


@pytest.mark.parametrize("word,edits", [("ab", 0), ("tech", 1), ("chips", 1), ("quantm", 2),
                                        ("semiconducter", 2)])
def test_edits_allowed_grow_with_the_word_as_elasticsearch_auto(word: str, edits: int) -> None:
    assert spelling.max_edits(word) == edits


def test_the_dictionary_is_read_from_symspellpy() -> None:
    words = spelling.dictionary()
    assert len(words) > 80_000 and words[:3] == ["the", "of", "and"]
    assert all(spelling.is_word(w) for w in ("the", "Britain", words[-1]))
    assert not any(spelling.is_word(w) for w in ("pirorities", "xq", "the ", "23135851162", ""))


@pytest.mark.parametrize("word,typo", [
    ("pirorities", True), ("semicondutors", True), ("Quantm", True),
    ("restate", False), ("Britain", False), ("homegrown", False),  # English words stay
    ("İstanbul", False), ("Qué", False), ("naïve", False),  # accented, they are still words
    ("ab", False), ("R2D2", False), ("co-operate", False),  # too short, or not letters only
])
def test_only_a_word_that_is_no_english_word_may_be_a_typing_error(word: str, typo: bool) -> None:
    assert spelling.may_be_typo(word) is typo


def test_the_nearest_word_is_suggested_corpus_words_first() -> None:
    corpus = ["priorities", "quantum", "semiconductors"]
    assert spelling.suggest("pirorities", corpus, no_frequency) == "priorities"
    assert spelling.suggest("Semicondutors", corpus, no_frequency) == "semiconductors"
    # one edit from "brain" and from "britain": the dictionary alone prefers the commoner word,
    # a corpus that holds "britain" wins
    assert spelling.suggest("brtain", [], no_frequency) == "brain"
    assert spelling.suggest("brtain", ["britain"], no_frequency) == "britain"
    # among corpus words at one distance, the more frequent
    often = {"trade": 5, "grade": 1}.get
    assert spelling.suggest("frade", ["grade", "trade"], lambda w: often(w, 0)) == "trade"
    # a nearer dictionary word beats a farther corpus word
    assert spelling.suggest("fragle", ["france"], no_frequency) == "fragile"


def test_nothing_within_reach_is_no_suggestion() -> None:
    assert spelling.suggest("xqzvkjw", ["quantum"], no_frequency) is None
    assert spelling.suggest("ab", ["ab"], no_frequency) is None


def test_a_name_takes_a_dictionary_word_only_one_edit_away() -> None:
    assert spelling.suggest("tiktok", [], no_frequency) is not None  # two edits from a word
    assert spelling.suggest("tiktok", [], no_frequency, name=True) is None
    assert spelling.suggest("brtain", [], no_frequency, name=True) == "brain"
    assert spelling.suggest("donelen", ["donelan"], no_frequency, name=True) == "donelan"
    assert spelling.looks_like_name("TikTok", first=True)
    assert spelling.looks_like_name("Donelen", first=False)
    assert not spelling.looks_like_name("Quantm", first=True)
    assert not spelling.looks_like_name("quantm", first=False)


def test_a_correction_keeps_the_case_it_was_typed_in(tmp_path, corpus_copy,
                                                     fake_encoder) -> None:
    r = _retriever(tmp_path)
    assert r.read("What did Michelle Donnelan say?") == (
        "What did Michelle Donelan say?", (Correction("Donnelan", "Donelan"),))
    assert r.read("DONNELAN QUANTM") == (
        "DONELAN QUANTUM", (Correction("DONNELAN", "DONELAN"), Correction("QUANTM", "QUANTUM")))


def test_apply_replaces_whole_words_and_keeps_a_capital() -> None:
    fixes = [Correction("Brtain's", "britain's"), Correction("quantm", "quantum")]
    assert spelling.apply("Does Brtain's quantm plan beat quantmx?", fixes[1:]) == \
        "Does Brtain's quantum plan beat quantmx?"
    assert spelling.apply("Brtain and brtain", [Correction("Brtain", "britain")]) == \
        "Britain and britain"


def _retriever(root: Path, **changes):
    s = replace(Settings(corpus_dir=root / "corpus", index_dir=root / "index"), **changes)
    return open_index(s).retriever


def test_a_mistyped_question_is_read_as_meant_and_says_so(tmp_path, corpus_copy,
                                                          fake_encoder) -> None:
    r = _retriever(tmp_path)
    right = r.ask("semiconductor supply chains", k=3)
    typed = r.ask("semicondutor suply chains", k=3)
    assert [(c.typed, c.read_as) for c in typed.corrections] == [
        ("semicondutor", "semiconductor"), ("suply", "supply")]
    assert typed.question == "semicondutor suply chains"
    assert [h.row for h in typed.hits] == [h.row for h in right.hits]
    assert "semicondutor" not in typed.missing_words
    # switched off, the typed words match nothing and are listed as missing
    off = _retriever(tmp_path, spelling=False).ask("semicondutor suply chains", k=3)
    assert off.corrections == () and "semicondutor" in off.missing_words
    assert [h.row for h in off.hits] != [h.row for h in right.hits]


def test_words_the_corpus_or_the_dictionary_holds_are_never_changed(tmp_path, corpus_copy,
                                                                    fake_encoder) -> None:
    r = _retriever(tmp_path)
    # "Donelan" is in the corpus, "Brazil" and "restate" in the dictionary, "TikTok" is a name
    # two edits from any word; "6G" and "R&D" are not words of letters only
    question = "Did Donelan restate the TikTok plans for Brazil, 6G and R&D?"
    assert r.read(question) == (question, ())
    assert r.ask(question).corrections == ()


def test_ask_prints_and_reports_the_reading(runner, tmp_path, monkeypatch, corpus_copy,
                                            fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, ["ask", "quantm prorities", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "Read “quantm” as “quantum”; “prorities” as “priorities”" in result.output
    result = invoke(runner, ["ask", "quantm prorities", "-k", "1", "--json"])
    out = json.loads(result.output.splitlines()[-1])
    assert out["question"] == "quantm prorities"
    assert out["corrections"] == [{"typed": "quantm", "read_as": "quantum"},
                                  {"typed": "prorities", "read_as": "priorities"}]
    # --as-typed: the words are taken as they are, and listed as found in no source
    result = invoke(runner, ["ask", "quantm prorities", "-k", "1", "--as-typed"])
    assert result.exit_code == 0, result.output
    assert "Read “" not in result.output
    assert "Not in any source: quantm, prorities" in result.output
    result = invoke(runner, ["ask", "quantm prorities", "-k", "1", "--json", "--as-typed"])
    out = json.loads(result.output.splitlines()[-1])
    assert out["corrections"] == [] and out["missing_words"] == ["quantm", "prorities"]


def test_a_pasted_page_has_only_its_first_words_looked_up(tmp_path, corpus_copy, fake_encoder,
                                                          monkeypatch) -> None:
    import itsqa.spelling

    looked: list[str] = []
    real = itsqa.spelling.suggest
    monkeypatch.setattr(itsqa.spelling, "suggest",
                        lambda w, *a, **k: looked.append(w) or real(w, *a, **k))
    r = _retriever(tmp_path)
    page = " ".join(f"qzxv{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}"
                    for i in range(3000))
    answer = r.ask(page, k=1)
    assert len(looked) == spelling.MOST_WORDS and answer.hits
    assert len(answer.missing_words) == 3000
