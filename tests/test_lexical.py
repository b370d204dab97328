from __future__ import annotations

import json
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
                                   "envoys", "the and of", "nothing matches this zebra", "quantum quantum"])
def test_numpy_scores_equal_bm25s(tmp_path: Path, query: str) -> None:
    import bm25s

    lexical.build(TEXTS, tmp_path)
    tables = {
        "data": np.load(tmp_path / "data.npy"), "indices": np.load(tmp_path / "indices.npy"),
        "indptr": np.load(tmp_path / "indptr.npy"),
        "vocab": json.loads((tmp_path / "vocab.json").read_text()),
        "stopwords": json.loads((tmp_path / "stopwords.json").read_text()),
    }
    ours = lexical.scores(tables, query, len(TEXTS))
    reference = bm25s.BM25(k1=lexical.K1, b=lexical.B)
    stop = frozenset(lexical.default_stopwords())
    reference.index([lexical.tokenize(t, stop) or [""] for t in TEXTS], show_progress=False)
    tokens = [t for t in lexical.tokenize(query, stop) if t in reference.vocab_dict]
    expected = reference.get_scores(tokens) if tokens else np.zeros(len(TEXTS))
    assert np.allclose(ours, expected, atol=1e-6)
    if "quantum" in query:
        assert ours[0] > 0 and ours[2] > 0 and ours[1] == 0
