"""Parts of a large .npy file read through a memory map that is closed at once: pages read through
a map a process keeps open count as its own memory, so a build that reads a large file a part at a
time this way never makes the whole of it resident."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _open(path: Path) -> Any:
    import numpy as np

    return np.load(path, mmap_mode="r", allow_pickle=False)


def shape(path: Path) -> tuple[int, ...]:
    """The array's shape (nothing but the header is read)."""
    return tuple(_open(path).shape)


def rows(path: Path, indices: list[int]) -> Any:
    """Rows `indices` of a 2-D .npy file, in that order, as an array of their own."""
    import numpy as np

    whole = _open(path)
    try:
        return np.array(whole[indices])
    finally:
        del whole


def spans(path: Path, bounds: list[tuple[int, int]]) -> list[Any]:
    """Rows start:stop of a 2-D .npy file for each (start, stop) of `bounds`, each an array of its
    own."""
    import numpy as np

    whole = _open(path)
    try:
        return [np.array(whole[a:b]) for a, b in bounds]
    finally:
        del whole
