"""The text of an indexed source, and of a cited range of it, for the source view and for an
assistant that reads around a passage before quoting it. A source is looked up by its name in the
index, never opened by a path taken from a request: HTML and PDF text comes from the index itself,
a text file from the corpus folder only while it still lies inside it and still has the bytes that
were indexed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .answer import display_path
from .errors import SourceChangedError, UnknownSourceError, UsageError
from .store import LoadedIndex

# At most this many characters of surrounding text on each side of a range.
MAX_CONTEXT = 5000


@dataclass(frozen=True)
class SourceText:
    """A source's text as indexed, its metadata and its passages' ranges."""

    name: str
    path: str  # as the user would open it
    meta: dict[str, Any]
    text: str
    passages: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        m = self.meta
        return {"name": self.name, "source": self.path, "title": m.get("title", ""),
                "publisher": m.get("publisher", ""), "date": m.get("date", ""),
                "url": m.get("url", ""), "format": m.get("format", ""),
                "pages": m.get("pages", []), "text": self.text, "passages": self.passages}


def source_text(index: LoadedIndex, corpus_dir: Any, name: str) -> SourceText:
    """The source called `name` in the index, with its text as indexed.

    Raises:
        UnknownSourceError: the index has no source of that name.
        SourceChangedError: a text file changed or left the corpus since it was indexed.
    """
    meta = index.sources.get(name)
    if not isinstance(meta, dict):
        raise UnknownSourceError(f"no source is named {name!r} in the index: `itsqa sources` "
                                 "lists the names")
    text = indexed_text(index, corpus_dir, name)
    passages = [{"start": c.start, "end": c.end, "page": c.page, "section": c.heading}
                for c in index.chunks_of(name)]
    return SourceText(name, display_path(corpus_dir, name), meta, text, passages)


def indexed_text(index: LoadedIndex, corpus_dir: Any, name: str) -> str:
    """The text of source `name` as the index read it: HTML and PDF text from the index, a text
    file's from the corpus (SourceChangedError if it changed since)."""
    text = index.texts.get(name)
    return text if text is not None else _read_indexed_file(corpus_dir, name,
                                                             index.sources.get(name, {}))


def _read_indexed_file(corpus_dir: Any, name: str, meta: dict[str, Any]) -> str:
    from .readers import decode_text

    root = corpus_dir.resolve()
    path = (corpus_dir / name).resolve()
    if not path.is_relative_to(root):  # a link swapped in since the index was built
        raise SourceChangedError(f"{name} no longer lies inside the corpus folder")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceChangedError(f"{name} cannot be read now ({exc.strerror or exc}): the index "
                                 "is behind the corpus") from exc
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise SourceChangedError(f"{name} changed since it was indexed: the index is being "
                                 "brought up to date, ask again in a moment")
    return decode_text(data)[0]


def passage(src: SourceText, start: int, end: int, context_chars: int = 0) -> dict[str, Any]:
    """The text of `src` from `start` to `end`, with up to `context_chars` on each side.

    Raises:
        UsageError: the range is empty, reversed or outside the source, or the context is out of
            bounds.
    """
    n = len(src.text)
    if not (0 <= start < end <= n):
        raise UsageError(f"the range {start}–{end} is not within {src.name!r} (0–{n}): use the "
                         "start and end of a cited passage")
    if not (0 <= context_chars <= MAX_CONTEXT):
        raise UsageError(f"context_chars must be between 0 and {MAX_CONTEXT}")
    out = src.as_json()
    del out["text"], out["passages"], out["pages"]
    before_start = max(0, start - context_chars)
    after_end = min(n, end + context_chars)
    pages = src.meta.get("pages") or []
    page = next((i + 1 for i, (s, e) in enumerate(pages) if s <= start <= e), None)
    out.update({"start": start, "end": end, "page": page, "text": src.text[start:end],
                "before": src.text[before_start:start], "after": src.text[end:after_end],
                "context_start": before_start, "context_end": after_end})
    return out
