"""BEIR-layout test collections (corpus.jsonl, queries.jsonl, qrels/test.tsv): loading one,
writing its documents out as a corpus folder itsqa can index, and scoring a document ranking
(nDCG@10 with trec_eval's linear gains, recall@100, MRR@10)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import QuestionSetError
from .evaluation import first_relevant_rank, fold, ndcg, reciprocal_rank
from .stats import bootstrap_interval


@dataclass(frozen=True)
class BeirDataset:
    name: str
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _lines(p: Path) -> Iterator[str]:
    """The file's lines without their ends, read as they come (a BEIR corpus can be large)."""
    try:
        with p.open(encoding="utf-8-sig", newline=None) as fh:
            for line in fh:
                yield line.rstrip("\n")
    except UnicodeDecodeError as exc:
        raise QuestionSetError(f"{p} is not UTF-8 text ({exc})") from exc
    except OSError as exc:
        raise QuestionSetError(f"{p} cannot be read ({exc.strerror or exc})") from exc


def _jsonl(p: Path) -> Iterable[dict[str, Any]]:
    """Each non-blank line's object, which must have an "_id"."""
    for n, line in enumerate(_lines(p), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise QuestionSetError(f"{p}: line {n} is not JSON ({exc})") from exc
        except RecursionError as exc:
            raise QuestionSetError(f"{p}: line {n} is nested too deeply") from exc
        if not isinstance(obj, dict) or "_id" not in obj:
            raise QuestionSetError(f"{p}: line {n} has no \"_id\"")
        yield obj


def _qrels(p: Path) -> dict[str, dict[str, int]]:
    """{query id: {document id: grade}} for the positive judgments (a header line is skipped)."""
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(_lines(p), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if n == 1 and not parts[-1].lstrip("-").isdigit():
            continue  # header
        if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
            raise QuestionSetError(f"{p}: line {n} is not 'query-id<TAB>corpus-id<TAB>score'")
        if int(parts[2]) > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """corpus.jsonl, queries.jsonl and qrels/<split>.tsv, checked line by line.

    Raises:
        QuestionSetError: a file is missing, not UTF-8, or malformed (named with its line), or
            no query is judged.
    """
    if not folder.is_dir():
        raise QuestionSetError(f"{folder} is not a folder in the BEIR layout (corpus.jsonl, "
                               "queries.jsonl, qrels/test.tsv)")
    paths = {"corpus": folder / "corpus.jsonl", "queries": folder / "queries.jsonl",
             "qrels": folder / "qrels" / f"{split}.tsv"}
    for what, p in paths.items():
        if not p.is_file():
            raise QuestionSetError(f"{folder} has no {p.relative_to(folder)} ({what}): not a BEIR "
                                   "dataset")
    corpus = {str(o["_id"]): (str(o.get("title") or ""), str(o.get("text") or ""))
              for o in _jsonl(paths["corpus"])}
    queries = {str(o["_id"]): str(o.get("text") or "") for o in _jsonl(paths["queries"])}
    qrels = {q: d for q, d in _qrels(paths["qrels"]).items() if q in queries}
    if not qrels:
        raise QuestionSetError(f"{folder}: no judged queries")
    return BeirDataset(folder.resolve().name, corpus, queries, qrels)  # "." named as its folder


@dataclass(frozen=True)
class BeirReport:
    name: str
    mode: str
    n: int
    metrics: dict[str, float]
    ndcg_per_query: tuple[float, ...] = ()  # nDCG@10 of each judged query, by query id

    def intervals(self) -> dict[str, tuple[float, float]]:
        """A 95% bootstrap interval for nDCG@10 over the judged queries."""
        return {"ndcg@10": bootstrap_interval(self.ndcg_per_query)}

    def as_json(self) -> dict[str, Any]:
        return {"dataset": self.name, "mode": self.mode, "n": self.n, "metrics": self.metrics,
                "intervals": {m: list(lo_hi) for m, lo_hi in self.intervals().items()}}


def evaluate_beir(ds: BeirDataset, rank_docs: Callable[[str], list[str]], *, mode: str
                  ) -> BeirReport:
    """nDCG@10 (linear graded gain), recall@100 and MRR@10 over the judged queries."""
    nd, rec, rr = [], [], []
    for qid, judged in sorted(ds.qrels.items()):
        docs = rank_docs(ds.queries[qid])
        gains = [float(judged.get(d, 0)) for d in docs]
        nd.append(ndcg(gains, judged.values(), 10))
        rec.append(sum(1 for d in docs[:100] if d in judged) / len(judged))
        rr.append(reciprocal_rank(first_relevant_rank([g > 0 for g in gains]), 10))
    n = len(nd)
    metrics = {"ndcg@10": sum(nd) / n, "recall@100": sum(rec) / n, "mrr@10": sum(rr) / n}
    return BeirReport(ds.name, mode, n, {k: round(v, 4) for k, v in metrics.items()}, tuple(nd))


def beir_cache(folder: Path) -> Path:
    """A cache folder keyed by the dataset's name and the hash of its corpus file."""
    h = hashlib.sha256()
    with (folder / "corpus.jsonl").open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "itsqa" / "beir"
    return base / f"{re.sub(r'[^A-Za-z0-9._-]', '_', folder.resolve().name)}-{h.hexdigest()[:12]}"


def materialise(ds: BeirDataset, corpus_dir: Path) -> dict[str, str]:
    """Write each document as a text file (title first) with its title in sources.toml, once
    (atomically: a sibling folder renamed into place). Returns {file name: document id}."""
    mapping_file = corpus_dir / "ids.json"
    if mapping_file.is_file():
        mapping: dict[str, str] = json.loads(mapping_file.read_text(encoding="utf-8"))
        if len(mapping) == len(ds.corpus):
            return mapping
    tmp = corpus_dir.with_name(corpus_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    mapping = {}
    toml = []
    for doc_id, (title, text) in ds.corpus.items():
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", doc_id)[:80] or "doc"
        name = f"{safe}.txt"
        if name in mapping:
            name = f"{safe}-{hashlib.sha1(doc_id.encode()).hexdigest()[:8]}.txt"
        mapping[name] = doc_id
        body = text if (not title or fold(text).startswith(fold(title))) else f"{title}\n\n{text}"
        (tmp / name).write_text(body, encoding="utf-8")
        toml.append(f"[{json.dumps(name)}]\ntitle = {json.dumps(title or doc_id)}\n")
    (tmp / "sources.toml").write_text("\n".join(toml), encoding="utf-8")
    (tmp / "ids.json").write_text(json.dumps(mapping), encoding="utf-8")
    shutil.rmtree(corpus_dir, ignore_errors=True)
    os.replace(tmp, corpus_dir)
    return mapping
