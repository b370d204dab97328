"""Speed: ask latency against a naive peer, index build throughput, and how search cost grows
with the number of vectors. Each part returns its Markdown and its figures; `report.py` writes
them into RESULTS.md. Run alone, this prints them.

    python benchmarks/bench.py                 # every part (the 1M-vector scaling step is slow)
    python benchmarks/bench.py --only latency
    python benchmarks/bench.py --only scaling --sizes 10000 100000
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


def timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


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
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med_o, med_p = statistics.median(ours), statistics.median(peer)
    md = "\n\n".join([
        f"Question \"{QUESTION}\" on the project corpus (index built and up to date), {runs} runs "
        "of each, alternated; wall time of a whole new process.",
        table(["what", "median", "min", "max"], [
            _row("`itsqa ask` (cold: new process)", ours),
            _row("`itsqa ask --mode late` (cold)", late),
            _row("naive peer: import sentence-transformers, load MiniLM, FAISS flat search", peer),
            _row("`itsqa ask` warm (same process, 20 questions)", warm, "ms"),
            _row("`itsqa --help`", help_t),
            _row("`itsqa sources`", sources_t)]),
        f"Cold ask / naive peer: **{med_o / med_p:.3f}×**; cold ask median **{med_o:.3f} s**."])
    return md, {"cold_ask_s": med_o, "naive_s": med_p, "ratio": med_o / med_p,
                "warm_ms": statistics.median(warm) * 1000}


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


def _search_row(n: int, kind: str, base: Any, qs: Any, exact_top: Any) -> tuple[list[str], Any]:
    import faiss

    from itsqa.store import EXACT_SEARCH_MAX, HNSW_EF_SEARCH, hnsw_index, search_depth

    dim = base.shape[1]
    t = time.perf_counter()
    index = faiss.IndexFlatIP(dim) if kind == "flat" else hnsw_index(dim)
    index.add(base)
    build_s = time.perf_counter() - t
    if kind == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    lat, tops = [], []
    for q in qs:
        t = time.perf_counter()
        tops.append(index.search(q[None, :], 10)[1][0])
        lat.append((time.perf_counter() - t) * 1000)
    k_deep = search_depth(n) if (kind == "flat") == (n <= EXACT_SEARCH_MAX) else None
    deep = []
    for q in qs[:50] if k_deep else []:
        t = time.perf_counter()
        index.search(q[None, :], k_deep)
        deep.append((time.perf_counter() - t) * 1000)
    with tempfile.NamedTemporaryFile(suffix=".faiss") as fh:
        faiss.write_index(index, fh.name)
        size = os.path.getsize(fh.name) / 2**20
    found = (sum(len(set(a) & set(b)) for a, b in zip(tops, exact_top, strict=True))
             if exact_top is not None else 0)
    recall = "1 (exact)" if exact_top is None else f"{found / (10 * len(qs)):.4f}"
    lat.sort()
    deep_ms = f"{statistics.median(deep):.2f} (k={k_deep:,})" if deep else "not used"
    return [f"{n:,}", kind, f"{build_s:.1f}", f"{statistics.median(lat):.2f}",
            f"{lat[int(0.95 * len(lat))]:.2f}", deep_ms, f"{size:.0f}", recall], tops


def scaling(sizes: list[int], queries: int = 200) -> Part:
    """Exact against HNSW search on synthetic clustered unit vectors of MiniLM's dimension."""
    import numpy as np

    from itsqa.store import EXACT_SEARCH_MAX, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

    rng = np.random.default_rng(0)
    dim = 384
    centres = rng.standard_normal((2000, dim)).astype(np.float32)
    rows = []
    for n in sizes:
        pick = rng.integers(0, len(centres), n + queries)
        data = centres[pick] + 0.9 * rng.standard_normal((n + queries, dim)).astype(np.float32)
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        flat, exact_top = _search_row(n, "flat", data[:n], data[n:], None)
        hnsw, _ = _search_row(n, "hnsw", data[:n], data[n:], exact_top)
        rows += [flat, hnsw]
    md = (f"Synthetic unit vectors (dimension {dim}) around 2,000 random centres; {queries} "
          f"queries one at a time. HNSW: M={HNSW_M}, efConstruction={HNSW_EF_CONSTRUCTION}, "
          f"efSearch={HNSW_EF_SEARCH}. Recall@10 = share of the exact top 10 returned. \"itsqa k\" = "
          "the query as itsqa makes it (`store.search_depth`). itsqa searches exactly up to "
          f"{EXACT_SEARCH_MAX:,} vectors and with HNSW beyond.\n\n"
          + table(["vectors", "index", "build s", "query ms (median)", "query ms (p95)",
                   "itsqa k: ms (median)", "size MB", "recall@10"], rows))
    return md, {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["latency", "build", "scaling"], action="append")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--beir", type=Path, default=CRANFIELD)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    args = ap.parse_args()
    parts = args.only or ["latency", "build", "scaling"]
    print(f"Machine: {machine()}. {time.strftime('%Y-%m-%d')}.\n")
    if "latency" in parts:
        print(latency(args.runs)[0] + "\n")
    if "build" in parts:
        print(build_throughput(args.beir)[0] + "\n")
    if "scaling" in parts:
        print(scaling(args.sizes)[0] + "\n")


if __name__ == "__main__":
    main()
