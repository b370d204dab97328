"""Bringing the index up to date with the corpus, re-embedding only what changed. Prints nothing:
progress and notes go through the callbacks the caller passes.

A build runs in four steps, each a function below: read and cut the sources that changed
(`_read_sources`), frame every passage and sentence as the model and BM25 read it
(`_prepare_inputs`), embed what no earlier build embedded (`_embed`), and write a new generation
(`store.write_generation`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import expansion, lexical, npy_parts, store
from .changes import CHUNKING_CHANGED, Plan, meta_key, plan
from .chunking import chunk_text, furniture_to_skip, sentence_spans
from .config import Settings
from .corpus import SUPPORTED, TEXT_FORMATS, Document, read_document, skip_reason
from .dense import kept_graph_rows, needs_hnsw
from .embedding import Encoder, encode_each_with_tokens, export_works, load_encoder
from .errors import BadIndexError, CorpusError, UsageError
from .furniture import MARKUP, StatedSpans
from .inputs import (
    context_fitter,
    context_line,
    embed_hash,
    embed_text,
    lexical_text,
    source_label,
    with_context,
)
from .journal import Journal
from .model import ModelSpec, model_spec, token_counter, wordpiece_df
from .similar import similar_passages
from .tokens import SUBVECTORS, TRAIN_TOKENS, Codebook, can_train

Note = Callable[[str], None]
# progress(what, total) returns tick(done): called as work advances (see cli_common.progress)
ProgressFactory = Callable[[str, int], Callable[[int], None]]
BATCH = 32  # texts handed to the model at a time (a run holds RUN_CHARS characters at most)
BLOCK_ROWS = 8_192  # vectors or passages' token codes written to the index at a time
TERM_KEY = "term\0"  # a corpus word's vector in the journal, beside texts' keyed vectors


@dataclass(frozen=True)
class BuildReport:
    """What a build did. `embedded` passages went through the model; `reused` kept their vectors."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    embedded: int = 0
    reused: int = 0
    total: int = 0
    seconds: float = 0.0
    rebuilt: bool = False
    reason: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.rebuilt)

    def as_json(self) -> dict[str, Any]:
        return {
            "sources": {"added": list(self.added), "changed": list(self.changed),
                        "removed": list(self.removed), "unchanged": list(self.unchanged)},
            "chunks": {"embedded": self.embedded, "reused": self.reused, "total": self.total},
            "seconds": round(self.seconds, 3),
            "rebuilt": self.rebuilt,
            "warnings": list(self.warnings),
        }


def check_paths(settings: Settings) -> None:
    """The index may sit inside the corpus (it is then skipped), but not be the corpus itself or
    hold it: a rebuild would remove the sources."""
    corpus, index = settings.corpus_dir.resolve(), settings.index_dir.resolve()
    if corpus == index or corpus.is_relative_to(index):
        raise UsageError(f"the index folder {settings.index_dir} would hold the corpus "
                         f"{settings.corpus_dir}: choose a separate --index folder")


def update_index(settings: Settings, *, rebuild: bool = False,
                 progress: ProgressFactory | None = None, note: Note | None = None) -> BuildReport:
    """Bring the index in `settings.index_dir` up to date with `settings.corpus_dir`.

    Args:
        settings: where the corpus and index are, and how to cut and embed.
        rebuild: re-read and re-embed every source, even if unchanged.
        progress: called with what is being done ("reading sources", "embedding") and how
            much there is to do; returns a callback taking how many more are done.
        note: receives one-line notes (an index rebuilt because it is damaged, the model
            exported).

    Returns:
        What changed and how much was embedded.

    Raises:
        CorpusError: the corpus is missing, or has no readable source.
        UsageError: the index folder would hold the corpus.
        ItsqaError: the index cannot be written (the previous one stays in force).
        IndexLockedError: another build held the lock too long.
        StoreError: with a Qdrant store, the store cannot be reached or refused the new index
            (the folder is up to date; the store still answers from the previous one).
    """
    t0 = time.perf_counter()
    spec = model_spec(settings)
    check_paths(settings)
    with store.build_lock(settings.index_dir):
        store.remove_leftovers(settings.index_dir)
        manifest, gen = _verified_current(settings, note)
        p = plan(settings, manifest, spec.key)
        if rebuild and not p.full_rebuild:
            p.rebuild_all("--rebuild")
        if not p.files:
            raise CorpusError(
                f"no sources in {settings.corpus_dir}: add {SUPPORTED} files")
        if p.up_to_date and manifest is not None and gen is not None:
            report = _keep(settings, spec, p, manifest, gen, note, t0)
        else:
            report = _write(settings, spec, p, manifest, gen, progress, note, t0)
        if settings.store:
            publish_folder(settings, note)
        return report


