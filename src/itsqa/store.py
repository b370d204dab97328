"""The on-disk index: generations swapped in atomically, a manifest with checksums, a build lock.
This module owns every file name of a generation, for writing as for reading.

Layout of an index folder:

    CURRENT            {"generation": "gen-..."}: replaced atomically; readers follow it
    LOCK               held (flock) by the one build running
    gen-*/             one complete index:
      manifest.json      format and itsqa versions, model, chunking settings, every source's
                         size, mtime and sha256, and every other file's size and sha256
      vectors.faiss      every vector (passages, then sentences) for dense search
      embeddings.npy     the same vectors as a numpy array, reused by the next build
      chunks.json        the passages: source, offsets, text, headings, the hash of their input
      units.json         the sentence vectors: [passage row, start, end, hash]
      sources.json       each source's metadata, furniture and pages
      texts.json         the extracted text of HTML and PDF sources (offsets refer to it)
      wordpiece_df.npy   in how many passages each of the model's word pieces occurs
      neighbours.npy, neighbour_sims.npy
                         each passage's most similar passages from other sources, and their
                         cosines (score regularisation)
      token_vectors.npy, token_offsets.npy
                         every passage's contextual word-piece vectors in float16, passage i's
                         at rows offsets[i]:offsets[i+1] (late interaction)
      bm25/              bm25s's score matrix (data, indices, indptr), vocab.json, the two
                         stopword lists; terms.json + terms.npy: the corpus's words, stems and
                         vectors (query expansion)
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
from typing import Any, NamedTuple

from . import __version__
from .errors import BadIndexError, IndexLockedError, ItsqaError
from .jsonio import json_text
from .lexical import Bm25Tables

# 2: term vectors for query expansion and word-piece frequencies for reranking;
# 3: the query stopword list beside the BM25 tables; 4: the similar-passage graph;
# 5: the passages' token vectors for late interaction.
FORMAT_VERSION = 5
CURRENT = "CURRENT"
LOCK = "LOCK"
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
EMBEDDINGS = "embeddings.npy"
CHUNKS = "chunks.json"
SENTENCES = "units.json"
SOURCES = "sources.json"
TEXTS = "texts.json"
WORDPIECE_DF = "wordpiece_df.npy"
SIMILAR = "neighbours.npy"
SIMILAR_SIMS = "neighbour_sims.npy"
TOKEN_VECTORS = "token_vectors.npy"
TOKEN_OFFSETS = "token_offsets.npy"
BM25 = "bm25"
BM25_ARRAYS = ("data", "indices", "indptr")
TERMS_JSON = "terms.json"
TERMS_NPY = "terms.npy"
MODELS = "models"
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
    """One passage of the index; row i is vector i in the FAISS index."""

    source: str
    ordinal: int
    start: int
    end: int
    text: str
    heading: str
    embed_hash: str
    page: int | None = None


class SentenceRow(NamedTuple):
    """A sentence vector of the index: the passage it belongs to, its source offsets and the
    hash of what the model read."""

    row: int
    start: int
    end: int
    embed_hash: str


@dataclass(frozen=True)
class Terms:
    """The corpus's words for query expansion, their stems and their vectors."""

    words: list[str]
    stems: list[str]
    vectors: Any  # numpy (words x dimension)


@dataclass(frozen=True)
class GenerationData:
    """Everything one build writes: the parts of a generation, in memory."""

    manifest: dict[str, Any]
    chunks: list[ChunkRecord]
    sentences: list[SentenceRow]
    sources: dict[str, dict[str, Any]]
    texts: dict[str, str]
    vectors: Any  # numpy float32 (passages + sentences) x dimension
    bm25: Bm25Tables
    terms: Terms
    token_vectors: list[Any]  # per passage: numpy (pieces x dimension)
    wordpiece_df: Any
    similar_rows: Any
    similar_sims: Any


