"""itsqa benchmarks: ask latency against a naive peer, index build throughput, and how search
cost grows with the number of vectors. Prints markdown with the machine's description;
`--write` also saves it to benchmarks/RESULTS.md.

    python benchmarks/bench.py                 # everything (the 1M-vector scaling step is slow)
    python benchmarks/bench.py --only latency
    python benchmarks/bench.py --only scaling --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "what are the quantum priorities"
OUT: list[str] = []


def emit(line: str = "") -> None:
    print(line, flush=True)
    OUT.append(line)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import faiss
    import onnxruntime

    return (f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; faiss {faiss.__version__}, "
            f"onnxruntime {onnxruntime.__version__}")


def timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def latency(runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="itsqa-bench-"))
    shutil.copytree(ROOT / "corpus", work / "corpus")
    itsqa = [sys.executable, "-m", "itsqa"]
    subprocess.run([*itsqa, "index"], cwd=work, check=True, capture_output=True)
    naive_dir = work / "naive"
    naive_dir.mkdir()
    naive = [sys.executable, str(ROOT / "benchmarks" / "naive_rag.py"), str(naive_dir)]
    subprocess.run([*naive, QUESTION, str(work / "corpus"), "--prepare"], check=True,
                   capture_output=True)
    ours, peer = [], []
    timed([*itsqa, "ask", QUESTION], work)  # warm the OS file cache for both
    timed([*naive, QUESTION], work)
    for _ in range(runs):
        ours.append(timed([*itsqa, "ask", QUESTION], work))
        peer.append(timed([*naive, QUESTION], work))
    late = [timed([*itsqa, "ask", QUESTION, "--mode", "late"], work) for _ in range(runs)]
    help_t = [timed([*itsqa, "--help"], work) for _ in range(runs)]
    sources_t = [timed([*itsqa, "sources"], work) for _ in range(runs)]
    # warm: one process, many questions
    code = ("import time, statistics, json\n"
            "from itsqa.config import Settings\nfrom itsqa.service import open_index\n"
            "r = open_index(Settings(), refresh=False).retriever\nr.ask('warm up')\nts=[]\n"
            "for q in ['quantum priorities', 'tech envoy to the US', 'semiconductor strategy',"
            " 'data bridges', 'Technology Centre of Expertise'] * 4:\n"
            "    t=time.perf_counter(); r.ask(q); ts.append(time.perf_counter()-t)\n"
            "print(json.dumps(ts))\n")
    warm = json.loads(subprocess.run([sys.executable, "-c", code], cwd=work, check=True,
                                     capture_output=True, text=True).stdout)
    med_o, med_p = statistics.median(ours), statistics.median(peer)
    emit("## Ask latency")
    emit()
    emit(f"Question: \"{QUESTION}\", on the project corpus (index built and up to date), "
         f"{runs} runs of each, alternated; wall time of a whole new process.")
    emit()
    emit("| what | median | min | max |")
    emit("| --- | --- | --- | --- |")
    emit(f"| `itsqa ask` (cold: new process) | {med_o:.3f} s | {min(ours):.3f} s | {max(ours):.3f} s |")
    emit(f"| `itsqa ask --mode late` (cold; re-scores the top 20 word by word) "
         f"| {statistics.median(late):.3f} s | {min(late):.3f} s | {max(late):.3f} s |")
    emit(f"| naive peer: import sentence-transformers, load MiniLM, FAISS flat search "
         f"| {med_p:.3f} s | {min(peer):.3f} s | {max(peer):.3f} s |")
    emit(f"| `itsqa ask` warm (same process, 20 questions) | {statistics.median(warm) * 1000:.1f} ms "
         f"| {min(warm) * 1000:.1f} ms | {max(warm) * 1000:.1f} ms |")
    emit(f"| `itsqa --help` | {statistics.median(help_t):.3f} s | {min(help_t):.3f} s "
         f"| {max(help_t):.3f} s |")
    emit(f"| `itsqa sources` | {statistics.median(sources_t):.3f} s | {min(sources_t):.3f} s "
         f"| {max(sources_t):.3f} s |")
    emit()
    emit(f"Cold ask / naive peer: **{med_o / med_p:.3f}×** (target ≤ 0.15×); cold ask median "
         f"**{med_o:.3f} s** (target ≤ 0.5 s).")
    emit()
    shutil.rmtree(work, ignore_errors=True)


def build(beir: Path | None) -> None:
    from itsqa.build import update_index
    from itsqa.cli_eval import _materialise
    from itsqa.config import Settings
    from itsqa.evaluation import load_beir

    emit("## Index build throughput")
    emit()
    emit("A full build (`--rebuild`): reading, chunking, embedding passages and their sentences, "
         "writing. The first build on a machine also exports the model to ONNX (not counted here: "
         "the export already exists). Embedding runs on the exported ONNX model.")
    emit()
    emit("| corpus | sources | passages | vectors | seconds | passages/s | vectors/s |")
    emit("| --- | --- | --- | --- | --- | --- | --- |")
    work = Path(tempfile.mkdtemp(prefix="itsqa-build-"))
    shutil.copytree(ROOT / "corpus", work / "corpus")
    targets = [("project corpus", work / "corpus", work / "index")]
    if beir is not None:
        ds = load_beir(beir)
        _materialise(ds, work / "beir")
        targets.append((f"{beir.name} ({len(ds.corpus)} documents)", work / "beir",
                        work / "beir-index"))
    for label, corpus, index in targets:
        s = Settings(corpus_dir=corpus, index_dir=index)
        update_index(s)  # exports the model once
        t = time.perf_counter()
        r = update_index(s, rebuild=True)
        dt = time.perf_counter() - t
        m = json.loads((next(index.glob("gen-*")) / "manifest.json").read_text())
        vectors = m["n_chunks"] + m["n_units"]
        emit(f"| {label} | {len(m['sources'])} | {r.total} | {vectors} | {dt:.1f} | "
             f"{r.total / dt:.1f} | {vectors / dt:.1f} |")
    emit()
    encoders(work / "corpus", work / "index")
    shutil.rmtree(work, ignore_errors=True)


def encoders(corpus: Path, index: Path) -> None:
    """ONNX against sentence-transformers for embedding the corpus: speed and quality."""
    import numpy as np

    import itsqa.build
    from itsqa.build import update_index
    from itsqa.cli_eval import _system_ranker
    from itsqa.config import Settings
    from itsqa.embedding import OnnxEncoder, SentenceTransformerEncoder, model_spec, onnx_folder
    from itsqa.evaluation import evaluate_questions, load_questions
    from itsqa.service import open_index
    from itsqa.store import load

    s = Settings(corpus_dir=corpus, index_dir=index)
    spec = model_spec(s)
    loaded = load(index)
    assert loaded is not None
    texts = [c.text for c in loaded.chunks] * 4
    onnx = OnnxEncoder(onnx_folder(index, spec), spec)
    st = SentenceTransformerEncoder(spec)
    emit("### Encoders for corpus embedding")
    emit()
    emit(f"{len(texts)} passages of the project corpus, batch 32; and the question set scored on "
         "an index embedded wholly by each encoder.")
    emit()
    emit("| encoder | passages/s | hit@1 | hit@5 | MRR@10 |")
    emit("| --- | --- | --- | --- | --- |")
    vecs = {}
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    original = itsqa.build.load_encoder
    for label, enc in (("onnxruntime (shipped)", onnx), ("sentence-transformers", st)):
        enc.encode(texts[:32])
        t = time.perf_counter()
        vecs[label] = enc.encode(texts)
        rate = len(texts) / (time.perf_counter() - t)
        itsqa.build.load_encoder = lambda *a, _e=enc, **k: _e  # type: ignore[assignment]
        update_index(s, rebuild=True)
        r = open_index(s, refresh=False).retriever
        m = evaluate_questions(questions, _system_ranker(r, "hybrid", 5, highlight=False), 5, name="q",
                               mode="hybrid").metrics
        emit(f"| {label} | {rate:.0f} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['mrr@10']:.3f} |")
    itsqa.build.load_encoder = original  # type: ignore[assignment]
    a, b = vecs.values()
    emit()
    emit(f"Lowest cosine between the two encoders' vectors of the same passage: "
         f"{float(np.min((a * b).sum(axis=1))):.6f}.")
    emit()


def scaling(sizes: list[int], queries: int = 200) -> None:
    import faiss
    import numpy as np

    from itsqa.store import (
        EXACT_SEARCH_MAX,
        HNSW_EF_CONSTRUCTION,
        HNSW_EF_SEARCH,
        HNSW_M,
        search_depth,
    )

    rng = np.random.default_rng(0)
    dim = 384
    emit("## How search cost grows")
    emit()
    emit(f"Synthetic unit vectors (dimension {dim}) drawn around 2,000 random centres, like "
         f"embeddings of real text, which cluster by topic; {queries} queries from the same "
         f"distribution, one at a time. Exact = `IndexFlatIP`; approximate = `IndexHNSWFlat` "
         f"(M={HNSW_M}, efConstruction={HNSW_EF_CONSTRUCTION}, efSearch={HNSW_EF_SEARCH}). "
         f"Recall@10 = share of the exact top 10 that the approximate index returns. Memory = the "
         f"size of the index written to disk. \"itsqa k\" = the query as itsqa makes it, asking "
         f"for the number of vectors `store.search_depth` gives (all of them up to 20,000, so "
         f"that fusion sees every passage).")
    emit()
    emit("| vectors | index | build s | query ms (median) | query ms (p95) | itsqa k: ms (median) "
         "| size MB | recall@10 |")
    emit("| --- | --- | --- | --- | --- | --- | --- | --- |")
    centres = rng.standard_normal((2000, dim)).astype(np.float32)
    for n in sizes:
        pick = rng.integers(0, len(centres), n + queries)
        data = centres[pick] + 0.9 * rng.standard_normal((n + queries, dim)).astype(np.float32)
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        base, qs = data[:n], data[n:]
        exact_top = None
        for kind in ("flat", "hnsw"):
            t = time.perf_counter()
            if kind == "flat":
                index = faiss.IndexFlatIP(dim)
            else:
                index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.add(base)
            build_s = time.perf_counter() - t
            if kind == "hnsw":
                index.hnsw.efSearch = HNSW_EF_SEARCH
            lat = []
            tops = []
            for q in qs:
                t = time.perf_counter()
                _, rows = index.search(q[None, :], 10)
                lat.append((time.perf_counter() - t) * 1000)
                tops.append(rows[0])
            deep = []
            k_deep = search_depth(n) if (kind == "flat") == (n <= EXACT_SEARCH_MAX) else None
            for q in qs[:50] if k_deep else []:
                t = time.perf_counter()
                index.search(q[None, :], k_deep)
                deep.append((time.perf_counter() - t) * 1000)
            deep_ms = f"{statistics.median(deep):.2f} (k={k_deep:,})" if deep else "not used"
            with tempfile.NamedTemporaryFile(suffix=".faiss") as fh:
                faiss.write_index(index, fh.name)
                size = os.path.getsize(fh.name) / 2**20
            if kind == "flat":
                exact_top = tops
                recall = "1 (exact)"
            else:
                assert exact_top is not None
                hits = sum(len(set(a) & set(b)) for a, b in zip(tops, exact_top, strict=True))
                recall = f"{hits / (10 * len(qs)):.4f}"
            lat.sort()
            emit(f"| {n:,} | {kind} | {build_s:.1f} | {statistics.median(lat):.2f} | "
                 f"{lat[int(0.95 * len(lat))]:.2f} | {deep_ms} | {size:.0f} | {recall} |")
            del index
    emit()
    emit(f"itsqa uses exact search up to {EXACT_SEARCH_MAX:,} vectors (passages and sentences) and "
         "HNSW beyond (`store.make_faiss_index`).")
    emit()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["latency", "build", "scaling"], action="append")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--beir", type=Path, default=ROOT.parent / "shared" / "benchmarks" / "cranfield")
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--write", action="store_true", help="save the output to benchmarks/RESULTS.md")
    args = ap.parse_args()
    parts = args.only or ["latency", "build", "scaling"]
    emit("# itsqa benchmark results")
    emit()
    emit(f"Machine: {machine()}. Run on {time.strftime('%Y-%m-%d')}.")
    emit()
    if "latency" in parts:
        latency(args.runs)
    if "build" in parts:
        build(args.beir if args.beir.is_dir() else None)
    if "scaling" in parts:
        scaling(args.sizes)
    if args.write:
        (ROOT / "benchmarks" / "RESULTS.md").write_text("\n".join(OUT) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
