"""`itsqa ask` handed to a running `itsqa serve` of the same index, which has the model and the
index loaded: the answer in a fraction of a cold start. The server announces itself in its index
folder (SERVING.json: its process, port and settings); an ask whose settings are the same sends
the question to it on the loopback, asking it to bring the index up to date first, exactly as a
cold ask does. Anything else — no server, another process or settings, a refused or failed
request — and the ask runs cold as if no server were there. ITSQA_NO_HANDOFF=1 turns it off.

Light on purpose: the standard library, and urllib only once a server is found, so that an
ask with no server running pays nothing for this, and a handed-off one imports nothing heavy."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from .config import Settings
from .scope import Scope

SERVING = "SERVING.json"
ANSWER_SECONDS = 600.0  # the server may be bringing the index up to date first, as a cold ask would


def fingerprint(settings: Settings) -> dict[str, str]:
    """The settings as a server and an ask compare them: paths absolute, everything else as
    its text."""
    out = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        out[f.name] = str(value.resolve()) if isinstance(value, Path) else repr(value)
    return out


def announce(settings: Settings, port: int, token: str) -> Path | None:
    """Say in the index folder that this process serves its index on `port` (loopback), under
    `token` (which the server then requires, so that a server started later on the same port
    is never taken for this one); the path written, or None when the folder cannot be written
    (asks then run cold)."""
    from .store import write_json_atomic  # only a server announces: no cost to an ask

    folder = settings.index_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / SERVING, {"pid": os.getpid(), "port": port, "token": token,
                                             "settings": fingerprint(settings)})
    except OSError:
        return None
    return folder / SERVING


def withdraw(path: Path | None) -> None:
    """Remove the announcement, if it is still this process's."""
    if path is None:
        return
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _server_for(settings: Settings) -> tuple[int, str] | None:
    """(port, token) of a live server of the same index with the same settings, if any."""
    try:
        said = json.loads((settings.index_dir / SERVING).read_text(encoding="utf-8"))
        pid, port, token = int(said["pid"]), int(said["port"]), str(said["token"])
        if said.get("settings") != fingerprint(settings) or not 0 < port < 65536:
            return None
        os.kill(pid, 0)  # raises when no such process
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return port, token


def ask_running(settings: Settings, question: str, k: int, mode: str | None,
                scope: Scope | None) -> dict[str, Any] | None:
    """The JSON of `itsqa ask --json` from a running server of the same index (brought up to date
    first), or None when there is none or it did not answer."""
    if os.environ.get("ITSQA_NO_HANDOFF"):
        return None
    found = _server_for(settings)
    if found is None:
        return None
    import urllib.parse
    import urllib.request

    port, token = found
    params: list[tuple[str, str]] = [("q", question), ("k", str(k)), ("fresh", "true"),
                                     ("handoff", token)]
    if mode:
        params.append(("mode", mode))
    if scope is not None:
        params += [("source", s) for s in scope.sources]
        params += [("publisher", p) for p in scope.publishers]
        params += [(name, v) for name, v in (("since", scope.since), ("until", scope.until)) if v]
    url = f"http://127.0.0.1:{port}/api/ask?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=ANSWER_SECONDS) as response:
            answer = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):  # refused, timed out, an error status, not JSON
        return None
    ok = isinstance(answer, dict) and isinstance(answer.get("results"), list)
    return answer if ok else None