@dataclass
class LoadedIndex:
    """An index read back from disk and checked."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[ChunkRecord]
    sources: dict[str, dict[str, Any]]
    texts: dict[str, str]
    faiss_index: Any
    bm25: Bm25Tables
    sentences: list[SentenceRow]
    vector_rows: Any  # numpy: the passage row of every vector in the FAISS index
    wordpiece_df: Any  # numpy: in how many passages each of the model's word pieces occurs
    similar_rows: Any  # numpy (passages x similar.COUNT): rows of similar passages, -1 for none
    similar_sims: Any  # numpy, the same shape: their cosines (0 where there is none)
    token_vectors: Any  # numpy (word pieces x dimension) float16, memory-mapped
    token_offsets: Any  # numpy (passages + 1): passage i's pieces are rows offsets[i]:offsets[i+1]

    def passage_tokens(self, row: int) -> Any:
        """The contextual vectors of passage `row`'s word pieces (unit length, float16)."""
        return self.token_vectors[int(self.token_offsets[row]) : int(self.token_offsets[row + 1])]

    @property
    def vector_hashes(self) -> list[str]:
        """The embed hash of every vector, in FAISS order (passages, then sentences)."""
        return [c.embed_hash for c in self.chunks] + [u.embed_hash for u in self.sentences]

    def embeddings(self) -> Any:
        """All vectors (passages, then sentences), memory-mapped: nothing is read until used."""
        return load_embeddings(self.path)

    def terms(self) -> Terms:
        """The expansion terms with float32 vectors (read from disk on each call)."""
        return load_terms(self.path)


# -- writing --------------------------------------------------------------------------------

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
    """The sha256 of a file's bytes, read a megabyte at a time."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_text(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _save_npy(path: Path, array: Any) -> None:
    import numpy as np

    np.save(path, array, allow_pickle=False)


def _save_bm25(folder: Path, tables: Bm25Tables) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in BM25_ARRAYS:
        _save_npy(folder / f"{name}.npy", getattr(tables, name))
    _write_text(folder / "vocab.json", tables.vocab)
    _write_text(folder / "stopwords.json", sorted(tables.stopwords))
    # saved with the index so that asking need not import bm25s
    _write_text(folder / "query_stopwords.json", sorted(tables.query_stopwords))


def _save_terms(gen: Path, terms: Terms) -> None:
    import numpy as np

    (gen / BM25).mkdir(parents=True, exist_ok=True)
    _write_text(gen / BM25 / TERMS_JSON, {"words": terms.words, "stems": terms.stems})
    _save_npy(gen / BM25 / TERMS_NPY, np.asarray(terms.vectors, dtype=np.float16))


def _save_tokens(gen: Path, per_passage: list[Any], dim: int) -> None:
    """Each passage's token vectors, concatenated in float16, and where each passage's start."""
    import numpy as np

    offsets = np.zeros(len(per_passage) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(v) for v in per_passage])
    flat = (np.concatenate(per_passage).astype(np.float16) if offsets[-1]
            else np.zeros((0, dim), dtype=np.float16))
    _save_npy(gen / TOKEN_VECTORS, flat.reshape(-1, dim))
    _save_npy(gen / TOKEN_OFFSETS, offsets)


def _write_parts(gen: Path, data: GenerationData) -> None:
    """Every file of a generation but the manifest."""
    import faiss

    _save_npy(gen / EMBEDDINGS, data.vectors)
    try:
        faiss.write_index(make_faiss_index(data.vectors), str(gen / VECTORS))
    except RuntimeError as exc:  # FAISS reports a failed write this way
        raise OSError("FAISS could not write vectors.faiss") from exc
    _write_text(gen / CHUNKS, [c.__dict__ for c in data.chunks])
    (gen / SENTENCES).write_text(json.dumps([list(u) for u in data.sentences]), encoding="utf-8")
    _write_text(gen / SOURCES, data.sources)
    _write_text(gen / TEXTS, data.texts)
    _save_bm25(gen / BM25, data.bm25)
    _save_terms(gen, data.terms)
    _save_tokens(gen, data.token_vectors, data.vectors.shape[1])
    _save_npy(gen / WORDPIECE_DF, data.wordpiece_df)
    _save_npy(gen / SIMILAR, data.similar_rows)
    _save_npy(gen / SIMILAR_SIMS, data.similar_sims)


def write_failure(index_dir: Path, exc: OSError) -> str:
    """The error for a failed write of the index, naming its cause and what to do (numpy reports
    a full disk as a short write, so the free space is looked at)."""
    try:
        full = shutil.disk_usage(index_dir).free < 1024 * 1024
    except OSError:
        full = False
    why, todo = (("no space left on the device", "free some space or choose another --index")
                 if full else
                 (exc.strerror or str(exc), "choose another --index or fix this one's permissions"))
    return (f"cannot write the new index in {index_dir} ({why}): {todo}; the index there before "
            "is unchanged")


def write_generation(index_dir: Path, data: GenerationData) -> Path:
    """Write `data` as a new generation and make it current (call under the build lock). A
    failure leaves the previous index in force and raises ItsqaError saying why."""
    tmp = _new_generation_dir(index_dir)
    try:
        _write_parts(tmp, data)
        return _commit_generation(index_dir, tmp, data.manifest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ItsqaError(write_failure(index_dir, exc)) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _new_generation_dir(index_dir: Path) -> Path:
    """A fresh, hidden folder to write a generation into (renamed into place on commit)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-gen-", dir=index_dir))
    tmp.chmod(0o755)
    return tmp


