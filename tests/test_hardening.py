"""Bad input, damaged indexes, concurrent use and crashes, walked through the real CLI in
subprocesses with the real model (issue: hardening)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from itsqa import store

from .helpers import CORPUS, clean_env, copy_workspace, reseal, run_itsqa

# Every test here runs the real model through the CLI in subprocesses.
pytestmark = pytest.mark.slow

HANSARD = "2023-03-22-hansard-written-statement-hcws660.txt"
WIGGIN = "2023-lexology-wiggin-government-publishes-new-its.txt"
SMALL = [HANSARD, WIGGIN]


itsqa = run_itsqa


def spawn(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "itsqa", *args], cwd=cwd, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, proc.stderr
    for w in words:
        assert w in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small sources indexed once with the real model (and its ONNX export)."""
    d = tmp_path_factory.mktemp("template")
    (d / "corpus").mkdir()
    for name in SMALL:
        shutil.copy(CORPUS / name, d / "corpus" / name)
    shutil.copy(CORPUS / "sources.toml", d / "corpus" / "sources.toml")
    proc = itsqa(d, "index")
    assert proc.returncode == 0, proc.stderr
    return d


@pytest.fixture
def work(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template."""
    return copy_workspace(template, tmp_path / "w")


def ask_json(work: Path, question: str, *args: str) -> dict:
    proc = itsqa(work, "ask", question, "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# -- exit codes and messages ----------------------------------------------------------------

@pytest.mark.parametrize("args,code,words", [
    (["ask", ""], 2, ["question is empty"]),
    (["ask", " \n\t "], 2, ["question is empty"]),
    (["ask", "q", "-k", "0"], 2, ["-k"]),
    (["ask", "q", "--mode", "psychic"], 2, ["--mode"]),
    (["fly"], 2, ["No such command"]),
    (["eval"], 2, ["question set"]),
    (["ask", "q", "--corpus", "nowhere"], 1, ["nowhere does not exist"]),
    (["ask", "q", "--corpus", "corpus/" + HANSARD], 1, ["is a file, not a folder"]),
    (["index", "--index", "corpus/" + HANSARD + "/idx"], 1, ["cannot write to the index folder"]),
    (["eval", "missing.jsonl"], 1, ["does not exist"]),
    (["eval", "corpus"], 1, ["is a folder", "--beir"]),
    (["eval", "--beir", "corpus"], 1, ["BEIR"]),
])
def test_bad_usage_and_paths(work: Path, args: list[str], code: int, words: list[str]) -> None:
    one_line_error(itsqa(work, *args), code, *words)


def test_debug_gives_a_traceback(work: Path) -> None:
    proc = itsqa(work, "--debug", "ask", "q", "--corpus", "nowhere")
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    proc = itsqa(work, "ask", "q", "--corpus", "nowhere", env={"ITSQA_DEBUG": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr


@pytest.mark.parametrize("question", ["🚀 quantum? 🚀", "מה העדיפויות", "tab\there\x07bell\x01soh",
                                      "\x1b[2J\x1b[31mred", "‮reversed"])
def test_any_unicode_question(work: Path, question: str) -> None:
    out = ask_json(work, question)
    assert out["results"]
    text = itsqa(work, "ask", question)
    assert text.returncode == 0 and "\x1b[" not in text.stdout


def test_long_question_is_truncated_with_a_note(work: Path) -> None:
    proc = itsqa(work, "ask", "what does the strategy say about quantum " * 80)
    assert proc.returncode == 0, proc.stderr
    assert "longer than the model reads" in proc.stderr


def test_k_larger_than_the_corpus_returns_every_passage(work: Path) -> None:
    out = ask_json(work, "technology", "-k", "100000")
    loaded = store.load(work / "index")
    assert loaded is not None
    shown = len(out["results"]) + sum(len(r["also_in"]) for r in out["results"])
    assert len(out["results"]) >= 0.8 * len(loaded.chunks) and shown <= len(loaded.chunks)


def test_asking_an_up_to_date_index_writes_nothing(work: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in (work / "index").rglob("*")}
    ask_json(work, "who made the statement")
    after = {p: p.stat().st_mtime_ns for p in (work / "index").rglob("*")}
    assert before == after


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` read-only for the itsqa processes: by permissions, or, for root (whom permissions
    do not stop, as in CI), by a read-only bind mount of it over itself."""
    if os.geteuid() != 0:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p in [folder, *folder.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
        return
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip("root, and no read-only bind mount here: permissions would not stop a write")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True)
        if ro.returncode != 0:
            pytest.skip("root, and the bind mount cannot be made read-only here")
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_read_only_index_still_answers(work: Path) -> None:
    (work / "corpus" / "new.txt").write_text("Gannets nest on the cliffs.\n", encoding="utf-8")
    with read_only(work / "index"):
        with pytest.raises(OSError):  # the folder really is read-only to this process too
            (work / "index" / "probe").write_text("x")
        proc = itsqa(work, "ask", "quantum", "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["results"] and json.loads(proc.stdout)["stale"]
        assert "read-only: answering from it as it is" in proc.stderr
        one_line_error(itsqa(work, "index", "--rebuild"), 1, "cannot write")
    (work / "corpus" / "new.txt").unlink()


# -- damaged indexes ------------------------------------------------------------------------

def damage(index: Path, how: str) -> None:
    gen = store.current_generation(index)
    assert gen is not None
    manifest = json.loads((gen / store.MANIFEST).read_text())
    if how == "truncated":
        f = gen / store.EMBEDDINGS
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif how == "altered":
        f = gen / "passage_text.bin"
        before = f.read_bytes()
        f.write_bytes(before.replace(b"strategy", b"strategz", 1))
        assert f.read_bytes() != before  # the damage really happened
    elif how == "missing":
        (gen / "bm25" / "vocab.json").unlink()
    elif how == "format":
        manifest["format_version"] = 0
        (gen / store.MANIFEST).write_text(json.dumps(manifest))
        reseal(gen)
    elif how == "model":
        manifest["model"]["key"] = "0" * 16
        (gen / store.MANIFEST).write_text(json.dumps(manifest))
        reseal(gen)
    elif how == "mismatch":
        columns = np.load(gen / "passage_columns.npy")
        np.save(gen / "passage_columns.npy", columns[1:])
        reseal(gen, "passage_columns.npy")
    elif how == "pointer":
        (index / store.CURRENT).write_text("{garbage")


@pytest.mark.parametrize("how", ["truncated", "altered", "missing", "format", "model", "mismatch",
                                 "pointer"])
def test_damaged_index_is_refused_or_rebuilt(work: Path, how: str) -> None:
    damage(work / "index", how)
    refused = itsqa(work, "ask", "quantum", "--no-refresh")
    one_line_error(refused, 1, "itsqa index")
    proc = itsqa(work, "ask", "Which house received the strategy?", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "rebuild" in proc.stderr
    out = json.loads(proc.stdout)
    for r in out["results"]:
        assert (work / r["source"]).read_text(encoding="utf-8")[r["start"] : r["end"]] == r["text"]
    assert store.load(work / "index") is not None


def test_planted_pickle_is_never_executed(work: Path) -> None:
    marker = work / "PWNED"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    gen = store.current_generation(work / "index")
    assert gen is not None
    np.save(gen / "embeddings.npy", np.array([Evil()], dtype=object), allow_pickle=True)
    import pickle

    (gen / "index.pkl").write_bytes(pickle.dumps(Evil()))
    proc = itsqa(work, "ask", "quantum", "--json")
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert "rebuild" in proc.stderr


# -- awkward sources ------------------------------------------------------------------------

def test_awkward_sources_are_skipped_or_read_with_warnings(work: Path, tmp_path: Path) -> None:
    c = work / "corpus"
    (c / "binary.txt").write_bytes(os.urandom(4096) + b"\x00" * 100)
    (c / "empty.md").write_text("", encoding="utf-8")
    (c / "broken.pdf").write_bytes(b"%PDF-1.4 cut short")
    (c / "huge.txt").write_text(("The huge file repeats itself. " * 35_000 + "\n") * 30,
                                encoding="utf-8")  # about 30 MB
    (c / "cp1252.txt").write_bytes("The caf\xe9 envoy met the d\xe9l\xe9gation in Z\xfcrich.\n"
                                   .encode("cp1252"))
    (c / ".hidden.txt").write_text("hidden text about okapis", encoding="utf-8")
    (c / "notes.txt~").write_text("editor backup about okapis", encoding="utf-8")
    (c / "#autosave.txt#").write_text("emacs autosave about okapis", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("the password is okapi", encoding="utf-8")
    (c / "leak.txt").symlink_to(secret)
    (c / "sub").mkdir()
    (c / "sub" / "inner.md").write_text("# Inner\n\nA nested source about narwhal diplomacy.\n",
                                        encoding="utf-8")
    proc = itsqa(work, "index", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    warnings = "\n".join(report["warnings"])
    for name in ("binary.txt", "empty.md", "broken.pdf", "huge.txt", "cp1252.txt", "leak.txt"):
        assert name in warnings, warnings
    # every line on stderr is ours: pypdf's own log ("EOF marker not found") does not leak raw
    assert all(line.startswith("warning: ") for line in proc.stderr.splitlines() if line), proc.stderr
    assert "ITSQA_MAX_SOURCE_MB" in warnings and "symbolic link" in warnings
    assert not any(x in warnings for x in ("hidden", "notes.txt~", "autosave"))
    assert sorted(report["sources"]["added"]) == ["cp1252.txt", "sub/inner.md"]
    out = ask_json(work, "okapi password")
    assert all("okapi" not in r["text"].lower() for r in out["results"])
    top = ask_json(work, "narwhal diplomacy", "-k", "1")["results"][0]
    assert top["source"] == "corpus/sub/inner.md"
    cafe = ask_json(work, "café envoy Zürich délégation", "-k", "1")["results"][0]
    assert cafe["source"] == "corpus/cp1252.txt" and "Zürich" in cafe["text"]
    again = itsqa(work, "index", "--json")
    assert json.loads(again.stdout)["chunks"]["embedded"] == 0


# -- concurrency and crashes ----------------------------------------------------------------

def test_two_builds_at_once_and_ask_during_a_build(work: Path) -> None:
    a = spawn(work, "index", "--rebuild", "--json")
    b = spawn(work, "index", "--rebuild", "--json")
    time.sleep(0.5)
    asked = itsqa(work, "ask", "quantum", "--json", "--no-refresh")
    out_a, err_a = a.communicate(timeout=300)
    out_b, err_b = b.communicate(timeout=300)
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["results"]
    loaded = store.load(work / "index")
    assert loaded is not None
    assert len([p for p in (work / "index").iterdir() if p.name.startswith("gen-")]) == 1


def test_sigkill_at_random_points_always_leaves_a_valid_index(work: Path) -> None:
    rng = random.Random(7)
    (work / "corpus" / "extra.txt").write_text("An extra source about puffin diplomacy.\n",
                                               encoding="utf-8")
    for _ in range(8):
        proc = spawn(work, "index", "--rebuild")
        time.sleep(rng.uniform(0.0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        loaded = store.load(work / "index")
        assert loaded is not None
        assert len(loaded.chunks) + len(loaded.sentences) == loaded.dense.ntotal
        asked = itsqa(work, "ask", "quantum", "--json", "--no-refresh")
        assert asked.returncode == 0, asked.stderr
    # The next build finishes the job and clears what the killed ones left, even when the last
    # kill came after a commit and there is nothing left to embed.
    finished = itsqa(work, "index", "--json")
    assert finished.returncode == 0, finished.stderr
    assert not [p for p in (work / "index").iterdir() if p.name.startswith(".tmp-gen-")]
    done = itsqa(work, "ask", "puffin diplomacy", "--json", "-k", "1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["source"] == "corpus/extra.txt"
