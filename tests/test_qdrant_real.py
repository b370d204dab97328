"""A Qdrant store with the real model: the README's command answers with the same citations as
the index folder, and every question of the project's set gets the same top five."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from itsqa import qdrant_store
from itsqa.config import Settings
from itsqa.evaluation import load_questions
from itsqa.service import open_index

from .helpers import CORPUS, ROOT, run_itsqa

pytestmark = pytest.mark.slow


def _citations(stdout: str) -> list[tuple[str, int, int, str, str, str]]:
    return [(r["source"], r["start"], r["end"], r["title"], r["publisher"], r["date"])
            for r in json.loads(stdout)["results"]]


def test_the_readme_store_command_cites_as_the_folder_does(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    q = "what are the quantum priorities"
    store = {"ITSQA_STORE": f"qdrant://{tmp_path / 'q'}"}
    via_store = run_itsqa(tmp_path, "ask", "--json", q, env=store)
    assert via_store.returncode == 0, via_store.stderr
    assert "publishing the index" in via_store.stderr
    folder = run_itsqa(tmp_path, "ask", "--json", q)
    assert folder.returncode == 0, folder.stderr
    assert _citations(via_store.stdout) == _citations(folder.stdout)
    shutil.move(tmp_path / "corpus", tmp_path / "away")  # a machine with the store alone
    shutil.rmtree(tmp_path / "index")
    alone = run_itsqa(tmp_path, "ask", "--json", q, env=store)
    assert alone.returncode == 0, alone.stderr
    assert _citations(alone.stdout) == _citations(folder.stdout)


def test_every_question_of_the_set_gets_the_same_top_five(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    s = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    folder = open_index(s, warm=True).retriever
    stored = open_index(replace(s, store=f"qdrant://{tmp_path / 'q'}"), warm=True).retriever
    try:
        differ = []
        for item in load_questions(ROOT / "eval" / "questions.jsonl"):
            a, b = folder.ask(item.question), stored.ask(item.question)
            top = [[(h.citation.name, h.citation.start) for h in x.hits] for x in (a, b)]
            if top[0] != top[1] or a.confident != b.confident:
                differ.append(item.question)
        assert not differ, differ
    finally:
        qdrant_store.close_clients()


def test_a_publish_killed_with_sigkill_leaves_the_alias_on_the_old_index(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from .helpers import clean_env

    shutil.copytree(CORPUS, tmp_path / "corpus")
    url = f"qdrant://{tmp_path / 'q'}"
    first = run_itsqa(tmp_path, "index", "--store", url)
    assert first.returncode == 0, first.stderr
    collections = tmp_path / "q" / "collection"
    old = {p.name for p in collections.iterdir()}
    for i in range(4):  # enough new passages that the upload takes a while
        for src in (tmp_path / "corpus").glob("*.txt"):
            (tmp_path / "corpus" / f"copy{i}").mkdir(exist_ok=True)
            (tmp_path / "corpus" / f"copy{i}" / src.name).write_text(
                f"Copy {i}.\n\n" + src.read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "itsqa", "index", "--store", url],
                            cwd=tmp_path, env=clean_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not ({p.name for p in collections.iterdir()} - old):
        assert proc.poll() is None, "the build ended before its publish could be caught"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # the new collection exists; the alias has not moved
    proc.wait()
    try:
        addr = qdrant_store.parse_address(url)
        c = qdrant_store.client(addr)
        assert qdrant_store.alias_target(c, addr.collection) in old
        # the old one, and the half-written one unless the kill came before it was registered
        assert 1 <= len(c.get_collections().collections) <= 2
    finally:
        qdrant_store.close_clients()
    again = run_itsqa(tmp_path, "index", "--store", url)
    assert again.returncode == 0, again.stderr
    try:
        c = qdrant_store.client(addr)
        assert qdrant_store.alias_target(c, addr.collection) not in old
        stored = open_index(Settings(corpus_dir=tmp_path / "none", index_dir=tmp_path / "none",
                                     store=url)).retriever
        assert len(stored.index.chunks) > 47 * 4
    finally:
        qdrant_store.close_clients()
