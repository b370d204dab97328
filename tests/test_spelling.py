"""Typing errors in a question: which words are read otherwise, and as what (the words of an index
are tried in test_question.py)."""

from __future__ import annotations

import pytest

from itsqa import spelling
from itsqa.spelling import Correction


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


def test_apply_replaces_whole_words_and_keeps_a_capital() -> None:
    fixes = [Correction("Brtain's", "britain's"), Correction("quantm", "quantum")]
    assert spelling.apply("Does Brtain's quantm plan beat quantmx?", fixes[1:]) == \
        "Does Brtain's quantum plan beat quantmx?"
    assert spelling.apply("Brtain and brtain", [Correction("Brtain", "britain")]) == \
        "Britain and britain"
