"""Large folders: build time, peak memory, disk per passage, cold and warm ask, from the project's
five sources up to about 100,000 passages, all in one run on one machine; and the HNSW graph's
recall on real vectors against exact search.

    python benchmarks/scale.py                      # its, pydocs, pydocs-all, pydocs-all x8
    python benchmarks/scale.py --corpora its pydocs --baseline e2e75d1   # and the old code's
    python benchmarks/scale.py --corpora its pydocs-all-x8-distinct     # 90,000 fresh passages

Each build runs from scratch (`itsqa index --rebuild --json`) in a new process, the model's ONNX
export already in the cache; peak memory is that process's maximum resident set. The largest row
is pydocs-all copied eight times (each copy a folder of its own): it is built on a copy of
pydocs-all's index (its vectors reused by hash, as an incremental build does), so that row measures
everything but the model that a build and an ask do at that size. `--baseline REV` builds the
smaller corpora (BASELINE_CORPORA) with the code of commit REV (a git worktree) in the same run,
for a throughput ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, machine, table
from corpora import cache_root, corpus

Part = tuple[str, dict[str, Any]]
COPIES = 8
DISTINCT = f"-x{COPIES}-distinct"  # copies whose text differs: every vector computed afresh
BEFORE = "e2e75d1"  # the last commit before the large-folder work (issue 38), for build ratios
BASELINE_CORPORA = ("its", "pydocs")  # the old code takes too long on the larger ones
QUESTIONS = {"its": "what are the quantum priorities",
             "pydocs": "how do I read a file line by line",
             "pydocs-all": "how do I read a file line by line",
             "pydocs-all-x8": "how do I read a file line by line",
             "pydocs-all-x8-distinct": "how do I read a file line by line"}
# Peak memory of one child process (the benchmark runs each measured command in a new wrapper,
# whose children's maximum is then that command's).
MEASURE = ("import json, resource, subprocess, sys, time\n"
           "t = time.perf_counter()\n"
           "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "dt = time.perf_counter() - t\n"
           "print(json.dumps({'rc': p.returncode, 'seconds': dt, 'stdout': p.stdout,"
           " 'stderr': p.stderr[-2000:],"
           " 'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n")
WARM = """
import json, sys, time
from pathlib import Path
from itsqa.config import Settings
from itsqa.service import open_index
s = Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]))
r = open_index(s, refresh=False, warm=True).retriever
r.ask(sys.argv[3])
ts = []
for q in sys.argv[3:] * 5:
    t = time.perf_counter(); r.ask(q); ts.append(time.perf_counter() - t)
print(json.dumps(ts))
"""


def measured(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `cmd` in a new process: its wall time, peak memory (MB), output and exit status."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True,
                         env=env, check=True)
    result = json.loads(out.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {result['stderr']}")
    return result


def replicated(folder: Path, copies: int) -> Path:
    """`folder` copied `copies` times into one corpus (made once, kept in the cache)."""
    target = cache_root() / f"{folder.name}-x{copies}"
    if not target.is_dir():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for i in range(copies):
            shutil.copytree(folder, tmp / f"copy-{i + 1}")
        os.replace(tmp, target)
    return target


def _marked(html: str, copy: int) -> str:
    """A page of copy number `copy`, no text of it as in another copy: its title and every
    sentence that ends in a full stop carry the number."""
    html = re.sub(r"<title>", f"<title>Copy {copy}: ", html, count=1)
    return re.sub(r"\.(?=\s|<)", f" {copy}.", html)


def distinct_copies(folder: Path, copies: int) -> Path:
    """`folder` copied `copies` times into one corpus, each copy's pages marked with its number
    (`_marked`), so that a build embeds every copy afresh (made once, kept in the cache)."""
    target = cache_root() / f"{folder.name}-x{copies}-distinct"
    if not target.is_dir():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for i in range(1, copies + 1):
            for page in folder.rglob("*"):
                out = tmp / f"copy-{i}" / page.relative_to(folder)
                if page.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                elif page.suffix == ".html":
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(_marked(page.read_text(encoding="utf-8"), i), encoding="utf-8")
        os.replace(tmp, target)
    return target


def folder_of(name: str) -> Path:
    if name.endswith(f"-x{COPIES}"):
        return replicated(corpus(name[: -len(f"-x{COPIES}")]).folder, COPIES)
    if name.endswith(DISTINCT):
        return distinct_copies(corpus(name[: -len(DISTINCT)]).folder, COPIES)
    return corpus(name).folder


def disk(gen: Path) -> dict[str, float]:
    """Bytes of a generation: all, the dense vectors, the token vectors."""
    sizes = {p.relative_to(gen).as_posix(): p.stat().st_size for p in gen.rglob("*") if p.is_file()}
    dense = sizes.get("embeddings.npy", 0) + sizes.get("vectors.faiss", 0)
    tokens = sum(v for k, v in sizes.items() if k.startswith("token_"))
    return {"total": sum(sizes.values()), "dense": dense, "tokens": tokens}


def build(itsqa: list[str], folder: Path, index: Path, env: dict[str, str],
          fresh: bool = True) -> dict[str, Any]:
    """A build from scratch (`--rebuild`; the ONNX export made beforehand, not timed), or with
    `fresh` false an incremental one over what `index` holds."""
    run = measured([*itsqa, "index", *(["--rebuild"] if fresh else []), "--json", "--corpus",
                    str(folder), "--index", str(index)], env)
    report = json.loads(run["stdout"])
    return {"seconds": run["seconds"], "peak_mb": run["peak_mb"], "passages": report["chunks"]["total"]}


def cold_asks(pairs: list[tuple[str, Path, Path]], runs: int) -> dict[str, list[float]]:
    """Each corpus's cold ask (a new process), the corpora taken in turn, `runs` rounds."""
    itsqa = [sys.executable, "-m", "itsqa"]
    times: dict[str, list[float]] = {name: [] for name, _, _ in pairs}
    for _ in range(runs + 1):  # the first round warms the OS file cache; it is not counted
        for name, folder, index in pairs:
            cmd = [*itsqa, "ask", QUESTIONS[name], "--no-refresh", "--corpus", str(folder),
                   "--index", str(index)]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name].append(time.perf_counter() - t)
    return {name: ts[1:] for name, ts in times.items()}


