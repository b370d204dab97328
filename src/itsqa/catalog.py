"""`itsqa sources`: what is in the corpus and how each file stands against the index. Reads the
manifest and the source table only: no model, FAISS or retrieval is imported."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from . import store
from .changes import check
from .config import Settings
from .corpus import file_title
from .errors import BadIndexError
from .metadata import SourceMeta


@dataclass(frozen=True)
class SourceRow:
    name: str
    status: str  # indexed | changed | new | removed | skipped
    title: str
    publisher: str
    date: str
    url: str
    format: str
    chunks: int | None
    furniture_chars: int
    furniture: tuple[tuple[int, int, str], ...] = ()
    reason: str = ""  # why a skipped source is not indexed

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["furniture"] = [list(f) for f in self.furniture]
        return d


def _statuses(p: Any, indexed: dict[str, Any], skipped: dict[str, Any]) -> dict[str, str]:
    status = {n: "indexed" for n in p.unchanged}
    status.update({n: "changed" for n in p.changed})
    status.update({n: ("changed" if n in indexed else "new") for n in p.added})
    status.update({n: "removed" for n in p.removed if n in indexed})
    for n in skipped:
        if n in status and n not in indexed:
            status[n] = "skipped"
    return status


def list_sources(settings: Settings) -> tuple[list[SourceRow], list[str]]:
    """Every source in the corpus (and every indexed one no longer there), with its status, and
    the warnings about files that cannot be sources. With a store and no corpus here, the
    sources the store's index holds."""
    if settings.store and not settings.corpus_dir.is_dir():
        return _stored(settings), []
    p, manifest = check(settings)
    indexed: dict[str, Any] = {}
    if manifest is not None:
        try:
            indexed = store.read_source_table(settings.index_dir)
        except BadIndexError as exc:
            raise BadIndexError(f"{exc}: run `itsqa index`") from exc
    skipped: dict[str, Any] = dict(manifest.get("skipped", {})) if manifest else {}
    status = _statuses(p, indexed, skipped)
    rows = []
    for name in sorted(status):
        src = indexed.get(name, {})
        m = p.meta.get(name) or SourceMeta(title=src.get("title") or file_title(name))
        f = p.files.get(name)
        rows.append(SourceRow(
            name=name, status=status[name], title=m.title or src.get("title", ""),
            publisher=m.publisher or src.get("publisher", ""), date=m.date or src.get("date", ""),
            url=m.url or src.get("url", ""), format=(f.format if f else src.get("format", "")),
            chunks=src.get("chunks"), furniture_chars=int(src.get("furniture_chars", 0)),
            furniture=tuple(tuple(x) for x in src.get("furniture", [])),
            reason=(str(skipped[name].get("reason", "")) if status[name] == "skipped"
                    and isinstance(skipped.get(name), dict) else ""),
        ))
    return rows, p.warnings


def _stored(settings: Settings) -> list[SourceRow]:
    """The sources of the index in the Qdrant store `settings.store`, all "indexed"."""
    from .model import model_spec
    from .qdrant_store import opened_collection, read_meta

    c, addr, collection, _ = opened_collection(settings.store, model_spec(settings).key,
                                               settings.chunking.as_dict())
    sources: dict[str, Any] = read_meta(c, addr, collection, ["sources"]).get("sources", {})
    return [SourceRow(name=name, status="indexed", title=m.get("title", ""),
                      publisher=m.get("publisher", ""), date=m.get("date", ""),
                      url=m.get("url", ""), format=m.get("format", ""), chunks=m.get("chunks"),
                      furniture_chars=int(m.get("furniture_chars", 0)),
                      furniture=tuple(tuple(x) for x in m.get("furniture", [])))
            for name, m in sorted(sources.items())]
