from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from itsqa import lexical

TEXTS = [
    "The UK's International Technology Strategy names quantum technologies as a priority.",
    "Semiconductors: deliver the forthcoming UK Semiconductor Strategy; improve supply chains.",
    "Engineering biology and quantum research: collaboration with international partners.",
    "Tech envoys in San Francisco, Europe and the Indo-Pacific strengthen partnerships.",
    "",
]


@pytest.mark.parametrize("query", ["quantum priorities", "semiconductor supply chain strategies",
                                   "envoys", "the and of", "nothing matches this zebra", "quantum quantum",
                                   "What does the strategy say about quantum?"])
def test_numpy_scores_equal_bm25s(tmp_path: Path, query: str) -> None:
    import bm25s

    lexical.build(TEXTS, tmp_path)
    tables = lexical.load(tmp_path)
    ours = lexical.scores(tables, query, len(TEXTS))
    reference = bm25s.BM25(k1=lexical.K1, b=lexical.B)
    stop = frozenset(lexical.default_stopwords())
    reference.index([lexical.tokenize(t, stop) or [""] for t in TEXTS], show_progress=False)
    # the query also loses the longer list of function words ("what", "does", "about")
    qstop = frozenset(lexical.query_stopwords())
    assert stop < qstop and {"what", "does", "about", "how"} < qstop and "us" not in qstop
    tokens = [t for t in lexical.tokenize(query, qstop) if t in reference.vocab_dict]
    expected = reference.get_scores(tokens) if tokens else np.zeros(len(TEXTS))
    assert np.allclose(ours, expected, atol=1e-6)
    if query.startswith("quantum"):
        assert ours[0] > 0 and ours[2] > 0 and ours[1] == 0
    bare = " ".join(w for w in query.lower().strip("?").split() if w not in qstop)
    assert np.allclose(ours, lexical.scores(tables, bare, len(TEXTS)))


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_neighbours_take_close_words_not_the_query_own_stems() -> None:
    words = ["ambassadors"]
    query = np.stack([_unit([1, 0, 0])])
    terms = ["ambassador", "envoys", "diplomats", "bananas", "consuls", "attachés"]
    stems = lexical._stemmer().stemWords(terms)
    vectors = np.stack([_unit([1, 0.05, 0]), _unit([1, 0.3, 0]), _unit([1, 0.5, 0]),
                        _unit([0, 1, 0]), _unit([1, 0.6, 0]), _unit([1, 0.7, 0])])
    extra = lexical.neighbours(words, query, vectors, stems)
    # "ambassador" shares the query's stem (BM25 matches it already); bananas are far away;
    # of the close words only the best EXPANSION_PER_WORD are taken.
    assert set(extra) == {"envoy", "diplomat", "consul"}
    assert lexical.EXPANSION_PER_WORD == 3
    cos = float(query[0] @ vectors[1])
    assert extra["envoy"] == pytest.approx(lexical.EXPANSION_WEIGHT * cos)
    assert all(w < lexical.EXPANSION_WEIGHT for w in extra.values())
    assert lexical.neighbours([], query[:0], vectors, stems) == {}


def test_a_word_no_passage_holds_reaches_further_but_not_for_function_words() -> None:
    words = ["chips", "friendly"]
    query = np.stack([_unit([1, 0, 0]), _unit([0, 0, 1])])
    terms = ["semiconductors", "silicon", "them", "bananas"]
    stems = lexical._stemmer().stemWords(terms)
    # cosines to "chips": 0.45, 0.40, 0.50, 0.0; "friendly" is near nothing
    vectors = np.stack([_unit([0.45, (1 - 0.45**2) ** 0.5, 0]), _unit([0.4, (1 - 0.4**2) ** 0.5, 0]),
                        _unit([0.5, (1 - 0.5**2) ** 0.5, 0]), _unit([0, 1, 0])])
    assert lexical.neighbours(words, query, vectors, stems) == {}  # all below 0.6
    function = frozenset(lexical._stemmer().stemWords(["them"]))
    extra = lexical.neighbours(words, query, vectors, stems, frozenset({"chips"}), function)
    # "chips" is held by no passage: it takes "semiconductors" and "silicon" (>= 0.35), not the
    # function word "them" although it is closer; "friendly" (held) keeps the usual bar.
    assert set(extra) == {"semiconductor", "silicon"}
    assert extra["semiconductor"] == pytest.approx(lexical.EXPANSION_WEIGHT * 0.45, abs=1e-4)
    assert lexical.ABSENT_THRESHOLD < 0.4 < lexical.EXPANSION_THRESHOLD


