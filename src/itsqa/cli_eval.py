"""`itsqa eval`: the project's question set or a BEIR collection, one mode or all side by side."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from .cli import reranker_option, with_reranker
from .config import DEFAULT_MODEL_NAME, Settings
from .errors import UsageError
from .evaluation import (
    BeirDataset,
    BeirReport,
    EvalReport,
    Question,
    Result,
    answer_counts,
    evaluate_beir,
    evaluate_questions,
    fold,
    load_beir,
    load_questions,
    paired_p,
    ratio_interval,
)
from .jsonio import json_text
from .retrieval import MODES, Retriever
from .terminal import one_line

PEERS = ("ten-line RAG (800-char windows, MiniLM)", "bm25s (800-char windows)")
BEIR_PEERS = ("MiniLM dense, whole documents", "bm25s, whole documents")


def _with_model(label: str, retriever: Retriever) -> str:
    """A dense peer's label, naming the model it really ran on where ITSQA_MODEL chose another."""
    name = str(retriever.index.manifest.get("model", {}).get("name", DEFAULT_MODEL_NAME))
    return label if name == DEFAULT_MODEL_NAME else label.replace("MiniLM", Path(name).name)


def _note(msg: str) -> None:
    click.echo(one_line(msg), err=True)


def _explain(retriever: Retriever, mode: str) -> Any:
    """For a missed question: where each evidence phrase sits and the rank its passage got."""

    def explain(q: Question, results: list[Result]) -> tuple[str, ...]:
        ranked, _ = retriever.rank(q.question, mode, depth=len(retriever.index.chunks))
        position = {row: i + 1 for i, (row, _) in enumerate(ranked)}
        # Where the top 10 results show each passage: as a result of its own, or folded into
        # another as a copy ("also in"), which the rank above, counted before folding, hides.
        shown: dict[int, tuple[int, int]] = {}
        for r, (row, _, copies) in enumerate(retriever.select(ranked, 10), 1):
            shown[row] = (r, row)
            for m in copies:
                shown.setdefault(m, (r, row))
        lines = []
        for ev in q.evidence or ():
            f = fold(ev)
            rows = [i for i, c in enumerate(retriever.index.chunks) if f in fold(c.text)]
            if not rows:
                where = _find_in_sources(retriever, f)
                lines.append(f"evidence {ev!r}: no passage contains it whole" +
                             (f" (it stands in {where})" if where else " (not in the index)"))
                continue
            best = min(rows, key=lambda r: position.get(r, 10**9))
            c = retriever.index.chunks[best]
            title = retriever.index.sources.get(c.source, {}).get("title", c.source)
            rank = position.get(best)
            where = f"ranked {_ordinal(rank) if rank else 'below every other passage'}"
            if best in shown:
                r, row = shown[best]
                if row == best:
                    where = f"shown {_ordinal(r)} ({where} before copies were folded)"
                else:
                    home = retriever.index.chunks[row]
                    where = (f"{where}, but shown only as a copy under result {r} "
                             f"({home.source}: {home.start}–{home.end}, 'also in')")
            lines.append(f"evidence {ev!r} is in passage {c.ordinal + 1} of {title!r} "
                         f"({c.source}: {c.start}–{c.end}), {where}")
        for s in q.sources:
            rows = [position.get(i, 10**9) for i, c in enumerate(retriever.index.chunks)
                    if Path(c.source).name == Path(s).name]
            if rows:
                lines.append(f"source {s}: its best passage ranked {_ordinal(min(rows))}")
            else:
                lines.append(f"source {s}: not in the index")
        return tuple(lines)

    return explain


