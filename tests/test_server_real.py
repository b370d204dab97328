"""`itsqa serve` with the real model: its answers to the whole question set are the CLI's.
(Kept apart from test_server.py, whose module-wide server runs the fake model.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itsqa.config import Settings

from .helpers import client_for


def _same_answer(api: dict, cli: dict) -> bool:
    """Equal but for scores, which may differ in the sixth decimal: the server's model runs
    with pre-packed weights, a CLI ask's without (it opens faster)."""
    def strip(d: dict) -> dict:
        return {**d, "results": [{k: v for k, v in r.items() if k != "score"} for r in d["results"]]}

    scores_close = all(abs(a["score"] - b["score"]) < 1e-4
                       for a, b in zip(api["results"], cli["results"], strict=True))
    return strip(api) == strip(cli) and scores_close


@pytest.mark.slow
def test_the_api_answers_the_question_set_as_the_cli_does(tmp_path, monkeypatch) -> None:
    """With the real model: every question of the project's set through the API gives the
    passages, ranking, highlights and notes that `itsqa ask --json` gives."""
    import shutil

    from itsqa.answer import ask_json
    from itsqa.evaluation import load_questions
    from itsqa.service import open_index

    from .helpers import CORPUS, ROOT, run_itsqa

    shutil.copytree(CORPUS, tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    settings = Settings(corpus_dir=Path("corpus"), index_dir=Path("index"))
    client, live = client_for(settings)
    questions = [q.question for q in load_questions(ROOT / "eval" / "questions.jsonl")]
    cold = open_index(settings, refresh=False).retriever  # as `itsqa ask` opens it
    differ = [q for q in questions
              if not _same_answer(client.get("/api/ask", params={"q": q}).json(),
                                  ask_json(cold.ask(q)))]
    assert not differ, differ[:3]
    for q in questions[::60]:  # and the command itself, for a few
        cli = run_itsqa(tmp_path, "ask", q, "--json")
        assert cli.returncode == 0, cli.stderr
        assert _same_answer(client.get("/api/ask", params={"q": q}).json(),
                            json.loads(cli.stdout))
    live.stop()
