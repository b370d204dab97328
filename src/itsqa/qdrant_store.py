"""Qdrant as the store of an index, for corpora too large for one folder or shared by many
machines: `--store qdrant://HOST:PORT/COLLECTION` (a server) or `qdrant:///PATH` (the client's
local mode, one process at a time). docs/scale-out.md says when and how.

The index folder stays where the corpus is: builds there are incremental and resumable as
without a store. Each new generation of it is published whole into a new collection
`COLLECTION--<generation>`, and the alias COLLECTION is switched to it in one operation: a
publish killed half-way leaves the alias on the previous collection (the next publish removes
the leftover). Asking needs only the store, not the corpus or the folder.

One point per passage, its id a UUID of the passage's stable key (source, range, content hash):
    dense    the passage's vector and its sentences' (multivector, cosine, MAX_SIM)
    tokens   its word pieces' contextual vectors (multivector, float16, no HNSW graph: they
             re-score candidates only)
    bm25     sparse: BM25's term-frequency part of each stem, with Qdrant's IDF modifier (the
             same Lucene idf bm25s uses), so the server computes BM25 scores
    payload  row, source, range, page, section, text, sentence ranges, similar passages
Points with a payload only (kind "meta") hold what reading a question needs: the manifest, the
sources and their texts, each stem's document frequency, the stopwords, the expansion terms
with their vectors and the word pieces' document frequencies. The collection's metadata names
the model and chunking settings, so an index made another way is refused, not misread.
Nothing is unpickled: arrays travel as base64 of raw numbers with their dtype and shape.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import BadIndexError, ItsqaError, NoIndexError, StoreError, UsageError
from .store import LoadedIndex

QDRANT_FORMAT = 1
DEFAULT_COLLECTION = "itsqa"
BATCH = 64  # passages per upsert
PIECE_CHARS = 1 << 20  # characters of a meta part per point
_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
_NAMESPACE = uuid.UUID("5b8e3f6a-2f1c-4a53-9a55-7c3d2f0e9b11")
Note = Callable[[str], None]


@dataclass(frozen=True)
class Address:
    """Where a Qdrant store is: a server (host, port) or a local folder, and the alias."""

    url: str
    collection: str
    host: str | None = None
    port: int | None = None
    path: Path | None = None
    shards: int | None = None  # for the collections a publish creates (None: the server's)
    replicas: int | None = None


def parse_address(url: str) -> Address:
    """The store at `url` (qdrant://HOST[:PORT][/COLLECTION][?shards=N&replicas=N] or
    qdrant:///PATH).

    Raises:
        UsageError: not a Qdrant address, or a malformed one.
    """
    parts = urlsplit(url)
    options = _options(url, parts.query)
    usage = "use qdrant://HOST:PORT/COLLECTION for a server or qdrant:///PATH for a local folder"
    if parts.scheme != "qdrant":
        raise UsageError(f"unknown store {url!r}: {usage}")
    if not parts.netloc:
        if parts.path in ("", "/"):
            raise UsageError(f"the store {url!r} names no folder: {usage}")
        return Address(url, DEFAULT_COLLECTION, path=Path(parts.path))
    name = parts.path.strip("/") or DEFAULT_COLLECTION
    if not _NAME.fullmatch(name):
        raise UsageError(f"the collection name {name!r} in {url!r} is not valid: use letters, "
                         "digits, '-' and '_'")
    try:
        port = parts.port or 6333
    except ValueError as exc:
        raise UsageError(f"the port in {url!r} is not a number: {usage}") from exc
    return Address(url, name, host=parts.hostname, port=port, shards=options.get("shards"),
                   replicas=options.get("replicas"))


def _options(url: str, query: str) -> dict[str, int]:
    """shards= and replicas= from the address's query: positive whole numbers."""
    out: dict[str, int] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key not in ("shards", "replicas"):
            raise UsageError(f"unknown option {key!r} in {url!r}: shards= and replicas= are known")
        if len(values) != 1 or not values[0].isdigit() or int(values[0]) < 1:
            raise UsageError(f"{key}= in {url!r} must be a whole number of at least 1")
        out[key] = int(values[0])
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


@contextlib.contextmanager
def talking(addr: Address, doing: str) -> Iterator[None]:
    """Turn the client's failures (HTTP, gRPC, a local folder's lock) into one StoreError."""
    from qdrant_client.http.exceptions import ApiException

    try:
        yield
    except ItsqaError:
        raise
    except (ApiException, OSError, RuntimeError, ValueError, KeyError, TimeoutError) as exc:
        raise StoreError(f"the Qdrant store {addr.url} failed while {doing}: "
                         f"{_first_line(exc)}") from exc


_CLIENTS: dict[str, Any] = {}


def client(addr: Address) -> Any:
    """The process's one client for `addr` (local mode allows one per folder)."""
    if addr.url not in _CLIENTS:
        from qdrant_client import QdrantClient

        if not _CLIENTS:  # the client's own finaliser fails while the interpreter shuts down
            atexit.register(close_clients)
        with talking(addr, "connecting"):
            _CLIENTS[addr.url] = (QdrantClient(path=str(addr.path)) if addr.path is not None
                                  else QdrantClient(host=addr.host, port=addr.port, timeout=30,
                                                 check_compatibility=False))
    return _CLIENTS[addr.url]


def close_clients() -> None:
    """Close every client (a local folder's lock is released)."""
    for c in _CLIENTS.values():
        with contextlib.suppress(Exception):  # closing is best effort
            c.close()
    _CLIENTS.clear()


def alias_target(c: Any, alias: str) -> str | None:
    """The collection `alias` points at, or None."""
    return next((a.collection_name for a in c.get_aliases().aliases if a.alias_name == alias),
                None)


def store_generation(store_url: str) -> str | None:
    """The collection the store's alias points at now (None when there is none)."""
    addr = parse_address(store_url)
    c = client(addr)
    with talking(addr, "checking the index"):
        return alias_target(c, addr.collection)


def point_id(source: str, start: int, end: int, embed_hash: str) -> str:
    """A passage's point id: stable while its source, range and content stay the same."""
    return str(uuid.uuid5(_NAMESPACE, f"{source}\0{start}\0{end}\0{embed_hash}"))


def _meta_id(part: str, seq: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"meta\0{part}\0{seq}"))