def _find_in_sources(retriever: Retriever, folded: str) -> str:
    settings = retriever.settings
    for name in retriever.index.sources:
        text = retriever.index.texts.get(name)
        if text is None:
            try:
                text = (settings.corpus_dir / name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
        if folded in fold(text):
            return f"{name}, split across passages or left out as page furniture"
    return ""


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _system_ranker(retriever: Retriever, mode: str, k: int, highlight: bool = True) -> Any:
    def rank(question: str) -> tuple[list[Result], bool, str | None]:
        ans = retriever.ask(question, k=max(k, 10), mode=mode, highlight=highlight)
        return ([Result(h.rank, h.score, h.text, h.citation.source, h.citation.start,
                        h.citation.end, h.citation.title,
                        highlights=h.highlights if highlight else None) for h in ans.hits],
                ans.confident, ans.best_answer if highlight else None)
    return rank


def _peer_rankers(retriever: Retriever, k: int) -> dict[str, Any]:
    from .baselines import Bm25Peer, DensePeer, windows
    from .retrieval import display_path

    items = []
    for name in sorted(retriever.index.sources):
        text = retriever.index.texts.get(name)
        if text is None:
            text = (retriever.settings.corpus_dir / name).read_text(encoding="utf-8")
        items.extend(windows(name, text))
    dense = DensePeer(items, retriever.encoder)
    bm25 = Bm25Peer(items)
    threshold = retriever.settings.confidence_threshold

    def make(peer: Any) -> Any:
        def rank(question: str) -> tuple[list[Result], bool, str | None]:
            hits = peer.search(question, max(k, 10))
            top = dense.search(question, 1)
            conf = bool(top) and top[0][1] >= threshold
            return [Result(i + 1, s, w.text, display_path(retriever.settings.corpus_dir, w.key),
                           w.start, w.end) for i, (w, s) in enumerate(hits)], conf, None
        return rank

    return {_with_model(PEERS[0], retriever): make(dense), PEERS[1]: make(bm25)}


def _runs(settings: Settings, mode: str, compare: bool) -> list[tuple[str, str, Path | None]]:
    """(label, mode, reranker folder) for each system row: every mode with --compare, and with a
    cross-encoder the chosen mode again with it, so its effect reads as before and after."""
    rows: list[tuple[str, str, Path | None]] = [(m, m, None) for m in (MODES if compare else [mode])]
    if settings.reranker is not None:
        rows.append((f"{mode}+reranker", mode, settings.reranker))
    return rows


def run_questions(settings: Settings, path: Path, k: int, mode: str, compare: bool
                  ) -> list[EvalReport]:
    from .service import open_index

    questions = load_questions(path)
    retriever = open_index(settings, note=_note).retriever
    reports = []
    for label, m, reranker in _runs(settings, mode, compare):
        retriever.settings = replace(settings, reranker=reranker)
        reports.append(evaluate_questions(questions, _system_ranker(retriever, m, k), k,
                                          name=path.name, mode=label,
                                          explain=_explain(retriever, m)))
    retriever.settings = settings
    if compare:
        for label, ranker in _peer_rankers(retriever, k).items():
            reports.append(evaluate_questions(questions, ranker, k, name=path.name, mode=label))
    return reports


# -- BEIR -----------------------------------------------------------------------------------

def beir_cache(folder: Path) -> Path:
    """A cache folder keyed by the dataset's name and the hash of its corpus file."""
    h = hashlib.sha256()
    with (folder / "corpus.jsonl").open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "itsqa" / "beir"
    return base / f"{re.sub(r'[^A-Za-z0-9._-]', '_', folder.resolve().name)}-{h.hexdigest()[:12]}"


def _materialise(ds: BeirDataset, corpus_dir: Path) -> dict[str, str]:
    """Write each document as a text file (title first) with its title in sources.toml, once.
    Returns {file name: document id}."""
    mapping_file = corpus_dir / "ids.json"
    if mapping_file.is_file():
        mapping: dict[str, str] = json.loads(mapping_file.read_text(encoding="utf-8"))
        if len(mapping) == len(ds.corpus):
            return mapping
    tmp = corpus_dir.with_name(corpus_dir.name + ".tmp")
    import shutil

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


def doc_ranker(retriever: Retriever, mapping: dict[str, str], mode: str
               ) -> Callable[[str], list[str]]:
    """Documents ranked by their best passage: the top 100 document ids for a query."""
    n = len(retriever.index.chunks)

    def rank_docs(query: str) -> list[str]:
        ranked, _ = retriever.rank(query, mode, depth=min(n, 1000))
        seen: dict[str, None] = {}
        for row, _ in ranked:
            seen.setdefault(mapping[retriever.index.chunks[row].source], None)
            if len(seen) >= 100:
                break
        return list(seen)

    return rank_docs


def run_beir(settings: Settings, folder: Path, index_dir: Path | None, mode: str, compare: bool,
             progress: Any) -> list[BeirReport]:
    from .build import update_index
    from .service import open_index

    ds = load_beir(folder)
    cache = index_dir if index_dir is not None else beir_cache(folder)
    corpus_dir = cache / "corpus"
    mapping = _materialise(ds, corpus_dir)
    bsettings = settings.with_paths(corpus_dir, cache / "index")
    update_index(bsettings, progress=progress, note=_note)
    retriever = open_index(bsettings, note=_note).retriever
    reports = []
    for label, m, reranker in _runs(bsettings, mode, compare):
        retriever.settings = replace(bsettings, reranker=reranker)
        reports.append(evaluate_beir(ds, doc_ranker(retriever, mapping, m), mode=label))
    retriever.settings = bsettings
    if compare:
        reports.extend(_beir_peers(ds, retriever, cache))
    return reports


def _beir_peers(ds: BeirDataset, retriever: Retriever, cache: Path) -> list[BeirReport]:
    import numpy as np

    from .baselines import Bm25Peer, DensePeer, Window

    ids = list(ds.corpus)
    items = [Window(d, 0, 0, "") for d in ids]
    # As the published peers did: title and text joined, even where the text repeats the title.
    texts = [f"{t} {x}".strip() for t, x in (ds.corpus[d] for d in ids)]
    key = retriever.index.manifest["model"]["key"]
    vec_file = cache / f"peer-dense-title-text-{key}.npy"
    vectors = np.load(vec_file, allow_pickle=False) if vec_file.is_file() else None
    if vectors is not None and len(vectors) != len(ids):
        vectors = None
    dense = DensePeer(items, retriever.encoder, inputs=texts, vectors=vectors)
    if vectors is None:
        tmp = vec_file.with_suffix(".tmp.npy")
        np.save(tmp, dense.vectors, allow_pickle=False)
        os.replace(tmp, vec_file)
    bm25 = Bm25Peer(items, inputs=texts)
    out = []
    peers: list[tuple[str, DensePeer | Bm25Peer]] = [(_with_model(BEIR_PEERS[0], retriever), dense),
                                                          (BEIR_PEERS[1], bm25)]
    for label, peer in peers:
        def rank_docs(q: str, p: DensePeer | Bm25Peer = peer) -> list[str]:
            return [w.key for w, _ in p.search(q, 100)]

        out.append(evaluate_beir(ds, rank_docs, mode=label))
    return out


# -- output ---------------------------------------------------------------------------------

def _print_table(rows: list[tuple[str, dict[str, float]]], keys: list[str], title: str,
                 label: str = "mode", p_values: list[float | None] | None = None) -> None:
    """Metrics, a row per mode; with `p_values`, a last column testing each row against the
    first (None: the first row itself)."""
    if title:
        click.echo(title)
    width = max(len(r[0]) for r in rows) + 2
    click.echo(f"{label:<{width}}" + "".join(f"{k:>11}" for k in keys)
               + (f"{'p':>8}" if p_values else ""))
    for i, (label, metrics) in enumerate(rows):
        p = ""
        if p_values:
            value = p_values[i]
            p = f"{'—' if value is None else '<0.001' if value < 0.001 else f'{value:.3f}':>8}"
        click.echo(f"{label:<{width}}" + "".join(f"{metrics.get(k, float('nan')):>11.3f}"
                                                 for k in keys) + p)


def _print_intervals(mode: str, intervals: dict[str, tuple[float, float]], over: str) -> None:
    """How far each headline figure could move on another set of the same size and kind."""
    names = {"mrr@10": "MRR@10", "ndcg@10": "nDCG@10"}
    click.echo(f"95% interval ({mode}, bootstrap over the {over}): " + ", ".join(
        f"{names.get(m, m)} {lo:.3f}–{hi:.3f}" for m, (lo, hi) in intervals.items()))


def _p_against_first(per_query: list[Any]) -> list[float | None] | None:
    """Each row's paired test against the first (None when there is only one row)."""
    if len(per_query) < 2:
        return None
    return [None] + [paired_p(per_query[0], other) for other in per_query[1:]]


_P_NOTE = ("p: {metric} of each row against the first, query by query (paired sign-flip\n"
           "randomisation test); below 0.05 the difference is unlikely to be chance")


def _print_misses(report: EvalReport) -> None:
    misses = [q for q in report.questions if q.miss is not None]
    if not misses:
        click.echo("\nEvery answerable question has a relevant passage in its top 5.")
        return
    click.echo(f"\nMissed at 5 ({len(misses)}):")
    for q in misses:
        rank = q.first_relevant_rank
        click.echo(f"- {one_line(q.question.id)}: {one_line(q.question.question)}  "
                   f"[first relevant: {rank if rank else 'none in top 10'}]")
        if q.miss and q.miss.first:
            f = q.miss.first
            snippet = " ".join(f.text.split())[:100]
            click.echo(f"    came first: {one_line(f.source)}: {f.start}–{f.end} "
                       f"\"{one_line(snippet)}…\"")
        for line in q.miss.evidence if q.miss else ():
            click.echo(f"    {one_line(line)}")


@click.command("eval")
@click.argument("questions", required=False, type=click.Path(path_type=Path))
@click.option("--beir", type=click.Path(path_type=Path), default=None,
              help="Evaluate on a BEIR-layout dataset folder instead of a question set.")
@click.option("-k", "k", type=click.IntRange(min=1), default=5, show_default=True,
              help="Cut-off for recall@k.")
@click.option("--mode", type=click.Choice(list(MODES)), default="hybrid", show_default=True)
@click.option("--compare", is_flag=True, help="Run every mode and the baseline peers side by side.")
@click.option("--corpus", type=click.Path(path_type=Path), default=None, envvar="ITSQA_CORPUS")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), default=None,
              envvar="ITSQA_INDEX", help="Index folder (for --beir: where its index is kept).")
