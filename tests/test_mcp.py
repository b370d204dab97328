"""The MCP server through the SDK's own client: in process with the fake model (fast), then over
stdio with the real model as an assistant launches it, and over Streamable HTTP on `itsqa serve`."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from itsqa.answer import ask_json
from itsqa.config import Settings
from itsqa.live import LiveIndex
from itsqa.mcp_server import build_server

from .helpers import BS, CORPUS, WIGGIN, clean_env, run_itsqa, serving

BAD_CALLS = [
    ("search", {"query": "x", "bogus": 1}, "unknown parameter 'bogus'"),
    ("search", {"query": "x", "k": "five"}, "k: Input should be a valid integer"),
    ("search", {"query": "x", "k": 0}, "k: Input should be greater than or equal to 1"),
    ("search", {"query": "x", "k": 51}, "k: Input should be less than or equal to 50"),
    ("search", {}, "query: Field required"),
    ("search", {"query": "x", "mode": "magic"}, "mode"),
    ("search", {"query": "x", "source": "a.txt"}, "source: Input should be a valid list"),
    ("search", {"query": "x", "source": ["nope.txt"]}, "no source is named 'nope.txt'"),
    ("search", {"query": "x", "since": "2023-13"}, "is not a date"),
    ("get_passage", {"source": "nope.txt", "start": 0, "end": 5}, "no source is named"),
    ("get_passage", {"source": BS, "start": 0, "end": 10**7}, "is not within"),
    ("get_passage", {"source": BS, "start": 9, "end": 3}, "is not within"),
    ("get_passage", {"source": BS, "start": 0, "end": 5, "context_chars": 10**6}, "context_chars"),
    ("list_sources", {"verbose": True}, "unknown parameter 'verbose'"),
]


async def _error(client: Any, tool: str, args: dict[str, Any]) -> str:
    """The one-line message of a call that must fail, however the SDK delivers it."""
    from mcp.shared.exceptions import MCPError

    try:
        result = await client.call_tool(tool, args)
    except MCPError as exc:
        return str(exc)
    assert result.is_error, f"{tool}({args}) should have failed"
    return str(result.content[0].text)


async def _session(client: Any, corpus: Path, expected_answer: Any) -> None:
    """What every transport must do: three tools, answers as the CLI gives them, one-line errors
    that leave the session serving, and edits picked up by the next call."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"search", "get_passage", "list_sources"}
    assert tools["search"].input_schema["additionalProperties"] is False
    assert "passages, not answers" in tools["search"].description
    result = await client.call_tool("search", {"query": "what are the quantum priorities"})
    assert not result.is_error
    got = result.structured_content
    assert got == expected_answer("what are the quantum priorities")
    first = got["results"][0]
    quoted = (await client.call_tool("get_passage", {"source": first["name"], "start": first["start"],
                                                     "end": first["end"], "context_chars": 40}))
    assert quoted.structured_content["text"] == first["text"]
    assert len(quoted.structured_content["before"]) == 40
    listed = (await client.call_tool("list_sources", {})).structured_content["sources"]
    assert {s["name"] for s in listed} >= {BS, WIGGIN} and all(s["passages"] > 0 for s in listed)
    for tool, args, words in BAD_CALLS:
        message = await _error(client, tool, args)
        assert words in message and "\n" not in message, (tool, args, message)
    (corpus / "2025-okapi.txt").write_text("Okapi diplomacy is the strategy's newest lever.\n",
                                           encoding="utf-8")
    fresh = (await client.call_tool("search", {"query": "okapi diplomacy", "k": 1})).structured_content
    assert fresh["results"][0]["name"] == "2025-okapi.txt"
    (corpus / "2025-okapi.txt").unlink()
    gone = (await client.call_tool("search", {"query": "okapi diplomacy"})).structured_content
    assert all(r["name"] != "2025-okapi.txt" for r in gone["results"])


