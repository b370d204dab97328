"""itsqa: local, offline question answering with cited passages."""

__version__ = "0.1.0"
