"""A question as typed, made fit to ask: control characters read as spaces, runs of spaces as
one. Light: the CLI and the servers import it before anything heavy."""

from __future__ import annotations

import unicodedata

from .errors import UsageError


def clean_question(question: str) -> str:
    """The question with control characters as spaces and runs of spaces as one; a UsageError
    when nothing readable is left."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Cs") and c not in "\t\n"
                      else c for c in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned and any(unicodedata.category(c) == "Cs" for c in question):
        raise UsageError("the question is not readable text (bytes that are not valid in this "
                         "terminal's encoding): check the terminal's locale, e.g. LANG=C.UTF-8")
    if not cleaned:
        raise UsageError("the question is empty: ask something, e.g. itsqa ask \"what are the "
                         "quantum priorities\"")
    return cleaned
