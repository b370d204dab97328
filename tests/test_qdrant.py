"""A Qdrant store (`--store`), in the client's local mode: the same answers as the index folder,
builds published whole behind an alias, a killed publish leaving the alias where it was, asking
without the corpus, and one-line errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from itsqa import qdrant_store
from itsqa.build import update_index
from itsqa.config import Settings
from itsqa.errors import BadIndexError, StoreError, UsageError
from itsqa.model import model_spec
from itsqa.service import open_index

from .helpers import BS, WIGGIN, assert_one_line_error, invoke, make_settings

QUESTIONS = ["what are the quantum priorities", "cyber security partners",
             "semiconductors supply chains", "who published the strategy",
             "technology envoys in the Indo-Pacific", "responsible AI governance"]


@pytest.fixture(autouse=True)
def _closed_clients():
    yield
    qdrant_store.close_clients()  # local mode holds a lock on its folder per client


def _store_settings(corpus: Path, tmp_path: Path):
    return replace(make_settings(corpus, tmp_path), store=f"qdrant://{tmp_path / 'q'}")


def _top(retriever, question: str, k: int = 5) -> list[tuple[str, int, int]]:
    return [(h.citation.name, h.citation.start, h.citation.end)
            for h in retriever.ask(question, k=k).hits]


def _alias(settings) -> str | None:
    addr = qdrant_store.parse_address(settings.store)
    return qdrant_store.alias_target(qdrant_store.client(addr), addr.collection)


@pytest.mark.parametrize("url, collection, path, shards, replicas", [
    ("qdrant:///tmp/q", "itsqa", Path("/tmp/q"), None, None),
    ("qdrant://db.example:6334/policy", "policy", None, None, None),
    ("qdrant://localhost", "itsqa", None, None, None),
    ("qdrant://db.example/its?shards=6&replicas=2", "its", None, 6, 2),
])
def test_store_addresses(url, collection, path, shards, replicas):
    a = qdrant_store.parse_address(url)
    assert (a.collection, a.path, a.shards, a.replicas) == (collection, path, shards, replicas)


@pytest.mark.parametrize("url", ["http://localhost:6333/x", "qdrant://", "qdrant:///",
                                 "qdrant://h:port/x", "qdrant://h/bad name",
                                 "qdrant://h/x?shards=0", "qdrant://h/x?shards=two",
                                 "qdrant://h/x?colour=red"])
def test_bad_store_addresses_are_usage_errors(url):
    with pytest.raises(UsageError):
        qdrant_store.parse_address(url)


def test_the_store_answers_as_the_index_folder(corpus_copy, tmp_path, fake_encoder):
    s = _store_settings(corpus_copy, tmp_path)
    folder = open_index(replace(s, store="")).retriever
    stored = open_index(s).retriever
    assert type(stored).__name__ == "StoreRetriever"
    for q in QUESTIONS:
        assert _top(stored, q) == _top(folder, q), q
        assert stored.ask(q).confident == folder.ask(q).confident
    for mode in ("bm25", "dense", "late"):
        assert ([h.row for h in stored.ask(QUESTIONS[0], mode=mode).hits]
                == [h.row for h in folder.ask(QUESTIONS[0], mode=mode).hits]), mode


def test_edit_add_remove_reach_the_store_behind_its_alias(corpus_copy, tmp_path, fake_encoder):
    s = _store_settings(corpus_copy, tmp_path)
    update_index(s)
    first = _alias(s)
    assert first and first.startswith("itsqa--gen-")
    path = corpus_copy / BS
    marker = "The zebra crossing pilot in Swindon proved the envoy network works."
    path.write_text(path.read_text(encoding="utf-8").replace(
        "Key principles", marker + "\n\nKey principles", 1), encoding="utf-8")
    (corpus_copy / "2024-new-source.md").write_text(
        "# Aardvark policy\n\nThe aardvark strategy sets out burrowing priorities.\n",
        encoding="utf-8")
    (corpus_copy / WIGGIN).unlink()
    r = open_index(s).retriever  # refreshes the folder, publishes, opens the new collection
    assert _alias(s) not in (None, first)
    assert r.ask("zebra crossing pilot Swindon", k=1).hits[0].citation.name == BS
    assert r.ask("aardvark burrowing strategy", k=1).hits[0].citation.name == "2024-new-source.md"
    assert all(h.citation.name != WIGGIN for q in QUESTIONS for h in r.ask(q, k=10).hits)
    update_index(s)
    names = {c.name for c in qdrant_store.client(qdrant_store.parse_address(s.store))
             .get_collections().collections}
    assert len(names) <= 2, "older generations are removed"


def test_a_killed_publish_leaves_the_alias_on_the_old_index(corpus_copy, tmp_path, fake_encoder,
                                                            monkeypatch):
    s = _store_settings(corpus_copy, tmp_path)
    passages = len(open_index(s).retriever.index.chunks)
    old = _alias(s)
    (corpus_copy / "2024-new-source.md").write_text(
        "# Aardvark policy\n\nThe aardvark strategy sets out burrowing priorities.\n",
        encoding="utf-8")
    c = qdrant_store.client(qdrant_store.parse_address(s.store))
    real_upsert = c.upsert
    calls = []

    def dies(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt  # as Ctrl-C half-way through the upload
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(c, "upsert", dies)
    with pytest.raises(KeyboardInterrupt):
        update_index(s)
    monkeypatch.undo()
    assert _alias(s) == old
    asked = open_index(replace(s, corpus_dir=tmp_path / "elsewhere")).retriever  # store as it is
    assert asked.index.collection == old and len(asked.index.chunks) == passages
    assert all(name != "2024-new-source.md" for name, _, _ in
               _top(asked, "aardvark burrowing strategy", 10))
    fresh = open_index(s).retriever  # the next publish replaces the half-written collection
    assert _alias(s) != old
    assert len(fresh.index.chunks) == passages + 1
    folder = open_index(replace(s, store="")).retriever
    assert _top(fresh, "aardvark burrowing strategy") == _top(folder, "aardvark burrowing strategy")


def test_a_second_machine_asks_without_the_corpus_or_the_folder(corpus_copy, tmp_path,
                                                                fake_encoder):
    s = _store_settings(corpus_copy, tmp_path)
    here = _top(open_index(s).retriever, QUESTIONS[0])
    qdrant_store.close_clients()
    elsewhere = replace(s, corpus_dir=tmp_path / "no-corpus", index_dir=tmp_path / "no-index")
    r = open_index(elsewhere).retriever
    assert _top(r, QUESTIONS[0]) == here
    from itsqa.source_text import passage, source_text

    name, start, end = here[0]
    cited = passage(source_text(r.index, elsewhere.corpus_dir, name), start, end)
    assert cited["text"] == r.ask(QUESTIONS[0], k=1).hits[0].text
    assert not (tmp_path / "no-index").exists()


def test_an_index_made_with_another_model_is_refused(corpus_copy, tmp_path, fake_encoder):
    s = _store_settings(corpus_copy, tmp_path)
    update_index(s)
    with pytest.raises(BadIndexError, match="other model"):
        qdrant_store.opened_collection(s.store, "another-model", s.chunking.as_dict())
    chunking = {**s.chunking.as_dict(), "target_chars": 1}
    with pytest.raises(BadIndexError, match="chunking"):
        qdrant_store.opened_collection(s.store, model_spec(s).key, chunking)


def test_store_errors_are_one_line(runner, tmp_path, fake_encoder):
    nowhere = str(tmp_path / "no-corpus")
    empty = invoke(runner, ["ask", "--store", f"qdrant://{tmp_path / 'empty'}", "--corpus",
                            nowhere, "quantum"])
    assert_one_line_error(empty, 1, "has no index", "itsqa index --store")
    # nothing listens on port 9 of the loopback: refused at once
    down = invoke(runner, ["ask", "--store", "qdrant://127.0.0.1:9/x", "--corpus", nowhere,
                           "quantum"])
    assert_one_line_error(down, 1, "qdrant://127.0.0.1:9/x")
    bad = invoke(runner, ["ask", "--store", "http://127.0.0.1/x", "quantum"])
    assert bad.exit_code == 2 and "qdrant://" in bad.output


def test_a_store_error_is_a_store_error(tmp_path):
    addr = qdrant_store.parse_address("qdrant://127.0.0.1:9/x")
    with pytest.raises(StoreError, match="failed while"):
        qdrant_store.opened_collection(addr.url, "k", {})


def test_mcp_tools_work_unchanged_against_the_store(tmp_path, monkeypatch, corpus_copy,
                                                    fake_encoder):
    import asyncio

    from mcp import Client

    from itsqa.answer import ask_json
    from itsqa.live import LiveIndex
    from itsqa.mcp_server import build_server

    from .test_mcp import _session

    monkeypatch.chdir(tmp_path)
    s = Settings(corpus_dir=Path("corpus"), index_dir=Path("index"),
                 store=f"qdrant://{tmp_path / 'q'}")
    live = LiveIndex(s)
    assert type(live.retriever).__name__ == "StoreRetriever"
    folder = open_index(replace(s, store=""), refresh=False).retriever

    def expected(question: str):
        return ask_json(folder.ask(question))

    async def run() -> None:
        async with Client(build_server(live)) as client:
            await _session(client, corpus_copy, expected)

    asyncio.run(run())


def test_serve_answers_from_the_store_and_follows_a_build_published_elsewhere(
        corpus_copy, tmp_path, fake_encoder):
    import threading

    from .helpers import client_for

    s = _store_settings(corpus_copy, tmp_path)
    update_index(s)
    away = replace(s, corpus_dir=tmp_path / "no-corpus", index_dir=tmp_path / "no-index")
    client, live = client_for(away)  # a second machine: the store alone
    folder = open_index(replace(s, store=""), refresh=False).retriever
    got = client.get("/api/ask", params={"q": QUESTIONS[0]}).json()
    assert [(r["name"], r["start"]) for r in got["results"]] == [
        (n, a) for n, a, _ in _top(folder, QUESTIONS[0])]
    first = got["results"][0]
    cited = client.get("/api/passage", params={"source": first["name"], "start": first["start"],
                                               "end": first["end"]}).json()
    assert cited["text"] == first["text"]
    (corpus_copy / "2025-okapi.txt").write_text("Okapi diplomacy is the newest lever.\n",
                                                encoding="utf-8")
    update_index(s)  # built and published where the corpus is
    done: list[bool] = []
    t = threading.Thread(target=lambda: done.append(live.refresh()))  # as the server's timer
    t.start()
    t.join()
    assert done == [True]
    fresh = client.get("/api/ask", params={"q": "okapi diplomacy", "k": 1}).json()
    assert fresh["results"][0]["name"] == "2025-okapi.txt"


def test_sources_and_list_sources_come_from_the_store_without_the_corpus(
        corpus_copy, tmp_path, fake_encoder, runner):
    import json

    s = _store_settings(corpus_copy, tmp_path)
    update_index(s)
    qdrant_store.close_clients()
    here = invoke(runner, ["sources", "--json", "--corpus", str(corpus_copy), "--index",
                           str(tmp_path / "index")])
    away = invoke(runner, ["sources", "--json", "--store", s.store, "--corpus",
                           str(tmp_path / "no-corpus")])
    assert away.exit_code == 0, away.output
    keep = ("name", "title", "publisher", "date", "chunks", "status")
    rows = [[{k: r[k] for k in keep} for r in json.loads(x.stdout)] for x in (here, away)]
    assert rows[0] == rows[1] and len(rows[1]) == 5


def test_eval_scores_the_store_as_the_folder(corpus_copy, tmp_path, fake_encoder, runner):
    import json

    from .helpers import ROOT

    questions = tmp_path / "q.jsonl"
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()[:25]
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    common = ["eval", str(questions), "--json", "--corpus", str(corpus_copy), "--index",
              str(tmp_path / "index")]
    folder = invoke(runner, common)
    stored = invoke(runner, [*common, "--store", f"qdrant://{tmp_path / 'q'}"])
    assert folder.exit_code == stored.exit_code == 0, stored.output
    a, b = json.loads(folder.stdout), json.loads(stored.stdout)
    assert a["metrics"] == b["metrics"] and a["n"] == b["n"] == 25
