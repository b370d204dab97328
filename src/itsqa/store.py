"""The on-disk index: generations swapped in atomically, a manifest with checksums, a build lock.

Layout of an index folder:

    CURRENT            {"generation": "gen-..."}: replaced atomically; readers follow it
    LOCK               held (flock) by the one build running
    gen-*/             one complete index: manifest.json, vectors.faiss, embeddings.npy,
                       chunks.json, units.json, sources.json, texts.json, wordpiece_df.npy,
                       neighbours.npy + neighbour_sims.npy (each passage's most similar
                       passages from other sources, for score regularisation),
                       token_vectors.npy + token_offsets.npy (every passage's contextual
                       word-piece vectors, float16, passage i's at rows offsets[i]:offsets[i+1],
                       for late interaction),
                       bm25/ (bm25s arrays + vocab; terms.json + terms.npy: the corpus's
                       words and their vectors, for query expansion)
    models/<key>/      the ONNX export of the model, shared by generations

Nothing here is unpickled or executed: FAISS files, numpy arrays (allow_pickle=False) and JSON.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, lexical
from .errors import BadIndexError, IndexLockedError, ItsqaError
from .jsonio import json_text

# 2: term vectors for query expansion and word-piece frequencies for reranking;
# 3: the query stopword list beside the BM25 tables; 4: the passage neighbour graph;
# 5: the passages' token vectors for late interaction.
FORMAT_VERSION = 5
TOKEN_VECTORS = "token_vectors.npy"
TOKEN_OFFSETS = "token_offsets.npy"
WORDPIECE_DF = "wordpiece_df.npy"
NEIGHBOURS = "neighbours.npy"
NEIGHBOUR_SIMS = "neighbour_sims.npy"
# How many neighbours each passage keeps; exact search for them up to this many passages,
# HNSW (approximate) beyond.
NEIGHBOUR_COUNT = 10
NEIGHBOUR_EXACT_MAX = 20_000
CURRENT = "CURRENT"
LOCK = "LOCK"
MANIFEST = "manifest.json"
# Exact search while it is fast enough; HNSW beyond (see benchmarks/RESULTS.md).
EXACT_SEARCH_MAX = 200_000
HNSW_M = 32
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 200


def search_depth(ntotal: int) -> int:
    """How many vectors a dense query asks FAISS for: every one while the index is small (so
    fusion sees every passage's score), a bounded head beyond that."""
    if ntotal <= EXACT_SEARCH_MAX:
        return min(ntotal, 20_000)
    return min(ntotal, 1_000)


@dataclass(frozen=True)
class ChunkRecord:
    """One row of the chunk table; row i is vector i in the FAISS index."""

    source: str
    ordinal: int
    start: int
    end: int
    text: str
    heading: str
    embed_hash: str
    page: int | None = None


@dataclass
class LoadedIndex:
    """An index read back from disk and checked."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[ChunkRecord]
    sources: dict[str, dict[str, Any]]
    texts: dict[str, str]
    faiss_index: Any
    bm25: dict[str, Any]
    units: list[tuple[int, int, int, str]]  # sentence vectors: (passage row, start, end, hash)
    owners: Any  # numpy: the passage row of every vector in the FAISS index
    wordpiece_df: Any  # numpy: in how many passages each of the model's word pieces occurs
    neighbours: Any  # numpy (passages x NEIGHBOUR_COUNT): rows of similar passages, -1 for none
    neighbour_sims: Any  # numpy, the same shape: their cosines (0 where there is none)
    token_vectors: Any  # numpy (word pieces x dimension) float16, memory-mapped
    token_offsets: Any  # numpy (passages + 1): passage i's pieces are rows offsets[i]:offsets[i+1]

    def passage_tokens(self, row: int) -> Any:
        """The contextual vectors of passage `row`'s word pieces (unit length, float16)."""
        return self.token_vectors[int(self.token_offsets[row]) : int(self.token_offsets[row + 1])]

    @property
    def vector_hashes(self) -> list[str]:
        return [c.embed_hash for c in self.chunks] + [u[3] for u in self.units]

    @property
    def dimension(self) -> int:
        return int(self.manifest["model"]["dimension"])


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary sibling, then rename it over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json_text(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def check_folder(index_dir: Path) -> None:
    """An index path that names a file is a mistake to report, not an index that is missing."""
    if index_dir.exists() and not index_dir.is_dir():
        raise ItsqaError(f"{index_dir} is a file, not a folder: --index needs a folder (it is "
                         "created on first use)")


@contextlib.contextmanager
def build_lock(index_dir: Path, timeout: float = 600.0) -> Iterator[None]:
    """Serialise builds: the second waits for the first (and then finds little to do)."""
    check_folder(index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fh = (index_dir / LOCK).open("a+")
    except OSError as exc:
        raise ItsqaError(
            f"cannot write to the index folder {index_dir} ({exc.strerror}): choose a writable "
            "--index folder or fix its permissions"
        ) from exc
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise IndexLockedError(
                        f"another itsqa build has held {index_dir / LOCK} for {timeout:.0f} s: "
                        "wait for it to finish, then try again"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def current_generation(index_dir: Path) -> Path | None:
    """The folder CURRENT points to, or None when there is no index yet."""
    check_folder(index_dir)
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["generation"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise BadIndexError(f"{pointer} is damaged ({exc})") from exc
    if not isinstance(name, str) or "/" in name or not name.startswith("gen-"):
        raise BadIndexError(f"{pointer} names no valid generation")
    return index_dir / name


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    gen = current_generation(index_dir)
    if gen is None:
        return None
    try:
        data = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BadIndexError(f"the index manifest in {gen} cannot be read ({exc})") from exc
    if not isinstance(data, dict):
        raise BadIndexError(f"the index manifest in {gen} is not a JSON object")
    return data


def new_generation_dir(index_dir: Path) -> Path:
    """A fresh, hidden folder to write a generation into (renamed into place by `commit`)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-gen-", dir=index_dir))
    tmp.chmod(0o755)
    return tmp


def commit_generation(index_dir: Path, tmp: Path, manifest: dict[str, Any]) -> Path:
    """Checksum the files, write the manifest, move the folder into place, point CURRENT at it,
    then remove older generations. A crash at any point leaves the previous index in force."""
    manifest = dict(manifest)
    manifest["files"] = {p.relative_to(tmp).as_posix(): [p.stat().st_size, file_digest(p)]
                         for p in _files_under(tmp)}
    write_json_atomic(tmp / MANIFEST, manifest)
    for p in [tmp, *tmp.rglob("*")]:
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{tmp.name[-6:]}"
    final = index_dir / name
    os.replace(tmp, final)
    write_json_atomic(index_dir / CURRENT, {"generation": name})
    cleanup(index_dir, keep=name)
    return final


def cleanup(index_dir: Path, keep: str | None) -> None:
    """Remove generations other than `keep` and leftovers of interrupted builds (call under lock)."""
    remove_leftovers(index_dir)
    for p in index_dir.iterdir():
        if p.is_dir() and p.name.startswith("gen-") and p.name != keep:
            shutil.rmtree(p, ignore_errors=True)


def remove_leftovers(index_dir: Path) -> None:
    """Remove the half-written folders of builds that were killed (call under the build lock: no
    live build can own one then). Finished generations are left to `cleanup`."""
    if index_dir.is_dir():
        for p in index_dir.iterdir():
            if p.is_dir() and p.name.startswith(".tmp-gen-"):
                shutil.rmtree(p, ignore_errors=True)


def verify(gen: Path, manifest: dict[str, Any], *, model_key: str | None = None,
           checksums: bool = True) -> None:
    """Refuse an index whose files are missing, altered or from another format or model.
    `checksums=False` skips hashing the file contents (sizes are still checked)."""
    fv = manifest.get("format_version")
    if fv != FORMAT_VERSION:
        raise BadIndexError(f"the index was written in format {fv!r}; this itsqa reads format "
                            f"{FORMAT_VERSION}")
    if model_key is not None and manifest.get("model", {}).get("key") != model_key:
        raise BadIndexError("the index was built with another model "
                            f"({manifest.get('model', {}).get('name')!r})")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise BadIndexError("the index manifest lists no files")
    for rel, entry in files.items():
        p = gen / rel
        size, digest = entry
        try:  # a concurrent build may remove this generation at any moment: missing, not a crash
            if not p.is_file():
                raise BadIndexError(f"index file {rel} is missing")
            if p.stat().st_size != size:
                raise BadIndexError(f"index file {rel} has the wrong size (truncated or altered)")
            if checksums and file_digest(p) != digest:
                raise BadIndexError(f"index file {rel} does not match its checksum (altered)")
        except OSError as exc:
            raise BadIndexError(f"index file {rel} cannot be read ({exc.strerror or exc})") from exc


def load(index_dir: Path, *, model_key: str | None = None, attempts: int = 3,
         checksums: bool = True) -> LoadedIndex | None:
    """Read and check the current index; None when there is none. Retries when a concurrent
    build swaps generations mid-read. `checksums=False` is for a caller that has just verified
    the same generation under the build lock."""
    for attempt in range(attempts):
        gen = current_generation(index_dir)
        if gen is None:
            return None
        try:
            return _load_generation(gen, model_key, checksums)
        except BadIndexError:
            if attempt + 1 < attempts and current_generation(index_dir) != gen:
                continue
            raise
    return None


def _load_generation(gen: Path, model_key: str | None, checksums: bool = True) -> LoadedIndex:
    import faiss
    import numpy as np

    try:
        manifest = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BadIndexError(f"the index manifest in {gen.name} cannot be read ({exc})") from exc
    verify(gen, manifest, model_key=model_key, checksums=checksums)
    try:
        rows = json.loads((gen / "chunks.json").read_text(encoding="utf-8"))
        chunks = [ChunkRecord(**r) for r in rows]
        sources = json.loads((gen / "sources.json").read_text(encoding="utf-8"))
        texts = json.loads((gen / "texts.json").read_text(encoding="utf-8"))
        units = [tuple(u) for u in json.loads((gen / "units.json").read_text(encoding="utf-8"))]
        index = faiss.read_index(str(gen / "vectors.faiss"))
        bm25 = lexical.load(gen / "bm25")
        wordpiece_df = np.load(gen / WORDPIECE_DF, allow_pickle=False)
        neighbours = np.load(gen / NEIGHBOURS, allow_pickle=False)
        neighbour_sims = np.load(gen / NEIGHBOUR_SIMS, allow_pickle=False)
        token_offsets = np.load(gen / TOKEN_OFFSETS, allow_pickle=False)
        token_vectors = np.load(gen / TOKEN_VECTORS, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise BadIndexError(f"the index in {gen.name} cannot be read ({exc})") from exc
    dim = int(manifest.get("model", {}).get("dimension", -1))
    if index.ntotal != len(chunks) + len(units) or index.d != dim:
        raise BadIndexError(f"the index in {gen.name} is inconsistent: {index.ntotal} vectors of "
                            f"dimension {index.d} for {len(chunks)} passages and {len(units)} "
                            f"sentences of dimension {dim}")
    if any(not (0 <= u[0] < len(chunks)) for u in units):
        raise BadIndexError(f"the sentence table in {gen.name} names passages that do not exist")
    owners = np.concatenate([np.arange(len(chunks), dtype=np.int64),
                             np.array([u[0] for u in units], dtype=np.int64)])
    # bm25s lists an empty token last in its vocabulary, with no column of its own.
    if len(bm25["indptr"]) not in (len(bm25["vocab"]), len(bm25["vocab"]) + 1):
        raise BadIndexError(f"the BM25 tables in {gen.name} disagree with their vocabulary")
    if wordpiece_df.ndim != 1 or wordpiece_df.dtype.kind not in "iu":
        raise BadIndexError(f"the word-piece table in {gen.name} is malformed")
    if (neighbours.ndim != 2 or neighbours.shape[0] != len(chunks)
            or neighbour_sims.shape != neighbours.shape or neighbours.dtype.kind != "i"
            or neighbour_sims.dtype.kind != "f"
            or (neighbours.size and not (-1 <= neighbours.min() and neighbours.max() < len(chunks)))
            or not np.isfinite(neighbour_sims).all()):
        raise BadIndexError(f"the passage neighbour table in {gen.name} is malformed")
    if (token_offsets.shape != (len(chunks) + 1,) or token_offsets.dtype.kind != "i"
            or token_offsets[0] != 0 or (np.diff(token_offsets) < 0).any()
            or token_vectors.ndim != 2 or token_vectors.dtype != np.float16
            or token_vectors.shape != (int(token_offsets[-1]), dim)):
        raise BadIndexError(f"the token vector table in {gen.name} is malformed")
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return LoadedIndex(gen, manifest, chunks, sources, texts, index, bm25, units, owners,
                       wordpiece_df, neighbours, neighbour_sims, token_vectors, token_offsets)


def save_tokens(gen: Path, per_passage: list[Any], dim: int) -> None:
    """Each passage's token vectors, concatenated in float16, and where each passage's start."""
    import numpy as np

    offsets = np.zeros(len(per_passage) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(v) for v in per_passage])
    flat = (np.concatenate(per_passage).astype(np.float16) if offsets[-1]
            else np.zeros((0, dim), dtype=np.float16))
    np.save(gen / TOKEN_VECTORS, flat.reshape(-1, dim), allow_pickle=False)
    np.save(gen / TOKEN_OFFSETS, offsets, allow_pickle=False)


def load_embeddings(gen: Path) -> Any:
    """All vectors (passages, then sentences), memory-mapped: nothing is read until used."""
    import numpy as np

    return np.load(gen / "embeddings.npy", allow_pickle=False, mmap_mode="r")


def save_terms(gen: Path, words: list[str], stems: list[str], vectors: Any) -> None:
    """The corpus's words, their stems and their vectors (float16) for query expansion."""
    import numpy as np

    (gen / "bm25").mkdir(parents=True, exist_ok=True)
    (gen / "bm25" / "terms.json").write_text(json.dumps({"words": words, "stems": stems},
                                                        ensure_ascii=False), encoding="utf-8")
    np.save(gen / "bm25" / "terms.npy", np.asarray(vectors, dtype=np.float16), allow_pickle=False)


def load_terms(gen: Path) -> tuple[list[str], list[str], Any]:
    """(words, stems, float32 vectors) as `save_terms` wrote them."""
    import numpy as np

    try:
        terms = json.loads((gen / "bm25" / "terms.json").read_text(encoding="utf-8"))
        vectors = np.load(gen / "bm25" / "terms.npy", allow_pickle=False)
        words, stems = list(terms["words"]), list(terms["stems"])
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise BadIndexError(f"the expansion terms in {gen.name} cannot be read ({exc})") from exc
    if vectors.ndim != 2 or len(vectors) != len(words) or len(stems) != len(words):
        raise BadIndexError(f"the expansion terms in {gen.name} disagree with their vectors")
    return words, stems, vectors.astype(np.float32)


def passage_neighbours(vectors: Any, sources: list[str], k: int = NEIGHBOUR_COUNT,
                       exact_max: int = NEIGHBOUR_EXACT_MAX) -> tuple[Any, Any]:
    """For each passage, its `k` most similar passages from other sources by cosine (the
    vectors are normalised), best first: (rows, cosines), padded with -1 and 0 where there are
    fewer with a positive cosine. Exact up to `exact_max` passages, HNSW beyond."""
    import numpy as np

    n = len(vectors)
    rows = np.full((n, k), -1, dtype=np.int32)
    sims = np.zeros((n, k), dtype=np.float32)
    if n < 2 or k < 1:
        return rows, sims
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    src = np.unique(np.asarray(sources), return_inverse=True)[1]
    if n <= exact_max:
        m, step = min(k, n - 1), 256  # `step` rows at a time bounds the memory to step x n
        for start in range(0, n, step):
            block = vectors[start:start + step] @ vectors.T
            block[src[start:start + step, None] == src[None, :]] = -np.inf
            cand = np.argpartition(-block, m - 1, axis=1)[:, :m]
            top = np.take_along_axis(block, cand, axis=1)
            order = np.argsort(-top, axis=1, kind="stable")
            cand, top = np.take_along_axis(cand, order, axis=1), np.take_along_axis(top, order, axis=1)
            keep = np.isfinite(top) & (top > 0)
            rows[start:start + step, :m] = np.where(keep, cand, -1)
            sims[start:start + step, :m] = np.where(keep, top, 0)
        return rows, sims
    index = _hnsw_index(vectors.shape[1])
    index.add(vectors)
    found_sims, found_rows = index.search(vectors, min(n, 4 * k))
    for i in range(n):
        ok = (found_rows[i] >= 0) & (found_sims[i] > 0)
        ok &= src[np.clip(found_rows[i], 0, n - 1)] != src[i]
        got = found_rows[i][ok][:k]
        rows[i, :len(got)] = got
        sims[i, :len(got)] = found_sims[i][ok][:k]
    return rows, sims


def _hnsw_index(dim: int) -> Any:
    """An empty HNSW inner-product index with the project's construction and search settings."""
    import faiss

    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def make_faiss_index(vectors: Any) -> Any:
    """Exact inner-product search for small corpora, HNSW beyond EXACT_SEARCH_MAX vectors."""
    import faiss

    n, dim = vectors.shape
    index: Any = faiss.IndexFlatIP(dim) if n <= EXACT_SEARCH_MAX else _hnsw_index(dim)
    if n:
        index.add(vectors)
    return index


def manifest_base(model: dict[str, Any], chunking: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "itsqa_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model,
        "chunking": chunking,
    }
