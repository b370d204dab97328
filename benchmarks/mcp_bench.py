"""`itsqa mcp` as an assistant uses it: the SDK's client launches it over stdio on a copy of the
project corpus (index built), then asks the question set. Reports the time from launch to the tools
listed and to the first answer, and the warm time per search call, against the same questions
asked in process (Retriever.ask) in the same run.

    python benchmarks/mcp_bench.py
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, table

QUESTIONS = 100


def _questions() -> list[str]:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:QUESTIONS]


async def _through_mcp(folder: Path, questions: list[str]) -> dict[str, Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "itsqa", "mcp"],
                                   cwd=str(folder))
    t0 = time.perf_counter()
    async with Client(params) as client:
        await client.list_tools()
        listed = time.perf_counter() - t0
        await client.call_tool("search", {"query": questions[0]})
        first = time.perf_counter() - t0
        calls = []
        for q in questions[1:]:
            t = time.perf_counter()
            await client.call_tool("search", {"query": q})
            calls.append(time.perf_counter() - t)
    return {"listed_s": listed, "first_s": first, "warm_ms": statistics.median(calls) * 1000}


def _in_process(folder: Path, questions: list[str]) -> float:
    from itsqa.config import Settings
    from itsqa.service import open_index

    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    r = open_index(settings, refresh=False, warm=True).retriever
    r.ask(questions[0])
    times = []
    for q in questions[1:]:
        t = time.perf_counter()
        r.ask(q)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def run() -> tuple[str, dict[str, Any]]:
    questions = _questions()
    work = Path(tempfile.mkdtemp(prefix="itsqa-mcp-"))
    try:
        shutil.copytree(ROOT / "corpus", work / "corpus")
        subprocess.run([sys.executable, "-m", "itsqa", "index"], cwd=work, check=True,
                       capture_output=True)
        mcp = asyncio.run(_through_mcp(work, questions))
        local = _in_process(work, questions)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = mcp["warm_ms"] / local
    md = (f"The SDK's client launches `itsqa mcp` over stdio (index already built) and calls "
          f"`search` with the first {len(questions)} questions of the project's set; the same "
          "questions asked in process (`Retriever.ask`) in the same run are the baseline. A "
          "search checks the sources for changes before it answers.\n\n"
          + table(["launch → tools listed", "launch → first answer", "warm search (median)",
                   "in-process ask (median)", "warm / in-process"],
                  [[f"{mcp['listed_s']:.2f} s", f"{mcp['first_s']:.2f} s",
                    f"{mcp['warm_ms']:.1f} ms", f"{local:.1f} ms", f"**{ratio:.2f}×**"]]))
    return md, {**mcp, "in_process_ms": local, "ratio": ratio}


if __name__ == "__main__":
    print(run()[0])
