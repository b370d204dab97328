"""What a build has embedded so far, kept in the index folder (`.partial/`) as it goes, so that a
build interrupted at any point (Ctrl-C, SIGKILL, a power cut) and started again loses at most
about a minute of model work: the next build reuses every vector and token code found here (they
are keyed, like the index's, by the model and the exact text read). The index in force is not
touched; a build that commits its new generation clears the journal.

The journal is also where the running build keeps what it embedded: once a shard is written its
arrays leave memory, and the build reads them back when it writes the index (through memory maps
closed at once), so that a large folder's build does not hold every vector and token code. Where
a shard cannot be written (a full disk), what it held stays in memory.

Each shard is written beside the others and renamed into place; its list of keys is written
last, so a shard without one (cut short) is ignored and removed."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import npy_parts
from .tokens import Codebook

FOLDER = ".partial"
FLUSH_SECONDS = 30.0
_SHARD = 1 << 32  # a written key's place: shard number x _SHARD + its row in the shard


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


def _by_shard(places: list[int]) -> dict[int, list[int]]:
    """The positions of `places`, grouped by the shard each lies in."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, place in enumerate(places):
        groups[place // _SHARD].append(i)
    return groups


class Journal:
    """Vectors and token codes embedded by the running build (or left by an interrupted one),
    written out every FLUSH_SECONDS and read back by key."""

    def __init__(self, index_dir: Path, model_key: str) -> None:
        self.folder = index_dir / FOLDER
        self.model_key = model_key
        self._vectors: dict[str, Any] = {}  # recorded since the last shard (or never written)
        self._tokens: dict[str, Any] = {}  # passage key -> codes (or float16 vectors)
        self._vector_at: dict[str, int] = {}  # key -> place in a written shard
        self._tokens_at: dict[str, int] = {}
        self._offsets: dict[int, Any] = {}  # shard -> its passages' token offsets
        self._dim = 0  # the vectors' dimension, once one is recorded
        self._last = time.monotonic()
        self._shard = 0
        self._failed = False  # a shard could not be written (a full disk): hold what is recorded
        self._codebook: Codebook | None = None
        self._codebook_saved = True

    # -- reading what an interrupted build left --------------------------------------------
    def load(self) -> Codebook | None:
        """Take in the shards earlier builds left for this model (those of another model or cut
        short are passed over); returns the codebook their token codes were made with, or None
        (their codes are then passed over)."""
        if not self.folder.is_dir():
            return None
        codebook = None
        if self._codebook_path.is_file():
            try:
                codebook = Codebook.load(self._codebook_path)
            except (OSError, ValueError):
                codebook = None
        for keys in sorted(self.folder.glob("*.keys.json")):
            self._take_shard(keys)
        if codebook is None:  # codes are only read with the codebook they were made by
            self.drop_tokens()
        return codebook

    def _take_shard(self, keys: Path) -> None:
        import numpy as np

        stem = keys.name[: -len(".keys.json")]
        try:
            meta = json.loads(keys.read_text(encoding="utf-8"))
            if meta.get("model") != self.model_key:
                return
            shard = int(stem)
            shape = npy_parts.shape(self._path(shard, "vectors"))
            offsets = np.load(self._path(shard, "offsets"), allow_pickle=False)
            codes = npy_parts.shape(self._path(shard, "tokens"))[0]
        except (OSError, ValueError, KeyError):
            return
        if (shape[0] != len(meta["vectors"]) or len(offsets) != len(meta["tokens"]) + 1
                or int(offsets[-1]) != codes):
            return
        self._vector_at.update((k, shard * _SHARD + i) for i, k in enumerate(meta["vectors"]))
        self._tokens_at.update((k, shard * _SHARD + i) for i, k in enumerate(meta["tokens"]))
        self._offsets[shard] = offsets
        self._shard = max(self._shard, shard + 1)
        if shape[0]:
            self._dim = int(shape[1])

    def drop_tokens(self) -> None:
        """Pass over the token codes written so far (made with another codebook)."""
        self._tokens_at = {}

    # -- what is recorded, and reading it back ----------------------------------------------
    def dimension(self) -> int:
        """The recorded vectors' dimension (0 while none is recorded)."""
        return self._dim

    def has_vector(self, key: str) -> bool:
        return key in self._vectors or key in self._vector_at

    def has_tokens(self, key: str) -> bool:
        return key in self._tokens or key in self._tokens_at

    def token_count(self, key: str) -> int:
        """How many token vectors (or codes) the passage `key` has."""
        if key in self._tokens:
            return len(self._tokens[key])
        shard, i = divmod(self._tokens_at[key], _SHARD)
        offsets = self._offsets[shard]
        return int(offsets[i + 1] - offsets[i])

    def vectors(self, keys: list[str], dim: int) -> Any:
        """The vectors of `keys`, in order, as one float32 matrix."""
        import numpy as np

        out = np.zeros((len(keys), dim), dtype=np.float32)
        written = [i for i, k in enumerate(keys) if k not in self._vectors]
        for i, k in enumerate(keys):
            if k in self._vectors:
                out[i] = self._vectors[k]
        for shard, group in _by_shard([self._vector_at[keys[i]] for i in written]).items():
            rows = [self._vector_at[keys[written[j]]] % _SHARD for j in group]
            out[[written[j] for j in group]] = npy_parts.rows(self._path(shard, "vectors"), rows)
        return out

    def token_rows(self, keys: list[str]) -> list[Any]:
        """The token codes (or float16 vectors) of each passage of `keys`, in order."""
        out: list[Any] = [self._tokens.get(k) for k in keys]
        written = [i for i, part in enumerate(out) if part is None]
        for shard, group in _by_shard([self._tokens_at[keys[i]] for i in written]).items():
            offsets = self._offsets[shard]
            places = [self._tokens_at[keys[written[j]]] % _SHARD for j in group]
            parts = npy_parts.spans(self._path(shard, "tokens"),
                                    [(int(offsets[p]), int(offsets[p + 1])) for p in places])
            for j, part in zip(group, parts, strict=True):
                out[written[j]] = part
        return out

    def _path(self, shard: int, part: str) -> Path:
        return self.folder / f"{shard:06d}.{part}.npy"

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
        if vectors and not self._dim:
            self._dim = len(next(iter(vectors.values())))
        if time.monotonic() - self._last >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write what was recorded since the last shard as a new shard, and let it go from
        memory."""
        self._last = time.monotonic()
        if self._failed or not (self._vectors or self._tokens):
            return
        shard = self._shard
        self._shard += 1
        try:
            self._write_shard(shard)
        except OSError:
            # The journal only saves work for a later build: this one carries on, holding what
            # it embeds, and reports a full disk when it writes the index itself.
            self._failed = True
            for p in self.folder.glob(f"*{shard:06d}.*"):
                p.unlink(missing_ok=True)
            return
        self._vector_at.update((k, shard * _SHARD + i) for i, k in enumerate(self._vectors))
        self._tokens_at.update((k, shard * _SHARD + i) for i, k in enumerate(self._tokens))
        self._vectors, self._tokens = {}, {}

    def _write_shard(self, shard: int) -> None:
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
        _save_npy(self._path(shard, "vectors"), vecs)
        _save_npy(self._path(shard, "tokens"), codes)
        _save_npy(self._path(shard, "offsets"), offsets)
        _save_json(self.folder / f"{shard:06d}.keys.json",
                   {"model": self.model_key, "vectors": keys, "tokens": token_keys})
        self._offsets[shard] = offsets

    def clear(self) -> None:
        """Remove the journal's folder (the build committed); the object is not used again."""
        shutil.rmtree(self.folder, ignore_errors=True)