def publish_folder(settings: Settings, note: Note | None = None) -> bool:
    """Publish the index folder's current generation to the Qdrant store in `settings.store`
    when the store answers from another one; whether it did.

    Raises:
        StoreError: the store cannot be reached or refused a write.
    """
    from .qdrant_store import publish
    from .source_text import indexed_text

    loaded = store.load(settings.index_dir, model_key=model_spec(settings).key)
    if loaded is None:
        return False
    ix = loaded
    return publish(settings.store, ix,
                   lambda: {n: indexed_text(ix, settings.corpus_dir, n) for n in ix.sources},
                   note or (lambda _m: None))


def _verified_current(settings: Settings, note: Note | None
                      ) -> tuple[dict[str, Any] | None, Path | None]:
    """The current generation's manifest and folder, checksums verified; (None, None) when
    there is none or it is damaged (it is then rebuilt)."""
    try:
        manifest = store.read_manifest(settings.index_dir)
        gen = store.current_generation(settings.index_dir)
        # An index of another format is rebuilt whole (the plan says why): no need to check it.
        if (manifest is not None and gen is not None
                and manifest.get("format_version") == store.FORMAT_VERSION):
            store.verify(gen, manifest)
        return manifest, gen
    except BadIndexError as exc:
        if note:
            note(f"the index cannot be used as it is ({exc}): rebuilding it")
        return None, None


def _keep(settings: Settings, spec: ModelSpec, p: Plan, manifest: dict[str, Any], gen: Path,
          note: Note | None, t0: float) -> BuildReport:
    """Nothing to embed: remember touched files' new mtimes, and make sure the model's ONNX
    export is there and loads."""
    if p.touched_only:
        store.remember_mtimes(gen, manifest, {n: p.files[n].mtime_ns for n in p.touched_only})
    if not export_works(settings.index_dir, spec):  # missing or damaged: export it again
        load_encoder(spec, settings.index_dir, export=True, note=note)
    return BuildReport(unchanged=tuple(n for n in p.unchanged if n not in p.skipped_before),
                       total=int(manifest.get("n_chunks", 0)),
                       seconds=time.perf_counter() - t0, warnings=tuple(p.warnings))


