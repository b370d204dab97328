"""What a build has embedded so far, kept in the index folder (`.partial/`) as it goes, so that a
build interrupted at any point (Ctrl-C, SIGKILL, a power cut) and started again loses at most
about a minute of model work: the next build reuses every vector and token code found here (they
are keyed, like the index's, by the model and the exact text read). The index in force is not
touched; a build that commits its new generation clears the journal.

Each shard is written beside the others and renamed into place; its list of keys is written
last, so a shard without one (cut short) is ignored and removed."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .tokens import Codebook

FOLDER = ".partial"
FLUSH_SECONDS = 30.0


def _save_npy(path: Path, array: Any) -> None:
    import numpy as np

    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _save_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(data))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Journal:
    """Vectors and token codes embedded by the running build, written out every
    FLUSH_SECONDS."""

    def __init__(self, index_dir: Path, model_key: str) -> None:
        self.folder = index_dir / FOLDER
        self.model_key = model_key
        self._vectors: dict[str, Any] = {}
        self._tokens: dict[str, Any] = {}  # passage key -> codes (or float16 vectors)
        self._last = time.monotonic()
        self._shard = 0
        self._failed = False  # a shard could not be written (a full disk): stop journalling
        self._codebook: Codebook | None = None
        self._codebook_saved = True

    # -- reading what an interrupted build left --------------------------------------------
    def load(self) -> tuple[dict[str, Any], dict[str, Any], Codebook | None]:
        """(vectors, token codes, codebook) left by earlier builds for this model; shards of
        another model or cut short are passed over."""
        import numpy as np

        vectors: dict[str, Any] = {}
        tokens: dict[str, Any] = {}
        if not self.folder.is_dir():
            return vectors, tokens, None
        codebook = None
        if self._codebook_path.is_file():
            try:
                codebook = Codebook.load(self._codebook_path)
            except (OSError, ValueError):
                codebook = None
        for keys in sorted(self.folder.glob("*.keys.json")):
            stem = keys.name[: -len(".keys.json")]
            try:
                meta = json.loads(keys.read_text(encoding="utf-8"))
                if meta.get("model") != self.model_key:
                    continue
                vecs = np.load(self.folder / f"{stem}.vectors.npy", allow_pickle=False)
                codes = np.load(self.folder / f"{stem}.tokens.npy", allow_pickle=False)
                offsets = np.load(self.folder / f"{stem}.offsets.npy", allow_pickle=False)
            except (OSError, ValueError, KeyError):
                continue
            if len(vecs) != len(meta["vectors"]) or len(offsets) != len(meta["tokens"]) + 1:
                continue
            vectors.update(zip(meta["vectors"], vecs, strict=True))
            for i, key in enumerate(meta["tokens"]):
                tokens[key] = codes[int(offsets[i]) : int(offsets[i + 1])]
            self._shard = max(self._shard, int(stem) + 1)
        if codebook is None:  # codes are only read with the codebook they were made by
            tokens = {k: v for k, v in tokens.items() if v.dtype != np.uint8}
        return vectors, tokens, codebook

    # -- recording --------------------------------------------------------------------------
    @property
    def _codebook_path(self) -> Path:
        return self.folder / f"codebook-{self.model_key}.npy"

    def use_codebook(self, codebook: Codebook) -> None:
        """The codebook the token codes recorded from now on are made with (written beside
        them with the next shard)."""
        self._codebook, self._codebook_saved = codebook, False

    def add(self, vectors: dict[str, Any], tokens: dict[str, Any] | None = None) -> None:
        """Record newly embedded vectors (and passages' token codes); write a shard when
        FLUSH_SECONDS have passed since the last."""
        self._vectors.update(vectors)
        self._tokens.update(tokens or {})
        if time.monotonic() - self._last >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write what was recorded since the last shard as a new shard."""
        self._last = time.monotonic()
        if self._failed or not (self._vectors or self._tokens):
            return
        stem = f"{self._shard:06d}"
        self._shard += 1
        try:
            self._write_shard(stem)
        except OSError:
            # The journal only saves work for a later build: this one carries on without it,
            # and reports a full disk when it writes the index itself.
            self._failed = True
            for p in self.folder.glob(f"*{stem}.*"):
                p.unlink(missing_ok=True)
        self._vectors, self._tokens = {}, {}

    def _write_shard(self, stem: str) -> None:
        import numpy as np

        self.folder.mkdir(parents=True, exist_ok=True)
        if self._codebook is not None and not self._codebook_saved:
            tmp = self.folder / ".codebook.tmp.npy"
            self._codebook.save(tmp)
            os.replace(tmp, self._codebook_path)
            self._codebook_saved = True
        keys = list(self._vectors)
        dim = len(next(iter(self._vectors.values()))) if keys else 0
        vecs = (np.stack([self._vectors[k] for k in keys]).astype(np.float32) if keys
                else np.zeros((0, dim), dtype=np.float32))
        token_keys = list(self._tokens)
        parts = [np.asarray(self._tokens[k]) for k in token_keys]
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(p) for p in parts])
        codes = np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.uint8)
        _save_npy(self.folder / f"{stem}.vectors.npy", vecs)
        _save_npy(self.folder / f"{stem}.tokens.npy", codes)
        _save_npy(self.folder / f"{stem}.offsets.npy", offsets)
        _save_json(self.folder / f"{stem}.keys.json",
                   {"model": self.model_key, "vectors": keys, "tokens": token_keys})

    def clear(self) -> None:
        """Forget everything (the build committed, or the model changed)."""
        shutil.rmtree(self.folder, ignore_errors=True)
