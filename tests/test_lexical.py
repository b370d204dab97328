"""BM25: tokens as the model reads text, the numpy scores against bm25s's own, and idf."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from itsqa import lexical, store

TEXTS = [
    "The UK's International Technology Strategy names quantum technologies as a priority.",
    "Semiconductors: deliver the forthcoming UK Semiconductor Strategy; improve supply chains.",
    "Engineering biology and quantum research: collaboration with international partners.",
    "Tech envoys in San Francisco, Europe and the Indo-Pacific strengthen partnerships.",
    "",
]


def built(texts: list[str], folder: Path) -> lexical.Bm25Tables:
    """BM25 tables for `texts`, saved in `folder` and read back as an index does."""
    store._save_bm25(folder, lexical.build_tables(texts))
    return store._load_bm25(folder)


@pytest.mark.parametrize("query", ["quantum priorities", "semiconductor supply chain strategies",
                                   "envoys", "the and of", "nothing matches this zebra", "quantum quantum",
                                   "What does the strategy say about quantum?"])
def test_numpy_scores_equal_bm25s(tmp_path: Path, query: str) -> None:
    import bm25s

    tables = built(TEXTS, tmp_path)
    ours = tables.scores(query, len(TEXTS))
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
    assert np.allclose(ours, tables.scores(bare, len(TEXTS)))


def test_expanded_scores_add_the_weighted_columns(tmp_path: Path) -> None:
    tables = built(TEXTS, tmp_path)
    base = tables.scores("ambassadors abroad", len(TEXTS))
    assert not base.any(), "no passage has either word"
    envoy = tables.scores("envoys", len(TEXTS))
    expanded = tables.scores("ambassadors abroad", len(TEXTS), {"envoy": 0.5, "zzz": 1.0})
    assert np.allclose(expanded, base + 0.5 * envoy)
    assert expanded[3] > 0 and expanded[:3].sum() == 0


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
    tables = built(texts, tmp_path / "bm25")
    scores = tables.scores("What does R&D fund?", 3)
    assert scores[1] > 0 and int(np.argmax(scores)) == 1
    assert int(np.argmax(tables.scores("the S&T vision", 3))) == 2


def test_idf_is_the_weight_bm25s_gives_a_word(tmp_path: Path) -> None:
    """In a passage of average length holding a word once, Lucene's BM25 (which bm25s follows:
    no (k1 + 1) numerator) scores the word idf / (1 + k1)."""
    texts = ["alpha beta", "alpha gamma", "delta gamma", "delta epsilon"]
    tables = built(texts, tmp_path)
    for word, row in (("alpha", 0), ("beta", 0), ("delta", 3)):
        assert tables.idf(word, len(texts)) / (1 + lexical.K1) == pytest.approx(
            float(tables.scores(word, len(texts))[row]), rel=1e-5)
    assert tables.idf("beta", 4) > tables.idf("alpha", 4) > 0
    assert tables.idf("zebra", len(texts)) == 0.0
