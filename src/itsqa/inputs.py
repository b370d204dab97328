"""What the model and BM25 read for each passage: the passage framed by its context line (the
source's title and publisher, and the section headings above it), and the key each vector is
stored under (the model and the exact text it read). Pure: no files, no model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from .chunking import HEADING_JOIN, cited_path
from .model import ModelSpec, model_text


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


def with_context(line: str, text: str) -> str:
    """The context line (if any) above the text."""
    return f"{line}\n{text}" if line else text


def embed_text(doc_title: str, heading: str, text: str, context: bool = True,
               fit: Callable[[str], str] | None = None) -> str:
    """What the model reads for a passage: its context line (title, headings), then the text."""
    return with_context(context_line(doc_title, heading, text, fit) if context else "", text)


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


def embed_hash(spec: ModelSpec, text: str) -> str:
    """The key of a vector: the model and the text exactly as the model reads it (normalised)."""
    return hashlib.sha256(f"{spec.key}\0{model_text([text])[0]}".encode()).hexdigest()[:32]
