"""An index kept open in a long-running process (`itsqa serve`, `itsqa mcp`): the model and index
load once, and the index follows the sources. A check (the cheap one every ask makes: sizes and
modification times, hashes only where those differ) runs on a timer or on demand; when sources
changed, the index is rebuilt while answers keep coming from the current one, and the new one is
swapped in whole. A removed source is never cited after the swap."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from .build import ProgressFactory, update_index
from .changes import check
from .config import Settings
from .embedding import Encoder, load_encoder
from .errors import ItsqaError, NoIndexError
from .model import model_spec
from .retrieval import Retriever
from .service import open_index

Note = Callable[[str], None]
CACHE_SIZE = 512  # answers kept per index generation


@dataclass(frozen=True)
class Status:
    """What the page and /healthz say about the index."""

    generation: str
    passages: int
    sources: int
    refreshed_at: float  # when the current index was swapped in (epoch seconds)
    checked_at: float  # when the sources were last compared with it
    refreshing: bool
    error: str  # the last refresh's failure, "" when it worked

    def as_json(self) -> dict[str, Any]:
        iso = "%Y-%m-%dT%H:%M:%SZ"
        return {"generation": self.generation, "passages": self.passages, "sources": self.sources,
                "refreshed_at": time.strftime(iso, time.gmtime(self.refreshed_at)),
                "checked_at": time.strftime(iso, time.gmtime(self.checked_at)),
                "refreshing": self.refreshing, "error": self.error}


class LiveIndex:
    """The current retriever, swapped for a new one when the sources change."""

    def __init__(self, settings: Settings, note: Note | None = None,
                 progress: ProgressFactory | None = None) -> None:
        self.settings = settings
        self._note = note or (lambda _m: None)
        self._progress = progress
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()  # guards the swap and the cache
        self._refresh_lock = threading.Lock()  # one refresh at a time
        self._refreshing = False
        self._error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._retriever: Retriever | None = None
        self._refreshed_at = self._checked_at = time.time()
        try:
            self._retriever = self._wrap(open_index(settings, note=self._note,
                                                    progress=progress).retriever)
        except ItsqaError as exc:  # e.g. no sources yet: serve, and keep checking
            self._error = str(exc)
            self._note(f"no index yet: {exc}")

    def _shared_encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(model_spec(self.settings), self.settings.index_dir,
                                         export=True, note=self._note, prepack=True)
        return self._encoder

    def _wrap(self, retriever: Retriever) -> Retriever:
        """The retriever with the encoder every generation shares (the model loads once)."""
        return type(retriever)(retriever.settings, retriever.index, self._shared_encoder)

    @property
    def retriever(self) -> Retriever:
        """The current retriever; NoIndexError while there is none."""
        with self._lock:
            found = self._retriever
        if found is None:
            raise NoIndexError(f"no index can be built yet ({self._error}); it is built as soon "
                               "as the corpus has a readable source")
        return found

    def status(self) -> Status:
        with self._lock:
            r = self._retriever
        ix = r.index if r is not None else None
        return Status(ix.path.name if ix else "", len(ix.chunks) if ix else 0,
                      len(ix.sources) if ix else 0, self._refreshed_at, self._checked_at,
                      self._refreshing, self._error)

    def cached(self, key: Hashable, compute: Callable[[Retriever], Any]) -> Any:
        """`compute(retriever)` for the current index, remembered under `key` until the index
        changes (answers are deterministic for an index)."""
        r = self.retriever
        full = (r.index.path.name, key)
        with self._lock:
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
        value = compute(r)
        with self._lock:
            self._cache[full] = value
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return value

    def refresh(self) -> bool:
        """Bring the index up to date with the sources if they changed; True when a new index
        was swapped in. A failure is kept for status() and leaves the current index in force."""
        with self._refresh_lock:
            try:
                if self.settings.store and not self.settings.corpus_dir.is_dir():
                    return self._follow_store()
                plan, manifest = check(self.settings)
                self._checked_at = time.time()
                if plan.up_to_date and manifest is not None and self._retriever is not None:
                    return False
                self._refreshing = True
                update_index(self.settings, note=self._note, progress=self._progress)
                fresh = self._wrap(open_index(self.settings, refresh=False, note=self._note).retriever)
            except Exception as exc:  # the server must keep serving the index it has
                self._error = str(exc) if isinstance(exc, ItsqaError) else (
                    f"unexpected {type(exc).__name__}: {exc}")
                self._note(f"the index could not be refreshed: {self._error}")
                return False
            finally:
                self._refreshing = False
            return self._swap_in(fresh)

    def _swap_in(self, fresh: Retriever) -> bool:
        """Answer from `fresh` from now on (the answers remembered are dropped)."""
        with self._lock:
            self._retriever = fresh
            self._cache.clear()
        self._error = ""
        self._refreshed_at = time.time()
        return True

    def _follow_store(self) -> bool:
        """Without the corpus here, a store's index changes when its alias moves (a build
        published elsewhere): open the new one then."""
        from .qdrant_store import store_generation

        self._checked_at = time.time()
        r = self._retriever
        if r is not None and store_generation(self.settings.store) == r.index.path.name:
            return False
        return self._swap_in(self._wrap(open_index(self.settings, refresh=False,
                                                   note=self._note).retriever))

    def start(self, interval: float = 2.0) -> None:
        """Check the sources every `interval` seconds in a background thread."""
        def loop() -> None:
            while not self._stop.wait(interval):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="itsqa-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