def encode_array(a: Any) -> dict[str, Any]:
    import numpy as np

    a = np.ascontiguousarray(a)
    return {"dtype": a.dtype.str, "shape": list(a.shape),
            "data": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(d: dict[str, Any]) -> Any:
    import numpy as np

    dtype = np.dtype(d["dtype"])
    if dtype.hasobject:
        raise BadIndexError("the store holds an array of objects")
    return np.frombuffer(base64.b64decode(d["data"]), dtype=dtype).reshape(d["shape"])


# -- publishing ------------------------------------------------------------------------------
def publish(store_url: str, loaded: LoadedIndex, texts: Callable[[], dict[str, str]],
            note: Note) -> bool:
    """Make the store answer from `loaded` (a generation of the index folder), unless it already
    does: a new collection, filled, then the alias switched to it. `texts` gives every source's
    text as indexed. Returns whether anything was written.

    Raises:
        StoreError: the store cannot be reached or refused a write (the alias stays as it was).
    """
    addr = parse_address(store_url)
    c = client(addr)
    target = f"{addr.collection}--{loaded.path.name}"
    with talking(addr, "publishing the index"):
        current = alias_target(c, addr.collection)
        if current == target:
            return False
        for col in c.get_collections().collections:  # earlier generations, killed publishes
            if col.name.startswith(f"{addr.collection}--") and col.name != current:
                c.delete_collection(col.name)
        note(f"publishing the index to {addr.url} ({len(loaded.chunks)} passages)")
        _create(c, target, loaded, addr)
        from .qdrant_points import meta_points, passage_points

        for batch in _batches(passage_points(loaded)):
            c.upsert(target, batch, wait=True)
        for batch in _batches(meta_points(loaded, texts(), PIECE_CHARS, _meta_id)):
            c.upsert(target, batch, wait=True)
        _switch_alias(c, addr.collection, target, current)
    return True


def _batches(points: Iterator[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for p in points:
        batch.append(p)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def stamp(manifest: dict[str, Any], generation: str, passages: int) -> dict[str, Any]:
    """What the collection's metadata says of the index in it."""
    return {"format": QDRANT_FORMAT, "generation": generation, "passages": passages,
            "model": manifest.get("model", {}), "chunking": manifest.get("chunking", {})}


def _create(c: Any, name: str, loaded: LoadedIndex, addr: Address) -> None:
    from qdrant_client import models

    layout = {k: v for k, v in (("shard_number", addr.shards),
                                ("replication_factor", addr.replicas)) if v is not None}
    dim = int(loaded.manifest["model"]["dimension"])
    multi = models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM)
    c.create_collection(
        name,
        vectors_config={
            "dense": models.VectorParams(size=dim, distance=models.Distance.COSINE,
                                         multivector_config=multi),
            "tokens": models.VectorParams(size=dim, distance=models.Distance.DOT,
                                          multivector_config=multi,
                                          datatype=models.Datatype.FLOAT16, on_disk=True,
                                          hnsw_config=models.HnswConfigDiff(m=0)),
        },
        sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        metadata={"itsqa": stamp(loaded.manifest, loaded.path.name, len(loaded.chunks))},
        **layout,
    )
    if addr.path is None:  # a server indexes payload fields; the local mode scans anyway
        for field, schema in (("kind", models.PayloadSchemaType.KEYWORD),
                              ("source", models.PayloadSchemaType.KEYWORD),
                              ("row", models.PayloadSchemaType.INTEGER)):
            c.create_payload_index(name, field, field_schema=schema)


def _switch_alias(c: Any, alias: str, target: str, current: str | None) -> None:
    """Point `alias` at `target` in one operation (the server applies the list atomically)."""
    from qdrant_client import models

    ops: list[Any] = []
    if current is not None:
        ops.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
    ops.append(models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name=target, alias_name=alias)))
    c.update_collection_aliases(ops)


