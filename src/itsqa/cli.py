"""The `itsqa` command: parse, call the library, print text or JSON, map errors to exit codes
(0 success, 1 failure, 2 misuse). No retrieval logic lives here."""

from __future__ import annotations

import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from . import __version__
from .cli_common import (
    Failure,
    Misuse,
    corpus_option,
    err,
    index_option,
    json_option,
    progress_bar,
    reranker_option,
    scope_options,
    settings_for,
    store_option,
    warn,
    with_reranker,
)
from .config import Settings, debug_enabled, from_env
from .errors import ItsqaError, UsageError
from .jsonio import json_text
from .question_text import clean_question
from .terminal import one_line

STDIN_LIMIT = 1 << 20  # bytes of a question read from standard input ("itsqa ask -")
# Commands whose modules load only when used, so that `itsqa ask` imports none of them.
LAZY_COMMANDS = {"eval": ("cli_eval", "eval_cmd"), "serve": ("cli_serve", "serve_cmd"),
                 "mcp": ("cli_mcp", "mcp_cmd")}


def _debug(ctx: click.Context) -> bool:
    return debug_enabled() or bool((ctx.obj or {}).get("debug"))


class ItsqaGroup(click.Group):
    """Maps library errors to one-line messages and exit codes (1 failure, 2 misuse); a
    traceback only with --debug or ITSQA_DEBUG=1. LAZY_COMMANDS are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            import importlib

            module, attr = LAZY_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(f".{module}", __package__), attr))
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except ItsqaError as exc:
            if _debug(ctx):
                traceback.print_exc()
            raise (Misuse if exc.exit_code == 2 else Failure)(str(exc)) from exc
        except KeyboardInterrupt:
            raise click.exceptions.Abort() from None
        except BrokenPipeError:
            raise
        except Exception as exc:  # anything unforeseen still gets one line, not a traceback
            if _debug(ctx):
                traceback.print_exc()
            raise Failure(f"unexpected {type(exc).__name__}: {exc} (run with --debug for "
                          "details)") from exc


@click.group(cls=ItsqaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="itsqa")
@click.option("--debug", is_flag=True, envvar="ITSQA_DEBUG", help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Ask questions of a folder of documents; get cited passages back. Offline."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = from_env()
    ctx.obj["debug"] = debug


@cli.command("index")
@corpus_option
@index_option
@store_option
@json_option
@click.option("--rebuild", is_flag=True, help="Re-embed everything, not just what changed.")
@click.option("--verify", is_flag=True,
              help="Check every file of the index against its checksum, and change nothing.")
@click.pass_context
def index_cmd(ctx: click.Context, corpus: Path | None, index_dir: Path | None, as_json: bool,
              rebuild: bool, verify: bool) -> None:
    """Build or update the index (only changed sources are re-embedded)."""
    from .build import update_index

    settings = settings_for(ctx, corpus, index_dir)
    if verify:
        _verify(settings.index_dir, as_json)
        return
    with progress_bar(not as_json) as progress:
        report = update_index(settings, rebuild=rebuild, progress=progress, note=err)
    warn(report.warnings)
    if as_json:
        click.echo(json_text(report.as_json()))
        return
    if not report.touched:
        click.echo(f"Index is up to date: {len(report.unchanged)} sources, {report.total} passages "
                   f"({report.seconds:.2f} s).")
        return
    parts = [f"{len(report.added)} added", f"{len(report.changed)} changed",
             f"{len(report.removed)} removed", f"{len(report.unchanged)} unchanged"]
    why = f" (full rebuild: {report.reason})" if report.rebuilt else ""
    click.echo(f"Indexed {one_line(str(settings.corpus_dir))}: sources {', '.join(parts)}{why}.")
    click.echo(f"Passages: {report.embedded} embedded, {report.reused} reused, {report.total} in "
               f"total ({report.seconds:.1f} s).")


@cli.command("ask")
@click.argument("words", nargs=-1, required=True, metavar="QUESTION")
@click.option("-k", "k", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many passages to show.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "bm25", "late"]), default=None,
              help="Retrieval mode [default: hybrid]; late: hybrid with its word-by-word "
                   "re-scoring of the top 20 weighted more.")
@corpus_option
@index_option
@store_option
@json_option
@click.option("--no-refresh", is_flag=True, help="Answer from the index as it is, even if stale.")
@click.option("--as-typed", is_flag=True,
              help="Take every word as typed: do not read a word that no source or English "
                   "dictionary holds as the nearest word in spelling.")
@reranker_option
@scope_options
@click.pass_context
def ask_cmd(ctx: click.Context, words: tuple[str, ...], k: int, mode: str | None,
            corpus: Path | None, index_dir: Path | None, as_json: bool, no_refresh: bool,
            as_typed: bool, reranker: Path | None, sources: tuple[str, ...],
            publishers: tuple[str, ...], since: str | None, until: str | None) -> None:
    """Answer QUESTION with cited passages (builds the index on first use). QUESTION may be
    quoted or not; "-" reads it from standard input."""
    from .scope import scope_from
    from .service import open_index

    scope = scope_from(sources, publishers, since, until)

    settings = with_reranker(settings_for(ctx, corpus, index_dir), reranker)
    if as_typed:
        settings = replace(settings, spelling=False)
    question = _question_text(words)
    q = clean_question(question)
    if not no_refresh and _handed_over(settings, question, q, k, mode, scope, as_json):
        return
    with progress_bar(not as_json) as progress:
        opened = open_index(settings, refresh=not no_refresh, note=err, progress=progress)
    warn(opened.report.warnings if opened.report else [])  # what the refresh skipped or ignored
    retriever = opened.retriever
    limit = retriever.index.manifest["model"].get("max_seq_length", 256)
    answer = retriever.ask(q, k=k, mode=mode, scope=scope)
    if _too_long(retriever, q, limit):
        err(f"note: the question is longer than the model reads ({limit} tokens); only its start "
             "was used for the dense search")
    if as_json:
        from .answer import ask_json

        click.echo(json_text(ask_json(answer, question, opened.stale, scope)))
        return
    from .render import print_answer

    print_answer(answer)


def _handed_over(settings: Settings, typed: str, q: str, k: int, mode: str | None,
                 scope: Any, as_json: bool) -> bool:
    """Whether a running `itsqa serve` of this index answered (and the answer was printed)."""
    from .handoff import ask_running

    found = ask_running(settings, q, k, mode, scope)
    if found is None:
        return False
    from .answer import answer_from_json, display_path, shown_question

    found["question"] = shown_question(typed)
    for r in found["results"]:  # paths as this process would show them
        for c in (r, *r["also_in"]):
            c["source"] = display_path(settings.corpus_dir, c["name"])
    if as_json:
        click.echo(json_text(found))
    else:
        from .render import print_answer

        print_answer(answer_from_json(found))
    return True


def _verify(index_dir: Path, as_json: bool) -> None:
    """Hash every file of the current index against its manifest (an ask checks less)."""
    from . import store
    from .errors import BadIndexError

    try:
        loaded = store.load(index_dir, checksums=True)
    except BadIndexError as exc:
        raise BadIndexError(f"the index in {index_dir} is damaged: {exc}. Run `itsqa index "
                            "--rebuild`") from exc
    if loaded is None:
        raise ItsqaError(f"there is no index in {index_dir}: run `itsqa index` first")
    files = len(loaded.manifest.get("files", {}))
    if as_json:
        click.echo(json_text({"verified": True, "files": files, "passages": len(loaded.chunks)}))
    else:
        click.echo(f"Index verified: all {files} files match their checksums "
                   f"({len(loaded.chunks)} passages).")


def _question_text(words: tuple[str, ...]) -> str:
    """The question's words joined; "-" reads it from standard input (up to STDIN_LIMIT)."""
    question = " ".join(words)
    if question != "-":
        return question
    data = sys.stdin.buffer.read(STDIN_LIMIT + 1)
    if len(data) > STDIN_LIMIT:
        raise UsageError(f"the question on standard input is over {STDIN_LIMIT >> 20} MiB: "
                         "ask something shorter")
    # bytes that are not UTF-8 become U+FFFD rather than stopping the read
    return data.decode("utf-8", errors="replace").strip()


def _too_long(retriever: Any, q: str, limit: int) -> bool:
    truncated = getattr(retriever.encoder, "truncated", None)
    if truncated is not None:  # the ONNX encoder saw it while encoding
        return bool(truncated)
    from .model import token_counter

    return token_counter(retriever.encoder.spec)(q) > limit - 2


@cli.command("sources")
@corpus_option
@index_option
@store_option
@json_option
@click.pass_context
def sources_cmd(ctx: click.Context, corpus: Path | None, index_dir: Path | None,
                as_json: bool) -> None:
    """List the sources with their metadata and whether each is indexed, changed or new."""
    from .catalog import list_sources

    settings = settings_for(ctx, corpus, index_dir)
    rows, warnings = list_sources(settings)
    warn(warnings)
    if as_json:
        click.echo(json_text([r.as_json() for r in rows]))
        return
    from .render import print_sources

    print_sources(rows)


def main(argv: list[str] | None = None) -> None:
    """Entry point for the console script."""
    try:
        cli.main(args=argv, prog_name="itsqa")
    except BrokenPipeError:  # `itsqa ask ... | head`
        sys.stderr.close()
        sys.exit(1)
