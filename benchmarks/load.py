"""Load on `itsqa serve`, on loopback only and bounded: N clients (default 8) ask the project's
question set for a fixed time (default 30 s), each in its own seeded order, each waiting for its
answer before asking again. Reports p50/p99 latency, errors, and the server's memory over the run.

    python benchmarks/load.py                       # 8 clients, 30 s
    python benchmarks/load.py --clients 4 --seconds 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from common import ROOT, table


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _wait_ready(port: int, proc: subprocess.Popen[bytes], limit: float = 600) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("itsqa serve exited before it was ready")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if b'"ok"' in conn.getresponse().read():
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("itsqa serve was not ready in time")


def _client(port: int, questions: list[str], seed: int, stop: float,
            latencies: list[float], errors: list[str]) -> None:
    order = questions[:]
    random.Random(seed).shuffle(order)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    while time.monotonic() < stop:
        path = "/api/ask?" + urllib.parse.urlencode({"q": order[i % len(order)]})
        i += 1
        t = time.perf_counter()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or b'"results"' not in body:
                errors.append(f"{response.status}: {body[:100]!r}")
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - t)


def run(clients: int = 8, seconds: float = 30.0) -> tuple[str, dict[str, Any]]:
    """Start a server on a copy of the project corpus (index built first), load it, stop it."""
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    work = Path(tempfile.mkdtemp(prefix="itsqa-load-"))
    shutil.copytree(ROOT / "corpus", work / "corpus")
    itsqa = [sys.executable, "-m", "itsqa"]
    subprocess.run([*itsqa, "index"], cwd=work, check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen([*itsqa, "serve", "--port", str(port)], cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(port, proc)
        latencies: list[float] = []
        errors: list[str] = []
        memory = [_rss_mb(proc.pid)]
        stop = time.monotonic() + seconds
        threads = [threading.Thread(target=_client, args=(port, questions, seed, stop, latencies,
                                                          errors)) for seed in range(clients)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            memory.append(_rss_mb(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    lat = sorted(latencies)
    p50, p99 = statistics.median(lat), lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    half = memory[len(memory) // 2:]
    figures = {"requests": len(lat), "errors": len(errors), "p50_ms": p50 * 1000,
               "p99_ms": p99 * 1000, "max_ms": lat[-1] * 1000, "rss_start_mb": memory[0],
               "rss_end_mb": memory[-1], "rss_max_mb": max(memory),
               "rss_second_half_growth_mb": max(half) - min(half)}
    md = (f"{clients} clients on loopback, each asking the project's {len(questions)} questions "
          f"in its own order for {seconds:.0f} s, one request at a time, from a server just "
          "started; it answers each distinct question once per index and remembers the answer. "
          "Memory is the server's resident size, sampled every second.\n\n"
          + table(["requests", "errors", "p50", "p99", "max", "memory at start → end",
                   "memory growth over the second half"],
                  [[str(len(lat)), str(len(errors)), f"{p50 * 1000:.1f} ms", f"{p99 * 1000:.1f} ms",
                    f"{lat[-1] * 1000:.0f} ms", f"{memory[0]:.0f} → {memory[-1]:.0f} MB",
                    f"{figures['rss_second_half_growth_mb']:.1f} MB"]]))
    if errors:
        md += "\n\nFirst errors: " + "; ".join(errors[:3])
    return md, figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    print(run(args.clients, args.seconds)[0])


if __name__ == "__main__":
    main()