def _commit_generation(index_dir: Path, tmp: Path, manifest: dict[str, Any]) -> Path:
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


def remember_mtimes(gen: Path, manifest: dict[str, Any], mtimes: dict[str, int]) -> None:
    """Record sources' new modification times (same bytes) so the next check skips hashing."""
    for name, mtime_ns in mtimes.items():
        manifest["sources"][name]["mtime_ns"] = mtime_ns
    write_json_atomic(gen / MANIFEST, manifest)


def manifest_base(model: dict[str, Any], chunking: dict[str, Any]) -> dict[str, Any]:
    """The manifest's version fields, to which a build adds what it indexed."""
    return {
        "format_version": FORMAT_VERSION,
        "itsqa_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model,
        "chunking": chunking,
    }


# -- locking and finding the current generation ----------------------------------------------

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


def index_exists(index_dir: Path) -> bool:
    """Whether the folder has a CURRENT pointer (an index, perhaps damaged)."""
    return (index_dir / CURRENT).exists()


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BadIndexError(f"{what} cannot be read ({exc})") from exc


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The current generation's manifest, or None when there is no index."""
    gen = current_generation(index_dir)
    if gen is None:
        return None
    data = _read_json(gen / MANIFEST, f"the index manifest in {gen}")
    if not isinstance(data, dict):
        raise BadIndexError(f"the index manifest in {gen} is not a JSON object")
    return data


def read_source_table(index_dir: Path) -> dict[str, Any]:
    """The current generation's source table ({} when there is no index); no checksums."""
    gen = current_generation(index_dir)
    if gen is None:
        return {}
    table = _read_json(gen / SOURCES, "the index source table")
    return table if isinstance(table, dict) else {}


# -- reading and checking ---------------------------------------------------------------------

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
    """Read and check the current index; None when there is none.

    Args:
        index_dir: the index folder.
        model_key: refuse an index built by another model (None: any model).
        attempts: how often to retry when a concurrent build swaps generations mid-read.
        checksums: False for a caller that has just verified the same generation under the
            build lock (sizes are still checked).

    Raises:
        BadIndexError: the index is damaged, inconsistent, or of another format or model.
    """
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


def _load_bm25(folder: Path) -> Bm25Tables:
    import numpy as np

    def text(name: str) -> Any:
        return json.loads((folder / name).read_text(encoding="utf-8"))

    arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in BM25_ARRAYS}
    return Bm25Tables(**arrays, vocab=text("vocab.json"),
                      stopwords=frozenset(text("stopwords.json")),
                      query_stopwords=frozenset(text("query_stopwords.json")))


def _read_generation(gen: Path, manifest: dict[str, Any]) -> LoadedIndex:
    """Every file of a generation, read (large arrays memory-mapped) but not yet cross-checked."""
    import faiss
    import numpy as np

    def npy(name: str, mmap: bool = False) -> Any:
        return np.load(gen / name, allow_pickle=False, mmap_mode="r" if mmap else None)

    def text(name: str) -> Any:
        return json.loads((gen / name).read_text(encoding="utf-8"))

    try:
        chunks = [ChunkRecord(**r) for r in text(CHUNKS)]
        sentences = [SentenceRow(*u) for u in text(SENTENCES)]
        faiss_index = faiss.read_index(str(gen / VECTORS))
        vector_rows = np.concatenate([np.arange(len(chunks), dtype=np.int64),
                                      np.array([u.row for u in sentences], dtype=np.int64)])
        return LoadedIndex(gen, manifest, chunks, text(SOURCES), text(TEXTS), faiss_index,
                           _load_bm25(gen / BM25), sentences, vector_rows, npy(WORDPIECE_DF),
                           npy(SIMILAR), npy(SIMILAR_SIMS), npy(TOKEN_VECTORS, mmap=True),
                           npy(TOKEN_OFFSETS))
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise BadIndexError(f"the index in {gen.name} cannot be read ({exc})") from exc


