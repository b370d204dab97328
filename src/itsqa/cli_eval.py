"""`itsqa eval`: the project's question set or a BEIR collection, one mode or all side by side;
the engine is eval_runs.py, this module parses and prints."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .baselines import BEIR_PEERS
from .beir import BeirReport
from .cli_common import (
    err,
    progress_bar,
    reranker_option,
    scope_options,
    store_option,
    with_reranker,
)
from .errors import UsageError
from .eval_runs import run_beir, run_questions
from .evaluation import EvalReport, answer_counts
from .jsonio import json_text
from .ranking import MODES
from .stats import paired_p, ratio_interval
from .terminal import one_line

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
@store_option
@reranker_option
@scope_options
@click.pass_context
def eval_cmd(ctx: click.Context, questions: Path | None, beir: Path | None, k: int, mode: str,
             compare: bool, corpus: Path | None, index_dir: Path | None, as_json: bool,
             reranker: Path | None, sources: tuple[str, ...], publishers: tuple[str, ...],
             since: str | None, until: str | None) -> None:
    """Measure retrieval on QUESTIONS.jsonl, or on a BEIR dataset with --beir DIR. The scope
    options ask every question of those sources only (question sets, not --beir)."""
    from .scope import scope_from

    settings = with_reranker(ctx.obj["settings"], reranker)
    scope = scope_from(sources, publishers, since, until)
    if (questions is None) == (beir is None):
        raise UsageError("give a question set (itsqa eval eval/questions.jsonl) or --beir DIR, "
                         "not both or neither")
    if beir is not None and scope.narrows:
        raise UsageError("--source, --publisher, --since and --until apply to question sets, "
                         "not to --beir")
    if beir is not None:
        # --index names the BEIR index only when given on the command line, not via ITSQA_INDEX
        source = ctx.get_parameter_source("index_dir")
        beir_index = index_dir if source is click.core.ParameterSource.COMMANDLINE else None
        with progress_bar(not as_json) as progress:
            reports = run_beir(settings, beir, beir_index, mode, compare, progress, note=err)
        _print_json(reports) if as_json else _print_beir(reports)
        return
    assert questions is not None
    reports_q = run_questions(settings.with_paths(corpus, index_dir), questions, k, mode, compare,
                              note=err, scope=scope)
    _print_json(reports_q) if as_json else _print_questions(reports_q, k)


def _print_json(reports: Sequence[EvalReport] | Sequence[BeirReport]) -> None:
    """One report as an object, several as a list."""
    out: Any = [r.as_json() for r in reports] if len(reports) > 1 else reports[0].as_json()
    click.echo(json_text(out))


def _print_beir(reports: list[BeirReport]) -> None:
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


def _print_questions(reports: list[EvalReport], k: int) -> None:
    keys = ["hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", f"recall@{k}"]
    # the details below are for the chosen mode, or for it with the reranker when one is given
    first = next((r for r in reports if r.mode.endswith("+reranker")), reports[0])
    n = sum(1 for q in first.questions if q.question.answerable)
    noun = "question" if n == 1 else "questions"
    p_values = _p_against_first([r.reciprocal_ranks() for r in reports])
    _print_table([(r.mode, r.metrics) for r in reports], keys,
                 f"{one_line(first.name)}: {n} answerable {noun}", p_values=p_values)
    if p_values:
        click.echo(_P_NOTE.format(metric="MRR@10"))
    _print_intervals(first.mode, first.intervals(), f"{n} {noun}")
    kinds = first.by_kind()
    if len(kinds) > 1:
        click.echo(f"\nBy kind ({first.mode}):")
        _print_table([(f"{kind} ({int(km['n'])})", km) for kind, km in kinds.items()], keys, "",
                     label="kind")
    _print_confidence(first, n)
    _print_answers(first)
    _print_misses(first)
    sys.stdout.flush()


def _print_confidence(report: EvalReport, n: int) -> None:
    una = len(report.questions) - n
    if not una:
        return
    m = report.metrics
    click.echo(f"\nConfidence ({report.mode}): {m.get('unanswerable_flagged', 0) * una:.0f} of "
               f"{una} unanswerable questions flagged; {m['answerable_flagged'] * n:.0f} of {n} "
               "answerable ones wrongly flagged.")
    split = report.flagged_by_kind()
    if len(split) > 1:
        click.echo("  unanswerable, by kind: " + "; ".join(
            f"{kind}: {row['flagged']} of {row['n']} flagged" for kind, row in split.items()))


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
