"""The Qdrant store (`--store`, in the client's local mode) against the index folder, on the same
corpora and question sets in the same run: quality (hit@1, hit@5, MRR@10, how many questions get
the same top five), warm time per question, the time to publish a build, and disk per passage.
The local mode searches by brute force in Python: its times say what the extra round trips and
candidate assembly cost here, not what a Qdrant server would take on a large collection.

    python benchmarks/qdrant_bench.py                 # its and pydocs
    python benchmarks/qdrant_bench.py --corpora its
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import corpora
from common import stamp, table

from itsqa.build import publish_folder, update_index
from itsqa.config import Settings
from itsqa.eval_runs import system_ranker
from itsqa.evaluation import EvalReport, evaluate_questions, load_questions
from itsqa.qdrant_store import close_clients
from itsqa.service import open_index

KEYS = ["hit@1", "hit@5", "mrr@10"]


def _size(folder: Path, skip: str = "") -> int:
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.is_file() and not (skip and skip in p.parts))


def _timed_eval(retriever: Any, path: Path) -> tuple[EvalReport, float]:
    questions = load_questions(path)
    rank = system_ranker(retriever, "hybrid", 5)
    times: list[float] = []

    def timed(q: str) -> Any:
        t0 = time.perf_counter()
        out = rank(q)
        times.append(time.perf_counter() - t0)
        return out

    report = evaluate_questions(questions, timed, 5, name=path.name, mode="hybrid")
    return report, statistics.median(times)


def _same_top5(a: EvalReport, b: EvalReport) -> int:
    return sum([(r.source, r.start) for r in x.results[:5]] == [(r.source, r.start)
                                                                for r in y.results[:5]]
               for x, y in zip(a.questions, b.questions, strict=True))


def measure(name: str) -> list[dict[str, Any]]:
    """One row per question set of corpus `name`."""
    c = corpora.corpus(name)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        s = Settings(corpus_dir=c.folder, index_dir=Path(tmp) / "index")
        report = update_index(s)
        stored = replace(s, store=f"qdrant://{Path(tmp) / 'q'}")
        t0 = time.perf_counter()
        publish_folder(stored)
        publish_s = time.perf_counter() - t0
        folder_r = open_index(s, refresh=False, warm=True).retriever
        store_r = open_index(stored, refresh=False, warm=True).retriever
        for path in c.questions:
            fa, f_s = _timed_eval(folder_r, path)
            sa, s_s = _timed_eval(store_r, path)
            rows.append({"corpus": name, "set": path.name, "passages": report.total,
                         "folder": fa.metrics, "store": sa.metrics, "folder_ms": 1000 * f_s,
                         "store_ms": 1000 * s_s, "same_top5": _same_top5(fa, sa),
                         "questions": len(fa.questions), "publish_s": publish_s,
                         "folder_kb": _size(Path(tmp) / "index", skip="models") / 1024 / report.total,
                         "store_kb": _size(Path(tmp) / "q") / 1024 / report.total})
        close_clients()
    return rows


def run(names: list[str]) -> tuple[str, dict[str, Any]]:
    rows = [r for n in names for r in measure(n)]
    head = ["corpus, questions", "passages", "folder hit@1 / hit@5 / MRR", "store hit@1 / hit@5 / MRR",
            "same top 5", "warm ask: folder → store", "publish s", "KB/passage: folder, store"]
    body = [[f"{r['corpus']}, {r['set']}", f"{r['passages']:,}",
             " / ".join(f"{r['folder'][k]:.3f}" for k in KEYS),
             " / ".join(f"{r['store'][k]:.3f}" for k in KEYS),
             f"{r['same_top5']} of {r['questions']}",
             f"{r['folder_ms']:.0f} → {r['store_ms']:.0f} ms ({r['store_ms'] / r['folder_ms']:.1f}×)",
             f"{r['publish_s']:.0f}", f"{r['folder_kb']:.0f}, {r['store_kb']:.0f}"] for r in rows]
    md = "\n\n".join([
        "The same index asked from its folder and from a Qdrant store in the client's local mode "
        "(`--store qdrant:///PATH`), in one process, hybrid mode, k = 5. The local mode searches by "
        "brute force in Python; a server's times differ. Folder size without the model.",
        table(head, body)])
    return md, {"rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", nargs="+", default=["its", "pydocs"])
    md, _ = run(ap.parse_args().corpora)
    sys.stdout.write(f"{stamp('python benchmarks/qdrant_bench.py')}\n\n{md}\n")


if __name__ == "__main__":
    main()
