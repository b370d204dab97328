"""Speed: ask latency against a naive peer, and index build throughput (large folders:
scale.py). Each part returns its Markdown and its figures; `report.py` writes them into
RESULTS.md. Run alone, this prints them.

    python benchmarks/bench.py                 # both parts
    python benchmarks/bench.py --only latency
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import CRANFIELD, ROOT, machine, table

QUESTION = "what are the quantum priorities"
Part = tuple[str, dict[str, Any]]  # (Markdown, figures)
WARM_CODE = """
import json, time
from itsqa.config import Settings
from itsqa.service import open_index
r = open_index(Settings(), refresh=False).retriever
r.ask('warm up')
ts = []
for q in ['quantum priorities', 'tech envoy to the US', 'semiconductor strategy', 'data bridges',
          'Technology Centre of Expertise'] * 4:
    t = time.perf_counter(); r.ask(q); ts.append(time.perf_counter() - t)
print(json.dumps(ts))
"""


COLD = {**os.environ, "ITSQA_NO_HANDOFF": "1"}  # a cold ask, even if a server is running


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=COLD if env is None else env)
    return time.perf_counter() - t


def _handed_over(itsqa: list[str], work: Path, runs: int) -> list[float]:
    """`itsqa ask` timed while `itsqa serve` of the same index runs (the ask is handed to it)."""
    import signal
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([*itsqa, "serve", "--port", str(port)], cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        env = {k: v for k, v in os.environ.items() if k != "ITSQA_NO_HANDOFF"}
        timed([*itsqa, "ask", QUESTION], work, env)  # the server's first answer warms it
        return [timed([*itsqa, "ask", QUESTION], work, env) for _ in range(runs)]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def _row(label: str, values: list[float], unit: str = "s") -> list[str]:
    scale, fmt = (1000, "{:.1f} ms") if unit == "ms" else (1, "{:.3f} s")
    return [label] + [fmt.format(v * scale) for v in
                      (statistics.median(values), min(values), max(values))]


def latency(runs: int = 7) -> Part:
    """Cold asks (a new process each) alternated with a naive script, a warm ask, --help and
    sources, on a copy of the project corpus with its index built."""
    work = Path(tempfile.mkdtemp(prefix="itsqa-bench-"))
    try:
        shutil.copytree(ROOT / "corpus", work / "corpus")
        itsqa = [sys.executable, "-m", "itsqa"]
        subprocess.run([*itsqa, "index"], cwd=work, check=True, capture_output=True)
        naive = [sys.executable, str(ROOT / "benchmarks" / "naive_rag.py"), str(work / "naive")]
        (work / "naive").mkdir()
        subprocess.run([*naive, QUESTION, str(work / "corpus"), "--prepare"], check=True,
                       capture_output=True)
        timed([*itsqa, "ask", QUESTION], work)  # warm the OS file cache for both
        timed([*naive, QUESTION], work)
        ours, peer = [], []
        for _ in range(runs):
            ours.append(timed([*itsqa, "ask", QUESTION], work))
            peer.append(timed([*naive, QUESTION], work))
        late = [timed([*itsqa, "ask", QUESTION, "--mode", "late"], work) for _ in range(runs)]
        help_t = [timed([*itsqa, "--help"], work) for _ in range(runs)]
        sources_t = [timed([*itsqa, "sources"], work) for _ in range(runs)]
        warm = json.loads(subprocess.run([sys.executable, "-c", WARM_CODE], cwd=work, check=True,
                                         capture_output=True, text=True).stdout)
        handed = _handed_over(itsqa, work, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med_o, med_p, med_h = (statistics.median(x) for x in (ours, peer, handed))
    md = "\n\n".join([
        f"Question \"{QUESTION}\" on the project corpus (index built and up to date), {runs} runs "
        "of each, alternated; wall time of a whole new process. Cold asks run with "
        "`ITSQA_NO_HANDOFF=1`; the handed-over ones while `itsqa serve` of the same index runs.",
        table(["what", "median", "min", "max"], [
            _row("`itsqa ask` (cold: new process)", ours),
            _row("`itsqa ask` handed to a running `itsqa serve` (new process)", handed),
            _row("`itsqa ask --mode late` (cold)", late),
            _row("naive peer: import sentence-transformers, load MiniLM, FAISS flat search", peer),
            _row("`itsqa ask` warm (same process, 20 questions)", warm, "ms"),
            _row("`itsqa --help`", help_t),
            _row("`itsqa sources`", sources_t)]),
        f"Cold ask / naive peer: **{med_o / med_p:.3f}×**; cold ask median **{med_o:.3f} s**. "
        f"Handed over / naive peer: **{med_h / med_p:.3f}×**."])
    return md, {"cold_ask_s": med_o, "naive_s": med_p, "ratio": med_o / med_p,
                "warm_ms": statistics.median(warm) * 1000, "handed_s": med_h,
                "handed_ratio": med_h / med_p}


def build_throughput(beir: Path | None) -> Part:
    """A full rebuild of the project corpus (and of a BEIR collection), the ONNX export done."""
    from itsqa.beir import load_beir, materialise
    from itsqa.build import update_index
    from itsqa.config import Settings
    from itsqa.store import read_manifest

    work = Path(tempfile.mkdtemp(prefix="itsqa-build-"))
    rows, figures = [], {}
    try:
        shutil.copytree(ROOT / "corpus", work / "corpus")
        targets = [("project corpus", work / "corpus", work / "index")]
        if beir is not None and beir.is_dir():
            ds = load_beir(beir)
            materialise(ds, work / "beir")
            targets.append((f"{beir.name} ({len(ds.corpus)} documents)", work / "beir",
                            work / "beir-index"))
        for label, corpus, index in targets:
            s = Settings(corpus_dir=corpus, index_dir=index)
            update_index(s)  # exports the model once
            t = time.perf_counter()
            r = update_index(s, rebuild=True)
            dt = time.perf_counter() - t
            m = read_manifest(index) or {}
            vectors = m["n_chunks"] + m["n_units"]
            rows.append([label, str(len(m["sources"])), str(r.total), str(vectors), f"{dt:.1f}",
                         f"{r.total / dt:.1f}", f"{vectors / dt:.1f}"])
            figures[label] = {"seconds": dt, "passages": r.total}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    md = ("A full build (`--rebuild`): reading, cutting, embedding passages, sentences and token "
          "vectors, writing; the model's ONNX export already made.\n\n"
          + table(["corpus", "sources", "passages", "vectors", "seconds", "passages/s",
                   "vectors/s"], rows))
    return md, figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["latency", "build"], action="append")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--beir", type=Path, default=CRANFIELD)
    args = ap.parse_args()
    parts = args.only or ["latency", "build"]
    print(f"Machine: {machine()}. {time.strftime('%Y-%m-%d')}.\n")
    if "latency" in parts:
        print(latency(args.runs)[0] + "\n")
    if "build" in parts:
        print(build_throughput(args.beir)[0] + "\n")


if __name__ == "__main__":
    main()
