"""Bringing the index up to date with the corpus, re-embedding only what changed. Prints nothing:
progress and notes go through the callbacks the caller passes."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import lexical, store
from .chunking import HEADING_JOIN, chunk_text, cited_path, sentence_spans
from .config import ChunkSettings, Settings
from .corpus import Document, SourceFile, SourceMeta, load_metadata, read_document, scan, skip_reason
from .embedding import (
    ModelSpec,
    export_works,
    load_encoder,
    model_spec,
    model_text,
    token_counter,
    wordpiece_df,
)
from .errors import BadIndexError, CorpusError, ItsqaError, UsageError
from .furniture import FRONT_MATTER, STRANDED, Span

Note = Callable[[str], None]
ProgressFactory = Callable[[int], Callable[[int], None]]


@dataclass(frozen=True)
class BuildReport:
    """What a build did. `embedded` chunks went through the model; `reused` kept their vectors."""

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


@dataclass
class Plan:
    """How the corpus differs from the index, worked out from sizes and mtimes first and
    content hashes only where those differ."""

    files: dict[str, SourceFile]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    touched_only: list[str] = field(default_factory=list)  # same bytes, new mtime
    full_rebuild: str = ""
    metadata_sha: str = ""
    meta: dict[str, SourceMeta] = field(default_factory=dict)  # sources.toml, as it is now
    skipped_before: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not (self.added or self.changed or self.removed or self.full_rebuild)


def _metadata_sha(corpus_dir: Path) -> str:
    p = corpus_dir / "sources.toml"
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""


def meta_key(meta: SourceMeta | None) -> str:
    """A fingerprint of what sources.toml says about one source ("" when it says nothing), so
    that editing one entry re-reads that source alone."""
    if meta is None:
        return ""
    return hashlib.sha256(json.dumps(meta.__dict__, sort_keys=True).encode()).hexdigest()[:16]


def model_info(spec: ModelSpec, dimension: int) -> dict[str, Any]:
    return {"name": spec.name, "key": spec.key, "dimension": dimension,
            "max_seq_length": spec.max_seq_length}


CHUNKING_CHANGED = "chunking settings changed"


def plan(settings: Settings, manifest: dict[str, Any] | None, spec: ModelSpec) -> Plan:
    """Compare the corpus with the index manifest (no model, no embedding)."""
    found = scan(settings.corpus_dir, exclude=settings.index_dir)
    files = {f.name: f for f in found.files}
    p = Plan(files=files, warnings=list(found.warnings))
    p.metadata_sha = _metadata_sha(settings.corpus_dir)
    p.meta, meta_warnings = load_metadata(settings.corpus_dir)
    p.warnings += meta_warnings
    if manifest is None:
        p.full_rebuild = "no index yet"
        p.added = sorted(files)
        return p
    if manifest.get("format_version") != store.FORMAT_VERSION:
        p.full_rebuild = "index format changed"
    elif manifest.get("model", {}).get("key") != spec.key:
        p.full_rebuild = "model changed"
    elif manifest.get("chunking") != settings.chunking.as_dict():
        p.full_rebuild = CHUNKING_CHANGED
    # Files skipped last time (binary, empty) count as known, so they are not retried on every ask.
    known: dict[str, dict[str, Any]] = {**manifest.get("skipped", {}), **manifest.get("sources", {})}
    metadata_changed = manifest.get("metadata_sha") != p.metadata_sha
    for name, f in sorted(files.items()):
        old = known.get(name)
        if old is None:
            p.added.append(name)
            continue
        # Its own entry in sources.toml; an index from before entries were fingerprinted
        # knows only whether the whole file changed.
        same_meta = (old["meta"] == meta_key(p.meta.get(name)) if "meta" in old
                     else not metadata_changed)
        if old.get("size") == f.size and old.get("mtime_ns") == f.mtime_ns and same_meta:
            p.unchanged.append(name)
        else:
            try:
                digest = hashlib.sha256(f.path.read_bytes()).hexdigest()
            except OSError:
                digest = ""
            if digest == old.get("sha256") and same_meta:
                p.unchanged.append(name)
                p.touched_only.append(name)
            else:
                p.changed.append(name)
    p.removed = sorted(set(known) - set(files))
    p.skipped_before = {n for n in manifest.get("skipped", {}) if n in p.unchanged}
    if p.full_rebuild:
        p.added, p.changed, p.unchanged = sorted(files), [], []
    return p


def furniture_to_drop(spans: Sequence[Span], cfg: ChunkSettings) -> list[Span]:
    """The furniture spans the chunker skips, as the settings ask (front matter always: it is
    metadata, not page furniture the settings can keep for an ablation)."""
    return [sp for sp in spans if sp.rule == FRONT_MATTER or (
        cfg.drop_furniture and (cfg.drop_stranded or sp.rule != STRANDED))]


def source_label(entry: dict[str, Any], with_publisher: bool) -> str:
    """The source as context for the model and BM25: its title, and its publisher if wanted."""
    title, publisher = entry.get("title", ""), entry.get("publisher", "")
    return f"{title} ({publisher})" if with_publisher and publisher else title


def context_line(doc_title: str, heading: str, text: str,
                 fit: Callable[[str], str] | None = None) -> str:
    """The line that places a passage: the source title and the section headings above it, cut
    by `fit` to the tokens the chunker left for it, so the passage is never truncated."""
    line = doc_title
    path = cited_path(heading, doc_title)
    if path and text.startswith(path[-1]):
        path.pop()  # the passage opens with its own heading: only the ones above it are context
    if path:
        line = f"{doc_title} — {HEADING_JOIN.join(path)}"
    return fit(line) if fit is not None else line


def embed_text(doc_title: str, heading: str, text: str, context: bool = True,
               fit: Callable[[str], str] | None = None) -> str:
    """What the model reads for a passage: its context line (title, headings), then the text."""
    return with_context(context_line(doc_title, heading, text, fit) if context else "", text)


def with_context(line: str, text: str) -> str:
    """The context line (if any) above the text."""
    return f"{line}\n{text}" if line else text


def lexical_text(line: str, text: str, repeats: int) -> str:
    """What BM25 indexes for a passage: its context line `repeats` times, then the text. A title
    word counts more than a word of the body (BM25F's field weight, by repetition)."""
    return with_context("\n".join([line] * repeats) if line else "", text)


def context_fitter(count: Callable[[str], int], budget: int) -> Callable[[str], str]:
    """Shorten a context line, word by word from the end, to at most `budget` tokens."""
    cache: dict[str, str] = {}

    def fit(line: str) -> str:
        if line not in cache:
            words = line.split()
            while words and count(" ".join(words)) > budget:
                words.pop()
            cache[line] = " ".join(words)
        return cache[line]

    return fit


def _embed_hash(spec: ModelSpec, text: str) -> str:
    """The key of a vector: the model and the text exactly as the model reads it (normalised)."""
    return hashlib.sha256(f"{spec.key}\0{model_text([text])[0]}".encode()).hexdigest()[:32]


def _source_entry(doc: Document, n_chunks: int) -> dict[str, Any]:
    return {
        "name": doc.name, "format": doc.format, "sha256": doc.sha256, "size": doc.size,
        "mtime_ns": doc.mtime_ns, "title": doc.meta.title, "publisher": doc.meta.publisher,
        "date": doc.meta.date, "url": doc.meta.url, "note": doc.meta.note,
        "encoding": doc.encoding, "chunks": n_chunks, "text_chars": len(doc.text),
        "furniture": [[s.start, s.end, s.rule] for s in doc.furniture],
        "furniture_chars": sum(s.end - s.start for s in doc.furniture),
        "pages": [list(p) for p in doc.pages],
    }


def check_paths(settings: Settings) -> None:
    """The index may sit inside the corpus (it is then skipped), but not be the corpus itself or
    hold it: a rebuild would remove the sources."""
    corpus, index = settings.corpus_dir.resolve(), settings.index_dir.resolve()
    if corpus == index or corpus.is_relative_to(index):
        raise UsageError(f"the index folder {settings.index_dir} would hold the corpus "
                         f"{settings.corpus_dir}: choose a separate --index folder")


def update_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: ProgressFactory | None = None,
    note: Note | None = None,
) -> BuildReport:
    """Bring the index in `settings.index_dir` up to date with `settings.corpus_dir`."""
    t0 = time.perf_counter()
    spec = model_spec(settings)
    check_paths(settings)
    with store.build_lock(settings.index_dir):
        store.remove_leftovers(settings.index_dir)
        try:
            manifest = store.read_manifest(settings.index_dir)
            gen = store.current_generation(settings.index_dir)
            # An index of another format is rebuilt whole (the plan says why): no need to check it.
            if (manifest is not None and gen is not None
                    and manifest.get("format_version") == store.FORMAT_VERSION):
                store.verify(gen, manifest)
        except BadIndexError as exc:
            if note:
                note(f"the index cannot be used as it is ({exc}): rebuilding it")
            manifest, gen = None, None
        p = plan(settings, manifest, spec)
        if rebuild and not p.full_rebuild:
            p.full_rebuild = "--rebuild"
            p.added, p.changed, p.unchanged = sorted(p.files), [], []
        if not p.files:
            raise CorpusError(
                f"no sources in {settings.corpus_dir}: add .txt, .md, .html or .pdf files"
            )
        if p.up_to_date and manifest is not None and gen is not None:
            if p.touched_only:  # remember the new mtimes so the next check skips hashing
                for name in p.touched_only:
                    manifest["sources"][name]["mtime_ns"] = p.files[name].mtime_ns
                store.write_json_atomic(gen / store.MANIFEST, manifest)
            if not export_works(settings.index_dir, spec):  # missing or damaged: export it again
                load_encoder(spec, settings.index_dir, export=True, note=note)
            return BuildReport(unchanged=tuple(n for n in p.unchanged if n not in p.skipped_before),
                               total=int(manifest.get("n_chunks", 0)),
                               seconds=time.perf_counter() - t0, warnings=tuple(p.warnings))
        return _write(settings, spec, p, manifest, gen, progress, note, t0)


