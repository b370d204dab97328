"""The on-disk index: generations swapped in atomically, a manifest with checksums, a build lock.
This module owns every file name of a generation, for writing as for reading.

Layout of an index folder:

    CURRENT            {"generation": "gen-...", "manifest": its sha256}: replaced atomically;
                       readers follow it
    LOCK               held (flock) by the one build running
    .partial/          what a running (or interrupted) build has embedded so far (journal.py)
    gen-*/             one complete index:
      manifest.json      format and itsqa versions, model, chunking settings, every source's size,
                         mtime and sha256, and every other file's size, sha256 and mtime
      passages.json, passage_columns.npy, passage_hashes.npy, passage_text.bin,
      passage_text_offsets.npy
                         the passages, column by column (tables.py)
      sentence_columns.npy, sentence_hashes.npy
                         the sentence vectors: passage row, start, end, key
      sources.json       each source's metadata, furniture, pages and code blocks
      texts.json         the extracted text of HTML and PDF sources (offsets refer to it)
      embeddings.npy     every vector (passages, then sentences), float32, memory-mapped to search
      vectors.faiss      an HNSW graph of them, only beyond dense.EXACT_SEARCH_MAX vectors
      graph_rows.npy     where vectors.faiss is a previous generation's graph kept: the row of
                         each of its nodes (-1: removed); rows it lacks are searched exactly
      wordpiece_df.npy   in how many passages each of the model's word pieces occurs
      neighbours.npy, neighbour_sims.npy
                         each passage's most similar passages from other sources, and their
                         cosines (score regularisation)
      token_codes.npy, token_offsets.npy, token_codebook.npy
                         every passage's contextual word-piece vectors, product-quantised
                         (tokens.py), passage i's at rows offsets[i]:offsets[i+1] (late
                         interaction); token_vectors.npy (float16) instead for a tiny corpus
      bm25/              bm25s's score matrix (data, indices, indptr), vocab.json, the two
                         stopword lists; terms.json + terms.npy: the corpus's words, stems and
                         vectors (query expansion)

The model's ONNX export is kept once per model in the user's cache (embedding.py), not here.
Nothing here is unpickled or executed: numpy arrays (allow_pickle=False), JSON, FAISS's format.
Opening an index checks cheap facts (the manifest's checksum, each file's size and mtime, hashing
only a file whose mtime moved); a build, and `itsqa index --verify`, hash every file.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .dense import DenseVectors, build_hnsw, needs_hnsw
from .errors import BadIndexError, IndexLockedError, ItsqaError
from .jsonio import json_text
from .lexical import Bm25Tables
from .tables import ChunkRecord, ChunkTable, SentenceRow, SentenceTable
from .tokens import Codebook

# 2: term vectors for query expansion and word-piece frequencies for reranking;
# 3: the query stopword list beside the BM25 tables; 4: the similar-passage graph;
# 5: the passages' token vectors for late interaction; 6: columnar tables, product-quantised
# token vectors, no FAISS file below dense.EXACT_SEARCH_MAX vectors, cheap checks on opening.
FORMAT_VERSION = 6
CURRENT = "CURRENT"
LOCK = "LOCK"
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
GRAPH_ROWS = "graph_rows.npy"
EMBEDDINGS = "embeddings.npy"
SOURCES = "sources.json"
TEXTS = "texts.json"
WORDPIECE_DF = "wordpiece_df.npy"
SIMILAR = "neighbours.npy"
SIMILAR_SIMS = "neighbour_sims.npy"
TOKEN_CODES = "token_codes.npy"
TOKEN_VECTORS = "token_vectors.npy"
TOKEN_OFFSETS = "token_offsets.npy"
TOKEN_CODEBOOK = "token_codebook.npy"
BM25 = "bm25"
BM25_ARRAYS = ("data", "indices", "indptr")
TERMS_JSON = "terms.json"
TERMS_NPY = "terms.npy"
__all__ = ["ChunkRecord", "SentenceRow"]


@dataclass(frozen=True)
class StreamedRows:
    """A 2-D array a build writes a block at a time (its vectors, its token codes), so that it
    need not hold the whole of it in memory as well as the parts it is made from."""

    shape: tuple[int, int]
    dtype: Any
    blocks: Callable[[], Iterator[Any]]  # the rows in order, a block at a time

    def __len__(self) -> int:
        return self.shape[0]


@dataclass(frozen=True)
class TokenData:
    """Every passage's token vectors, as one array with each passage's start: product-quantised
    codes with their codebook, or (a tiny corpus) float16 vectors."""

    # uint8 codes (tokens x SUBVECTORS) or float16 vectors (tokens x dimension); StreamedRows
    # when a build writes them
    rows: Any
    offsets: Any  # int64 (passages + 1)
    codebook: Codebook | None = None

    def prefetch(self, rows: list[int]) -> None:
        """Nothing to do: the rows are memory-mapped (a Qdrant store's RemoteTokens reads its
        rows here, in one request)."""

    def passage(self, row: int) -> Any:
        """Passage `row`'s token vectors as float32."""
        import numpy as np

        part = self.rows[int(self.offsets[row]) : int(self.offsets[row + 1])]
        if self.codebook is not None:
            return self.codebook.decode(part)
        return np.asarray(part, dtype=np.float32)


