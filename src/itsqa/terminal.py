"""Text for one line of a terminal (kept light: the CLI imports it before anything heavy).

A file name, a question or a library's message can hold characters a terminal acts on rather
than shows: a line break, a bell, an escape sequence that recolours, clears the screen or retitles
the window, a bidirectional override that makes a name read backwards. Each is written as its
escape instead, so the line shows what is there and does nothing else."""

from __future__ import annotations

import re

# C0 and C1 controls but the tab, DEL, and the bidirectional embeddings, overrides and isolates.
_ACTIVE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def one_line(s: str) -> str:
    """`s` as one inert line: "a\\nb" for a line break, "\\x1b" for an escape, "\\u202e" for a
    right-to-left override; everything else as it is."""
    return _ACTIVE.sub(_escape, s)
