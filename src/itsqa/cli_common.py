"""What every `itsqa` command shares: its options, the way it prints notes and warnings on
stderr, the progress bar, and the errors it exits with. Light: imported before anything heavy."""

from __future__ import annotations

import sys
import time
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
LINE_SECONDS = 10.0  # between progress lines where no bar can be drawn

corpus_option = click.option("--corpus", type=PATH_DIR, default=None, envvar="ITSQA_CORPUS",
                             help="Folder of sources [env ITSQA_CORPUS; default: corpus/].")
index_option = click.option("--index", "index_dir", type=PATH_DIR, default=None,
                            envvar="ITSQA_INDEX", help="Index folder [env ITSQA_INDEX; default: index/].")


def _set_store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """--store (or ITSQA_STORE) into the command's settings, its address checked up front."""
    if not value:
        return
    from .errors import UsageError
    from .qdrant_store import parse_address

    try:
        parse_address(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc)) from exc
    ctx.ensure_object(dict)
    ctx.obj["settings"] = replace(ctx.obj["settings"], store=value)


store_option = click.option(
    "--store", metavar="URL", default=None, envvar="ITSQA_STORE", expose_value=False,
    callback=_set_store,
    help="Answer from a Qdrant store, publishing the index folder's builds to it: "
         "qdrant://HOST:PORT/COLLECTION or qdrant:///PATH (local mode) [env ITSQA_STORE; "
         "default: the index folder alone].")
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


class _Lines:
    """Progress where no bar can be drawn (a pipe, --json, CI): a line on stderr every
    LINE_SECONDS with the rate and the time left, and one when the work is done."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.started = self.last = time.monotonic()

    def tick(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        finished = self.done >= self.total and now - self.started >= LINE_SECONDS
        if now - self.last >= LINE_SECONDS or finished:  # nothing for a few seconds' work
            self.last = now
            err(self.line(now - self.started))

    def line(self, elapsed: float) -> str:
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self.done >= self.total:
            return f"{self.what}: {self.done:,} of {self.total:,} done in {_duration(elapsed)}"
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        return (f"{self.what}: {self.done:,} of {self.total:,} ({rate:,.1f}/s), about "
                f"{_duration(left)} left")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def progress_lines() -> Callable[[str, int], Callable[[int], None]]:
    """Progress as lines on stderr (for a server whose stderr is a log)."""
    return lambda what, total: _Lines(what, total).tick


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Progress of a build on stderr, with a rate and the time left: a bar on a terminal (when
    `enabled`: not with --json), else a line every LINE_SECONDS. Stdout stays clean."""
    if not (enabled and sys.stderr.isatty()):
        yield progress_lines()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TimeRemainingColumn,
    )

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TaskProgressColumn(show_speed=True), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:

        def factory(what: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(what, total=total)
            return lambda n: bar.advance(task, n)

        yield factory
