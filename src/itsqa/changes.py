"""How the corpus differs from the index: which sources are new, changed, removed or unchanged,
worked out from sizes and modification times first and content hashes only where those differ,
and whether the whole index must be rebuilt (another format, model or chunking). No model, no
embedding: every command can afford it before it answers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from . import store
from .config import Settings
from .corpus import SourceFile, scan
from .errors import BadIndexError
from .metadata import METADATA_FILE, SourceMeta, load_metadata
from .model import model_spec

CHUNKING_CHANGED = "chunking settings changed"


@dataclass
class Plan:
    """How the corpus differs from the index."""

    files: dict[str, SourceFile]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    touched_only: list[str] = field(default_factory=list)  # same bytes, new mtime
    full_rebuild: str = ""  # why everything is re-read ("" when it need not be)
    metadata_sha: str = ""
    meta: dict[str, SourceMeta] = field(default_factory=dict)  # sources.toml, as it is now
    skipped_before: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed or self.full_rebuild)

    def rebuild_all(self, why: str) -> None:
        """Re-read every source, for `why`."""
        self.full_rebuild = why
        self.added, self.changed, self.unchanged = sorted(self.files), [], []


def meta_key(meta: SourceMeta | None) -> str:
    """A fingerprint of what sources.toml says about one source ("" when it says nothing), so
    that editing one entry re-reads that source alone."""
    if meta is None:
        return ""
    return hashlib.sha256(json.dumps(meta.__dict__, sort_keys=True).encode()).hexdigest()[:16]


def _metadata_sha(settings: Settings) -> str:
    p = settings.corpus_dir / METADATA_FILE
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""


def _rebuild_reason(settings: Settings, manifest: dict[str, Any], model_key: str) -> str:
    if manifest.get("format_version") != store.FORMAT_VERSION:
        return "index format changed"
    if manifest.get("model", {}).get("key") != model_key:
        return "model changed"
    if manifest.get("chunking") != settings.chunking.as_dict():
        return CHUNKING_CHANGED
    return ""


def _same_bytes(f: SourceFile, sha256: str | None) -> bool:
    try:
        return hashlib.sha256(f.path.read_bytes()).hexdigest() == sha256
    except OSError:
        return False


def plan(settings: Settings, manifest: dict[str, Any] | None, model_key: str) -> Plan:
    """Compare the corpus with the index manifest (None: no index yet)."""
    found = scan(settings.corpus_dir, exclude=settings.index_dir)
    p = Plan(files={f.name: f for f in found.files}, warnings=list(found.warnings))
    p.metadata_sha = _metadata_sha(settings)
    p.meta, meta_warnings = load_metadata(settings.corpus_dir)
    p.warnings += meta_warnings
    if manifest is None:
        p.full_rebuild, p.added = "no index yet", sorted(p.files)
        return p
    # Files skipped last time (binary, empty) count as known, so they are not retried on every ask.
    known: dict[str, dict[str, Any]] = {**manifest.get("skipped", {}), **manifest.get("sources", {})}
    metadata_changed = manifest.get("metadata_sha") != p.metadata_sha
    for name, f in sorted(p.files.items()):
        old = known.get(name)
        if old is None:
            p.added.append(name)
            continue
        # An index from before entries were fingerprinted knows only whether the whole file changed.
        same_meta = (old["meta"] == meta_key(p.meta.get(name)) if "meta" in old
                     else not metadata_changed)
        if old.get("size") == f.size and old.get("mtime_ns") == f.mtime_ns and same_meta:
            p.unchanged.append(name)
        elif same_meta and _same_bytes(f, old.get("sha256")):
            p.unchanged.append(name)
            p.touched_only.append(name)
        else:
            p.changed.append(name)
    p.removed = sorted(set(known) - set(p.files))
    p.skipped_before = {n for n in manifest.get("skipped", {}) if n in p.unchanged}
    why = _rebuild_reason(settings, manifest, model_key)
    if why:
        p.rebuild_all(why)
    return p


def check(settings: Settings) -> tuple[Plan, dict[str, Any] | None]:
    """How the corpus differs from the current index, and the index's manifest (None when there
    is none or it cannot be read)."""
    try:
        manifest = store.read_manifest(settings.index_dir)
    except BadIndexError:
        manifest = None
    return plan(settings, manifest, model_spec(settings).key), manifest
