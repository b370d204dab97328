"""`itsqa ask` handed to a running `itsqa serve` of the same index (handoff.py): the same answer
as a cold ask, the sources brought up to date first, and a cold ask whenever the server is not
the right one or does not answer."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from itsqa import handoff

from .helpers import CORPUS, invoke, make_settings, run_itsqa, serving


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_announce_and_withdraw(tmp_path):
    s = make_settings(tmp_path / "corpus", tmp_path)
    path = handoff.announce(s, 8123, "t0k")
    assert path is not None and json.loads(path.read_text())["port"] == 8123
    assert handoff._server_for(s) == (8123, "t0k")
    assert handoff._server_for(replace(s, spelling=False)) is None  # --as-typed: not the same
    handoff.withdraw(path)
    assert not path.exists()


def test_a_dead_server_or_another_one_is_not_asked(tmp_path):
    s = make_settings(tmp_path / "corpus", tmp_path)
    (tmp_path / "index").mkdir()
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    said = {"pid": int(done.stdout), "port": 8123, "token": "t",
            "settings": handoff.fingerprint(s)}
    (tmp_path / "index" / handoff.SERVING).write_text(json.dumps(said))
    assert handoff._server_for(s) is None  # that process is gone
    (tmp_path / "index" / handoff.SERVING).write_text("{not json")
    assert handoff.ask_running(s, "q", 5, None, None) is None
    other = {**said, "pid": os.getpid()}
    (tmp_path / "index" / handoff.SERVING).write_text(json.dumps(other))
    handoff.withdraw(tmp_path / "index" / handoff.SERVING)
    assert not (tmp_path / "index" / handoff.SERVING).exists()


def test_ask_is_answered_by_a_running_server_in_process(corpus_copy, tmp_path, fake_encoder,
                                                         runner, monkeypatch):
    import uvicorn

    from itsqa.live import LiveIndex
    from itsqa.server import create_app

    monkeypatch.chdir(tmp_path)
    s = make_settings(Path("corpus"), Path("."))
    s = replace(s, index_dir=Path("index"))
    cold = invoke(runner, ["ask", "--json", "quantum priorities"], env={"ITSQA_NO_HANDOFF": "1"})
    port = _free_port()
    app = create_app(LiveIndex(s), port, serving="right")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        handoff.announce(s, port, "wrong")  # a server that is not the one announced: cold
        assert handoff.ask_running(s, "quantum", 5, None, None) is None
        handoff.announce(s, port, "right")
        import itsqa.service

        def no_cold_ask(*args, **kwargs):
            raise AssertionError("the ask ran cold")

        monkeypatch.setattr(itsqa.service, "open_index", no_cold_ask)
        handed = invoke(runner, ["ask", "--json", "quantum priorities"])
        assert handed.exit_code == 0, handed.output
        a, b = json.loads(handed.stdout), json.loads(cold.stdout)
        assert [(r["name"], r["start"], r["source"]) for r in a["results"]] == \
            [(r["name"], r["start"], r["source"]) for r in b["results"]]
        assert a["question"] == b["question"] and a["notes"] == b["notes"]
        text = invoke(runner, ["ask", "quantum priorities"])
        assert text.exit_code == 0 and "characters" in text.stdout
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.slow
def test_a_running_serve_answers_ask_as_a_cold_ask_would(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    with serving(tmp_path):
        assert (tmp_path / "index" / handoff.SERVING).exists()
        q = "what are the quantum priorities"
        handed = run_itsqa(tmp_path, "ask", q)
        cold = run_itsqa(tmp_path, "ask", q, env={"ITSQA_NO_HANDOFF": "1"})
        assert handed.returncode == cold.returncode == 0, handed.stderr + cold.stderr
        assert handed.stdout == cold.stdout  # scores print to 3 places: the same text
        (tmp_path / "corpus" / "2025-okapi.txt").write_text(
            "Okapi diplomacy is the strategy's newest lever.\n", encoding="utf-8")
        fresh = json.loads(run_itsqa(tmp_path, "ask", "--json", "-k", "1", "okapi diplomacy").stdout)
        assert fresh["results"][0]["name"] == "2025-okapi.txt"  # brought up to date first
    assert not (tmp_path / "index" / handoff.SERVING).exists()  # withdrawn on the way out