def _check_tables(ix: LoadedIndex, dim: int) -> str:
    """What is inconsistent between the tables of a generation read back ("" when nothing)."""
    import numpy as np

    n = len(ix.chunks)
    if ix.faiss_index.ntotal != n + len(ix.sentences) or ix.faiss_index.d != dim:
        return (f"is inconsistent: {ix.faiss_index.ntotal} vectors of dimension "
                f"{ix.faiss_index.d} for {n} passages and {len(ix.sentences)} sentences of "
                f"dimension {dim}")
    if any(not (0 <= u.row < n) for u in ix.sentences):
        return "has a sentence table naming passages that do not exist"
    # bm25s lists an empty token last in its vocabulary, with no column of its own.
    if len(ix.bm25.indptr) not in (len(ix.bm25.vocab), len(ix.bm25.vocab) + 1):
        return "has BM25 tables that disagree with their vocabulary"
    if ix.wordpiece_df.ndim != 1 or ix.wordpiece_df.dtype.kind not in "iu":
        return "has a malformed word-piece table"
    rows, sims = ix.similar_rows, ix.similar_sims
    if (rows.ndim != 2 or rows.shape[0] != n or sims.shape != rows.shape or rows.dtype.kind != "i"
            or sims.dtype.kind != "f" or (rows.size and not (-1 <= rows.min() and rows.max() < n))
            or not np.isfinite(sims).all()):
        return "has a malformed similar-passage table"
    off, tok = ix.token_offsets, ix.token_vectors
    if (off.shape != (n + 1,) or off.dtype.kind != "i" or off[0] != 0 or (np.diff(off) < 0).any()
            or tok.ndim != 2 or tok.dtype != np.float16 or tok.shape != (int(off[-1]), dim)):
        return "has a malformed token vector table"
    return ""


def _load_generation(gen: Path, model_key: str | None, checksums: bool = True) -> LoadedIndex:
    manifest = _read_json(gen / MANIFEST, f"the index manifest in {gen.name}")
    verify(gen, manifest, model_key=model_key, checksums=checksums)
    loaded = _read_generation(gen, manifest)
    problem = _check_tables(loaded, int(manifest.get("model", {}).get("dimension", -1)))
    if problem:
        raise BadIndexError(f"the index in {gen.name} {problem}")
    if hasattr(loaded.faiss_index, "hnsw"):
        loaded.faiss_index.hnsw.efSearch = HNSW_EF_SEARCH
    return loaded


def load_embeddings(gen: Path) -> Any:
    """All vectors (passages, then sentences), memory-mapped: nothing is read until used."""
    import numpy as np

    return np.load(gen / EMBEDDINGS, allow_pickle=False, mmap_mode="r")


def load_terms(gen: Path) -> Terms:
    """The expansion terms as `_save_terms` wrote them, vectors as float32."""
    import numpy as np

    try:
        terms = json.loads((gen / BM25 / TERMS_JSON).read_text(encoding="utf-8"))
        vectors = np.load(gen / BM25 / TERMS_NPY, allow_pickle=False)
        words, stems = list(terms["words"]), list(terms["stems"])
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:
        raise BadIndexError(f"the expansion terms in {gen.name} cannot be read ({exc})") from exc
    if vectors.ndim != 2 or len(vectors) != len(words) or len(stems) != len(words):
        raise BadIndexError(f"the expansion terms in {gen.name} disagree with their vectors")
    return Terms(words, stems, vectors.astype(np.float32))


# -- FAISS ------------------------------------------------------------------------------------

def hnsw_index(dim: int) -> Any:
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
    index: Any = faiss.IndexFlatIP(dim) if n <= EXACT_SEARCH_MAX else hnsw_index(dim)
    if n:
        index.add(vectors)
    return index