@dataclass(frozen=True)
class Terms:
    """The corpus's words for query expansion, their stems and their vectors."""

    words: list[str]
    stems: list[str]
    vectors: Any  # numpy (words x dimension)


@dataclass(frozen=True)
class GenerationData:
    """Everything one build writes: the parts of a generation, in memory or memory-mapped."""

    manifest: dict[str, Any]
    chunks: list[ChunkRecord]
    sentences: list[SentenceRow]
    sources: dict[str, dict[str, Any]]
    texts: dict[str, str]
    vectors: Any  # float32 (passages + sentences) x dimension: an array or StreamedRows
    bm25: Bm25Tables
    terms: Terms
    tokens: TokenData
    wordpiece_df: Any
    similar_rows: Any
    similar_sims: Any
    # A previous generation's HNSW graph to keep, and the new row of each of its nodes
    # (dense.kept_graph_rows); None: build a graph afresh where one is needed.
    kept_graph: tuple[Path, Any] | None = None


@dataclass
class LoadedIndex:
    """An index read back from disk and checked. Large parts are memory-mapped or read only
    when first needed."""

    path: Path
    manifest: dict[str, Any]
    chunks: ChunkTable
    sources: dict[str, dict[str, Any]]
    bm25: Bm25Tables
    sentences: SentenceTable
    vector_rows: Any  # numpy: the passage row of every vector
    dense: DenseVectors
    wordpiece_df: Any  # numpy: in how many passages each of the model's word pieces occurs
    similar_rows: Any  # numpy (passages x similar.COUNT): rows of similar passages, -1 for none
    similar_sims: Any  # numpy, the same shape: their cosines (0 where there is none)
    tokens: TokenData
    _texts: dict[str, str] | None = None
    # Passages of the whole corpus where this holds only some (a store's candidates for one
    # question): idf over word pieces counts them all.
    total: int | None = None

    @property
    def passage_count(self) -> int:
        """How many passages the corpus has (idf counts them)."""
        return self.total if self.total is not None else len(self.chunks)

    def chunks_of(self, name: str) -> list[ChunkRecord]:
        """The passages of source `name`, in order."""
        return [c for c in self.chunks if c.source == name]

    @property
    def texts(self) -> dict[str, str]:
        """The extracted text of HTML and PDF sources (read on first use)."""
        if self._texts is None:
            self._texts = _read_json(self.path / TEXTS, "the index's extracted texts")
        return self._texts

    def passage_tokens(self, row: int) -> Any:
        """The contextual vectors of passage `row`'s word pieces (float32)."""
        return self.tokens.passage(row)

    @property
    def vector_hashes(self) -> list[str]:
        """The embed hash of every vector, in order (passages, then sentences)."""
        return self.chunks.embed_hashes() + self.sentences.embed_hashes()

    def embeddings(self) -> Any:
        """All vectors (passages, then sentences), memory-mapped: nothing is read until used."""
        return self.dense.embeddings

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


