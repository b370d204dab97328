"""The passage and sentence tables of an index, stored column by column (numpy arrays, the
passages' texts as one UTF-8 file with byte offsets) so that opening a large index reads a few
small arrays and maps the rest: a question reads only the rows it ranks. Nothing is unpickled."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

# Files of the passage table, inside a generation's folder.
PASSAGE_FILES = ("passages.json", "passage_columns.npy", "passage_hashes.npy", "passage_text.bin",
                 "passage_text_offsets.npy")
SENTENCE_FILES = ("sentence_columns.npy", "sentence_hashes.npy")
_COLUMNS = ("source", "ordinal", "start", "end", "page", "heading")  # int64 columns, in order
HASH_BYTES = 32


@dataclass(frozen=True)
class ChunkRecord:
    """One passage of the index; row i is vector i of the dense vectors."""

    source: str
    ordinal: int
    start: int
    end: int
    text: str
    heading: str
    embed_hash: str
    page: int | None = None


class SentenceRow(NamedTuple):
    """A sentence vector of the index: its passage, its source offsets and the hash of what the
    model read."""

    row: int
    start: int
    end: int
    embed_hash: str


def _hashes(values: Sequence[str]) -> Any:
    import numpy as np

    return np.array([v.encode("ascii") for v in values], dtype=f"S{HASH_BYTES}")


class ChunkTable(Sequence[ChunkRecord]):
    """The passages, read a row at a time (and kept once read)."""

    def __init__(self, names: list[str], headings: list[str], columns: Any, hashes: Any,
                 text: Any, offsets: Any) -> None:
        self.names, self.headings = names, headings  # sources and headings, by number
        self.columns, self.hashes = columns, hashes  # int64 (rows x 6); bytes (rows)
        self.text, self.offsets = text, offsets  # uint8 memory map; int64 (rows + 1)
        self._rows: dict[int, ChunkRecord] = {}

    def __len__(self) -> int:
        return len(self.columns)

    def _row(self, row: int) -> ChunkRecord:
        source, ordinal, start, end, page, heading = (int(x) for x in self.columns[row])
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        return ChunkRecord(self.names[source], ordinal, start, end,
                           bytes(self.text[a:b]).decode("utf-8"), self.headings[heading],
                           self.hashes[row].decode("ascii"), page if page >= 0 else None)

    def __getitem__(self, row: Any) -> Any:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        row = int(row) if row >= 0 else len(self) + int(row)
        if not 0 <= row < len(self):
            raise IndexError(row)
        found = self._rows.get(row)
        if found is None:
            found = self._rows[row] = self._row(row)
        return found

    def __iter__(self) -> Iterator[ChunkRecord]:
        return (self[i] for i in range(len(self)))

    def source_ids(self) -> Any:
        """Each passage's source, by number into `names`."""
        return self.columns[:, 0]

    def embed_hashes(self) -> list[str]:
        return [h.decode("ascii") for h in self.hashes]

    @classmethod
    def of(cls, records: Sequence[ChunkRecord]) -> ChunkTable:
        """The table of `records` (in memory)."""
        import numpy as np

        names = sorted({r.source for r in records})
        headings = sorted({r.heading for r in records})
        sid = {n: i for i, n in enumerate(names)}
        hid = {h: i for i, h in enumerate(headings)}
        columns = np.array([[sid[r.source], r.ordinal, r.start, r.end,
                             -1 if r.page is None else r.page, hid[r.heading]] for r in records],
                           dtype=np.int64).reshape(len(records), len(_COLUMNS))
        texts = [r.text.encode("utf-8") for r in records]
        offsets = np.zeros(len(records) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(t) for t in texts])
        blob = np.frombuffer(b"".join(texts), dtype=np.uint8)
        return cls(names, headings, columns, _hashes([r.embed_hash for r in records]), blob,
                   offsets)

    def save(self, folder: Path) -> None:
        import numpy as np

        (folder / "passages.json").write_text(
            json.dumps({"sources": self.names, "headings": self.headings}, ensure_ascii=False),
            encoding="utf-8")
        np.save(folder / "passage_columns.npy", self.columns, allow_pickle=False)
        np.save(folder / "passage_hashes.npy", self.hashes, allow_pickle=False)
        (folder / "passage_text.bin").write_bytes(bytes(self.text))
        np.save(folder / "passage_text_offsets.npy", self.offsets, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> ChunkTable:
        """The table saved in `folder` (raises OSError, ValueError or KeyError when unreadable)."""
        import numpy as np

        meta = json.loads((folder / "passages.json").read_text(encoding="utf-8"))
        names, headings = list(meta["sources"]), list(meta["headings"])
        columns = np.load(folder / "passage_columns.npy", allow_pickle=False)
        hashes = np.load(folder / "passage_hashes.npy", allow_pickle=False)
        offsets = np.load(folder / "passage_text_offsets.npy", allow_pickle=False)
        size = (folder / "passage_text.bin").stat().st_size
        text = (np.memmap(folder / "passage_text.bin", dtype=np.uint8, mode="r") if size
                else np.zeros(0, dtype=np.uint8))
        return cls(names, headings, columns, hashes, text, offsets)

    def problem(self) -> str:
        """What is inconsistent in the table ("" when nothing)."""
        import numpy as np

        n = len(self.columns)
        c, o = self.columns, self.offsets
        if c.ndim != 2 or c.shape[1] != len(_COLUMNS) or c.dtype.kind != "i":
            return "a malformed passage table"
        if len(self.hashes) != n or o.shape != (n + 1,) or o.dtype.kind != "i":
            return "a passage table whose columns disagree"
        if n and (o[0] != 0 or (np.diff(o) < 0).any() or o[-1] != len(self.text)
                  or c[:, 0].min() < 0 or c[:, 0].max() >= len(self.names)
                  or c[:, 5].min() < 0 or c[:, 5].max() >= len(self.headings)):
            return "a passage table that points outside itself"
        return ""


class SentenceTable(Sequence[SentenceRow]):
    """The sentence vectors' passages, offsets and keys."""

    def __init__(self, columns: Any, hashes: Any) -> None:
        self.columns, self.hashes = columns, hashes  # int64 (n x 3: row, start, end); bytes

    def __len__(self) -> int:
        return len(self.columns)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        row, start, end = (int(x) for x in self.columns[i])
        return SentenceRow(row, start, end, self.hashes[i].decode("ascii"))

    def __iter__(self) -> Iterator[SentenceRow]:
        return (self[i] for i in range(len(self)))

    def rows(self) -> Any:
        """The passage row of each sentence."""
        return self.columns[:, 0]

    def embed_hashes(self) -> list[str]:
        return [h.decode("ascii") for h in self.hashes]

    @classmethod
    def of(cls, sentences: Sequence[SentenceRow]) -> SentenceTable:
        import numpy as np

        columns = np.array([[s.row, s.start, s.end] for s in sentences],
                           dtype=np.int64).reshape(len(sentences), 3)
        return cls(columns, _hashes([s.embed_hash for s in sentences]))

    def save(self, folder: Path) -> None:
        import numpy as np

        np.save(folder / "sentence_columns.npy", self.columns, allow_pickle=False)
        np.save(folder / "sentence_hashes.npy", self.hashes, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> SentenceTable:
        import numpy as np

        return cls(np.load(folder / "sentence_columns.npy", allow_pickle=False),
                   np.load(folder / "sentence_hashes.npy", allow_pickle=False))

    def problem(self, passages: int) -> str:
        c = self.columns
        if c.ndim != 2 or c.shape[1] != 3 or c.dtype.kind != "i" or len(self.hashes) != len(c):
            return "a malformed sentence table"
        if len(c) and (c[:, 0].min() < 0 or c[:, 0].max() >= passages):
            return "a sentence table naming passages that do not exist"
        return ""