# -- opening ---------------------------------------------------------------------------------
def opened_collection(store_url: str, model_key: str, chunking: dict[str, Any]
                      ) -> tuple[Any, Address, str, dict[str, Any]]:
    """(client, address, collection, its metadata) of the index the store's alias points at,
    checked to be made by this model and these chunking settings.

    Raises:
        NoIndexError: the store has no index under that alias.
        BadIndexError: it was made another way (another model, chunking or format).
        StoreError: the store cannot be reached.
    """
    addr = parse_address(store_url)
    c = client(addr)
    with talking(addr, "opening the index"):
        target = alias_target(c, addr.collection)
        if target is None:
            raise NoIndexError(f"the Qdrant store {addr.url} has no index (no alias "
                               f"{addr.collection!r}): run `itsqa index --store {addr.url}` "
                               "where the corpus is")
        meta = (c.get_collection(target).config.metadata or {}).get("itsqa")
    if not isinstance(meta, dict) or meta.get("format") != QDRANT_FORMAT:
        raise BadIndexError(f"the collection {target} in {addr.url} is not an itsqa index of "
                            f"format {QDRANT_FORMAT}: run `itsqa index --store {addr.url}`")
    made_by = meta.get("model", {}).get("key")
    if made_by != model_key or meta.get("chunking") != chunking:
        what = "model" if made_by != model_key else "chunking settings"
        raise BadIndexError(f"the index in {addr.url} was made with other {what} ({made_by}): "
                            f"run `itsqa index --store {addr.url}` with this itsqa to rebuild it")
    return c, addr, target, meta


def read_meta(c: Any, addr: Address, collection: str, parts: list[str] | None = None
              ) -> dict[str, Any]:
    """The meta parts of `collection` (those named in `parts`, else all), each joined and
    parsed: {part: value}."""
    from qdrant_client import models

    pieces: dict[str, dict[int, str]] = {}
    offset = None
    must: list[Any] = [models.FieldCondition(key="kind", match=models.MatchValue(value="meta"))]
    if parts is not None:
        must.append(models.FieldCondition(key="part", match=models.MatchAny(any=parts)))
    flt = models.Filter(must=must)
    with talking(addr, "reading the index"):
        while True:
            points, offset = c.scroll(collection, scroll_filter=flt, limit=256, offset=offset,
                                      with_payload=True, with_vectors=False)
            for p in points:
                pl = p.payload or {}
                pieces.setdefault(str(pl.get("part")), {})[int(pl.get("seq", 0))] = pl["data"]
            if offset is None:
                break
    try:
        return {part: json.loads("".join(seqs[i] for i in sorted(seqs)))
                for part, seqs in pieces.items()}
    except (ValueError, TypeError) as exc:
        raise BadIndexError(f"the index in {addr.url} has a damaged meta part: run `itsqa index "
                            f"--store {addr.url}`") from exc