def _save_rows(path: Path, rows: Any) -> None:
    """Save an array, or StreamedRows a block at a time, as a .npy file."""
    import numpy as np

    if not isinstance(rows, StreamedRows):
        _save_npy(path, rows)
        return
    dtype = np.dtype(rows.dtype)
    written = 0
    with path.open("wb") as fh:
        np.lib.format.write_array_header_2_0(fh, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                 "fortran_order": False, "shape": rows.shape})
        for block in rows.blocks():
            part = np.ascontiguousarray(block, dtype=dtype).reshape(-1, rows.shape[1])
            fh.write(part.tobytes())
            written += len(part)
    if written != rows.shape[0]:
        raise ValueError(f"{path.name}: {written} rows written where {rows.shape[0]} were due")


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


def _save_tokens(gen: Path, tokens: TokenData) -> None:
    _save_rows(gen / (TOKEN_CODES if tokens.codebook is not None else TOKEN_VECTORS), tokens.rows)
    _save_npy(gen / TOKEN_OFFSETS, tokens.offsets)
    if tokens.codebook is not None:
        tokens.codebook.save(gen / TOKEN_CODEBOOK)


def _write_graph(gen: Path, data: GenerationData) -> None:
    """The generation's HNSW graph: the previous one kept (linked, else copied), with where its
    nodes now stand, or one built afresh."""
    if data.kept_graph is None:
        build_hnsw(gen / EMBEDDINGS, gen / VECTORS)
        return
    graph, rows = data.kept_graph
    try:
        os.link(graph, gen / VECTORS)  # generations are never written in place: safe to share
    except OSError:
        shutil.copyfile(graph, gen / VECTORS)
    _save_npy(gen / GRAPH_ROWS, rows)


def _write_parts(gen: Path, data: GenerationData) -> None:
    """Every file of a generation but the manifest."""
    _save_rows(gen / EMBEDDINGS, data.vectors)
    if needs_hnsw(len(data.vectors)):
        _write_graph(gen, data)
    ChunkTable.of(data.chunks).save(gen)
    SentenceTable.of(data.sentences).save(gen)
    _write_text(gen / SOURCES, data.sources)
    _write_text(gen / TEXTS, data.texts)
    _save_bm25(gen / BM25, data.bm25)
    _save_terms(gen, data.terms)
    _save_tokens(gen, data.tokens)
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
    for p in _files_under(tmp):
        with p.open("rb") as fh:
            os.fsync(fh.fileno())
    manifest["files"] = {p.relative_to(tmp).as_posix(): [p.stat().st_size, file_digest(p),
                                                         p.stat().st_mtime_ns]
                         for p in _files_under(tmp)}
    write_json_atomic(tmp / MANIFEST, manifest)
    name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{tmp.name[-6:]}"
    final = index_dir / name
    os.replace(tmp, final)
    write_json_atomic(index_dir / CURRENT, {"generation": name,
                                            "manifest": file_digest(final / MANIFEST)})
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
    """Record sources' new modification times (same bytes) so the next check skips hashing
    (the manifest changes, so CURRENT's record of its checksum does too; call under lock)."""
    for name, mtime_ns in mtimes.items():
        manifest["sources"][name]["mtime_ns"] = mtime_ns
    write_json_atomic(gen / MANIFEST, manifest)
    write_json_atomic(gen.parent / CURRENT, {"generation": gen.name,
                                             "manifest": file_digest(gen / MANIFEST)})


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


