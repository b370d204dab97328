"""Bringing the index up to date with the corpus: incremental builds that re-embed only what
changed, rebuilds when the settings change, and crash safety (a killed, concurrent or failing
build always leaves a whole index)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from itsqa import config, store
from itsqa.build import update_index
from itsqa.config import Settings
from itsqa.service import open_index

from .helpers import BS, ROOT, WIGGIN, FakeEncoder, make_settings


def test_second_build_embeds_nothing_and_loads_no_model(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    first = update_index(s)
    calls = fake_encoder.calls
    second = update_index(s)
    assert second.embedded == 0 and not second.touched
    assert second.total == first.total
    assert fake_encoder.calls == calls
    assert set(second.unchanged) == {p.name for p in corpus_copy.glob("*.txt")}


def test_edit_add_remove(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    first = update_index(s)
    path = corpus_copy / BS
    text = path.read_text(encoding="utf-8")
    marker = "The zebra crossing pilot in Swindon proved the envoy network works."
    path.write_text(text.replace("Key principles", marker + "\n\nKey principles", 1),
                    encoding="utf-8")
    (corpus_copy / "2024-new-source.md").write_text(
        "# Aardvark policy\n\nThe aardvark strategy sets out burrowing priorities.\n",
        encoding="utf-8")
    (corpus_copy / WIGGIN).unlink()
    report = update_index(s)
    assert report.changed == (BS,)
    assert report.added == ("2024-new-source.md",)
    assert report.removed == (WIGGIN,)
    assert 1 <= report.embedded <= 3, "only the edited passage(s) and the new source are embedded"
    assert report.reused >= first.total - 10
    r = open_index(s, refresh=False).retriever
    assert r.ask("zebra crossing pilot Swindon", k=1).hits[0].citation.name == BS
    assert r.ask("aardvark burrowing strategy", k=1).hits[0].citation.name == "2024-new-source.md"
    assert all(c.source != WIGGIN for c in r.index.chunks)


def test_ask_refreshes_a_stale_index(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    (corpus_copy / "2025-okapi.txt").write_text("Okapi diplomacy is the newest lever.\n",
                                                encoding="utf-8")
    stale = open_index(s, refresh=False)
    assert stale.stale
    assert all(c.source != "2025-okapi.txt" for c in stale.retriever.index.chunks)
    notes: list[str] = []
    fresh = open_index(s, refresh=True, note=notes.append)
    assert fresh.report is not None and fresh.report.added == ("2025-okapi.txt",)
    assert any("updating" in n for n in notes)
    assert fresh.retriever.ask("okapi diplomacy", k=1).hits[0].citation.name == "2025-okapi.txt"


def test_touch_without_change_rehashes_once(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    p = corpus_copy / BS
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10_000_000_000))
    report = update_index(s)
    assert report.embedded == 0 and not report.touched
    manifest = store.read_manifest(s.index_dir)
    assert manifest is not None
    assert manifest["sources"][BS]["mtime_ns"] == p.stat().st_mtime_ns


def test_settings_change_or_rebuild_flag_rebuilds_fully(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    first = update_index(s)
    forced = update_index(s, rebuild=True)
    assert forced.rebuilt and forced.embedded == first.total
    from dataclasses import replace

    smaller = replace(s, chunking=replace(s.chunking, target_chars=400))
    changed = update_index(smaller)
    assert changed.rebuilt and changed.reason == "chunking settings changed"


def test_chunking_change_reuses_only_identical_inputs(corpus_copy, tmp_path, fake_encoder,
                                                     monkeypatch):
    from dataclasses import replace

    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    before = open_index(s, refresh=False).retriever.index
    old = dict(zip(before.vector_hashes, before.embeddings(), strict=True))
    # New chunking rules that cut this corpus as before: a full rebuild, but nothing embedded.
    monkeypatch.setattr(config, "CHUNK_RULES_VERSION", config.CHUNK_RULES_VERSION + 100)
    again = update_index(s)
    assert again.rebuilt and again.reason == "chunking settings changed"
    assert again.embedded == 0 and again.reused == again.total
    # One that changes what every passage shows the model (no title context): the passages are
    # embedded anew, and each vector still belongs to its own text.
    bare = replace(s, chunking=replace(s.chunking, passage_context=False))
    third = update_index(bare)
    assert third.embedded == third.total
    after = open_index(bare, refresh=False).retriever.index
    for h, v in zip(after.vector_hashes, after.embeddings(), strict=True):
        if h in old:
            assert (v == old[h]).all()


def test_a_long_title_never_pushes_a_passage_past_the_model_window(tmp_path, monkeypatch):
    """Every text the model reads fits its 256 tokens, context included, so nothing is cut."""
    from itsqa.model import model_spec, token_counter

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(" ".join(f"Sentence {i} is about envoys and quantum policy."
                                           for i in range(200)), encoding="utf-8")
    (corpus / "sources.toml").write_text(
        '["a.txt"]\ntitle = "' + "An extraordinarily long and winding title " * 20 + '"\n',
        encoding="utf-8")
    seen: list[str] = []

    class Recorder(FakeEncoder):
        def encode(self, texts, batch_size=32, progress=None):
            seen.extend(texts)
            return super().encode(texts)

    import itsqa.build

    monkeypatch.setattr(itsqa.build, "load_encoder", lambda *a, **k: Recorder())
    s = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    update_index(s)
    count = token_counter(model_spec(s))
    assert seen and max(count(t) for t in seen) <= 256 - 2
    assert sum(t.startswith("An extraordinarily long") for t in seen) >= 3  # passages keep it


def test_expansion_terms_follow_the_corpus_and_are_reused(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    gen = store.current_generation(s.index_dir)
    terms = store.load_terms(gen)
    words, stems, vectors = terms.words, terms.stems, terms.vectors
    assert "envoys" in words and "aardvark" not in words and len(stems) == len(words)
    before = dict(zip(words, vectors, strict=True))
    (corpus_copy / "2024-new-source.md").write_text(
        "# Aardvark policy\n\nThe aardvark strategy sets out burrowing priorities.\n",
        encoding="utf-8")
    (corpus_copy / WIGGIN).unlink()
    update_index(s)
    terms2 = store.load_terms(store.current_generation(s.index_dir))
    words2, vectors2 = terms2.words, terms2.vectors
    assert "aardvark" in words2
    after = dict(zip(words2, vectors2, strict=True))
    assert all(np.array_equal(after[w], before[w]) for w in after if w in before)
    expected = fake_encoder.encode(["aardvark"])[0]
    assert np.allclose(after["aardvark"], expected, atol=1e-3)
    df = np.load(store.current_generation(s.index_dir) / store.WORDPIECE_DF)
    assert df.ndim == 1 and df.max() <= len(open_index(s, refresh=False).retriever.index.chunks)


# -- crash safety: a failing, killed or concurrent build -------------------------------------

# A build in another process whose fake model sleeps while it embeds, so it can be killed there.
SLOW_BUILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from helpers import FakeEncoder
    import itsqa.build
    from itsqa.build import update_index
    from itsqa.config import Settings
    from pathlib import Path

    class Slow(FakeEncoder):
        def encode(self, texts, batch_size=32, progress=None):
            out = super().encode(texts)
            print("EMBEDDING", flush=True)
            time.sleep(float(sys.argv[3]))
            return out

    itsqa.build.load_encoder = lambda spec, index_dir=None, **kwargs: Slow(spec)
    r = update_index(Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]),
                              ), rebuild=len(sys.argv) > 4)
    print("DONE", r.embedded, flush=True)
""")


