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