def _pointer(index_dir: Path) -> dict[str, Any] | None:
    """CURRENT's content, checked; None when there is no index yet."""
    check_folder(index_dir)
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        return None
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
        name = data["generation"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise BadIndexError(f"{pointer} is damaged ({exc})") from exc
    if not isinstance(name, str) or "/" in name or not name.startswith("gen-"):
        raise BadIndexError(f"{pointer} names no valid generation")
    return dict(data)


def current_generation(index_dir: Path) -> Path | None:
    """The folder CURRENT points to, or None when there is no index yet."""
    data = _pointer(index_dir)
    return index_dir / data["generation"] if data else None


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

def _check_file(gen: Path, rel: str, entry: Any, checksums: bool) -> None:
    """Refuse a file that is missing, of another size, or (hashed when `checksums`, or when its
    mtime moved since the build: a copied index) of other bytes."""
    p = gen / rel
    try:  # a concurrent build may remove this generation at any moment: missing, not a crash
        size, digest, *rest = entry
        if not p.is_file():
            raise BadIndexError(f"index file {rel} is missing")
        st = p.stat()
        if st.st_size != size:
            raise BadIndexError(f"index file {rel} has the wrong size (truncated or altered)")
        moved = not rest or st.st_mtime_ns != rest[0]
        if (checksums or moved) and file_digest(p) != digest:
            raise BadIndexError(f"index file {rel} does not match its checksum (altered)")
    except OSError as exc:
        raise BadIndexError(f"index file {rel} cannot be read ({exc.strerror or exc})") from exc
    except (TypeError, ValueError) as exc:
        raise BadIndexError(f"the manifest's entry for {rel} is malformed") from exc


def verify(gen: Path, manifest: dict[str, Any], *, model_key: str | None = None,
           checksums: bool = True) -> None:
    """Refuse an index whose files are missing, altered or from another format or model.
    `checksums=False` hashes only files whose mtime changed (sizes are always checked)."""
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
        _check_file(gen, rel, entry, checksums)


def load(index_dir: Path, *, model_key: str | None = None, attempts: int = 3,
         checksums: bool = False) -> LoadedIndex | None:
    """Read and check the current index; None when there is none.

    Args:
        index_dir: the index folder.
        model_key: refuse an index built by another model (None: any model).
        attempts: how often to retry when a concurrent build swaps generations mid-read.
        checksums: hash every file (a build's and `itsqa index --verify`'s check); otherwise
            the manifest's checksum, every file's size and mtime are checked, and a file whose
            mtime moved is hashed.

    Raises:
        BadIndexError: the index is damaged, inconsistent, or of another format or model.
    """
    for attempt in range(attempts):
        pointer = _pointer(index_dir)
        if pointer is None:
            return None
        gen = index_dir / pointer["generation"]
        try:
            return _load_generation(gen, pointer.get("manifest"), model_key, checksums)
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


def _load_tokens(gen: Path) -> TokenData:
    import numpy as np

    offsets = np.load(gen / TOKEN_OFFSETS, allow_pickle=False)
    if (gen / TOKEN_CODES).is_file():
        return TokenData(np.load(gen / TOKEN_CODES, allow_pickle=False, mmap_mode="r"), offsets,
                         Codebook.load(gen / TOKEN_CODEBOOK))
    return TokenData(np.load(gen / TOKEN_VECTORS, allow_pickle=False, mmap_mode="r"), offsets)


def _read_generation(gen: Path, manifest: dict[str, Any]) -> LoadedIndex:
    """A generation's files, opened (large arrays memory-mapped) but not yet cross-checked."""
    import numpy as np

    def npy(name: str, mmap: bool = False) -> Any:
        return np.load(gen / name, allow_pickle=False, mmap_mode="r" if mmap else None)

    try:
        chunks = ChunkTable.load(gen)
        sentences = SentenceTable.load(gen)
        vector_rows = np.concatenate([np.arange(len(chunks), dtype=np.int64),
                                      np.asarray(sentences.rows(), dtype=np.int64)])
        graph = gen / VECTORS if (gen / VECTORS).is_file() else None
        graph_rows = npy(GRAPH_ROWS) if (gen / GRAPH_ROWS).is_file() else None
        dense = DenseVectors(npy(EMBEDDINGS, mmap=True), vector_rows, graph, graph_rows)
        return LoadedIndex(gen, manifest, chunks, _read_json(gen / SOURCES, "the source table"),
                           _load_bm25(gen / BM25), sentences, vector_rows, dense,
                           npy(WORDPIECE_DF), npy(SIMILAR), npy(SIMILAR_SIMS), _load_tokens(gen))
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise BadIndexError(f"the index in {gen.name} cannot be read ({exc})") from exc


def _check_tables(ix: LoadedIndex, dim: int) -> str:
    """What is inconsistent between the tables of a generation read back ("" when nothing)."""
    import numpy as np

    n = len(ix.chunks)
    problem = ix.chunks.problem() or ix.sentences.problem(n)
    if problem:
        return f"has {problem}"
    emb = ix.dense.embeddings
    if emb.ndim != 2 or len(emb) != n + len(ix.sentences) or emb.shape[1] != dim:
        return (f"is inconsistent: {len(emb)} vectors of dimension {emb.shape[-1]} for {n} "
                f"passages and {len(ix.sentences)} sentences of dimension {dim}")
    # bm25s lists an empty token last in its vocabulary, with no column of its own.
    if len(ix.bm25.indptr) not in (len(ix.bm25.vocab), len(ix.bm25.vocab) + 1):
        return "has BM25 tables that disagree with their vocabulary"
    if ix.wordpiece_df.ndim != 1 or ix.wordpiece_df.dtype.kind not in "iu":
        return "has a malformed word-piece table"
    nodes = ix.dense.graph_rows
    if nodes is not None and (nodes.ndim != 1 or nodes.dtype.kind != "i" or (
            nodes.size and not (-1 <= nodes.min() and nodes.max() < len(emb)))):
        return "has a malformed table of its search graph's rows"
    rows, sims = ix.similar_rows, ix.similar_sims
    if (rows.ndim != 2 or rows.shape[0] != n or sims.shape != rows.shape or rows.dtype.kind != "i"
            or sims.dtype.kind != "f" or (rows.size and not (-1 <= rows.min() and rows.max() < n))
            or not np.isfinite(sims).all()):
        return "has a malformed similar-passage table"
    return _token_problem(ix.tokens, n, dim)


def _token_problem(tokens: TokenData, n: int, dim: int) -> str:
    import numpy as np

    off, rows = tokens.offsets, tokens.rows
    width = tokens.codebook.centroids.shape[0] if tokens.codebook is not None else dim
    if (off.shape != (n + 1,) or off.dtype.kind != "i" or off[0] != 0 or (np.diff(off) < 0).any()
            or rows.ndim != 2 or rows.shape != (int(off[-1]), width)
            or (tokens.codebook is not None and (rows.dtype != np.uint8
                                                 or tokens.codebook.dimension != dim))):
        return "has a malformed token vector table"
    return ""


def _load_generation(gen: Path, manifest_sha: str | None, model_key: str | None,
                     checksums: bool) -> LoadedIndex:
    manifest_file = gen / MANIFEST
    try:
        if manifest_sha is not None and file_digest(manifest_file) != manifest_sha:
            raise BadIndexError(f"the index manifest in {gen.name} was altered")
    except OSError as exc:
        raise BadIndexError(f"the index manifest in {gen.name} cannot be read ({exc})") from exc
    manifest = _read_json(manifest_file, f"the index manifest in {gen.name}")
    verify(gen, manifest, model_key=model_key, checksums=checksums)
    loaded = _read_generation(gen, manifest)
    problem = _check_tables(loaded, int(manifest.get("model", {}).get("dimension", -1)))
    if problem:
        raise BadIndexError(f"the index in {gen.name} {problem}")
    return loaded


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