def _spawn(tmp_path: Path, corpus: Path, index: Path, delay: float, rebuild: bool = False):
    script = tmp_path / "slow_build.py"
    script.write_text(SLOW_BUILD.format(tests=str(Path(__file__).parent)), encoding="utf-8")
    args = [sys.executable, str(script), str(corpus), str(index), str(delay)]
    if rebuild:
        args.append("rebuild")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)


@pytest.mark.parametrize("where", ["full", "denied"])
def test_a_full_disk_is_one_clear_error_and_leaves_the_previous_index(corpus_copy, tmp_path,
                                                                      fake_encoder, monkeypatch,
                                                                      where) -> None:
    import errno

    from itsqa.errors import ItsqaError

    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    before = store.current_generation(s.index_dir)
    (corpus_copy / "2025-new.txt").write_text("A brand new source about gannets.\n",
                                              encoding="utf-8")

    def cannot_write(*args, **kwargs):
        if where == "full":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise OSError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(np, "save", cannot_write)
        if where == "full":
            m.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=0))
            why = r"no space left on the device\): free some space or choose another --index"
        else:  # the disk is not full: the cause is named
            why = r"Permission denied\): choose another --index or fix"
        with pytest.raises(ItsqaError, match=r"cannot write the new index in .* \(" + why):
            update_index(s)
    assert before is not None and store.current_generation(s.index_dir) == before
    assert sorted(p.name for p in s.index_dir.iterdir() if p.name.startswith("gen-")) == [before.name]
    # no half-written generation, nor a half-written shard of the build's journal
    assert not [p for p in s.index_dir.iterdir() if p.name.startswith(".tmp")]
    assert not [p for p in s.index_dir.rglob(".*.tmp")]
    assert "2025-new.txt" in update_index(s).added