@dataclass
class _Previous:
    """What the build can reuse of the index before it: vectors are keyed by the hash of the
    model and the exact text it read, so they carry over a change of chunking settings or rules."""

    sources: dict[str, Any] = field(default_factory=dict)
    chunks_by_source: dict[str, list[store.ChunkRecord]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    terms: dict[str, Any] = field(default_factory=dict)  # word -> vector
    # Vectors and token vectors stay on disk, read a block at a time when the build writes.
    vector_rows: dict[str, int] = field(default_factory=dict)  # embed hash -> row of vectors_file
    vectors_file: Path | None = None
    # passage embed hash -> its rows of tokens_file: codes under `codebook`, else float16
    token_spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    tokens_file: Path | None = None
    codebook: Codebook | None = None
    # Its passages' word-piece counts, where the rules that cut those passages are still in force.
    wordpiece_df: Any = None
    # Its HNSW graph, and the key of the vector each node holds (None: removed), if it has one.
    graph_file: Path | None = None
    graph_keys: list[str | None] = field(default_factory=list)


def _previous(settings: Settings, p: Plan, manifest: dict[str, Any] | None,
              gen: Path | None) -> _Previous:
    """The reusable parts of the current index; nothing for a forced, model or format rebuild."""
    prev = _Previous()
    if manifest is None or gen is None or p.full_rebuild not in ("", CHUNKING_CHANGED):
        return prev
    # update_index verified this generation's checksums a moment ago, under the same lock
    loaded = store.load(settings.index_dir, checksums=False)
    if loaded is None:
        return prev
    prev.sources, prev.texts = loaded.sources, loaded.texts
    for c in loaded.chunks:
        prev.chunks_by_source.setdefault(c.source, []).append(c)
    keys = loaded.vector_hashes
    prev.vector_rows = {h: row for row, h in enumerate(keys)}
    if (loaded.path / store.VECTORS).is_file():
        nodes = loaded.dense.graph_rows
        prev.graph_file = loaded.path / store.VECTORS
        prev.graph_keys = (list(keys) if nodes is None
                           else [keys[int(r)] if r >= 0 else None for r in nodes])
    prev.vectors_file = loaded.path / store.EMBEDDINGS
    terms = loaded.terms()
    prev.terms = dict(zip(terms.words, terms.vectors, strict=True))
    t = loaded.tokens
    prev.codebook = t.codebook
    prev.token_spans = {h: (int(t.offsets[row]), int(t.offsets[row + 1]))
                        for row, h in enumerate(loaded.chunks.embed_hashes())}
    prev.tokens_file = loaded.path / (store.TOKEN_CODES if t.codebook else store.TOKEN_VECTORS)
    if not p.full_rebuild:
        import numpy as np

        prev.wordpiece_df = np.array(loaded.wordpiece_df)
    return prev


def _wordpiece_counts(spec: ModelSpec, texts: list[str], prev: _Previous) -> Any:
    """`wordpiece_df` of the passages `texts`, tokenizing only what changed where it can: the
    previous index's counts, less its passages that are gone, plus the new ones. The same
    numbers as counting afresh, for a fraction of the tokenizing on an update."""
    if prev.wordpiece_df is None:
        return wordpiece_df(spec, texts)
    old = Counter(c.text for chunks in prev.chunks_by_source.values() for c in chunks)
    new = Counter(texts)
    gone = wordpiece_df(spec, list((old - new).elements()))
    added = wordpiece_df(spec, list((new - old).elements()))
    if prev.wordpiece_df.shape != added.shape:
        return wordpiece_df(spec, texts)
    counts = prev.wordpiece_df - gone + added
    return counts if counts.min() >= 0 else wordpiece_df(spec, texts)


def _kept_graph(keys: list[str], prev: _Previous) -> tuple[Path, Any] | None:
    """The previous HNSW graph and the new row of each of its nodes, where this generation needs
    a graph and keeping the previous one is worth it (dense.kept_graph_rows)."""
    if prev.graph_file is None or not needs_hnsw(len(keys)):
        return None
    rows = kept_graph_rows(prev.graph_keys, keys)
    return None if rows is None else (prev.graph_file, rows)


@dataclass
class _Read:
    """The sources after reading and cutting: passages (with no vector keys yet), source
    tables, and what was skipped."""

    records: list[store.ChunkRecord] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # skipped by this build, and why
    skipped_kept: dict[str, Any] = field(default_factory=dict)  # skipped before, unchanged since
    warnings: list[str] = field(default_factory=list)


def _source_entry(doc: Document, n_chunks: int) -> dict[str, Any]:
    return {
        "name": doc.name, "format": doc.format, "sha256": doc.sha256, "size": doc.size,
        "mtime_ns": doc.mtime_ns, "title": doc.meta.title, "publisher": doc.meta.publisher,
        "date": doc.meta.date, "url": doc.meta.url, "note": doc.meta.note,
        "encoding": doc.encoding, "chunks": n_chunks, "text_chars": len(doc.text),
        "furniture": [[s.start, s.end, s.rule] for s in doc.furniture],
        "furniture_chars": sum(s.end - s.start for s in doc.furniture),
        "pages": [list(pg) for pg in doc.pages],
        "code": [list(c) for c in doc.structure.code],
    }


def _read_sources(settings: Settings, p: Plan, manifest: dict[str, Any] | None,
                  prev: _Previous, count: Callable[[str], int],
                  progress: ProgressFactory | None = None) -> _Read:
    """Keep the passages of unchanged sources; read and cut the added and changed ones (a
    source whose sources.toml entry changed is one)."""
    out = _Read(warnings=list(p.warnings))
    whole = manifest is None or bool(p.full_rebuild)
    to_read = sorted(p.files) if whole else sorted(p.added + p.changed)
    out.skipped_kept = {n: manifest["skipped"][n] for n in p.skipped_before if manifest}
    for name in sorted(p.files):
        if name not in to_read and name in prev.sources:
            out.sources[name] = prev.sources[name]
            if name in prev.texts:
                out.texts[name] = prev.texts[name]
            out.records.extend(prev.chunks_by_source.get(name, []))
    tick = progress("reading sources", len(to_read)) if progress and to_read else None
    for name in to_read:
        if tick:
            tick(1)
        doc, w = read_document(p.files[name], p.meta.get(name))
        out.warnings.extend(w)
        if doc is None:
            out.skipped[name] = skip_reason(name, w)
            continue
        chunks = chunk_text(doc.text, settings.chunking,
                            furniture_to_skip(doc.furniture, settings.chunking), count,
                            breaks=[start for start, _ in doc.pages], structure=doc.structure)
        out.records.extend(store.ChunkRecord(doc.name, c.ordinal, c.start, c.end, c.text,
                                             c.heading, "", doc.page_of(c.start)) for c in chunks)
        out.sources[name] = _source_entry(doc, len(chunks))
        if doc.format not in TEXT_FORMATS.values():  # a text file is its own text
            out.texts[name] = doc.text
    if not out.records:
        raise CorpusError(f"no readable text in {settings.corpus_dir}: every source was skipped "
                          f"({'; '.join(out.warnings[:3])})")
    out.records.sort(key=lambda c: (c.source, c.ordinal))
    return out


@dataclass
class _Inputs:
    """Every text the model reads (passages, then sentences) with its key, and what BM25 reads."""

    records: list[store.ChunkRecord]  # with their embed hashes
    texts: list[str]
    hashes: list[str]
    sentences: list[store.SentenceRow]
    lexical: list[str]


def _prepare_inputs(settings: Settings, spec: ModelSpec, read: _Read,
                    count: Callable[[str], int]) -> _Inputs:
    """Frame each passage (and each of its sentences, for a vector of its own) with its context
    line, and key each text by the model and the text as it reads it."""
    ctx = settings.chunking
    titles = {n: source_label(e, ctx.context_publisher) for n, e in read.sources.items()}
    fit = context_fitter(count, ctx.context_tokens)
    lines = [context_line(titles[c.source], c.heading, c.text, fit) if ctx.passage_context
             else "" for c in read.records]
    texts = [with_context(line, c.text) for line, c in zip(lines, read.records, strict=True)]
    lexical_inputs = [lexical_text(line, c.text, ctx.bm25_context_repeats)
                      for line, c in zip(lines, read.records, strict=True)]
    hashes = [embed_hash(spec, t) for t in texts]
    records = [replace(c, embed_hash=h) for c, h in zip(read.records, hashes, strict=True)]
    sentences: list[store.SentenceRow] = []
    if ctx.sentence_vectors:
        stated = {name: (StatedSpans(e.get("code", [])),
                         StatedSpans(sp for sp in e.get("furniture", []) if sp[2] == MARKUP))
                  for name, e in read.sources.items()}
        for row, rec in enumerate(records):
            code, markup = (x.within(rec.start, rec.end) for x in stated[rec.source])
            for s, e in sentence_spans(rec.text, code=code, markup=markup):
                et = embed_text(titles[rec.source], rec.heading, rec.text[s:e],
                                ctx.sentence_context, fit)
                h = embed_hash(spec, et)
                sentences.append(store.SentenceRow(row, rec.start + s, rec.start + e, h))
                texts.append(et)
                hashes.append(h)
    return _Inputs(records, texts, hashes, sentences, lexical_inputs)


@dataclass
class _Embedded:
    vectors: store.StreamedRows  # float32, one per input text
    passage_vectors: Any  # float32, one per passage (the first rows of `vectors`)
    tokens: store.TokenData  # every passage's token vectors, in order, streamed
    terms: store.Terms
    embedded: int  # passages that went through the model


class _Vectors:
    """The vector of each text key: the previous index's, else the journal's (what this build
    or an interrupted one embedded), both read back from disk a block at a time."""

    def __init__(self, prev: _Previous, journal: Journal) -> None:
        self.prev, self.journal = prev, journal

    def __contains__(self, key: str) -> bool:
        return key in self.prev.vector_rows or self.journal.has_vector(key)

    def matrix(self, keys: list[str], dim: int) -> Any:
        """The vectors of `keys`, in order, as one float32 matrix."""
        import numpy as np

        out = np.zeros((len(keys), dim), dtype=np.float32)
        rows = self.prev.vector_rows
        earlier = [i for i, k in enumerate(keys) if k in rows]
        later = [i for i, k in enumerate(keys) if k not in rows]
        if earlier and self.prev.vectors_file is not None:
            out[earlier] = npy_parts.rows(self.prev.vectors_file, [rows[keys[i]] for i in earlier])
        if later:
            out[later] = self.journal.vectors([keys[i] for i in later], dim)
        return out

    def rows(self, keys: list[str], dim: int) -> store.StreamedRows:
        """The vectors of `keys`, in order, to be written a block at a time."""
        import numpy as np

        def blocks() -> Iterator[Any]:
            for start in range(0, len(keys), BLOCK_ROWS):
                yield self.matrix(keys[start:start + BLOCK_ROWS], dim)

        return store.StreamedRows((len(keys), dim), np.float32, blocks)


def _encode_each(book: Codebook, batch: dict[str, Any]) -> dict[str, Any]:
    """Each passage's token codes (key -> vectors in, key -> codes out), in one call to the
    codebook."""
    import numpy as np

    if not batch:
        return {}
    codes = book.encode(np.concatenate([np.asarray(v, np.float32) for v in batch.values()]))
    ends = np.cumsum([len(v) for v in batch.values()])
    return dict(zip(batch, np.split(codes, ends[:-1]), strict=True))


class _Tokens:
    """Passages' token vectors as they are embedded: product-quantised once a codebook is
    learnt (from the first TRAIN_TOKENS vectors, or the previous index's), float16 until then,
    and for good where the corpus is too small to learn one. New codes are kept by the journal,
    the previous index's codes stay in its file; `known` holds float16 vectors (a tiny corpus's,
    or a previous tiny index's, which a codebook learnt now will code)."""

    def __init__(self, prev: _Previous, codebook: Codebook | None, journal: Journal) -> None:
        self.codebook, self.journal = codebook, journal
        self.known: dict[str, Any] = {}
        self.raw: dict[str, Any] = {}  # float16, waiting for a codebook
        self.earlier: dict[str, tuple[int, int]] = {}  # the previous index's codes, by passage
        self.earlier_file = prev.tokens_file
        if prev.codebook is None and prev.tokens_file is not None:  # float16: a tiny index
            keys = list(prev.token_spans)
            self.known = dict(zip(keys, npy_parts.spans(prev.tokens_file, list(
                prev.token_spans.values())), strict=True))
        else:
            self.earlier = prev.token_spans

    def has(self, key: str) -> bool:
        return key in self.known or key in self.earlier or self.journal.has_tokens(key)

    def add(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Take passages' token vectors (key -> vectors); returns what is now coded, for the
        journal."""
        import numpy as np

        if self.codebook is not None:
            return _encode_each(self.codebook, batch)
        self.raw.update((k, np.asarray(v, dtype=np.float16)) for k, v in batch.items())
        if sum(len(v) for v in self.raw.values()) < TRAIN_TOKENS:
            return {}
        return self.learn()

    def learn(self) -> dict[str, Any]:
        """Learn the codebook from what is held, if there is none and enough is held, and code
        every passage with it; returns the newly coded passages, for the journal."""
        import numpy as np

        held = [*self.raw.values(), *(v for v in self.known.values() if v.dtype != np.uint8)]
        if self.codebook is None and can_train(sum(len(v) for v in held)):
            self.codebook = Codebook.train(np.concatenate(held))
            self.journal.use_codebook(self.codebook)
        if self.codebook is None:  # a tiny corpus keeps float16
            self.known.update(self.raw)
            self.raw = {}
            return {}
        uncoded = [*self.raw.items(), *self.known.items()]
        coded = _encode_each(self.codebook, {k: v for k, v in uncoded if v.dtype != np.uint8})
        for k in coded:
            self.known.pop(k, None)
        self.raw = {}
        return coded

    def _count(self, key: str) -> int:
        if key in self.known:
            return len(self.known[key])
        if key in self.earlier:
            a, b = self.earlier[key]
            return b - a
        return self.journal.token_count(key)

    def _parts(self, keys: list[str]) -> list[Any]:
        earlier = [k for k in keys if k not in self.known and k in self.earlier]
        later = [k for k in keys if k not in self.known and k not in self.earlier]
        found = dict(zip(later, self.journal.token_rows(later), strict=True))
        if earlier and self.earlier_file is not None:
            found.update(zip(earlier, npy_parts.spans(self.earlier_file,
                                                      [self.earlier[k] for k in earlier]),
                             strict=True))
        return [self.known[k] if k in self.known else found[k] for k in keys]

    def data(self, keys: list[str], dim: int) -> store.TokenData:
        """The stored form of every passage's token vectors, in the passages' order."""
        import numpy as np

        self.journal.add({}, self.learn())
        self.journal.flush()
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([self._count(k) for k in keys])
        width = SUBVECTORS if self.codebook is not None else dim
        kind = np.uint8 if self.codebook is not None else np.float16

        def blocks() -> Iterator[Any]:
            for start in range(0, len(keys), BLOCK_ROWS):
                part = self._parts(keys[start:start + BLOCK_ROWS])
                yield np.concatenate(part) if part else np.zeros((0, width), kind)

        rows = store.StreamedRows((int(offsets[-1]), width), kind, blocks)
        return store.TokenData(rows, offsets, self.codebook)


def _batches_of_like_length(texts: list[str]) -> list[list[int]]:
    """Batches of BATCH texts of like length (little padding), the texts taken in a seeded
    shuffle, 8 batches at a time, so that the first passages embedded (those the token codebook
    learns from) are a fair sample of the corpus."""
    import random

    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    out: list[list[int]] = []
    for start in range(0, len(order), 8 * BATCH):
        window = sorted(order[start:start + 8 * BATCH], key=lambda i: len(texts[i]))
        out.extend(window[i:i + BATCH] for i in range(0, len(window), BATCH))
    return out


def _embed_passages(enc: Encoder, texts: list[str], keys: list[str], tokens: _Tokens,
                    journal: Journal, tick: Callable[[int], None] | None) -> None:
    """Each passage's vector and token vectors from one model run per batch, journalled."""
    for idx in _batches_of_like_length(texts):
        vecs, toks = encode_each_with_tokens(enc, [texts[i] for i in idx])
        batch = {keys[i]: v for i, v in zip(idx, vecs, strict=True)}
        coded = tokens.add({keys[i]: tv.vectors for i, tv in zip(idx, toks, strict=True)})
        journal.add(batch, coded)
        if tick:
            tick(len(idx))


def _embed_texts(enc: Encoder, texts: list[str], keys: list[str], journal: Journal,
                 tick: Callable[[int], None] | None, batch_size: int = BATCH) -> None:
    """Vectors for `texts` (sentences, words), journalled as they come."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # batches of like lengths
    texts, keys = [texts[i] for i in order], [keys[i] for i in order]
    for start in range(0, len(texts), batch_size * 8):
        part = slice(start, start + batch_size * 8)
        batch = dict(zip(keys[part], enc.encode(texts[part], batch_size=batch_size), strict=True))
        journal.add(batch)
        if tick:
            tick(len(batch))


def _embed(settings: Settings, spec: ModelSpec, inputs: _Inputs, prev: _Previous,
           progress: ProgressFactory | None, note: Note | None, dim: int,
           journal: Journal) -> _Embedded:
    """Vectors for every input, token vectors for every passage and vectors for every corpus
    word, each computed only where neither an earlier index nor the journal of an interrupted
    build has it."""
    import numpy as np

    codebook = journal.load()
    book = prev.codebook or codebook
    if book is not codebook and (codebook is None or not codebook.same_as(book)):
        journal.drop_tokens()  # journalled codes are only read with the codebook they were made by
    if book is not None:
        journal.use_codebook(book)
    known = _Vectors(prev, journal)
    tokens = _Tokens(prev, book, journal)
    n = len(inputs.records)
    passages = sorted({inputs.hashes[i]: i for i in range(n)  # a copied passage: embedded once
                       if inputs.hashes[i] not in known or not tokens.has(inputs.hashes[i])
                       }.values())
    sentences = sorted({inputs.hashes[i]: i for i in range(n, len(inputs.hashes))
                        if inputs.hashes[i] not in known}.values())
    words, stems = expansion.corpus_terms(inputs.texts[:n], frozenset(lexical.default_stopwords()))
    new_words = [w for w in words if w not in prev.terms and TERM_KEY + w not in known]
    total = len(passages) + len(sentences) + len(new_words)
    tick = progress("embedding", total) if progress and total else None
    encoders: list[Encoder] = []

    def enc() -> Encoder:  # loaded only if something needs embedding
        if not encoders:
            encoders.append(load_encoder(spec, settings.index_dir, export=True, note=note,
                                         prepack=True))
        return encoders[0]

    if passages:
        _embed_passages(enc(), [inputs.texts[i] for i in passages],
                        [inputs.hashes[i] for i in passages], tokens, journal, tick)
    if sentences:
        _embed_texts(enc(), [inputs.texts[i] for i in sentences],
                     [inputs.hashes[i] for i in sentences], journal, tick)
    if new_words:
        _embed_texts(enc(), new_words, [TERM_KEY + w for w in new_words], journal, tick,
                     batch_size=128)
    journal.flush()
    dim = journal.dimension() or dim
    term_vectors = np.zeros((len(words), dim), dtype=np.float16)
    later = [i for i, w in enumerate(words) if w not in prev.terms]
    for i, w in enumerate(words):
        if w in prev.terms:
            term_vectors[i] = prev.terms[w]
    if later:
        term_vectors[later] = journal.vectors([TERM_KEY + words[i] for i in later], dim)
    return _Embedded(known.rows(inputs.hashes, dim), known.matrix(inputs.hashes[:n], dim),
                     tokens.data([c.embed_hash for c in inputs.records], dim),
                     store.Terms(words, stems, term_vectors), len(passages))


def _manifest(settings: Settings, spec: ModelSpec, p: Plan, read: _Read, inputs: _Inputs,
              dim: int) -> dict[str, Any]:
    manifest = store.manifest_base(spec.manifest_entry(dim), settings.chunking.as_dict())
    manifest.update({
        "corpus": str(settings.corpus_dir.resolve()),
        "metadata_sha": p.metadata_sha,
        "n_chunks": len(inputs.records),
        "n_units": len(inputs.sentences),
        "index_type": "hnsw" if needs_hnsw(len(inputs.hashes)) else "exact",
        "sources": {n: {"sha256": s["sha256"], "size": s["size"], "mtime_ns": s["mtime_ns"],
                        "meta": meta_key(p.meta.get(n))}
                    for n, s in read.sources.items()},
        "skipped": {**read.skipped_kept, **{n: {"size": p.files[n].size,
                                                 "mtime_ns": p.files[n].mtime_ns,
                                                 "meta": meta_key(p.meta.get(n)), "reason": reason}
                                             for n, reason in read.skipped.items()
                                             if n not in read.skipped_kept}},
    })
    return manifest


def _write(settings: Settings, spec: ModelSpec, p: Plan, manifest: dict[str, Any] | None,
           gen: Path | None, progress: ProgressFactory | None, note: Note | None,
           t0: float) -> BuildReport:
    prev = _previous(settings, p, manifest, gen)
    count = token_counter(spec)
    read = _read_sources(settings, p, manifest, prev, count, progress)
    inputs = _prepare_inputs(settings, spec, read, count)
    dim = int(manifest["model"]["dimension"]) if (manifest and prev.vector_rows) else 0
    journal = Journal(settings.index_dir, spec.key)
    done = _embed(settings, spec, inputs, prev, progress, note, dim, journal)
    inputs.texts.clear()  # what the model read: not needed to write, and large in a large folder
    dim = done.vectors.shape[1]
    rows, sims = similar_passages(done.passage_vectors, [c.source for c in inputs.records])
    store.write_generation(settings.index_dir, store.GenerationData(
        manifest=_manifest(settings, spec, p, read, inputs, dim), chunks=inputs.records,
        sentences=inputs.sentences, sources=read.sources, texts=read.texts, vectors=done.vectors,
        bm25=lexical.build_tables(inputs.lexical), terms=done.terms, tokens=done.tokens,
        wordpiece_df=_wordpiece_counts(spec, [c.text for c in inputs.records], prev),
        similar_rows=rows, similar_sims=sims, kept_graph=_kept_graph(inputs.hashes, prev)))
    journal.clear()
    return _report(p, manifest, read, len(inputs.records), done.embedded, t0)


def _report(p: Plan, manifest: dict[str, Any] | None, read: _Read, total: int, embedded: int,
            t0: float) -> BuildReport:
    old_names = set(manifest.get("sources", {})) if manifest else set()
    indexed = set(read.sources)
    gone = set(p.removed) | (old_names & (set(read.skipped) | set(read.skipped_kept)))
    return BuildReport(
        added=tuple(n for n in p.added if n in indexed and n not in old_names),
        changed=tuple(n for n in (p.changed + [a for a in p.added if a in old_names])
                      if n in indexed),
        removed=tuple(sorted(n for n in gone if n in old_names)),
        unchanged=tuple(n for n in p.unchanged if n in indexed),
        embedded=embedded, reused=total - embedded, total=total,
        seconds=time.perf_counter() - t0, rebuilt=bool(p.full_rebuild),
        reason=p.full_rebuild, warnings=tuple(read.warnings),
    )
