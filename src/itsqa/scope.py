"""Scope filters: which sources a question is asked of, by name, publisher or date range. A scope
narrows the candidate passages before anything is ranked, so `-k` results still come back when
the scope holds that many passages.

Dates may be partial (2023, 2023-03, 2023-03-22), in the filter and in a source's metadata alike:
each names a period, and a source is in the range when its period overlaps the range. A source
with no date is outside any date range."""

from __future__ import annotations

import calendar
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .errors import UnknownSourceError, UsageError
from .metadata import iso_date


@dataclass(frozen=True)
class Scope:
    """Sources (names or glob patterns, relative to the corpus), publishers (a case-insensitive
    part of the publisher's name) and a date range; empty fields do not narrow."""

    sources: tuple[str, ...] = ()
    publishers: tuple[str, ...] = ()
    since: str = ""
    until: str = ""

    def __post_init__(self) -> None:
        for name, value in (("since", self.since), ("until", self.until)):
            if value and not iso_date(value):
                raise UsageError(f"{name} {value!r} is not a date such as 2023, 2023-03 or "
                                 "2023-03-22")
        if self.since and self.until and period(self.since)[0] > period(self.until)[1]:
            raise UsageError(f"since {self.since} is after until {self.until}: nothing can be "
                             "in that range")

    @property
    def narrows(self) -> bool:
        return bool(self.sources or self.publishers or self.since or self.until)

    def as_json(self) -> dict[str, Any]:
        return {"source": list(self.sources), "publisher": list(self.publishers),
                "since": self.since or None, "until": self.until or None}


def scope_from(sources: Iterable[str] = (), publishers: Iterable[str] = (),
               since: str | None = None, until: str | None = None) -> Scope:
    """A Scope from command-line or request values: blank values dropped, spaces trimmed."""
    def clean(values: Iterable[str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))

    return Scope(clean(sources), clean(publishers), (since or "").strip(), (until or "").strip())


def period(date: str) -> tuple[str, str]:
    """The first and last day a (partial) ISO date names, as YYYY-MM-DD."""
    parts = date.split("-")
    year = int(parts[0])
    if len(parts) == 1:
        return f"{year:04d}-01-01", f"{year:04d}-12-31"
    month = int(parts[1])
    if len(parts) == 2:
        last = calendar.monthrange(year, month)[1]
        return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}"
    return date, date


def _normalise(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).as_posix().lstrip("./")


def matching_sources(patterns: Sequence[str], names: Iterable[str]) -> set[str]:
    """The source names that any pattern names: exactly, as a glob, or as the end of a path
    (`corpus/a.txt` and `a.txt` both name `a.txt`). An unknown name is a UsageError."""
    names = list(names)
    out: set[str] = set()
    for pattern in patterns:
        p = _normalise(pattern)
        found = {n for n in names if n == p or fnmatch.fnmatchcase(n, p) or p.endswith("/" + n)}
        if not found:
            raise UnknownSourceError(f"no source is named {pattern!r}: `itsqa sources` lists the "
                                     "names")
        out |= found
    return out


def in_scope(scope: Scope, sources: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The names of the sources (name -> metadata with publisher and date) the scope keeps.
    A source pattern that names nothing is an error; so is a scope that keeps no source."""
    names = set(sources)
    if scope.sources:
        names = matching_sources(scope.sources, sources)
    if scope.publishers:
        wanted = [p.casefold() for p in scope.publishers]
        names = {n for n in names
                 if any(w in str(sources[n].get("publisher", "")).casefold() for w in wanted)}
    if scope.since or scope.until:
        lo = period(scope.since)[0] if scope.since else "0000-01-01"
        hi = period(scope.until)[1] if scope.until else "9999-12-31"
        names = {n for n in names if _overlaps(str(sources[n].get("date", "")), lo, hi)}
    if not names:
        raise UsageError(f"no source is in the scope asked for ({_describe(scope)}): "
                         "`itsqa sources` lists each source's publisher and date")
    return names


def _overlaps(date: str, lo: str, hi: str) -> bool:
    if not date or not iso_date(date):
        return False
    first, last = period(date)
    return first <= hi and last >= lo


def _describe(scope: Scope) -> str:
    parts = [f"source {', '.join(scope.sources)}" if scope.sources else "",
             f"publisher {', '.join(scope.publishers)}" if scope.publishers else "",
             f"since {scope.since}" if scope.since else "", f"until {scope.until}" if scope.until else ""]
    return "; ".join(p for p in parts if p)
