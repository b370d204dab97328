"""The real model and the real FAISS index, end to end (no fakes)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from itsqa.config import Settings
from itsqa.embedding import (
    OnnxEncoder,
    SentenceTransformerEncoder,
    export_works,
    model_cache,
    onnx_folder,
)
from itsqa.model import model_spec
from itsqa.onnx_export import ONNX_OPTIMISED, ONNX_OPTIMISED_DATA

from .helpers import CORPUS, ROOT, copy_workspace, run_itsqa

# Every test here runs the real model (and most the real CLI in a subprocess).
pytestmark = pytest.mark.slow

QUESTIONS = [
    "what are the quantum priorities",
    "Which British representative works in Silicon Valley?",
    "How much was the UK tech sector worth in 2022?",
    "¿Qué dice la estrategia sobre los semiconductores? 🚀",
    "x",
    "engineering biology " * 200,  # longer than the model reads: truncated like the model does
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the corpus indexed by the real CLI, once for the module. Tests never change it."""
    d = tmp_path_factory.mktemp("e2e")
    shutil.copytree(CORPUS, d / "corpus")
    proc = run_cli(d, "index")
    assert proc.returncode == 0, proc.stderr
    return d


@pytest.fixture
def workdir(built: Path, tmp_path: Path) -> Path:
    """A private copy of the built corpus and index."""
    return copy_workspace(built, tmp_path / "w")


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """The corpus alone, with no index yet."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path


def run_cli(workdir: Path, *args: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return run_itsqa(workdir, *args, env=env)


def test_first_ask_builds_the_index_and_finds_the_quantum_priorities(fresh: Path) -> None:
    workdir = fresh
    proc = run_cli(workdir, "ask", "what are the quantum priorities", "--json")
    assert "building the index" in proc.stderr
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["question"] == "what are the quantum priorities"
    top3 = out["results"][:3]
    assert any("Implement the\xa0National Quantum Strategy" in r["text"] for r in top3)
    quantum = next(r for r in top3 if "Implement the\xa0National Quantum Strategy" in r["text"])
    assert quantum["section"] == "International priorities › 2) Quantum technology"
    for r in out["results"]:
        assert set(r) >= {"rank", "score", "text", "source", "title", "publisher", "date", "url",
                          "start", "end"}
        assert not os.path.isabs(r["source"]) and r["source"].startswith("corpus/")
        with open(workdir / r["source"], encoding="utf-8") as fh:
            assert fh.read()[r["start"] : r["end"]] == r["text"]
        assert r["title"] and r["publisher"]
        for s, e in r["highlights"]:
            assert 0 <= s < e <= len(r["text"])
    # the one-line answer is the first passage's best sentence, one of those it marks
    first = out["results"][0]
    marked = [" ".join(first["text"][s:e].split()).lstrip("•·-–*▪◦ ") for s, e in first["highlights"]]
    assert out["best_answer"] in marked
    assert (workdir / "index" / "CURRENT").is_file()


def test_text_output_cites_title_publisher_and_range(workdir: Path) -> None:
    proc = run_cli(workdir, "ask", "Which British representative works in Silicon Valley?")
    assert proc.returncode == 0, proc.stderr
    assert "Joe White" in proc.stdout
    assert "characters" in proc.stdout and "corpus/" in proc.stdout
    assert "Burges Salmon LLP" in proc.stdout or "Computer Weekly" in proc.stdout
    assert all(len(line) <= 80 for line in proc.stdout.splitlines())


def test_second_index_embeds_nothing(workdir: Path) -> None:
    proc = run_cli(workdir, "index", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["chunks"]["embedded"] == 0
    assert report["sources"]["added"] == report["sources"]["changed"] == []


def test_sources_lists_every_source_with_metadata(workdir: Path) -> None:
    proc = run_cli(workdir, "sources", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["name"] for r in rows} == {p.name for p in CORPUS.glob("*.txt")}
    for r in rows:
        assert r["status"] == "indexed" and r["title"] and r["publisher"] and r["chunks"] > 0


def test_onnx_query_vectors_match_sentence_transformers(workdir: Path) -> None:
    spec = model_spec(Settings())
    folder = onnx_folder(workdir / "index", spec)
    assert (folder / "model.onnx").is_file(), "the first build exports the model to ONNX"
    fast = OnnxEncoder(folder, spec).encode(QUESTIONS)
    slow = SentenceTransformerEncoder(spec).encode(QUESTIONS)
    cos = (fast * slow).sum(axis=1)
    assert cos.min() >= 0.9999, cos
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_ask_does_not_import_torch(workdir: Path) -> None:
    code = ("import sys; from itsqa.cli import main\n"
            "try:\n    main(['ask', 'quantum priorities', '--json'])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'bm25s') "
            "if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True,
                          text=True, timeout=300)
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_help_and_sources_do_not_import_heavy_libraries(workdir: Path) -> None:
    code = ("import sys; from itsqa.cli import main\n"
            "for args in (['--help'], ['sources']):\n"
            "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'onnxruntime', "
            "'bm25s') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True,
                          text=True, timeout=300)
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_unanswerable_question_is_flagged(workdir: Path) -> None:
    proc = run_cli(workdir, "ask", "What is the capital of France?", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["confident"] is False
    proc = run_cli(workdir, "ask", "what are the quantum priorities", "--json")
    assert json.loads(proc.stdout)["confident"] is True


def test_syndicated_quote_is_shown_once(workdir: Path) -> None:
    proc = run_cli(workdir, "ask", "malign influences that seek to use tech against us", "--json",
                   "-k", "5")
    out = json.loads(proc.stdout)
    holders = [r for r in out["results"] if "malign influences" in r["text"]]
    assert len(holders) == 1, [r["source"] for r in holders]
    assert holders[0]["also_in"], "the other source carrying the same quote is listed"


def test_a_miss_folded_under_another_copy_is_explained_as_such(workdir: Path) -> None:
    # Only the Burges Salmon copy of the Foreign Secretary's quote goes on to "backing UK
    # businesses"; the earlier Computer Weekly copy is the one shown, the other folded under it.
    questions = workdir / "folded.jsonl"
    questions.write_text(json.dumps({
        "id": "f1", "question": "malign influences that seek to use tech against us",
        "evidence": ["backing UK businesses"]}) + "\n", encoding="utf-8")
    proc = run_cli(workdir, "eval", str(questions))
    assert proc.returncode == 0, proc.stderr
    assert "Missed at 5 (1)" in proc.stdout
    assert "but shown only as a copy under result 1" in proc.stdout, proc.stdout


def test_a_local_cross_encoder_reranks_ask_and_eval(workdir: Path, cross_encoder: Path) -> None:
    q = "what are the quantum priorities"
    plain = json.loads(run_cli(workdir, "ask", q, "--json", "-k", "10").stdout)
    proc = run_cli(workdir, "ask", q, "--json", "-k", "10", "--reranker", str(cross_encoder))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    key = [(r["source"], r["start"]) for r in plain["results"]]
    got = [(r["source"], r["start"]) for r in out["results"]]
    assert got != key and len(got) == len(set(got)) == 10  # re-ordered, still distinct
    assert out["confident"] == plain["confident"]
    proc = run_cli(workdir, "eval", str(ROOT / "eval" / "questions.jsonl"), "--reranker",
                   str(cross_encoder))
    assert proc.returncode == 0, proc.stderr
    assert "hybrid+reranker" in proc.stdout


def test_eval_runs_on_the_project_question_set(workdir: Path) -> None:
    proc = run_cli(workdir, "eval", str(ROOT / "eval" / "questions.jsonl"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] >= 60
    assert set(out["metrics"]) >= {"hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "recall@5"}
    q = out["questions"][0]
    assert set(q) >= {"id", "question", "first_relevant_rank", "results"}
    assert len(q["results"]) == 10
    assert set(out["by_kind"]) == {"direct", "paraphrase"}
    assert out["by_kind"]["direct"]["n"] + out["by_kind"]["paraphrase"]["n"] == out["n"]
    for metric, (lo, hi) in out["intervals"].items():
        assert lo <= out["metrics"][metric] <= hi
    # far better than chance: the real model and index find most evidence in the top 5
    assert out["metrics"]["hit@5"] >= 0.8


def test_edit_add_remove_followed_by_the_very_next_ask(workdir: Path) -> None:
    burges = workdir / "corpus" / "2023-04-11-burges-salmon-government-publishes-its.txt"
    text = burges.read_text(encoding="utf-8")
    edited = "Lucy Pegler expects the first Technology Centre of Expertise pilot in Nairobi."
    burges.write_text(text.replace("Key principles", f"{edited}\n\nKey principles", 1),
                      encoding="utf-8")
    (workdir / "corpus" / "2024-02-01-semiconductor-update.md").write_text(
        "# Semiconductor strategy update\n\nThe National Semiconductor Strategy commits £1bn over "
        "ten years to design, compound semiconductors and skills.\n", encoding="utf-8")
    removed = "2023-lexology-wiggin-government-publishes-new-its.txt"
    (workdir / "corpus" / removed).unlink()
    proc = run_cli(workdir, "ask", "What does Lucy Pegler expect in Nairobi?", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "updating" in proc.stderr
    first = json.loads(proc.stdout)["results"][0]
    assert edited in first["text"]
    proc = run_cli(workdir, "ask", "How much will the semiconductor strategy commit?", "--json")
    out = json.loads(proc.stdout)
    assert out["results"][0]["source"] == "corpus/2024-02-01-semiconductor-update.md"
    assert out["results"][0]["title"] == "Semiconductor strategy update"
    for q in ("Which commentary appeared on Lexology?", "tech diplomacy network envoys"):
        res = json.loads(run_cli(workdir, "ask", q, "--json", "-k", "20").stdout)["results"]
        assert all(removed not in r["source"] for r in res)
        assert all(removed not in a["source"] for r in res for a in r["also_in"])
    report = json.loads(run_cli(workdir, "index", "--json").stdout)
    assert report["chunks"]["embedded"] == 0


def test_ligatures_from_a_pdf_are_read_as_plain_letters(workdir: Path) -> None:
    """PDF text is full of ligatures ("ﬁnancial"): the model and BM25 read them as the letters
    a user types, and the vectors are keyed by the text as the model reads it."""
    source = workdir / "corpus" / "2024-flood-finance.txt"
    plain = "The financial office will finance efficient flood defences along the Thames.\n"
    source.write_text(plain, encoding="utf-8")
    assert json.loads(run_cli(workdir, "index", "--json").stdout)["chunks"]["embedded"] == 1
    ligatures = plain.replace("ffi", "\ufb03").replace("fi", "\ufb01").replace("fl", "\ufb02")
    assert "ﬁnancial" in ligatures and "eﬃcient" in ligatures and "ﬂood" in ligatures
    source.write_text(ligatures, encoding="utf-8")
    report = json.loads(run_cli(workdir, "index", "--json").stdout)
    assert report["sources"]["changed"] == ["2024-flood-finance.txt"]
    assert report["chunks"]["embedded"] == 0  # the same text to the model: its vector is reused
    for mode in ("hybrid", "dense", "bm25"):
        proc = run_cli(workdir, "ask", "financial office flood defences", "--json", "--mode", mode)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["results"][0]["source"] == "corpus/2024-flood-finance.txt", (mode, out)
        assert out["missing_words"] == []


def _quantum_in_top3(proc: subprocess.CompletedProcess[str]) -> bool:
    assert proc.returncode == 0, proc.stderr
    return any("National Quantum Strategy" in r["text"]
               for r in json.loads(proc.stdout)["results"][:3])


def test_a_mistyped_question_is_read_as_meant_with_the_real_model(workdir: Path) -> None:
    proc = run_cli(workdir, "ask", "what are the quantm prorities", "--json")
    assert _quantum_in_top3(proc)
    out = json.loads(proc.stdout)
    assert out["corrections"] == [{"typed": "quantm", "read_as": "quantum"},
                                  {"typed": "prorities", "read_as": "priorities"}]
    assert out["missing_words"] == [] and out["confident"] is True
    # a word the dictionary knows is never changed, though no source holds it
    out = json.loads(run_cli(workdir, "ask", "What is the capital of France?", "--json").stdout)
    assert out["corrections"] == [] and out["confident"] is False


@pytest.fixture
def own_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private model cache (the shared one's files hard-linked) for a test that damages it;
    the environment that points the CLI at it."""
    shared = model_cache()
    mine = tmp_path / "models"
    shutil.copytree(shared, mine, copy_function=os.link)
    monkeypatch.setenv("ITSQA_MODEL_CACHE", str(mine))
    return {"ITSQA_MODEL_CACHE": str(mine)}


