"""What is known about each source: the corpus's sources.toml, read field by field, where a
field that cannot be used is a warning naming its entry, never a stop."""

from __future__ import annotations

import datetime
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

METADATA_FILE = "sources.toml"


@dataclass(frozen=True)
class SourceMeta:
    """What is known about a source: from sources.toml, else the document, else the file name."""

    title: str
    publisher: str = ""
    date: str = ""
    url: str = ""
    note: str = ""

    def over(self, own: SourceMeta, fallback_title: str) -> SourceMeta:
        """These fields where given, else the document's own, else (title) `fallback_title`."""
        return SourceMeta(title=self.title or own.title or fallback_title,
                          publisher=self.publisher or own.publisher, date=self.date or own.date,
                          url=self.url or own.url, note=self.note)


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
        out[name] = _entry(name, entry, warnings)
        warnings.extend(_placement_problems(corpus_dir, name))
    return out, warnings


def _entry(name: str, entry: dict[str, object], warnings: list[str]) -> SourceMeta:
    """One [file] table as SourceMeta; each field that cannot be used adds a warning."""
    fields: dict[str, str] = {}
    for key, value in entry.items():
        if key not in META_FIELDS:
            warnings.append(f"[{name}] in {METADATA_FILE}: unknown field {key!r} (the fields "
                            f"are {', '.join(META_FIELDS)}): ignored")
            continue
        fields[key], problem = _meta_value(name, key, value)
        if problem:
            warnings.append(problem)
    return SourceMeta(**{k: fields.get(k, "") for k in META_FIELDS})


def _placement_problems(corpus_dir: Path, name: str) -> list[str]:
    """Warnings for an entry naming a file outside the corpus, or one that is not there."""
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts:
        return [f"{METADATA_FILE} describes {name}, which is outside {corpus_dir}: only files in "
                "the corpus folder are sources (name them relative to it)"]
    if not (corpus_dir / name).is_file():
        return [f"{METADATA_FILE} describes {name}, but there is no such file in {corpus_dir}: "
                "check the name"]
    return []