def _write_failure(index_dir: Path, exc: OSError) -> str:
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


def _write(settings: Settings, spec: ModelSpec, p: Plan, manifest: dict[str, Any] | None,
           gen: Path | None, progress: ProgressFactory | None, note: Note | None,
           t0: float) -> BuildReport:
    import numpy as np

    meta = p.meta
    warnings = list(p.warnings)
    count = token_counter(spec)
    old_sources: dict[str, Any] = {}
    old_chunks: list[store.ChunkRecord] = []
    old_texts: dict[str, str] = {}
    reuse: dict[str, np.ndarray] = {}
    old_terms: dict[str, np.ndarray] = {}
    old_tokens: dict[str, np.ndarray] = {}  # a passage's embed hash -> its token vectors
    # Vectors are keyed by the hash of the model and the exact text it read, so they carry over
    # a change of chunking settings or rules: only passages cut or framed differently are
    # embedded again. A forced, model or format rebuild starts from nothing.
    if manifest is not None and gen is not None and p.full_rebuild in ("", CHUNKING_CHANGED):
        # update_index verified this generation's checksums a moment ago, under the same lock
        loaded = store.load(settings.index_dir, checksums=False)
        if loaded is not None:
            old_sources, old_chunks, old_texts = loaded.sources, loaded.chunks, loaded.texts
            vectors = store.load_embeddings(loaded.path)
            reuse = dict(zip(loaded.vector_hashes, vectors, strict=True))
            old_words, _, old_vectors = store.load_terms(loaded.path)
            old_terms = dict(zip(old_words, old_vectors, strict=True))
            old_tokens = {c.embed_hash: np.array(loaded.passage_tokens(row))
                          for row, c in enumerate(loaded.chunks)}
    # Sources to (re)read: added and changed (a source whose sources.toml entry changed is).
    to_read = sorted(p.files) if (manifest is None or p.full_rebuild) else sorted(p.added + p.changed)
    kept = [n for n in sorted(p.files) if n not in to_read and n in old_sources]
    skipped_kept = {n: manifest["skipped"][n] for n in p.skipped_before if manifest}
    sources: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}
    records: list[store.ChunkRecord] = []
    skipped: dict[str, str] = {}  # sources skipped by this build, and why
    old_by_source: dict[str, list[store.ChunkRecord]] = {}
    for old_chunk in old_chunks:
        old_by_source.setdefault(old_chunk.source, []).append(old_chunk)
    for name in kept:
        sources[name] = old_sources[name]
        if name in old_texts:
            texts[name] = old_texts[name]
        records.extend(old_by_source.get(name, []))
    for name in to_read:
        doc, w = read_document(p.files[name], meta.get(name))
        warnings.extend(w)
        if doc is None:
            skipped[name] = skip_reason(name, w)
            continue
        chunks = chunk_text(doc.text, settings.chunking,
                            furniture_to_drop(doc.furniture, settings.chunking), count,
                            breaks=[start for start, _ in doc.pages])
        for c in chunks:
            records.append(store.ChunkRecord(doc.name, c.ordinal, c.start, c.end, c.text,
                                             c.heading, "", doc.page_of(c.start)))
        sources[name] = _source_entry(doc, len(chunks))
        if doc.format not in ("text", "markdown"):
            texts[name] = doc.text
    if not records:
        raise CorpusError(
            f"no readable text in {settings.corpus_dir}: every source was skipped "
            f"({'; '.join(warnings[:3])})"
        )
    records.sort(key=lambda c: (c.source, c.ordinal))
    ctx = settings.chunking
    titles = {n: source_label(e, ctx.context_publisher) for n, e in sources.items()}
    fit = context_fitter(count, ctx.context_tokens)
    lines = [context_line(titles[c.source], c.heading, c.text, fit) if ctx.passage_context
             else "" for c in records]
    inputs = [with_context(line, c.text) for line, c in zip(lines, records, strict=True)]
    lexical_inputs = [lexical_text(line, c.text, ctx.bm25_context_repeats)
                      for line, c in zip(lines, records, strict=True)]
    hashes = [_embed_hash(spec, t) for t in inputs]
    records = [replace(c, embed_hash=h) for c, h in zip(records, hashes, strict=True)]
    units: list[list[Any]] = []  # [passage row, start, end, embed hash]
    if settings.chunking.sentence_vectors:
        for row, rec in enumerate(records):
            for s, e in sentence_spans(rec.text):
                et = embed_text(titles[rec.source], rec.heading, rec.text[s:e],
                                ctx.sentence_context, fit)
                h = _embed_hash(spec, et)
                units.append([row, rec.start + s, rec.start + e, h])
                inputs.append(et)
                hashes.append(h)
    todo = [i for i, h in enumerate(hashes) if h not in reuse]
    dim = int(manifest["model"]["dimension"]) if (manifest and reuse) else 0
    encoders: list[Any] = []

    def encoder() -> Any:
        if not encoders:
            encoders.append(load_encoder(spec, settings.index_dir, export=True, note=note))
        return encoders[0]

    # Late interaction reads each passage piece by piece as its vector reads it: the context
    # line (title, publisher, headings), then the text; keyed, like the vectors, by that input.
    token_inputs = {c.embed_hash: inputs[row] for row, c in enumerate(records)}
    token_todo = sorted(h for h in token_inputs if h not in old_tokens)
    tick = progress(len(todo) + len(token_todo)) if progress and (todo or token_todo) else None
    vectors_new = None
    if todo:
        vectors_new = encoder().encode([inputs[i] for i in todo], progress=tick)
        dim = vectors_new.shape[1]
    for i in range(0, len(token_todo), 32):
        batch = token_todo[i : i + 32]
        for h, tv in zip(batch, encoder().tokens([token_inputs[h] for h in batch]), strict=True):
            old_tokens[h] = tv.vectors.astype(np.float16)
        if tick:
            tick(len(batch))
    # The corpus's words for query expansion, each embedded once (reused from the last build).
    terms, stems = lexical.expansion_terms(inputs[: len(records)],
                                           frozenset(lexical.default_stopwords()))
    new_terms = [w for w in terms if w not in old_terms]
    term_vectors = np.zeros((len(terms), dim), dtype=np.float16)
    fresh = (dict(zip(new_terms, encoder().encode(new_terms, batch_size=128), strict=True))
             if new_terms else {})
    for i, term in enumerate(terms):
        term_vectors[i] = fresh[term] if term in fresh else old_terms[term]
    vectors = np.zeros((len(hashes), dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        if h in reuse:
            vectors[i] = reuse[h]
    if vectors_new is not None:
        vectors[np.array(todo)] = vectors_new
    tmp = store.new_generation_dir(settings.index_dir)
    try:
        import faiss

        np.save(tmp / "embeddings.npy", vectors, allow_pickle=False)
        try:
            faiss.write_index(store.make_faiss_index(vectors), str(tmp / "vectors.faiss"))
        except RuntimeError as exc:  # FAISS reports a failed write this way
            raise OSError("FAISS could not write vectors.faiss") from exc
        (tmp / "chunks.json").write_text(
            json.dumps([c.__dict__ for c in records], ensure_ascii=False), encoding="utf-8")
        (tmp / "units.json").write_text(json.dumps(units), encoding="utf-8")
        (tmp / "sources.json").write_text(json.dumps(sources, ensure_ascii=False), encoding="utf-8")
        (tmp / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        lexical.build(lexical_inputs, tmp / "bm25")
        store.save_terms(tmp, terms, stems, term_vectors)
        store.save_tokens(tmp, [old_tokens[c.embed_hash] for c in records], dim)
        np.save(tmp / store.WORDPIECE_DF, wordpiece_df(spec, [c.text for c in records]),
                allow_pickle=False)
        neighbours, neighbour_sims = store.passage_neighbours(vectors[: len(records)],
                                                              [c.source for c in records])
        np.save(tmp / store.NEIGHBOURS, neighbours, allow_pickle=False)
        np.save(tmp / store.NEIGHBOUR_SIMS, neighbour_sims, allow_pickle=False)
        new_manifest = store.manifest_base(model_info(spec, dim), settings.chunking.as_dict())
        new_manifest.update({
            "corpus": str(settings.corpus_dir.resolve()),
            "metadata_sha": p.metadata_sha,
            "n_chunks": len(records),
            "n_units": len(units),
            "index_type": "flat" if len(hashes) <= store.EXACT_SEARCH_MAX else "hnsw",
            "sources": {n: {"sha256": s["sha256"], "size": s["size"], "mtime_ns": s["mtime_ns"],
                            "meta": meta_key(meta.get(n))}
                        for n, s in sources.items()},
            "skipped": {**skipped_kept, **{n: {"size": p.files[n].size,
                                                "mtime_ns": p.files[n].mtime_ns,
                                                "meta": meta_key(meta.get(n)),
                                                "reason": reason}
                                            for n, reason in skipped.items()
                                            if n not in skipped_kept}},
        })
        store.commit_generation(settings.index_dir, tmp, new_manifest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ItsqaError(_write_failure(settings.index_dir, exc)) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old_names = set(manifest.get("sources", {})) if manifest else set()
    indexed = set(sources)
    return BuildReport(
        added=tuple(n for n in p.added if n in indexed and n not in old_names),
        changed=tuple(n for n in (p.changed + [a for a in p.added if a in old_names]) if n in indexed),
        removed=tuple(sorted(n for n in set(p.removed) | (old_names & (set(skipped) | set(skipped_kept)))
                             if n in old_names)),
        unchanged=tuple(n for n in p.unchanged if n in indexed),
        embedded=sum(1 for i in todo if i < len(records)),
        reused=len(records) - sum(1 for i in todo if i < len(records)), total=len(records),
        seconds=time.perf_counter() - t0, rebuilt=bool(p.full_rebuild),
        reason=p.full_rebuild, warnings=tuple(warnings),
    )
