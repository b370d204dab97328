"""Opening an index for asking: check it is current (cheaply), refresh or refuse, and hand back a
Retriever. Shared by `ask`, `eval` (and the servers) so every command treats staleness the same
way."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from . import store
from .build import BuildReport, ProgressFactory, check_paths, publish_folder, update_index
from .changes import Plan, check
from .config import Settings
from .embedding import load_encoder
from .errors import BadIndexError, CorpusError, ItsqaError
from .model import model_spec
from .retrieval import Retriever

Note = Callable[[str], None]


@dataclass(frozen=True)
class Opened:
    retriever: Retriever
    report: BuildReport | None  # the refresh that ran first, if any
    stale: bool


def _writable(settings: Settings) -> bool:
    d = settings.index_dir
    return os.access(d, os.W_OK | os.X_OK) if d.exists() else True


def _bring_up_to_date(settings: Settings, say: Note, progress: ProgressFactory | None
            ) -> tuple[BuildReport | None, bool]:
    """Bring the index up to date if the corpus changed and the index can be written: (the
    build's report or None, whether the index is left stale)."""
    check_paths(settings)  # before any note that a build is starting
    p, manifest = check(settings)
    if p.up_to_date and manifest is not None:
        return None, False
    if manifest is not None and not _writable(settings):
        say(f"the index is out of date but {settings.index_dir} is read-only: answering from it "
            "as it is")
        return None, True
    if manifest is not None and p.full_rebuild:
        say(f"rebuilding the index ({p.full_rebuild})")
    elif manifest is not None:
        say("sources changed since the index was built: updating it first")
    elif not store.index_exists(settings.index_dir):
        say(f"building the index in {settings.index_dir} (first use)")
    return update_index(settings, progress=progress, note=say), False


def _stale_without_refresh(settings: Settings, say: Note) -> bool:
    """Whether the sources changed since the index was built (said as a warning)."""
    current: Plan | None = None
    try:
        current, _ = check(settings)
    except CorpusError as exc:
        say(f"warning: cannot compare the index with its sources ({exc}); answering from the "
            "index as it is")
    if current is None or current.up_to_date:
        return False
    changes = len(current.added) + len(current.changed) + len(current.removed)
    say(f"warning: the index is stale ({changes} source(s) changed since it was built); "
        "answering from it as it is. Run `itsqa index` to update it")
    return True


def open_index(settings: Settings, *, refresh: bool = True, note: Note | None = None,
               progress: ProgressFactory | None = None, warm: bool = False) -> Opened:
    """A Retriever over the index in `settings.index_dir`.

    Args:
        settings: where the corpus and index are, and how to retrieve.
        refresh: build or update the index first where the corpus changed (else answer
            from it as it is, warning when it is stale, and refuse a damaged one).
        note: receives one-line notes and warnings.
        progress: as for `update_index`.
        warm: for a process that asks many questions: the model opens a little slower and
            encodes each question faster.

    Raises:
        BadIndexError: the index is damaged and `refresh` is false.
        ItsqaError: there is no index, or it cannot be built.
    """
    spec = model_spec(settings)
    say = note or (lambda _m: None)
    if settings.store:
        return _open_store(settings, refresh, say, progress, warm)
    report, stale = _bring_up_to_date(settings, say, progress) if refresh else (None, False)
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
        stale = _stale_without_refresh(settings, say)
    # a missing or damaged ONNX export is made again (once) unless the index is to stay as it is
    export = refresh and _writable(settings)
    retriever = Retriever(settings, loaded,
                          lambda: load_encoder(spec, settings.index_dir, export=export, note=say,
                                               prepack=warm))
    return Opened(retriever, report, stale)


def _open_store(settings: Settings, refresh: bool, say: Note, progress: ProgressFactory | None,
                warm: bool) -> Opened:
    """`open_index` for a Qdrant store: where the corpus is here, the index folder is brought up
    to date and published first; elsewhere the store answers as it is."""
    from .qdrant_search import StoreRetriever, open_store

    spec = model_spec(settings)
    report = None
    if refresh and settings.corpus_dir.is_dir():
        report, _ = _bring_up_to_date(settings, say, progress)
        if report is None:  # a build publishes what it wrote; else the store may still be behind
            publish_folder(settings, say)
    index = open_store(settings, spec.key)
    export = refresh and _writable(settings)
    retriever = StoreRetriever(settings, index,
                               lambda: load_encoder(spec, settings.index_dir, export=export,
                                                    note=say, prepack=warm))
    return Opened(retriever, report, False)
