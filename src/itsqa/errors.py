"""Errors the library raises; each message says what to do next. Only cli.py turns them into exits."""

from __future__ import annotations


class ItsqaError(Exception):
    """A failure the user can act on (exit 1)."""

    exit_code = 1


class UsageError(ItsqaError):
    """The command was used wrongly (exit 2)."""

    exit_code = 2


class CorpusError(ItsqaError):
    """The corpus folder is missing, empty or unreadable."""


class BadIndexError(ItsqaError):
    """The index is missing, damaged, stale or from another format or model."""


class IndexLockedError(ItsqaError):
    """Another build holds the index lock for too long."""


class ModelError(ItsqaError):
    """The embedding model cannot be found or loaded."""


class QuestionSetError(ItsqaError):
    """A question set or benchmark dataset is malformed."""


class UnknownSourceError(UsageError):
    """A source named in a request or filter is not in the index."""


class SourceChangedError(ItsqaError):
    """A source changed or moved since it was indexed: the index is behind it for now."""


class NoIndexError(ItsqaError):
    """No index can be opened yet (no sources, or the build failed)."""


class StoreError(ItsqaError):
    """The index's store (a Qdrant server or folder) cannot be reached or refused a request."""
