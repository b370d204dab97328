"""BEIR collections: the loader's checks, and the metrics against trec_eval's own code."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsqa.beir import load_beir
from itsqa.errors import QuestionSetError


def test_beir_loader_checks_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QuestionSetError):
        load_beir(tmp_path)
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "x"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n")
    ds = load_beir(tmp_path)
    assert ds.qrels == {"q1": {"d1": 2}} and ds.corpus["d1"] == ("T", "x")
    assert ds.name == tmp_path.name
    monkeypatch.chdir(tmp_path)
    assert load_beir(Path(".")).name == tmp_path.name  # not "" for the folder one is in
    # Windows line ends and a blank line are read as they are meant.
    (tmp_path / "qrels" / "test.tsv").write_bytes(b"query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\n\r\n")
    assert load_beir(tmp_path).qrels == {"q1": {"d1": 1}}
    # Text that is not UTF-8 is a one-line error naming the file.
    (tmp_path / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "caf\xe9"}\n')
    with pytest.raises(QuestionSetError, match="corpus.jsonl is not UTF-8"):
        load_beir(tmp_path)
    # JSON nested past Python's recursion limit is a one-line error too, not a RecursionError.
    (tmp_path / "corpus.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(QuestionSetError, match="corpus.jsonl: line 1 is nested too deeply"):
        load_beir(tmp_path)


def test_metrics_agree_with_trec_eval() -> None:
    """Cross-check against pytrec_eval (trec_eval's own code) on random graded judgments."""
    import random

    pytrec_eval = pytest.importorskip("pytrec_eval")
    from itsqa.beir import BeirDataset, evaluate_beir

    rng = random.Random(3)
    docs = [f"d{i}" for i in range(300)]
    qrels = {f"q{q}": {d: rng.randint(1, 4) for d in rng.sample(docs, rng.randint(1, 30))}
             for q in range(40)}
    runs = {q: rng.sample(docs, 150) for q in qrels}
    ds = BeirDataset("random", {d: ("", "") for d in docs}, {q: q for q in qrels}, qrels)
    ours = evaluate_beir(ds, lambda q: runs[q][:100], mode="test").metrics

    def trec(measures: set[str], depth: int) -> dict[str, dict[str, float]]:
        run = {q: {d: float(1000 - i) for i, d in enumerate(r[:depth])} for q, r in runs.items()}
        return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)

    def mean(res: dict[str, dict[str, float]], key: str) -> float:
        return sum(v[key] for v in res.values()) / len(res)

    assert ours["ndcg@10"] == pytest.approx(mean(trec({"ndcg_cut.10"}, 100), "ndcg_cut_10"), abs=1e-4)
    assert ours["recall@100"] == pytest.approx(mean(trec({"recall.100"}, 100), "recall_100"), abs=1e-4)
    assert ours["mrr@10"] == pytest.approx(mean(trec({"recip_rank"}, 10), "recip_rank"), abs=1e-4)
