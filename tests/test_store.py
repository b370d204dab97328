"""The on-disk index: a round trip, damage detected on load, the CURRENT pointer, leftovers of
killed builds, and a generation swapped while it is read."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from itsqa import store
from itsqa.build import update_index
from itsqa.errors import BadIndexError
from itsqa.service import open_index

from .helpers import make_settings, reseal


def test_round_trip(corpus_copy: Path, tmp_path: Path, fake_encoder) -> None:
    s = make_settings(corpus_copy, tmp_path)
    report = update_index(s)
    assert report.total > 0 and report.embedded == report.total
    loaded = store.load(s.index_dir)
    assert loaded is not None
    assert loaded.dense.ntotal == len(loaded.chunks) + len(loaded.sentences)
    assert len(loaded.chunks) == report.total
    assert loaded.manifest["format_version"] == store.FORMAT_VERSION
    assert loaded.manifest["model"]["dimension"] == 384
    assert set(loaded.sources) == {p.name for p in corpus_copy.glob("*.txt")}
    for c in loaded.chunks:
        text = (corpus_copy / c.source).read_text(encoding="utf-8")
        assert text[c.start : c.end] == c.text
    vecs = np.asarray(loaded.embeddings())
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    # the dense search finds each stored vector's own row first
    for row in range(3):
        scores, ids = loaded.dense.search(vecs[row : row + 1])
        assert ids[int(np.argmax(scores))] == row


@pytest.mark.parametrize("damage", ["truncate", "alter", "delete", "format", "model", "mismatch",
                                    "neighbours", "tokens"])
def test_damage_is_detected_on_load(corpus_copy: Path, tmp_path: Path, fake_encoder,
                                    damage: str) -> None:
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    gen = store.current_generation(s.index_dir)
    assert gen is not None
    vectors_file = gen / store.EMBEDDINGS
    original_key = json.loads((gen / store.MANIFEST).read_text())["model"]["key"]
    manifest_file = gen / store.MANIFEST
    if damage == "truncate":
        vectors_file.write_bytes(vectors_file.read_bytes()[:100])
    elif damage == "alter":
        data = bytearray((gen / "passage_text.bin").read_bytes())
        data[50] = ord("#")
        (gen / "passage_text.bin").write_bytes(bytes(data))
    elif damage == "delete":
        (gen / "embeddings.npy").unlink()
    elif damage in ("format", "model"):
        m = json.loads(manifest_file.read_text())
        if damage == "format":
            m["format_version"] = 999
        else:
            m["model"]["key"] = "another-model"
        manifest_file.write_text(json.dumps(m))
        reseal(gen)
    elif damage == "mismatch":
        # a passage table that disagrees with the vectors, checksums updated to match
        columns = np.load(gen / "passage_columns.npy")
        np.save(gen / "passage_columns.npy", columns[:-1])
        reseal(gen, "passage_columns.npy")
    elif damage == "neighbours":
        # a neighbour naming a passage that does not exist, checksums updated to match
        table = np.load(gen / store.SIMILAR)
        table[0, 0] = len(table)
        np.save(gen / store.SIMILAR, table)
        reseal(gen, store.SIMILAR)
    elif damage == "tokens":
        # token offsets that overrun the token vectors, checksums updated to match
        offsets = np.load(gen / store.TOKEN_OFFSETS)
        offsets[-1] += 1
        np.save(gen / store.TOKEN_OFFSETS, offsets)
        reseal(gen, store.TOKEN_OFFSETS)
    with pytest.raises(BadIndexError):
        store.load(s.index_dir, model_key=original_key)
    # asking without refresh refuses; asking with refresh rebuilds and answers
    with pytest.raises(BadIndexError):
        open_index(s, refresh=False)
    notes: list[str] = []
    opened = open_index(s, refresh=True, note=notes.append)
    assert opened.retriever.index.dense.ntotal > 0
    assert any("rebuild" in n or "damaged" in n for n in notes)


def test_planted_pickle_is_never_loaded(corpus_copy: Path, tmp_path: Path, fake_encoder) -> None:
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    gen = store.current_generation(s.index_dir)
    assert gen is not None

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle was loaded')",))

    # a pickle where the embeddings should be: np.load(allow_pickle=False) must refuse it
    emb = gen / "embeddings.npy"
    np.save(emb, np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        np.load(emb, allow_pickle=False)
    # and stray pickles beside the index are ignored (the build removes leftovers under lock)
    (gen / "extra.pkl").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(BadIndexError):
        store.load(s.index_dir)  # the checksum of embeddings.npy no longer matches


def test_current_pointer_is_validated(tmp_path: Path) -> None:
    d = tmp_path / "index"
    d.mkdir()
    (d / store.CURRENT).write_text(json.dumps({"generation": "../../etc"}))
    with pytest.raises(BadIndexError):
        store.current_generation(d)
    (d / store.CURRENT).write_text("{not json")
    with pytest.raises(BadIndexError):
        store.current_generation(d)
    (d / store.CURRENT).write_text("[" * 100_000 + "]" * 100_000)  # past the recursion limit
    with pytest.raises(BadIndexError):
        store.current_generation(d)


def test_a_killed_builds_leftovers_go_at_the_next_build_even_with_nothing_to_do(
        corpus_copy: Path, tmp_path: Path, fake_encoder) -> None:
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    gen = store.current_generation(s.index_dir)
    leftover = store._new_generation_dir(s.index_dir)  # as a SIGKILLed build leaves it
    (leftover / "embeddings.npy").write_bytes(b"half")
    report = update_index(s)
    assert report.embedded == 0 and not report.added  # nothing to rebuild
    assert not leftover.exists()
    assert store.current_generation(s.index_dir) == gen and gen is not None and gen.is_dir()


def test_a_generation_removed_while_it_is_read_is_retried_from_the_new_one(
        corpus_copy: Path, tmp_path: Path, fake_encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that commits a new generation removes the old one, possibly while a reader is
    checking it: the reader must move on to the new one, not fail with FileNotFoundError."""
    import shutil

    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    old = store.current_generation(s.index_dir)
    assert old is not None
    real_digest = store.file_digest
    swapped: list[Path] = []

    def digest_while_a_build_swaps(path: Path) -> str:
        if not swapped:  # as a concurrent build would: new generation in place, old one gone
            new = s.index_dir / (old.name + "-next")
            shutil.copytree(old, new)
            (s.index_dir / store.CURRENT).write_text(json.dumps({"generation": new.name}))
            shutil.rmtree(old)
            swapped.append(new)
        return real_digest(path)

    monkeypatch.setattr(store, "file_digest", digest_while_a_build_swaps)
    loaded = store.load(s.index_dir)
    assert swapped and loaded is not None and loaded.path == swapped[0]
    # and where no build moved CURRENT on, a vanished file is a damaged index, named as such
    def vanished(path: Path) -> str:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(store, "file_digest", vanished)
    with pytest.raises(BadIndexError, match="cannot be read"):
        store.load(s.index_dir, checksums=True)