def warm_ask(folder: Path, index: Path, question: str) -> float:
    out = subprocess.run([sys.executable, "-c", WARM, str(folder), str(index), question],
                         check=True, capture_output=True, text=True)
    return statistics.median(json.loads(out.stdout)) * 1000


def _worktree(rev: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="itsqa-base-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT, check=True,
                   capture_output=True)
    return path


def baseline_builds(rev: str, names: list[str], work: Path) -> dict[str, dict[str, Any]]:
    """The same builds with commit `rev`'s code. Code of that age kept the ONNX export in the
    index folder: an untimed first build of the project corpus makes it there."""
    tree = _worktree(rev)
    try:
        env = {**os.environ, "PYTHONPATH": str(tree / "src")}
        itsqa = [sys.executable, "-m", "itsqa"]
        out = {}
        for name in names:
            index = work / f"base-{name}"
            measured([*itsqa, "index", "--corpus", str(ROOT / "corpus"), "--index", str(index)],
                     env)
            out[name] = build(itsqa, folder_of(name), index, env)
        return out
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                       capture_output=True)


def hnsw_recall(folder: Path, index: Path, questions: Path) -> dict[str, Any]:
    """Recall of the HNSW graph as the product builds and searches it (8-bit vectors in the
    graph, its head scored again from the float32 ones) against exact search on the stored
    vectors of a real index, with the vectors of real questions."""
    import numpy as np

    from itsqa import dense, store
    from itsqa.config import Settings
    from itsqa.evaluation import load_questions
    from itsqa.service import open_index

    r = open_index(Settings(corpus_dir=folder, index_dir=index), refresh=False).retriever
    stored = r.index.path / store.EMBEDDINGS
    vectors = np.load(stored, mmap_mode="r")
    qs = [q.question for q in load_questions(questions)]
    qv = np.asarray(r.encoder.encode(qs), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        dense.build_hnsw(stored, Path(tmp) / "graph.faiss")
        build_s = time.perf_counter() - t
        graph = dense.DenseVectors(vectors, r.index.vector_rows, Path(tmp) / "graph.faiss")
        graph.search(qv[:1])  # the graph is read on first use: not timed
        t = time.perf_counter()
        found = []
        for q in qv:
            scores, ids = graph.search(q[None, :])
            found.append(ids[np.argsort(-scores)])
        query_ms = (time.perf_counter() - t) * 1000 / len(qs)
    out: dict[str, Any] = {"vectors": len(vectors), "questions": len(qs), "build_s": build_s,
                           "query_ms": query_ms}
    exact = np.argsort(-(qv @ np.asarray(vectors, dtype=np.float32).T), axis=1)
    for k in (10, 100):
        hit = [len(set(found[i][:k]) & set(exact[i, :k])) for i in range(len(qs))]
        out[f"recall@{k}"] = sum(hit) / (k * len(qs))
    return out


def copies_note(name: str) -> str:
    """What the table's last row, when it is a folder copied COPIES times, is built from."""
    if name.endswith(f"-x{COPIES}"):
        return (f"`{name}`: {COPIES} copies of one folder, built on a copy of that folder's "
                "index, so its build time is everything but the model (vectors reused by hash).")
    if name.endswith(DISTINCT):
        return (f"`{name}`: {COPIES} copies of one folder, each copy's page titles and sentences "
                "marked with its number so that no text repeats: built from scratch, every "
                "vector computed afresh.")
    return ""


def run(names: list[str], runs: int = 5, baseline: str | None = None) -> Part:
    work = Path(tempfile.mkdtemp(prefix="itsqa-scale-"))
    itsqa = [sys.executable, "-m", "itsqa"]
    env = dict(os.environ)
    rows, figures = [], {}
    try:
        measured([*itsqa, "index", "--corpus", str(ROOT / "corpus"), "--index",
                  str(work / "export")], env)  # the ONNX export, cached for every build below
        built = {}
        for name in names:
            folder, index = folder_of(name), work / f"index-{name}"
            print(f"building {name} …", file=sys.stderr, flush=True)
            base = name.removesuffix(f"-x{COPIES}")
            if base != name and base in built:  # vectors reused: no model time
                shutil.copytree(built[base][1], index)
            b = build(itsqa, folder, index, env, fresh=not index.exists())
            gen = next(index.glob("gen-*"))
            manifest = json.loads((gen / "manifest.json").read_text())
            b.update(disk(gen), vectors=manifest["n_chunks"] + manifest["n_units"],
                     sources=len(manifest["sources"]), index_type=manifest["index_type"])
            built[name] = (folder, index, b)
        cold = cold_asks([(n, f, i) for n, (f, i, _) in built.items()], runs)
        for name, (folder, index, b) in built.items():
            b["cold_s"] = statistics.median(cold[name])
            b["warm_ms"] = warm_ask(folder, index, QUESTIONS[name])
            figures[name] = b
        base_cold = figures[names[0]]["cold_s"]
        for name, b in figures.items():
            n = b["passages"]
            rows.append([name, f"{b['sources']:,}", f"{n:,}", f"{b['vectors']:,}",
                         f"{b['seconds']:.0f}", f"{n / b['seconds']:.1f}", f"{b['peak_mb']:,.0f}",
                         f"{(b['total'] - b['dense']) / n / 1024:.1f}",
                         f"{b['dense'] / 2**20:.0f}", b["index_type"],
                         f"{b['cold_s']:.3f} ({b['cold_s'] / base_cold:.2f}×)",
                         f"{b['warm_ms']:.0f}"])
        parts = [
            f"Each build from scratch in a new process (`itsqa index --rebuild --json`), the "
            f"model's ONNX export already cached. Cold ask: a new process, `--no-refresh`, "
            f"median of {runs} rounds taking the corpora in turn (ratio to the first row). "
            "Warm: median in one process. " + copies_note(names[-1]),
            table(["corpus", "sources", "passages", "vectors", "build s", "passages/s",
                   "peak MB", "KB/passage (no dense)", "dense MB", "search", "cold ask s",
                   "warm ask ms"], rows)]
        if baseline:
            old = baseline_builds(baseline, [n for n in names if n in BASELINE_CORPORA], work)
            parts.append(f"Build throughput against commit `{baseline}` (same corpora, same run):")
            rate = {n: figures[n]["passages"] / figures[n]["seconds"] for n in old}
            parts.append(table(["corpus", f"{baseline} passages/s", "now passages/s", "ratio"], [
                [n, f"{o['passages'] / o['seconds']:.1f}", f"{rate[n]:.1f}",
                 f"{rate[n] / (o['passages'] / o['seconds']):.2f}×"] for n, o in old.items()]))
            figures["baseline"] = {"commit": baseline, **old}
        if "pydocs-all" in built:
            f, i, _ = built["pydocs-all"]
            rec = hnsw_recall(f, i, ROOT / "eval" / "pydocs.jsonl")
            figures["hnsw"] = rec
            parts.append(
                f"HNSW on real vectors (8-bit in the graph, the head re-scored from float32): the "
                f"{rec['vectors']:,} stored vectors of pydocs-all, the "
                f"{rec['questions']} questions of eval/pydocs.jsonl as queries: recall@10 "
                f"**{rec['recall@10']:.3f}**, recall@100 **{rec['recall@100']:.3f}** against "
                f"exact search; {rec['query_ms']:.1f} ms a question (depth "
                f"{dense_depth()}); graph built in {rec['build_s']:.0f} s.")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return "\n\n".join(p for p in parts if p), figures


def dense_depth() -> int:
    from itsqa.dense import HNSW_DEPTH

    return HNSW_DEPTH


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", nargs="*",
                    default=["its", "pydocs", "pydocs-all", f"pydocs-all-x{COPIES}"])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--baseline", help="also build with this commit's code, for a ratio")
    args = ap.parse_args()
    print(f"Machine: {machine()}. {time.strftime('%Y-%m-%d')}.\n")
    print(run(args.corpora, args.runs, args.baseline)[0])


if __name__ == "__main__":
    main()
