"""Front matter: the block of metadata at the top of a Markdown file, as static site generators
(Jekyll, Hugo) and note-taking apps (Obsidian) write it. YAML between `---` lines (closed by
`---` or `...`), or TOML between `+++` lines. Its title, author or publisher, date and address are
the source's own metadata; the block itself is not text to search or cite.

YAML is read for the few top-level fields wanted, by line (`key: value`, an inline `[a, b]` list
or a `- item` list under the key), not by a YAML library: nothing in it is ever evaluated, and an
alias cannot expand it."""

from __future__ import annotations

import datetime
import re
import tomllib
from dataclasses import dataclass

from .metadata import iso_date

_FENCE = re.compile(r"\A\n?(---|\+\+\+)[ \t]*\n")
_CLOSE = {"---": re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.M), "+++": re.compile(r"^\+\+\+[ \t]*$", re.M)}
# Past this, a file that opens with `---` is taken to open with a rule, not with front matter.
MAX_CHARS = 64 * 1024
# Greedy to the line's end, stripped after: a lazy group before `[ \t]*$` backtracks through a
# line of spaces (60,000 of them took 15 s).
_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:(?:[ \t](.*))?$")
_ITEM = re.compile(r"^[ \t]*-[ \t](.*)$")
# Lines a YAML mapping is made of: a top-level key, an indented line, a list item, a comment.
_YAML_LINE = re.compile(r"^(?:[A-Za-z_][\w-]*[ \t]*:(?:[ \t].*)?|[ \t].*|-(?:[ \t].*)?|#.*|)$")
_COMMENT = re.compile(r"\s#")  # no repetition: linear on a line of 60,000 spaces
_BLOCK_SCALAR = re.compile(r"[>|][-+]?")  # `title: >-` then the title on indented lines
_ISO = re.compile(r"(\d{4}(?:-\d{2}(?:-\d{2})?)?)(?:[T ][\d:.+\-Z ]*)?")
FIELDS = {"title": "title", "author": "author", "authors": "author", "publisher": "publisher",
          "date": "date", "url": "url", "link": "url", "canonical_url": "url"}


@dataclass(frozen=True)
class FrontMatter:
    """Where the block ends in the text (its start is the file's start; 0: no block to leave
    out), and what it says."""

    end: int
    title: str = ""
    publisher: str = ""  # the publisher, else the author(s)
    date: str = ""  # ISO: 2023, 2023-03 or 2023-03-22
    url: str = ""
    warning: str = ""


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    comment = _COMMENT.search(value)  # an unquoted value's trailing comment
    return value[: comment.start()].rstrip() if comment else value


def _yaml_fields(block: str) -> dict[str, object]:
    out: dict[str, object] = {}
    key, folded = "", False
    for line in block.split("\n"):
        listed = out.get(key) if key else None
        if isinstance(listed, list) and (line[:1] in (" ", "\t") or
                                         (not folded and line.startswith("- "))):
            item = None if folded else _ITEM.match(line)
            if folded or item:  # `- item` lines, or the lines of a `>` or `|` block
                listed.append(_unquote(item.group(1)) if item else line.strip())
            continue
        m = _KEY.match(line)
        if not m:
            key = "" if line[:1] not in (" ", "\t") else key
            continue
        key, value = m.group(1).lower(), (m.group(2) or "").strip()
        folded = bool(_BLOCK_SCALAR.fullmatch(value))
        if key not in FIELDS or key in out:
            key = ""
            continue
        if not value or folded:  # a list follows, one `- item` a line, or a block of text
            out[key] = _Folded() if folded else []
        elif value.startswith("[") and value.endswith("]"):
            out[key] = [_unquote(v) for v in value[1:-1].split(",") if v.strip()]
        else:
            out[key] = _unquote(value)
    return out


class _Folded(list[str]):
    """The lines of a `>` or `|` block: one text, not a list of items."""


def _text(value: object) -> str:
    if isinstance(value, _Folded):
        return " ".join(" ".join(value).split())
    if isinstance(value, list):
        return ", ".join(v for v in (_text(x) for x in value) if v)
    return " ".join(value.split()) if isinstance(value, str) else ""


def date_of(value: object) -> str:
    """An ISO date (2023, 2023-03 or 2023-03-22) from a front-matter value, "" for none."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return (value.date() if isinstance(value, datetime.datetime) else value).isoformat()
    m = _ISO.fullmatch(value.strip()) if isinstance(value, str) else None
    return m.group(1) if m and iso_date(m.group(1)) else ""  # a real month and day, not 2023-13


def read_front_matter(text: str) -> FrontMatter | None:
    """The front matter at the top of `text`, or None when it has none."""
    opened = _FENCE.match(text)
    if not opened:
        return None
    close = _CLOSE[opened.group(1)].search(text, opened.end(), opened.end() + MAX_CHARS)
    if not close:
        return None
    block = text[opened.end() : close.start()]
    end = close.end() + (1 if text[close.end() : close.end() + 1] == "\n" else 0)
    if opened.group(1) == "+++":
        try:
            fields: dict[str, object] = {k.lower(): v for k, v in tomllib.loads(block).items()
                                         if k.lower() in FIELDS}
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            return FrontMatter(0, warning=f"its +++ block does not read as TOML front matter "
                                          f"({exc}): kept as text")
    elif all(_YAML_LINE.match(line) for line in block.split("\n")):
        fields = _yaml_fields(block)
    else:  # a rule, some text, another rule: not metadata, and not to be lost
        return None
    got: dict[str, str] = {}
    for key, value in fields.items():
        name = FIELDS[key]
        if name not in got or not got[name]:
            got[name] = date_of(value) if name == "date" else _text(value)
    warning = ""
    if fields.get("date") not in (None, "", []) and not got.get("date"):
        warning = (f"its front matter date {_text(fields['date']) or fields['date']!r} is not a date "
                   "such as 2023, 2023-03 or 2023-03-22: ignored")
    return FrontMatter(end, title=got.get("title", ""),
                       publisher=got.get("publisher") or got.get("author", ""),
                       date=got.get("date", ""), url=got.get("url", ""), warning=warning)