def test_without_the_onnx_export_ask_falls_back_then_exports_it_again(
        workdir: Path, own_models: dict[str, str]) -> None:
    spec = model_spec(Settings())
    folder = onnx_folder(workdir / "index", spec)
    shutil.rmtree(folder)
    # --no-refresh writes nothing: the slow encoder answers, with a note
    proc = run_cli(workdir, "ask", "what are the quantum priorities", "--json", "--no-refresh",
                   env=own_models)
    assert _quantum_in_top3(proc)
    assert "no working ONNX export" in proc.stderr
    assert not folder.exists()
    # a plain ask exports it again, once
    proc = run_cli(workdir, "ask", "what are the quantum priorities", "--json", env=own_models)
    assert _quantum_in_top3(proc)
    assert "exporting the model to ONNX" in proc.stderr
    assert export_works(workdir / "index", spec)
    proc = run_cli(workdir, "ask", "what are the quantum priorities", "--json", env=own_models)
    assert _quantum_in_top3(proc)
    assert "ONNX" not in proc.stderr


def _damage(path: Path, data: bytes) -> None:
    """Overwrite a file of a private model cache: unlinked first, since its files are hard links
    to the shared cache's."""
    path.unlink()
    path.write_bytes(data)


def test_a_damaged_onnx_export_is_replaced_by_ask_and_by_index(
        workdir: Path, own_models: dict[str, str]) -> None:
    spec = model_spec(Settings())
    _damage(onnx_folder(workdir / "index", spec) / "tokenizer.json", b'{"version": "1.0", "trunc')
    assert not export_works(workdir / "index", spec)
    proc = run_cli(workdir, "ask", "what are the quantum priorities", "--json", env=own_models)
    assert _quantum_in_top3(proc)
    assert "cannot load the ONNX export" in proc.stderr and "exporting the model again" in proc.stderr
    assert export_works(workdir / "index", spec)
    # `itsqa index` on an up-to-date index mends it too, embedding nothing
    _damage(onnx_folder(workdir / "index", spec) / "model.opt.onnx", b"not a model")
    proc = run_cli(workdir, "index", "--json", env=own_models)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["chunks"]["embedded"] == 0
    assert export_works(workdir / "index", spec)
    # the weights file cut short (a full disk, a partial copy): a load error, not a crash
    weights = onnx_folder(workdir / "index", spec) / ONNX_OPTIMISED_DATA
    _damage(weights, weights.read_bytes()[: weights.stat().st_size // 2])
    assert not export_works(workdir / "index", spec)
    proc = run_cli(workdir, "ask", "what are the quantum priorities", "--json", env=own_models)
    assert _quantum_in_top3(proc) and "exporting the model again" in proc.stderr
    assert export_works(workdir / "index", spec)


def test_the_export_keeps_its_weights_in_a_file_of_their_own(workdir: Path) -> None:
    """The optimised graph is small and its weights a separate file that onnxruntime maps, so a
    cold ask does not parse 90 MB of protobuf to make its session."""
    folder = onnx_folder(workdir / "index", model_spec(Settings()))
    assert (folder / ONNX_OPTIMISED).stat().st_size < 1_000_000
    assert (folder / ONNX_OPTIMISED_DATA).stat().st_size > 50_000_000


def test_the_bundled_model_is_exported_with_its_attention_fused(workdir: Path) -> None:
    """onnxruntime's optimiser recognises the export's attention only when written out as matrix
    products: a change in how transformers exports it would quietly cost the build its speed."""
    import onnx

    folder = onnx_folder(workdir / "index", model_spec(Settings()))
    graph = onnx.load(str(folder / ONNX_OPTIMISED), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("Attention") == 6 and "Softmax" not in ops


def test_onnx_token_vectors_match_sentence_transformers(workdir: Path) -> None:
    spec = model_spec(Settings())
    fast = OnnxEncoder(onnx_folder(workdir / "index", spec), spec).tokens(QUESTIONS)
    slow = SentenceTransformerEncoder(spec).tokens(QUESTIONS)
    for f, s in zip(fast, slow, strict=True):
        assert list(f.ids) == list(s.ids) and f.pieces == s.pieces
        assert len(f.ids) <= spec.max_seq_length - 2
        assert ((f.vectors * s.vectors).sum(axis=1) >= 0.999).all()
    assert fast[0].pieces == ("what", "are", "the", "quantum", "priorities")


def test_expansion_and_late_interaction_with_the_real_model(workdir: Path) -> None:
    from itsqa.service import open_index

    s = Settings(corpus_dir=workdir / "corpus", index_dir=workdir / "index")
    r = open_index(s, refresh=False).retriever
    # No source says "ambassadors"; the model puts "diplomats" and "envoys" near it.
    plain = r.ranker.bm25_scores(r.read("ambassadors"), expand=False)
    expanded = r.ranker.bm25_scores(r.read("ambassadors"), expand=True)
    assert not plain.any() and expanded.max() > 0
    top = r.index.chunks[int(expanded.argmax())].text.lower()
    assert "envoy" in top or "diplomat" in top
    # Late interaction scores a passage on the question's words: the quantum actions beat a
    # passage about telecoms; punctuation alone carries no weight.
    rows = {i for i, c in enumerate(r.index.chunks) if "National Quantum Strategy" in c.text}
    other = next(i for i, c in enumerate(r.index.chunks)
                 if "quantum" not in c.text.lower() and c.text.startswith("5) Telecommunications"))
    quantum = min(rows)
    late = r.ranker.late_scores(r.read("what are the quantum priorities"), [quantum, other])
    assert late[0] > late[1] > 0
    assert not r.ranker.late_scores(r.read("?!"), [quantum, other]).any()