def test_expanded_scores_add_the_weighted_columns(tmp_path: Path) -> None:
    lexical.build(TEXTS, tmp_path)
    tables = lexical.load(tmp_path)
    base = lexical.scores(tables, "ambassadors abroad", len(TEXTS))
    assert not base.any(), "no passage has either word"
    envoy = lexical.scores(tables, "envoys", len(TEXTS))
    expanded = lexical.scores(tables, "ambassadors abroad", len(TEXTS), {"envoy": 0.5, "zzz": 1.0})
    assert np.allclose(expanded, base + 0.5 * envoy)
    assert expanded[3] > 0 and expanded[:3].sum() == 0


def test_expansion_terms_are_the_corpus_words_without_stopwords_or_numbers() -> None:
    words, stems = lexical.expansion_terms(["The envoys met 2023 envoys in Tokyo", "the tokyo"],
                                           frozenset(lexical.default_stopwords()), limit=2)
    assert words == ["envoys", "tokyo"] and stems == ["envoy", "tokyo"]


@pytest.mark.parametrize("text,tokens", [
    ("FCDO R&D investment", ["fcdo", "r&d", "invest"]),
    ("the S&T Framework and AT&T", ["s&t", "framework", "at&t"]),
    ("rock&roll, Q & A", ["rock", "roll"]),  # long parts are words; a spaced "&" joins nothing
])
def test_ampersand_abbreviations_are_one_word(text: str, tokens: list[str]) -> None:
    assert lexical.tokenize(text, frozenset({"the", "and"})) == tokens


@pytest.mark.parametrize("text,plain", [
    ("The ﬁnancial ofﬁce, eﬃcient ﬂood", "The financial office, efficient flood"),  # PDF ligatures
    ("ＡＩ ｓｔｒａｔｅｇｙ", "AI strategy"),  # full-width letters
    ("Zu\u0308rich", "Z\u00fcrich"),  # a decomposed accent, as macOS file names have it
])
def test_text_is_read_in_nfkc_as_the_model_reads_it(text: str, plain: str) -> None:
    stop = frozenset({"the"})
    assert lexical.tokenize(text, stop) == lexical.tokenize(plain, stop)
    assert lexical.content_words(text, stop) == lexical.content_words(plain, stop)
    from itsqa.evaluation import fold

    assert fold(text) == fold(plain)


def test_an_ampersand_abbreviation_finds_its_passage(tmp_path: Path) -> None:
    texts = ["Research and trade links.", "Deliver new solutions with FCDO R&D investment.",
             "The S&T Framework sets out the vision."]
    lexical.build(texts, tmp_path / "bm25")
    tables = lexical.load(tmp_path / "bm25")
    scores = lexical.scores(tables, "What does R&D fund?", 3)
    assert scores[1] > 0 and int(np.argmax(scores)) == 1
    assert int(np.argmax(lexical.scores(tables, "the S&T vision", 3))) == 2


def test_idf_is_the_weight_bm25s_gives_a_word(tmp_path: Path) -> None:
    """In a passage of average length holding a word once, Lucene's BM25 (which bm25s follows:
    no (k1 + 1) numerator) scores the word idf / (1 + k1)."""
    texts = ["alpha beta", "alpha gamma", "delta gamma", "delta epsilon"]
    lexical.build(texts, tmp_path)
    tables = lexical.load(tmp_path)
    for word, row in (("alpha", 0), ("beta", 0), ("delta", 3)):
        assert lexical.idf(tables, word, len(texts)) / (1 + lexical.K1) == pytest.approx(
            float(lexical.scores(tables, word, len(texts))[row]), rel=1e-5)
    assert lexical.idf(tables, "beta", 4) > lexical.idf(tables, "alpha", 4) > 0
    assert lexical.idf(tables, "zebra", len(texts)) == 0.0
