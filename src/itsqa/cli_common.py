"""What every `itsqa` command shares: its options, the way it prints notes and warnings on
stderr, the progress bar, and the errors it exits with. Light: imported before anything heavy."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import click

from .config import Settings
from .terminal import one_line

PATH_DIR = click.Path(path_type=Path, file_okay=True, dir_okay=True)
# A folder of thousands of files that cannot be sources would bury the answer under as many
# warnings: stderr shows this many, then how many more (`itsqa sources` and --json list them all).
WARNINGS_SHOWN = 20

corpus_option = click.option("--corpus", type=PATH_DIR, default=None, envvar="ITSQA_CORPUS",
                             help="Folder of sources [env ITSQA_CORPUS; default: corpus/].")
index_option = click.option("--index", "index_dir", type=PATH_DIR, default=None,
                            envvar="ITSQA_INDEX", help="Index folder [env ITSQA_INDEX; default: index/].")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
reranker_option = click.option(
    "--reranker", type=click.Path(path_type=Path), default=None,
    help="Folder of a local sentence-transformers CrossEncoder to re-order the top 20 passages "
         "[env ITSQA_RERANKER; none by default; loading it adds about 5 s].")


_SCOPE_OPTIONS = [
    click.option("--source", "sources", multiple=True, metavar="NAME",
                 help="Only this source: its name as `itsqa sources` lists it, or a glob such as "
                      "'reports/*.pdf'. Repeat for several."),
    click.option("--publisher", "publishers", multiple=True, metavar="TEXT",
                 help="Only sources whose publisher contains TEXT (any case). Repeat for several."),
    click.option("--since", metavar="DATE",
                 help="Only sources dated on or after DATE (2023, 2023-03 or 2023-03-22)."),
    click.option("--until", metavar="DATE", help="Only sources dated on or before DATE."),
]


def scope_options(command: Callable[..., None]) -> Callable[..., None]:
    """--source, --publisher, --since and --until (see scope.py)."""
    for option in reversed(_SCOPE_OPTIONS):
        command = option(command)
    return command


class Failure(click.ClickException):
    """An ItsqaError on its way out: `Error: <message>` on one line, exit 1."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class Misuse(Failure):
    """A library UsageError on its way out: `Error: <message>` on one line, exit 2."""

    exit_code = 2


def settings_for(ctx: click.Context, corpus: Path | None, index: Path | None) -> Settings:
    """The settings from the environment, with the command's --corpus and --index applied."""
    base: Settings = ctx.obj["settings"]
    return base.with_paths(corpus, index)


def with_reranker(settings: Settings, reranker: Path | None) -> Settings:
    """`settings` with --reranker applied (over ITSQA_RERANKER), its folder checked up front."""
    from .cross_encoder import check_folder

    if reranker is not None:
        settings = replace(settings, reranker=reranker)
    if settings.reranker is not None:
        check_folder(settings.reranker)
    return settings


def err(msg: str) -> None:
    """One inert line on stderr."""
    click.echo(one_line(msg), err=True)


def warn(warnings: Sequence[str]) -> None:
    """The first WARNINGS_SHOWN warnings on stderr, then how many more."""
    for w in warnings[:WARNINGS_SHOWN]:
        err(f"warning: {w}")
    if len(warnings) > WARNINGS_SHOWN:
        err(f"warning: … and {len(warnings) - WARNINGS_SHOWN} more (`itsqa sources` lists every "
            "source and why it is skipped)")


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
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
