"""Finding and reading sources: files, formats, metadata and content hashes. No embedding here."""

from __future__ import annotations

import datetime
import hashlib
import math
import os
import re
import stat
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import CorpusError, UsageError
from .frontmatter import FrontMatter, read_front_matter
from .furniture import FRONT_MATTER, Span, find_furniture

METADATA_FILE = "sources.toml"
TEXT_FORMATS = {".txt": "text", ".md": "markdown", ".markdown": "markdown"}
FORMATS = {**TEXT_FORMATS, ".html": "html", ".htm": "html", ".pdf": "pdf"}
# Editor and download leftovers that are never sources.
_TEMP = re.compile(r"(?:~|\.swp|\.swo|\.swx|\.tmp|\.temp|\.part|\.crdownload|\.bak|\.orig)$|^#.*#$|^~\$")
# A source's text is limited to ITSQA_MAX_SOURCE_MB (default 5 MB, about 2,000 pages: embedding
# more takes hours on a laptop CPU); PDF and HTML files may be ten times that in bytes.
def max_text_bytes() -> int:
    raw = os.environ.get("ITSQA_MAX_SOURCE_MB", "").strip() or "5"
    try:
        mb = float(raw)
    except ValueError:
        mb = math.nan
    if not math.isfinite(mb) or mb <= 0 or mb > 2**40:
        raise UsageError(f"ITSQA_MAX_SOURCE_MB must be a positive number of megabytes, not {raw!r}")
    return max(1, int(mb * 1024 * 1024))


def skipped(name: str, reason: str) -> str:
    """The warning for a source that is not indexed, and why."""
    return f"skipped {name}: {reason}"


def skip_reason(name: str, warnings: list[str]) -> str:
    """Why `name` was skipped, from the warnings `skipped` wrote ("" when none says)."""
    prefix = skipped(name, "")
    return next((w[len(prefix):] for w in warnings if w.startswith(prefix)), "")


def _mb(size: float) -> str:
    """Bytes as megabytes to three figures: "0.01", "5", "100", "1020"."""
    return f"{float(f'{size / 2**20:.3g}'):g}"


def _too_big(name: str, size: int, what: str) -> str:
    return skipped(name, f"{size / 2**20:.0f} MB of {what} is over the "
                         f"{_mb(max_text_bytes())} MB limit (set ITSQA_MAX_SOURCE_MB to raise it)")


@dataclass(frozen=True)
class SourceMeta:
    """What is known about a source: from sources.toml, else the document, else the file name."""

    title: str
    publisher: str = ""
    date: str = ""
    url: str = ""
    note: str = ""


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
            f"corpus folder {corpus_dir} does not exist: create it and add .txt, .md, .html or .pdf "
            "files, or point --corpus / ITSQA_CORPUS at your sources"
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
        if _SURROGATE.search(rel):  # bytes that are not UTF-8 in the name: it cannot be cited
            shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            result.warnings.append(skipped(shown, "its file name is not valid UTF-8 (rename it)"))
            continue
        fmt = FORMATS.get(path.suffix.lower())
        try:
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                if not path.resolve().is_relative_to(root):
                    result.warnings.append(
                        skipped(rel, "a symbolic link that leaves the corpus folder"))
                    continue
                st = path.stat()
        except OSError as exc:
            result.warnings.append(skipped(rel, f"cannot be read ({exc.strerror})"))
            continue
        except RuntimeError:  # Python before 3.13 raises it for a symbolic link that loops
            result.warnings.append(skipped(rel, "a symbolic link that loops"))
            continue
        if stat.S_ISDIR(st.st_mode):
            continue  # a folder behind a link
        if not stat.S_ISREG(st.st_mode):  # never opened: reading a pipe would wait forever
            result.warnings.append(skipped(rel, "not a regular file (a pipe, socket or device)"))
            continue
        if fmt is None:
            result.warnings.append(skipped(rel, "not a supported format (.txt .md .html .pdf)"))
            continue
        limit = max_text_bytes() * (1 if fmt in TEXT_FORMATS.values() else 10)
        if st.st_size > limit:
            result.warnings.append(_too_big(rel, st.st_size, "text" if limit == max_text_bytes()
                                            else "file"))
            continue
        result.files.append(SourceFile(rel, path, fmt, st.st_size, st.st_mtime_ns))
    return result