@click.option("--json", "as_json", is_flag=True)
@reranker_option
@click.pass_context
def eval_cmd(ctx: click.Context, questions: Path | None, beir: Path | None, k: int, mode: str,
             compare: bool, corpus: Path | None, index_dir: Path | None, as_json: bool,
             reranker: Path | None) -> None:
    """Measure retrieval on QUESTIONS.jsonl, or on a BEIR dataset with --beir DIR."""
    from .cli import _progress

    settings = with_reranker(ctx.obj["settings"], reranker)
    if (questions is None) == (beir is None):
        raise UsageError("give a question set (itsqa eval eval/questions.jsonl) or --beir DIR, "
                         "not both or neither")
    if beir is not None:
        # --index names the BEIR index only when given on the command line, not via ITSQA_INDEX
        source = ctx.get_parameter_source("index_dir")
        beir_index = index_dir if source is click.core.ParameterSource.COMMANDLINE else None
        with _progress(not as_json) as progress:
            reports = run_beir(settings, beir, beir_index, mode, compare, progress)
        if as_json:
            out: Any = [r.as_json() for r in reports] if len(reports) > 1 else reports[0].as_json()
            click.echo(json_text(out))
            return
        p_values = _p_against_first([r.ndcg_per_query for r in reports])
        _print_table([(r.mode, r.metrics) for r in reports], ["ndcg@10", "recall@100", "mrr@10"],
                     f"{one_line(reports[0].name)}: {reports[0].n} queries", p_values=p_values)
        if p_values:
            click.echo(_P_NOTE.format(metric="nDCG@10"))
        _print_intervals(reports[0].mode, reports[0].intervals(), f"{reports[0].n} queries")
        peer = next((r for r in reports if r.mode == BEIR_PEERS[1]), None)
        if peer is not None and peer.metrics["ndcg@10"] > 0:
            lo, hi = ratio_interval(reports[0].ndcg_per_query, peer.ndcg_per_query)
            click.echo(f"{reports[0].mode} / {peer.mode}: nDCG@10 "
                       f"{reports[0].metrics['ndcg@10'] / peer.metrics['ndcg@10']:.2f}x "
                       f"(95% interval {lo:.2f}–{hi:.2f}, paired bootstrap over the queries)")
        return
    assert questions is not None
    settings = settings.with_paths(corpus, index_dir)
    reports_q = run_questions(settings, questions, k, mode, compare)
    if as_json:
        out = [r.as_json() for r in reports_q] if len(reports_q) > 1 else reports_q[0].as_json()
        click.echo(json_text(out))
        return
    keys = ["hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", f"recall@{k}"]
    # the details below are for the chosen mode, or for it with the reranker when one is given
    first = next((r for r in reports_q if r.mode.endswith("+reranker")), reports_q[0])
    n = sum(1 for q in first.questions if q.question.answerable)
    noun = "question" if n == 1 else "questions"
    p_values = _p_against_first([r.reciprocal_ranks() for r in reports_q])
    _print_table([(r.mode, r.metrics) for r in reports_q], keys,
                 f"{one_line(first.name)}: {n} answerable {noun}", p_values=p_values)
    if p_values:
        click.echo(_P_NOTE.format(metric="MRR@10"))
    _print_intervals(first.mode, first.intervals(), f"{n} {noun}")
    kinds = first.by_kind()
    if len(kinds) > 1:
        click.echo(f"\nBy kind ({first.mode}):")
        _print_table([(f"{kind} ({int(km['n'])})", km) for kind, km in kinds.items()], keys, "",
                     label="kind")
    una = len(first.questions) - n
    m = first.metrics
    if una:
        click.echo(f"\nConfidence ({first.mode}): {m.get('unanswerable_flagged', 0) * una:.0f} of "
                   f"{una} unanswerable questions flagged; {m['answerable_flagged'] * n:.0f} of {n} "
                   "answerable ones wrongly flagged.")
        split = first.flagged_by_kind()
        if len(split) > 1:
            click.echo("  unanswerable, by kind: " + "; ".join(
                f"{kind}: {row['flagged']} of {row['n']} flagged" for kind, row in split.items()))
    _print_answers(first)
    _print_misses(first)
    sys.stdout.flush()


def _print_answers(report: EvalReport) -> None:
    """How often the answer itself is marked: in the highlighted sentences of the first right
    passage shown, and in the one-line answer above the list."""
    counts = answer_counts([q for q in report.questions if q.question.answerable])
    if not counts:
        return
    marked, lines = counts.get("answer_marked", (0, 0)), counts.get("answer_line", (0, 0))
    click.echo(f"\nAnswer marked ({report.mode}): an evidence phrase lies in the highlighted "
               f"sentence(s) of the first right passage for {marked[0]} of {marked[1]} "
               f"questions answered in the top {report.k}; in the one-line answer for "
               f"{lines[0]} of {lines[1]}.")
