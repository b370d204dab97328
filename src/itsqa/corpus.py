"""Finding and reading sources: which files in the corpus folder are sources, their formats,
content hashes and metadata, and each one read into a Document. No embedding here."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .chunking import Structure
from .errors import CorpusError
from .furniture import FRONT_MATTER, MARKUP, Span, StatedSpans, find_furniture
from .metadata import METADATA_FILE, SourceMeta
from .readers import (
    Parsed,
    Unreadable,
    looks_binary,
    max_text_bytes,
    read_docx,
    read_html,
    read_pdf,
    read_pptx,
    read_rst,
    read_text,
)

TEXT_FORMATS = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".rst": "rst",
                ".rest": "rst"}
# The formats named in messages, as a user would look for them.
SUPPORTED = ".txt, .md, .rst, .html, .pdf, .docx or .pptx"
FORMATS = {**TEXT_FORMATS, ".html": "html", ".htm": "html", ".xhtml": "html", ".pdf": "pdf",
           ".docx": "docx", ".pptx": "pptx"}
# Editor and download leftovers that are never sources.
_TEMP = re.compile(r"(?:~|\.swp|\.swo|\.swx|\.tmp|\.temp|\.part|\.crdownload|\.bak|\.orig)$|^#.*#$|^~\$")


def skipped(name: str, reason: str) -> str:
    """The warning for a source that is not indexed, and why."""
    return f"skipped {name}: {reason}"


def skip_reason(name: str, warnings: list[str]) -> str:
    """Why `name` was skipped, from the warnings `skipped` wrote ("" when none says)."""
    prefix = skipped(name, "")
    return next((w[len(prefix):] for w in warnings if w.startswith(prefix)), "")


def _too_big(name: str, size: int, what: str) -> str:
    from .readers import megabytes

    return skipped(name, f"{size / 2**20:.0f} MB of {what} is over the "
                         f"{megabytes(max_text_bytes())} MB limit (set ITSQA_MAX_SOURCE_MB to raise it)")


@dataclass(frozen=True)
class SourceFile:
    """A file found in the corpus, before it is read."""

    name: str  # path relative to the corpus folder, with forward slashes
    path: Path
    format: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Document:
    """A readable source: its text (offsets refer to this), metadata and furniture."""

    name: str
    path: Path
    format: str
    sha256: str
    size: int
    mtime_ns: int
    text: str
    meta: SourceMeta
    furniture: tuple[Span, ...] = ()
    pages: tuple[tuple[int, int], ...] = ()  # PDF: (start, end) of each page in `text`
    encoding: str = "utf-8"
    structure: Structure = Structure()  # headings and code blocks the format states

    def page_of(self, offset: int) -> int | None:
        """1-based page number holding `offset`, for PDFs."""
        for i, (s, e) in enumerate(self.pages):
            if s <= offset < e or (offset == e and i == len(self.pages) - 1):
                return i + 1
        return None


@dataclass
class Scan:
    """The result of looking at a corpus folder: files to index and warnings about the rest."""

    files: list[SourceFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_SURROGATE = re.compile("[\ud800-\udfff]")


def file_title(name: str) -> str:
    """A readable title from a file name: '2023-04-11-some-update.txt' -> 'Some update'."""
    stem = Path(name).stem
    stem = re.sub(r"^\d{4}(?:-\d{2}){0,2}[-_ ]*", "", stem)
    words = re.sub(r"[-_]+", " ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else Path(name).name


def check_corpus_dir(corpus_dir: Path) -> None:
    if not corpus_dir.exists():
        raise CorpusError(
            f"corpus folder {corpus_dir} does not exist: create it and add {SUPPORTED} files, "
            "or point --corpus / ITSQA_CORPUS at your sources"
        )
    if not corpus_dir.is_dir():
        raise CorpusError(f"{corpus_dir} is a file, not a folder: --corpus needs a folder of sources")
    if not os.access(corpus_dir, os.R_OK | os.X_OK):
        raise CorpusError(f"corpus folder {corpus_dir} cannot be read: check its permissions")


def _walk(corpus_dir: Path, skip: Path | None) -> Iterator[tuple[Path, str]]:
    for root, dirs, names in os.walk(corpus_dir, followlinks=False):
        keep = []
        for d in sorted(dirs):
            if d.startswith(".") or d.startswith("__"):
                continue
            if skip is not None and (Path(root) / d).resolve() == skip:
                continue  # the index folder, kept inside the corpus
            keep.append(d)
        dirs[:] = keep
        for n in sorted(names):
            yield Path(root) / n, n


def scan(corpus_dir: Path, exclude: Path | None = None) -> Scan:
    """List the source files under `corpus_dir`, skipping (with a warning) what cannot be a source.
    `exclude` (the index folder, when it lies inside the corpus) is passed over silently.
    One lstat per file (the check runs before every ask)."""
    check_corpus_dir(corpus_dir)
    root = corpus_dir.resolve()
    skip = exclude.resolve() if exclude is not None else None
    result = Scan()
    for path, n in _walk(corpus_dir, skip):
        rel = path.relative_to(corpus_dir).as_posix()
        if n.startswith(".") or _TEMP.search(n) or (rel == METADATA_FILE):
            continue
        found = _source_file(path, rel, root)
        if isinstance(found, SourceFile):
            result.files.append(found)
        elif found:
            result.warnings.append(found)
    return result


def _source_file(path: Path, rel: str, root: Path) -> SourceFile | str:
    """The file as a source, or the warning saying why it is skipped ("" to pass over it
    silently: a folder behind a link)."""
    if _SURROGATE.search(rel):  # bytes that are not UTF-8 in the name: it cannot be cited
        shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return skipped(shown, "its file name is not valid UTF-8 (rename it)")
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            if not path.resolve().is_relative_to(root):
                return skipped(rel, "a symbolic link that leaves the corpus folder")
            st = path.stat()
    except OSError as exc:
        return skipped(rel, f"cannot be read ({exc.strerror})")
    except RuntimeError:  # Python before 3.13 raises it for a symbolic link that loops
        return skipped(rel, "a symbolic link that loops")
    if stat.S_ISDIR(st.st_mode):
        return ""
    if not stat.S_ISREG(st.st_mode):  # never opened: reading a pipe would wait forever
        return skipped(rel, "not a regular file (a pipe, socket or device)")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        return skipped(rel, f"not a supported format ({SUPPORTED})")
    limit = max_text_bytes() * (1 if fmt in TEXT_FORMATS.values() else 10)
    if st.st_size > limit:
        return _too_big(rel, st.st_size, "text" if limit == max_text_bytes() else "file")
    return SourceFile(rel, path, fmt, st.st_size, st.st_mtime_ns)


def _parse(sf: SourceFile, data: bytes) -> Parsed:
    """The source's bytes read by its format's reader (raises Unreadable, or anything a broken
    PDF or HTML file makes its reader raise)."""
    if sf.format == "pdf":
        return read_pdf(sf.path)
    if sf.format == "docx":
        return read_docx(data)
    if sf.format == "pptx":
        return read_pptx(data)
    if looks_binary(data):
        raise Unreadable("binary data, not text")
    if sf.format == "html":
        return read_html(data)
    if sf.format == "rst":
        return read_rst(data)
    return read_text(data, markdown=sf.format == "markdown")


_EMPTY = {"html": "no article text found in it", "docx": "no text in it", "pptx": "no text in it",
          "pdf": "no text in it (a scanned PDF needs OCR first)"}


def read_document(sf: SourceFile, meta: SourceMeta | None) -> tuple[Document | None, list[str]]:
    """Read one source, its metadata from `meta` (sources.toml) over the document's own.
    Returns (None, warnings) when it cannot be used; never raises for bad data."""
    try:
        data = sf.path.read_bytes()
    except OSError as exc:
        return None, [skipped(sf.name, f"cannot be read ({exc.strerror or exc})")]
    try:
        parsed = _parse(sf, data)
    except Unreadable as exc:
        return None, [skipped(sf.name, str(exc))]
    except Exception as exc:  # a broken PDF or HTML file must not stop the build
        return None, [skipped(sf.name, f"cannot be parsed as {sf.format} ({type(exc).__name__}: {exc})")]
    warnings = []
    if parsed.front is not None and parsed.front.warning:
        warnings.append(f"{sf.name}: {parsed.front.warning}")
    if parsed.encoding != "utf-8":
        warnings.append(f"{sf.name} is not UTF-8: read as {parsed.encoding}; save it as UTF-8 to "
                        "silence this")
    # Extracted text (PDF, HTML) can carry lone surrogates; one replacement character for each
    # keeps every offset where it was.
    text = _SURROGATE.sub("\ufffd", parsed.text)
    if not text.strip():
        return None, [skipped(sf.name, _EMPTY.get(sf.format, "no text in it"))]
    if len(text) > max_text_bytes():
        return None, [_too_big(sf.name, len(text), "text")]
    # Code is never page furniture, whatever its lines look like (">>> a = [1, 2]").
    stated = StatedSpans([*parsed.code, *parsed.markup])
    furniture = tuple(sorted([*(sp for sp in find_furniture(text)
                                if not stated.overlaps(sp.start, sp.end)),
                              *(Span(a, b, MARKUP) for a, b in parsed.markup)],
                             key=lambda sp: sp.start))
    front = parsed.front
    if front is not None and front.end:  # metadata, not text: kept out of the passages
        furniture = (Span(0, front.end, FRONT_MATTER),
                     *(sp for sp in furniture if sp.start >= front.end))
    merged = (meta or SourceMeta(title="")).over(parsed.meta, file_title(sf.name))
    doc = Document(sf.name, sf.path, sf.format, hashlib.sha256(data).hexdigest(), sf.size,
                   sf.mtime_ns, text, merged, furniture, parsed.pages, parsed.encoding,
                   Structure(parsed.headings, parsed.code, parsed.explicit))
    return doc, warnings