META_FIELDS = ("title", "publisher", "date", "url", "note")
# A date as sources.toml may give it: a year, a month or a day (ISO 8601).
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def iso_date(value: str) -> bool:
    """True for "2023", "2023-03" or "2023-03-22" naming a real month or day."""
    m = _ISO_DATE.fullmatch(value)
    if not m:
        return False
    year, month, day = (int(g) if g else 1 for g in m.groups())
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def _meta_value(name: str, key: str, value: object) -> tuple[str, str]:
    """A sources.toml field as text, and a warning when it cannot be used ("" when it can)."""
    where = f"[{name}] in {METADATA_FILE}"
    if key == "date" and isinstance(value, datetime.date):  # a bare TOML date: 2023-03-22
        return (value.date() if isinstance(value, datetime.datetime) else value).isoformat(), ""
    if key == "date" and not (isinstance(value, str) and (not value.strip()
                                                          or iso_date(value.strip()))):
        return "", (f"{where}: date {value!r} is not a date such as 2023, 2023-03 or 2023-03-22: "
                    "ignored")
    if not isinstance(value, str):
        return "", f"{where}: {key} should be text in quotes, not {value!r}: ignored"
    return value.strip() if key == "date" else value, ""


def load_metadata(corpus_dir: Path) -> tuple[dict[str, SourceMeta], list[str]]:
    """The corpus metadata file: {file name: SourceMeta}. A broken file, field or entry is a
    warning, not a stop: what cannot be used is left out and the rest kept."""
    path = corpus_dir / METADATA_FILE
    if not path.is_file():
        return {}, []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad writes a BOM
    except RecursionError:
        return {}, [f"ignored {METADATA_FILE}: nested too deeply to read (fix the file to restore "
                    "titles and publishers)"]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"ignored {METADATA_FILE}: {exc} (fix the file to restore titles and publishers)"]
    out: dict[str, SourceMeta] = {}
    warnings: list[str] = []
    for name, entry in data.items():
        if not isinstance(entry, dict):
            warnings.append(f"ignored [{name}] in {METADATA_FILE}: expected a table of fields")
            continue
        fields: dict[str, str] = {}
        for key, value in entry.items():
            if key not in META_FIELDS:
                warnings.append(f"[{name}] in {METADATA_FILE}: unknown field {key!r} (the fields "
                                f"are {', '.join(META_FIELDS)}): ignored")
                continue
            fields[key], problem = _meta_value(name, key, value)
            if problem:
                warnings.append(problem)
        out[name] = SourceMeta(**{k: fields.get(k, "") for k in META_FIELDS})
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts:
            warnings.append(f"{METADATA_FILE} describes {name}, which is outside {corpus_dir}: "
                            "only files in the corpus folder are sources (name them relative "
                            "to it)")
        elif not (corpus_dir / name).is_file():
            warnings.append(f"{METADATA_FILE} describes {name}, but there is no such file in "
                            f"{corpus_dir}: check the name")
    return out, warnings


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(data: bytes) -> tuple[str, str]:
    """Bytes -> (text, encoding), newlines as Python's text mode reads them, so that
    `open(path, encoding="utf-8").read()[start:end]` matches the offsets we store. A UTF-8
    byte-order mark (Windows Notepad writes one) reads as a blank line: the same length, so the
    offsets still match, and a title or heading on the first line is still seen as one. A file
    saved as UTF-16 (it opens with a byte-order mark) is read as such."""
    tried = ("utf-16",) if data.startswith(_UTF16_BOMS) else ()
    for enc in (*tried, "utf-8", "cp1252"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # latin-1 decodes any bytes
        text, enc = data.decode("latin-1"), "latin-1"
    if enc == "utf-8" and text.startswith("\ufeff"):
        text = "\n" + text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n"), enc


def _looks_binary(data: bytes) -> bool:
    if data.startswith(_UTF16_BOMS):  # UTF-16 text: every other byte of ASCII is a zero
        return False
    head = data[:8192]
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return bool(head) and control / len(head) > 0.1


# libxml2, which trafilatura parses with, gives up on elements nested deeper than this and
# returns no text at all for the page.
HTML_MAX_DEPTH = 256


def html_too_deep(html: str) -> bool:
    """Whether the page's elements nest deeper than HTML_MAX_DEPTH, read by libxml2 with its
    depth limit lifted (huge_tree): milliseconds even for a page nested a million deep."""
    from lxml import etree

    try:
        root = etree.fromstring(html, etree.HTMLParser(huge_tree=True))
    except (etree.Error, ValueError):
        return False
    if root is None:
        return False
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > HTML_MAX_DEPTH:
            return True
    return False


def _read_html(data: bytes) -> tuple[str, SourceMeta]:
    import trafilatura  # lazy: only HTML sources need it

    html, _ = decode_text(data)
    text = trafilatura.extract(html, include_comments=False, include_tables=True) or ""
    if not text.strip() and html_too_deep(html):
        raise _Unreadable(f"its elements nest more than {HTML_MAX_DEPTH} deep, deeper than the HTML "
                          "reader follows: save the article as .txt or .md")
    meta = trafilatura.extract_metadata(html)
    return text, SourceMeta(
        title=(meta.title if meta and meta.title else ""),
        publisher=(meta.sitename if meta and meta.sitename else "")
        or (meta.author if meta and meta.author else ""),
        date=(meta.date if meta and meta.date else ""),
        url=(meta.url if meta and meta.url else ""),
    )


# A Markdown file's first "# Title" line. Its closing hashes are cut in code: the pattern this
# replaces, `^#\s+(.+?)\s*#*\s*$`, took over 20 s on "# a", 4,000 spaces and "b", and its `\s+`
# ran across blank lines to take the next paragraph for a title.
_MD_TITLE = re.compile(r"(?m)^#[ \t]+(\S.*)$")


def markdown_title(text: str, start: int = 0) -> str:
    """The text of the first level-one ATX heading from `start` ("# Title ##" -> "Title";
    "# C#" keeps its hash, which no space sets apart)."""
    m = _MD_TITLE.search(text, start)
    if not m:
        return ""
    title = m.group(1).rstrip()
    bare = title.rstrip("#")
    if bare != title and (not bare or bare[-1] in " \t"):
        title = bare.rstrip()
    return title


class _Unreadable(Exception):
    """A source that can never be read as it is; the message says why, for the warning."""


# A PDF's pages are read from their drawing instructions (content streams), which pypdf parses
# at about 10 MB a second here. A file of a few kilobytes can make its pages share one stream
# that inflates to 75 MB (pypdf's limit for one stream), so page count or file size bound
# nothing: the instructions read are capped instead, at this many times the text limit (100 MB
# by default; text takes a few times less room than the instructions that place it).
PDF_CONTENT_PER_TEXT = 20
# Each page costs about a millisecond to read however little it holds, and a 50 MB file can hold
# 370,000 empty ones (six minutes): at most this many pages per MB of the text limit (25,000 by
# default, about 25 s; a document with 5 MB of text has a few thousand pages).
PDF_PAGES_PER_MB = 5000


def _content_bytes(page: Any) -> int:
    """The size of a page's drawing instructions: its content streams and the form objects its
    resources name (forms nested in forms are not counted)."""
    contents = page.get_contents()
    size = len(contents.get_data()) if contents is not None else 0
    resources = page.get("/Resources")
    xobjects = resources.get_object().get("/XObject") if resources is not None else None
    for ref in xobjects.get_object().values() if xobjects is not None else ():
        form = ref.get_object()
        if form.get("/Subtype") == "/Form":
            size += len(form.get_data())
    return size


def _read_pdf(path: Path) -> tuple[str, tuple[tuple[int, int], ...], SourceMeta]:
    import logging

    from pypdf import PdfReader  # lazy: only PDF sources need it

    # pypdf reports damage through logging, which with no handler goes raw to stderr ("EOF
    # marker not found"); a file it cannot read is reported once, as a skipped source, instead.
    pdf_log = logging.getLogger("pypdf")
    if not pdf_log.handlers:
        pdf_log.addHandler(logging.NullHandler())
    from pypdf.errors import FileNotDecryptedError

    reader = PdfReader(str(path))
    if reader.is_encrypted:
        try:  # most encrypted PDFs restrict only editing and open with an empty password
            opened = bool(reader.decrypt(""))
        except FileNotDecryptedError:
            opened = False
        if not opened:
            raise _Unreadable("it is protected by a password: save a copy without one")
    most = round(PDF_PAGES_PER_MB * max_text_bytes() / 2**20)
    if len(reader.pages) > most:
        raise _Unreadable(f"it has {len(reader.pages):,} pages, over the {most:,} that the "
                          f"{_mb(max_text_bytes())} MB text limit allows (set ITSQA_MAX_SOURCE_MB to "
                          "raise it)")
    parts: list[str] = []
    pages: list[tuple[int, int]] = []
    pos = 0
    budget, read = PDF_CONTENT_PER_TEXT * max_text_bytes(), 0
    for page in reader.pages:
        read += _content_bytes(page)
        if read > budget:
            raise _Unreadable(f"its pages hold over {_mb(budget)} MB of drawing instructions, "
                              f"{PDF_CONTENT_PER_TEXT} times the {_mb(max_text_bytes())} MB text "
                              "limit (set ITSQA_MAX_SOURCE_MB to raise it)")
        t = (page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n").strip()
        if parts:
            parts.append("\n\n")
            pos += 2
        pages.append((pos, pos + len(t)))
        parts.append(t)
        pos += len(t)
    info = reader.metadata
    date = ""
    if info is not None and info.creation_date is not None:
        date = info.creation_date.date().isoformat()
    return "".join(parts), tuple(pages), SourceMeta(
        title=str(info.title or "") if info is not None else "",
        publisher=str(info.author or "") if info is not None else "",
        date=date,
    )


def read_document(sf: SourceFile, meta: SourceMeta | None) -> tuple[Document | None, list[str]]:
    """Read one source. Returns (None, warnings) when it cannot be used; never raises for bad data."""
    warnings: list[str] = []
    try:
        data = sf.path.read_bytes()
    except OSError as exc:
        return None, [skipped(sf.name, f"cannot be read ({exc.strerror or exc})")]
    digest = hashlib.sha256(data).hexdigest()
    pages: tuple[tuple[int, int], ...] = ()
    own = SourceMeta(title="")
    encoding = "utf-8"
    front: FrontMatter | None = None
    try:
        if sf.format == "pdf":
            text, pages, own = _read_pdf(sf.path)
        elif _looks_binary(data):
            return None, [skipped(sf.name, "binary data, not text")]
        elif sf.format == "html":
            text, own = _read_html(data)
        else:
            text, encoding = decode_text(data)
            if sf.format == "markdown":
                front = read_front_matter(text)
                own = SourceMeta(title=markdown_title(text, front.end if front else 0))
                if front is not None and front.end:
                    own = SourceMeta(title=front.title or own.title, publisher=front.publisher,
                                     date=front.date, url=front.url)
                if front is not None and front.warning:
                    warnings.append(f"{sf.name}: {front.warning}")
            if encoding != "utf-8":
                warnings.append(
                    f"{sf.name} is not UTF-8: read as {encoding}; save it as UTF-8 to silence this"
                )
    except _Unreadable as exc:
        return None, [skipped(sf.name, str(exc))]
    except Exception as exc:  # a broken PDF or HTML file must not stop the build
        return None, [skipped(sf.name, f"cannot be parsed as {sf.format} ({type(exc).__name__}: {exc})")]
    # Extracted text (PDF, HTML) can carry lone surrogates; one replacement character for each
    # keeps every offset where it was.
    text = _SURROGATE.sub("\ufffd", text)
    if not text.strip():
        why = {"html": "no article text found in it",
               "pdf": "no text in it (a scanned PDF needs OCR first)"}
        return None, [skipped(sf.name, why.get(sf.format, "no text in it"))]
    if len(text) > max_text_bytes():
        return None, [_too_big(sf.name, len(text), "text")]
    given = meta or SourceMeta(title="")
    merged = SourceMeta(
        title=given.title or own.title or file_title(sf.name),
        publisher=given.publisher or own.publisher,
        date=given.date or own.date,
        url=given.url or own.url,
        note=given.note,
    )
    furniture = tuple(find_furniture(text))
    if front is not None and front.end:  # metadata, not text: kept out of the passages
        furniture = (Span(0, front.end, FRONT_MATTER),
                     *(sp for sp in furniture if sp.start >= front.end))
    doc = Document(sf.name, sf.path, sf.format, digest, sf.size, sf.mtime_ns, text, merged,
                   furniture, pages, encoding)
    return doc, warnings