@pytest.mark.slow  # a build in a subprocess
def test_killed_build_leaves_previous_index(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    before = store.load(s.index_dir)
    assert before is not None
    (corpus_copy / "2025-new.txt").write_text("A brand new source about gannets.\n",
                                              encoding="utf-8")
    proc = _spawn(tmp_path, corpus_copy, s.index_dir, 30)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "EMBEDDING"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after = store.load(s.index_dir)
    assert after is not None and after.path == before.path
    assert len(after.chunks) == len(before.chunks)
    # the next build cleans up and completes
    report = update_index(s)
    assert report.added == ("2025-new.txt",)
    assert not [p for p in s.index_dir.iterdir() if p.name.startswith(".tmp-gen-")]


@pytest.mark.slow  # builds in subprocesses
@pytest.mark.parametrize("kill_after", [0.05, 0.2, 0.5, 0.8, 1.2, 1.6])
def test_sigkill_at_random_points_always_leaves_a_valid_index(corpus_copy, tmp_path,
                                                              fake_encoder, kill_after):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    proc = _spawn(tmp_path, corpus_copy, s.index_dir, 0.0, rebuild=True)
    time.sleep(kill_after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    loaded = store.load(s.index_dir)
    assert loaded is not None and len(loaded.chunks) + len(loaded.sentences) == loaded.dense.ntotal


@pytest.mark.slow  # a build in a subprocess
def test_two_builds_at_once_serialise(corpus_copy, tmp_path, fake_encoder):
    index = tmp_path / "index"
    a = _spawn(tmp_path, corpus_copy, index, 1.0)
    b = _spawn(tmp_path, corpus_copy, index, 1.0)
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    embedded = sorted(int(o.strip().split()[-1]) for o in (out_a, out_b))
    assert embedded[0] == 0, "the second build waits, then finds nothing left to embed"
    loaded = store.load(index)
    assert loaded is not None and len(loaded.chunks) == embedded[1]
    gens = [p for p in index.iterdir() if p.name.startswith("gen-")]
    assert len(gens) == 1


@pytest.mark.slow  # a build in a subprocess
def test_reader_during_build_sees_a_whole_index(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    proc = _spawn(tmp_path, corpus_copy, s.index_dir, 0.0, rebuild=True)
    seen = 0
    while proc.poll() is None:
        loaded = store.load(s.index_dir)
        assert loaded is not None and len(loaded.chunks) + len(loaded.sentences) == loaded.dense.ntotal
        seen += 1
    assert proc.returncode == 0
    assert seen >= 1
    shutil.rmtree(s.index_dir)