def test_in_process_with_the_fake_model(tmp_path, monkeypatch, corpus_copy, fake_encoder) -> None:
    from mcp import Client

    monkeypatch.chdir(tmp_path)
    settings = Settings(corpus_dir=Path("corpus"), index_dir=Path("index"))
    live = LiveIndex(settings)

    def expected(question: str) -> Any:
        return ask_json(live.retriever.ask(question))

    async def run() -> None:
        async with Client(build_server(live)) as client:
            await _session(client, corpus_copy, expected)

    asyncio.run(run())


def _cli_answer(folder: Path) -> Any:
    def expected(question: str) -> Any:
        out = run_itsqa(folder, "ask", question, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    return expected


def _close(got: Any, want: Any) -> bool:
    """Equal but for scores in the sixth decimal (pre-packed weights in the server)."""
    strip = [{k: v for k, v in r.items() if k != "score"} for r in got["results"]]
    return ({**got, "results": strip} == {**want, "results": [
        {k: v for k, v in r.items() if k != "score"} for r in want["results"]]}
        and all(abs(a["score"] - b["score"]) < 1e-4
                for a, b in zip(got["results"], want["results"], strict=True)))


class _Approximately:
    def __init__(self, want: Any) -> None:
        self.want = want

    def __eq__(self, got: object) -> bool:
        return _close(got, self.want)


@pytest.mark.slow
def test_over_stdio_as_an_assistant_launches_it(tmp_path) -> None:
    """`itsqa mcp` in a subprocess, the real model: the README's configuration."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    shutil.copytree(CORPUS, tmp_path / "corpus")
    assert run_itsqa(tmp_path, "index").returncode == 0
    cli = _cli_answer(tmp_path)
    params = StdioServerParameters(command=sys.executable, args=["-m", "itsqa", "mcp"],
                                   cwd=str(tmp_path), env=clean_env())

    async def run() -> None:
        async with Client(params) as client:
            await _session(client, tmp_path / "corpus", lambda q: _Approximately(cli(q)))

    asyncio.run(run())


@pytest.mark.slow
def test_over_streamable_http_on_itsqa_serve(tmp_path) -> None:
    import urllib.error
    import urllib.request

    from mcp import Client

    shutil.copytree(CORPUS, tmp_path / "corpus")
    with serving(tmp_path, "--refresh-seconds", "0.5") as (port, _proc):
        cli = _cli_answer(tmp_path)

        async def run() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                await _session(client, tmp_path / "corpus", lambda q: _Approximately(cli(q)))

        asyncio.run(run())
        refused = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", method="POST",
                                         headers={"Origin": "http://evil.example",
                                                  "Content-Type": "application/json"}, data=b"{}")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(refused, timeout=5)
        assert err.value.code == 403


@pytest.mark.slow
def test_the_readme_configuration_launches_a_working_server(tmp_path) -> None:
    """The JSON snippet in README.md, with its paths filled in, as an assistant would run it."""
    import re

    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from .helpers import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = re.search(r"<!-- mcp-config -->\s*```json\n(.*?)```", readme, re.S)
    assert snippet, "README.md has no MCP configuration after <!-- mcp-config -->"
    entry = json.loads(snippet.group(1))["mcpServers"]["itsqa"]
    shutil.copytree(CORPUS, tmp_path / "corpus")
    itsqa = str(Path(sys.executable).parent / "itsqa")
    command = entry["command"].replace("/path/to/itsqa/.venv/bin/itsqa", itsqa)
    args = [a.replace("/path/to/itsqa", str(tmp_path)) for a in entry["args"]]
    assert command == itsqa and str(tmp_path / "corpus") in args

    async def run() -> None:
        params = StdioServerParameters(command=command, args=args, env=clean_env())
        async with Client(params) as client:
            assert len((await client.list_tools()).tools) == 3
            hits = (await client.call_tool("search", {"query": "who is the tech envoy to the US"})
                    ).structured_content["results"]
            assert "Joe White" in hits[0]["text"] and hits[0]["title"] and hits[0]["end"] > 0

    asyncio.run(run())
