"""Opening an index for asking: check it is current (cheaply), refresh or refuse, and hand back a
Retriever. Shared by `ask`, `sources` and `eval` so every command treats staleness the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import store
from .build import BuildReport, Plan, ProgressFactory, check_paths, plan, update_index
from .config import Settings
from .embedding import load_encoder, model_spec
from .errors import BadIndexError, CorpusError, ItsqaError
from .retrieval import Retriever

Note = Callable[[str], None]


@dataclass(frozen=True)
class Opened:
    retriever: Retriever
    report: BuildReport | None  # the refresh that ran first, if any
    stale: bool


def check(settings: Settings) -> tuple[Plan, dict | None]:
    """How the corpus differs from the index: sizes and mtimes, hashes only where they differ."""
    spec = model_spec(settings)
    try:
        manifest = store.read_manifest(settings.index_dir)
    except BadIndexError:
        manifest = None
    return plan(settings, manifest, spec), manifest


def open_index(settings: Settings, *, refresh: bool = True, note: Note | None = None,
               progress: ProgressFactory | None = None) -> Opened:
    """A Retriever over an up-to-date index (built or refreshed first when `refresh`)."""
    spec = model_spec(settings)
    say = note or (lambda _m: None)
    report = None
    stale = False
    if refresh:
        check_paths(settings)  # before any note that a build is starting
        p, manifest = check(settings)
        if not p.up_to_date or manifest is None:
            if manifest is not None and not _writable(settings):
                say(f"the index is out of date but {settings.index_dir} is read-only: answering "
                    "from it as it is")
                stale = True
            else:
                if manifest is not None and p.full_rebuild:
                    say(f"rebuilding the index ({p.full_rebuild})")
                elif manifest is not None:
                    say("sources changed since the index was built: updating it first")
                elif not (settings.index_dir / store.CURRENT).exists():
                    say(f"building the index in {settings.index_dir} (first use)")
                report = update_index(settings, progress=progress, note=say)
    try:
        loaded = store.load(settings.index_dir, model_key=spec.key)
    except BadIndexError as exc:
        if not refresh:
            raise BadIndexError(
                f"the index in {settings.index_dir} cannot be used: {exc}. Run `itsqa index` "
                "(or ask without --no-refresh) to rebuild it"
            ) from exc
        say(f"the index is damaged or out of date ({exc}): rebuilding it")
        report = update_index(settings, rebuild=True, progress=progress, note=say)
        loaded = store.load(settings.index_dir, model_key=spec.key)
    if loaded is None:
        raise ItsqaError(f"there is no index in {settings.index_dir}: run `itsqa index` first")
    if not refresh:
        current: Plan | None = None
        try:
            current, _ = check(settings)
        except CorpusError as exc:
            say(f"warning: cannot compare the index with its sources ({exc}); answering from the "
                "index as it is")
        if current is not None and not current.up_to_date:
            stale = True
            changes = len(current.added) + len(current.changed) + len(current.removed)
            say(f"warning: the index is stale ({changes} source(s) changed since it was built); "
                "answering from it as it is. Run `itsqa index` to update it")
    # a missing or damaged ONNX export is made again (once) unless the index is to stay as it is
    export = refresh and _writable(settings)
    retriever = Retriever(settings, loaded,
                          lambda: load_encoder(spec, settings.index_dir, export=export, note=say))
    return Opened(retriever, report, stale)


def _writable(settings: Settings) -> bool:
    import os

    d = settings.index_dir
    return os.access(d, os.W_OK | os.X_OK) if d.exists() else True
