"""Query expansion: the corpus's terms, and the related terms a question's words take."""

from __future__ import annotations

import numpy as np
import pytest

from itsqa import expansion, lexical


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_neighbours_take_close_words_not_the_query_own_stems() -> None:
    words = ["ambassadors"]
    query = np.stack([_unit([1, 0, 0])])
    terms = ["ambassador", "envoys", "diplomats", "bananas", "consuls", "attachés"]
    stems = lexical.stemmer().stemWords(terms)
    vectors = np.stack([_unit([1, 0.05, 0]), _unit([1, 0.3, 0]), _unit([1, 0.5, 0]),
                        _unit([0, 1, 0]), _unit([1, 0.6, 0]), _unit([1, 0.7, 0])])
    extra = expansion.related_terms(words, query, vectors, stems)
    # "ambassador" shares the query's stem (BM25 matches it already); bananas are far away;
    # of the close words only the best EXPANSION_PER_WORD are taken.
    assert set(extra) == {"envoy", "diplomat", "consul"}
    assert expansion.PER_WORD == 3
    cos = float(query[0] @ vectors[1])
    assert extra["envoy"] == pytest.approx(expansion.WEIGHT * cos)
    assert all(w < expansion.WEIGHT for w in extra.values())
    assert expansion.related_terms([], query[:0], vectors, stems) == {}


def test_a_word_no_passage_holds_reaches_further_but_not_for_function_words() -> None:
    words = ["chips", "friendly"]
    query = np.stack([_unit([1, 0, 0]), _unit([0, 0, 1])])
    terms = ["semiconductors", "silicon", "them", "bananas"]
    stems = lexical.stemmer().stemWords(terms)
    # cosines to "chips": 0.45, 0.40, 0.50, 0.0; "friendly" is near nothing
    vectors = np.stack([_unit([0.45, (1 - 0.45**2) ** 0.5, 0]), _unit([0.4, (1 - 0.4**2) ** 0.5, 0]),
                        _unit([0.5, (1 - 0.5**2) ** 0.5, 0]), _unit([0, 1, 0])])
    assert expansion.related_terms(words, query, vectors, stems) == {}  # all below 0.6
    function = frozenset(lexical.stemmer().stemWords(["them"]))
    extra = expansion.related_terms(words, query, vectors, stems, frozenset({"chips"}), function)
    # "chips" is held by no passage: it takes "semiconductors" and "silicon" (>= 0.35), not the
    # function word "them" although it is closer; "friendly" (held) keeps the usual bar.
    assert set(extra) == {"semiconductor", "silicon"}
    assert extra["semiconductor"] == pytest.approx(expansion.WEIGHT * 0.45, abs=1e-4)
    assert expansion.ABSENT_THRESHOLD < 0.4 < expansion.THRESHOLD


def test_expansion_terms_are_the_corpus_words_without_stopwords_or_numbers() -> None:
    words, stems = expansion.corpus_terms(["The envoys met 2023 envoys in Tokyo", "the tokyo"],
                                           frozenset(lexical.default_stopwords()), limit=2)
    assert words == ["envoys", "tokyo"] and stems == ["envoy", "tokyo"]
