"""The `itsqa` command: parse, call the library, print text or JSON, map errors to exit codes
(0 success, 1 failure, 2 misuse). No retrieval logic lives here."""

from __future__ import annotations

import os
import sys
import traceback
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from . import __version__
from .config import Settings, from_env
from .errors import ItsqaError, UsageError
from .jsonio import json_text
from .terminal import one_line

PATH_DIR = click.Path(path_type=Path, file_okay=True, dir_okay=True)


def _settings(ctx: click.Context, corpus: Path | None, index: Path | None) -> Settings:
    base: Settings = ctx.obj["settings"]
    return base.with_paths(corpus, index)


def _err(msg: str) -> None:
    click.echo(one_line(msg), err=True)


# A folder of thousands of files that cannot be sources would bury the answer under as many
# warnings: stderr shows this many, then how many more (`itsqa sources` and --json list them all).
WARNINGS_SHOWN = 20


def _warn(warnings: Sequence[str]) -> None:
    for w in warnings[:WARNINGS_SHOWN]:
        _err(f"warning: {w}")
    if len(warnings) > WARNINGS_SHOWN:
        _err(f"warning: … and {len(warnings) - WARNINGS_SHOWN} more (`itsqa sources` lists every "
             "source and why it is skipped)")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
    """A progress bar on stderr while embedding, only on a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:

        def factory(total: int) -> Callable[[int], None]:
            task = bar.add_task("embedding passages", total=total)
            return lambda n: bar.advance(task, n)

        yield factory


STDIN_LIMIT = 1 << 20  # bytes of a question read from standard input ("itsqa ask -")


def _clean_question(question: str) -> str:
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs") and c not in "\t\n"
                      else c for c in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned and any(unicodedata.category(c) == "Cs" for c in question):
        raise UsageError("the question is not readable text (bytes that are not valid in this "
                         "terminal's encoding): check the terminal's locale, e.g. LANG=C.UTF-8")
    if not cleaned:
        raise UsageError("the question is empty: ask something, e.g. itsqa ask \"what are the "
                         "quantum priorities\"")
    return cleaned


corpus_option = click.option("--corpus", type=PATH_DIR, default=None, envvar="ITSQA_CORPUS",
                             help="Folder of sources [env ITSQA_CORPUS; default: corpus/].")
index_option = click.option("--index", "index_dir", type=PATH_DIR, default=None,
                            envvar="ITSQA_INDEX", help="Index folder [env ITSQA_INDEX; default: index/].")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
reranker_option = click.option(
    "--reranker", type=click.Path(path_type=Path), default=None,
    help="Folder of a local sentence-transformers CrossEncoder to re-order the top 20 passages "
         "[env ITSQA_RERANKER; none by default; loading it adds about 5 s].")


def with_reranker(settings: Settings, reranker: Path | None) -> Settings:
    """`settings` with --reranker applied (over ITSQA_RERANKER), its folder checked up front."""
    from dataclasses import replace

    from .rerank import check_folder

    if reranker is not None:
        settings = replace(settings, reranker=reranker)
    if settings.reranker is not None:
        check_folder(settings.reranker)
    return settings


class Failure(click.ClickException):
    """An ItsqaError on its way out: `Error: <message>` on one line, exit 1."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class Misuse(Failure):
    """A library UsageError on its way out: `Error: <message>` on one line, exit 2."""

    exit_code = 2


def _debug(ctx: click.Context) -> bool:
    env = os.environ.get("ITSQA_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
    return env or bool((ctx.obj or {}).get("debug"))


class ItsqaGroup(click.Group):
    """Maps library errors to one-line messages and exit codes (1 failure, 2 misuse); a
    traceback only with --debug or ITSQA_DEBUG=1. `eval` is imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "eval"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "eval" and name not in self.commands:
            from .cli_eval import eval_cmd

            self.add_command(eval_cmd)
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
@json_option
@click.option("--rebuild", is_flag=True, help="Re-embed everything, not just what changed.")
@click.pass_context
def index_cmd(ctx: click.Context, corpus: Path | None, index_dir: Path | None, as_json: bool,
              rebuild: bool) -> None:
    """Build or update the index (only changed sources are re-embedded)."""
    from .build import update_index

    settings = _settings(ctx, corpus, index_dir)
    with _progress(not as_json) as progress:
        report = update_index(settings, rebuild=rebuild, progress=progress, note=_err)
    _warn(report.warnings)
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
@json_option
@click.option("--no-refresh", is_flag=True, help="Answer from the index as it is, even if stale.")
@click.option("--as-typed", is_flag=True,
              help="Take every word as typed: do not read a word that no source or English "
                   "dictionary holds as the nearest word in spelling.")
@reranker_option
@click.pass_context
def ask_cmd(ctx: click.Context, words: tuple[str, ...], k: int, mode: str | None,
            corpus: Path | None, index_dir: Path | None, as_json: bool, no_refresh: bool,
            as_typed: bool, reranker: Path | None) -> None:
    """Answer QUESTION with cited passages (builds the index on first use). QUESTION may be
    quoted or not; "-" reads it from standard input."""
    from .service import open_index

    settings = with_reranker(_settings(ctx, corpus, index_dir), reranker)
    if as_typed:
        settings = replace(settings, spelling=False)
    question = " ".join(words)
    if question == "-":
        data = sys.stdin.buffer.read(STDIN_LIMIT + 1)
        if len(data) > STDIN_LIMIT:
            raise UsageError(f"the question on standard input is over {STDIN_LIMIT >> 20} MiB: "
                             "ask something shorter")
        # bytes that are not UTF-8 become U+FFFD rather than stopping the read
        question = data.decode("utf-8", errors="replace").strip()
    q = _clean_question(question)
    with _progress(not as_json) as progress:
        opened = open_index(settings, refresh=not no_refresh, note=_err, progress=progress)
    _warn(opened.report.warnings if opened.report else [])  # what the refresh skipped or ignored
    retriever = opened.retriever
    limit = retriever.index.manifest["model"].get("max_seq_length", 256)
    answer = retriever.ask(q, k=k, mode=mode)
    if _too_long(retriever, q, limit):
        _err(f"note: the question is longer than the model reads ({limit} tokens); only its start "
             "was used for the dense search")
    if as_json:
        out = answer.as_json()
        # as typed, but valid UTF-8: bytes that were not (lone surrogates here) become U+FFFD
        out["question"] = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in question)
        out["stale"] = opened.stale
        click.echo(json_text(out))
        return
    from .render import print_answer

    print_answer(answer)


def _too_long(retriever: Any, q: str, limit: int) -> bool:
    truncated = getattr(retriever.encoder, "truncated", None)
    if truncated is not None:  # the ONNX encoder saw it while encoding
        return bool(truncated)
    from .embedding import token_counter

    return token_counter(retriever.encoder.spec)(q) > limit - 2


@cli.command("sources")
@corpus_option
@index_option
@json_option
@click.pass_context
def sources_cmd(ctx: click.Context, corpus: Path | None, index_dir: Path | None,
                as_json: bool) -> None:
    """List the sources with their metadata and whether each is indexed, changed or new."""
    from .catalog import list_sources

    settings = _settings(ctx, corpus, index_dir)
    rows, warnings = list_sources(settings)
    _warn(warnings)
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
