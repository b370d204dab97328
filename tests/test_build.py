from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from itsqa import config, store
from itsqa.build import update_index
from itsqa.config import Settings
from itsqa.errors import CorpusError
from itsqa.retrieval import Answer
from itsqa.service import open_index

from .conftest import ROOT, FakeEncoder
from .pdfmaker import make_pdf

BS = "2023-04-11-burges-salmon-government-publishes-its.txt"
WIGGIN = "2023-lexology-wiggin-government-publishes-new-its.txt"


def make_settings(corpus: Path, tmp_path: Path) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index")


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


def test_metadata_edit_changes_citations(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    toml = corpus_copy / "sources.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('publisher = "Burges Salmon LLP"',
                                                             'publisher = "BS Law"'),
                    encoding="utf-8")
    report = update_index(s)
    # Only the source whose entry changed is re-read and reported; the others are unchanged.
    assert report.changed == (BS,) and BS not in report.unchanged
    assert len(report.unchanged) == len(list(corpus_copy.glob("*.txt"))) - 1
    r = open_index(s, refresh=False).retriever
    assert r.index.sources[BS]["publisher"] == "BS Law"
    # A comment in sources.toml changes no source.
    toml.write_text(toml.read_text(encoding="utf-8") + "\n# checked\n", encoding="utf-8")
    assert update_index(s).changed == ()


def test_metadata_entry_added_for_a_source_without_one(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Glaciers retreat every year in the Alps.", encoding="utf-8")
    (corpus / "b.txt").write_text("Quantum sensing for navigation.", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    (corpus / "sources.toml").write_text('["b.txt"]\ntitle = "Sensing"\n', encoding="utf-8")
    report = update_index(s)
    assert report.changed == ("b.txt",) and report.unchanged == ("a.txt",)
    assert open_index(s, refresh=False).retriever.index.sources["b.txt"]["title"] == "Sensing"


def test_metadata_fields_checked(tmp_path):
    from itsqa.corpus import load_metadata

    (tmp_path / "a.txt").write_text("text", encoding="utf-8")
    (tmp_path / "sources.toml").write_text(
        '["a.txt"]\ntitle = 7\ndate = "yesterday"\ntitel = "typo"\npublisher = "P"\n'
        '["b.txt"]\ndate = 2023-03-22\n["c.txt"]\ndate = "2023-02-30"\n'
        '["d.txt"]\ndate = " 2023-03 "\nurl = ["x"]\n', encoding="utf-8")
    for name in ("b.txt", "c.txt", "d.txt"):
        (tmp_path / name).write_text("text", encoding="utf-8")
    meta, warnings = load_metadata(tmp_path)
    assert meta["a.txt"].title == "" and meta["a.txt"].date == "" and meta["a.txt"].publisher == "P"
    assert meta["b.txt"].date == "2023-03-22"  # a bare TOML date is read as one
    assert meta["c.txt"].date == ""  # no such day
    assert meta["d.txt"].date == "2023-03" and meta["d.txt"].url == ""
    text = "\n".join(warnings)
    assert "[a.txt] in sources.toml: title should be text in quotes, not 7: ignored" in text
    assert "date 'yesterday' is not a date" in text and "date '2023-02-30' is not a date" in text
    assert "unknown field 'titel'" in text and "url should be text in quotes" in text
    assert len(warnings) == 5
    # A file nested past Python's recursion limit is one warning, not a crash.
    (tmp_path / "sources.toml").write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n",
                                           encoding="utf-8")
    meta, warnings = load_metadata(tmp_path)
    assert meta == {} and len(warnings) == 1 and "nested too deeply" in warnings[0]


def test_metadata_for_a_missing_file_is_reported(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    with (corpus_copy / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n["2023-missing.txt"]\ntitle = "Nowhere"\n')
    report = update_index(s)
    assert any("describes 2023-missing.txt, but there is no such file" in w
               for w in report.warnings)


def test_metadata_for_a_file_outside_the_corpus_is_reported_not_read(tmp_path, fake_encoder):
    """An entry that names a file by a path leading out of the corpus folder (which exists there)
    describes no source: it is reported, and the file is not indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "outside.txt").write_text("Text outside the corpus.\n", encoding="utf-8")
    (corpus / "a.txt").write_text("Quantum priorities.\n", encoding="utf-8")
    (corpus / "sources.toml").write_text(
        f'["../outside.txt"]\ntitle = "Out"\n["{tmp_path / "outside.txt"}"]\ntitle = "Abs"\n',
        encoding="utf-8")
    report = update_index(make_settings(corpus, tmp_path))
    outside = [w for w in report.warnings if "which is outside" in w]
    assert len(outside) == 2, report.warnings
    assert report.total == 1


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
    old = dict(zip(before.vector_hashes, store.load_embeddings(before.path), strict=True))
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
    for h, v in zip(after.vector_hashes, store.load_embeddings(after.path), strict=True):
        if h in old:
            assert (v == old[h]).all()


def test_bad_sources_are_skipped_with_warnings(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 cut short")
    (corpus / "good.txt").write_text("The strategy names five priority technologies.\n",
                                     encoding="utf-8")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02garbage" * 100)
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    (corpus / "menu.html").write_text("<html><head><script>track()</script></head>"
                                      "<body><div><img src='a.png'></div></body></html>",
                                      encoding="utf-8")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 diplomacy in M\xe1laga.\n".encode("latin-1"))
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (corpus / "scanned.pdf").write_bytes(make_pdf([[]]))  # pages with no text layer
    (corpus / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (corpus / "draft.txt~").write_text("temp", encoding="utf-8")
    (corpus / ".#lock.txt").write_text("temp", encoding="utf-8")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret outside the corpus", encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside)
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "ring").symlink_to(corpus / "ring")
    os.mkfifo(corpus / "pipe.txt")  # reading it would wait for a writer forever
    report = update_index(make_settings(corpus, tmp_path))
    w = "\n".join(report.warnings)
    assert "binary.txt" in w and "empty.txt" in w and "latin1.txt" in w and "notes.docx" in w
    assert "broken.pdf: cannot be parsed as pdf" in w
    from itsqa.catalog import list_sources

    reasons = {r.name: r.reason for r in list_sources(make_settings(corpus, tmp_path))[0]}
    assert reasons["binary.txt"] == "binary data, not text"
    assert reasons["empty.txt"] == "no text in it"
    assert reasons["scanned.pdf"].startswith("no text in it (a scanned PDF")
    assert reasons["menu.html"] == "no article text found in it"
    assert reasons["broken.pdf"].startswith("cannot be parsed as pdf")
    assert reasons["good.txt"] == ""
    assert "link.txt" in w and "symbolic link" in w
    assert "skipped loop.txt: a symbolic link that loops" in w, w
    assert "skipped ring: a symbolic link that loops" in w, w
    assert "skipped pipe.txt: not a regular file (a pipe, socket or device)" in w, w
    assert "hidden" not in w and "draft" not in w
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"good.txt", "latin1.txt"}
    assert any("Café" in c.text for c in loaded.chunks)
    # a skipped file is remembered: the next check finds nothing to do
    again = update_index(make_settings(corpus, tmp_path))
    assert not again.touched


def test_a_page_nested_too_deep_for_the_html_reader_is_skipped_saying_so(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    para = "<p>" + "The United Kingdom will expand its network of technology envoys. " * 4 + "</p>"

    def page(divs: int) -> str:  # html, body, the divs and the paragraph
        return f"<html><body>{'<div>' * divs}{para}{'</div>' * divs}</body></html>"

    (corpus / "deepest-read.html").write_text(page(253), encoding="utf-8")  # 256 elements deep
    (corpus / "too-deep.html").write_text(page(254), encoding="utf-8")
    (corpus / "menu.html").write_text("<html><body><div><img src='a.png'></div></body></html>",
                                      encoding="utf-8")
    report = update_index(make_settings(corpus, tmp_path))
    w = "\n".join(report.warnings)
    assert "skipped too-deep.html: its elements nest more than 256 deep" in w, w
    assert "skipped menu.html: no article text found in it" in w, w
    assert "deepest-read.html" not in w, w
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"deepest-read.html"}
    assert "technology envoys" in loaded.chunks[0].text


def test_empty_corpus_is_an_error(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(CorpusError, match="no sources"):
        update_index(make_settings(corpus, tmp_path))
    (corpus / "empty.txt").write_text("   \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no readable text"):
        update_index(make_settings(corpus, tmp_path))


def test_html_and_pdf_sources_are_cited(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    html = """<html><head><title>Envoys in the Pacific</title></head><body>
    <nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/about">About us</a></nav>
    <article><h1>Envoys in the Pacific</h1>
    <p>The United Kingdom will appoint a technology envoy to the Indo-Pacific region, based in
    Singapore, to deepen partnerships on semiconductors and telecoms.</p>
    <p>The envoy will work with regional governments on open and interoperable networks, and will
    report to the Foreign Secretary every quarter on progress made.</p></article>
    <footer>Copyright 2023. Cookie settings. Subscribe to our newsletter.</footer></body></html>"""
    (corpus / "envoys.html").write_text(html, encoding="utf-8")
    (corpus / "report.pdf").write_bytes(make_pdf([
        ["Annual report on technology diplomacy.", "Page one covers general progress."],
        ["The lighthouse programme trained four hundred diplomats in quantum policy."],
    ], title="Technology Diplomacy Report"))
    s = make_settings(corpus, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    hit = r.ask("technology envoy based in Singapore", k=1).hits[0]
    assert hit.citation.name == "envoys.html"
    assert hit.citation.title == "Envoys in the Pacific"
    assert "Home | News" not in hit.text
    assert r.index.texts["envoys.html"][hit.citation.start : hit.citation.end] == hit.text
    hit = r.ask("lighthouse programme trained diplomats", k=1).hits[0]
    assert hit.citation.name == "report.pdf"
    assert hit.citation.page == 2
    assert hit.citation.title == "Technology Diplomacy Report"
    assert r.index.texts["report.pdf"][hit.citation.start : hit.citation.end] == hit.text


def _encrypted(pdf: bytes, user_password: str, algorithm: str) -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        writer.add_page(page)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdfs_open_without_a_password_or_are_skipped_saying_why(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pdf = make_pdf([["Cover page."], ["The lighthouse programme trained four hundred diplomats."]])
    # An owner password only (printing or editing restricted), as many published PDFs have:
    # AES needs the `cryptography` package, which pypdf[crypto] brings.
    (corpus / "aes.pdf").write_bytes(_encrypted(pdf, "", "AES-256"))
    (corpus / "rc4.pdf").write_bytes(_encrypted(pdf, "", "RC4-128"))
    (corpus / "locked.pdf").write_bytes(_encrypted(pdf, "secret", "AES-128"))
    report = update_index(make_settings(corpus, tmp_path))
    assert list(report.warnings) == [
        "skipped locked.pdf: it is protected by a password: save a copy without one"]
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"aes.pdf", "rc4.pdf"}
    assert any("lighthouse programme" in c.text for c in loaded.chunks if c.source == "aes.pdf")


def test_a_pdf_whose_pages_take_too_long_to_read_is_skipped_saying_why(tmp_path, monkeypatch,
                                                                        fake_encoder):
    """Pages read from their drawing instructions: a few kilobytes of PDF can inflate to
    gigabytes of them (hours of reading), so what is read is capped, scaled by the text limit."""
    from itsqa.corpus import PDF_CONTENT_PER_TEXT

    monkeypatch.setenv("ITSQA_MAX_SOURCE_MB", "0.01")  # 10 KB of text, 200 KB of instructions
    budget = PDF_CONTENT_PER_TEXT * 0.01 * 2**20
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pages = [["The lighthouse programme trained four hundred diplomats."]] * 3
    (corpus / "padded.pdf").write_bytes(make_pdf(pages, padding=int(budget / 2)))
    (corpus / "plain.pdf").write_bytes(make_pdf(pages, padding=int(budget / 4)))
    # Pages cost time however empty: at most 5,000 per MB of the text limit, here 50.
    (corpus / "blank-pages.pdf").write_bytes(make_pdf([["."]] * 51))
    (corpus / "enough-pages.pdf").write_bytes(make_pdf([["Puffins."]] + [["."]] * 49))
    report = update_index(make_settings(corpus, tmp_path))
    assert sorted(report.warnings) == [
        "skipped blank-pages.pdf: it has 51 pages, over the 50 that the 0.01 MB text limit allows "
        "(set ITSQA_MAX_SOURCE_MB to raise it)",
        "skipped padded.pdf: its pages hold over 0.2 MB of drawing instructions, 20 times the "
        "0.01 MB text limit (set ITSQA_MAX_SOURCE_MB to raise it)"]
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"plain.pdf", "enough-pages.pdf"}


SLOW_BUILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from conftest import FakeEncoder
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

    itsqa.build.load_encoder = lambda spec, index_dir=None, export=False, note=None: Slow(spec)
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


@pytest.mark.parametrize("where", ["numpy", "faiss"])
def test_a_full_disk_is_one_clear_error_and_leaves_the_previous_index(corpus_copy, tmp_path,
                                                                      fake_encoder, monkeypatch,
                                                                      where) -> None:
    import errno

    import faiss

    from itsqa.errors import ItsqaError

    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    before = store.current_generation(s.index_dir)
    (corpus_copy / "2025-new.txt").write_text("A brand new source about gannets.\n",
                                              encoding="utf-8")

    def no_space(*args, **kwargs):
        if where == "faiss":
            raise RuntimeError("Error in faiss::FileIOWriter: fwrite failed")
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(faiss if where == "faiss" else np, "write_index" if where == "faiss" else "save",
                  no_space)
        if where == "numpy":  # the disk is full
            m.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=0))
            why = r"no space left on the device\): free some space or choose another --index"
        else:  # the disk is not: the cause is named
            why = r"FAISS could not write vectors.faiss\): choose another --index or fix"
        with pytest.raises(ItsqaError, match=r"cannot write the new index in .* \(" + why):
            update_index(s)
    assert before is not None and store.current_generation(s.index_dir) == before
    assert sorted(p.name for p in s.index_dir.iterdir() if p.name.startswith("gen-")) == [before.name]
    assert not [p for p in s.index_dir.iterdir() if p.name.startswith(".")]  # no half-written one
    assert "2025-new.txt" in update_index(s).added


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
    assert loaded is not None and len(loaded.chunks) + len(loaded.units) == loaded.faiss_index.ntotal


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


def test_reader_during_build_sees_a_whole_index(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    proc = _spawn(tmp_path, corpus_copy, s.index_dir, 0.0, rebuild=True)
    seen = 0
    while proc.poll() is None:
        loaded = store.load(s.index_dir)
        assert loaded is not None and len(loaded.chunks) + len(loaded.units) == loaded.faiss_index.ntotal
        seen += 1
    assert proc.returncode == 0
    assert seen >= 1
    shutil.rmtree(s.index_dir)


def test_index_inside_the_corpus_is_not_read_as_sources(corpus_copy, tmp_path, fake_encoder):
    s = Settings(corpus_dir=corpus_copy, index_dir=corpus_copy / "index")
    update_index(s)
    (corpus_copy / "2025-extra.txt").write_text("Gannets.\n", encoding="utf-8")
    report = update_index(s)
    assert report.added == ("2025-extra.txt",)
    assert not [w for w in report.warnings if "index/" in w]
    assert all(not c.source.startswith("index/") for c in store.load(s.index_dir).chunks)


def test_a_long_title_never_pushes_a_passage_past_the_model_window(tmp_path, monkeypatch):
    """Every text the model reads fits its 256 tokens, context included, so nothing is cut."""
    from itsqa.embedding import model_spec, token_counter

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(("A sentence about envoys and quantum policy. " * 200),
                                  encoding="utf-8")
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
    assert all(t.startswith("An extraordinarily long") for t in seen[:3])


def test_line_endings_and_odd_file_names(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "crlf.txt").write_bytes(b"Puffins nest here.\r\nKittiwakes too.\r\n\r\nRazorbills last.\r\n")
    (corpus / "cr.txt").write_bytes(b"Shags first.\rCormorants second.\r")
    (corpus / "new\nline.txt").write_text("Skuas in a file with a newline in its name.\n",
                                          encoding="utf-8")
    os.close(os.open(os.fsencode(corpus) + b"/\xffbad.txt", os.O_CREAT | os.O_WRONLY))
    (Path(os.fsencode(corpus).decode("utf-8", "surrogateescape")) / "\udcffbad.txt").write_text(
        "Gannets in a file whose name is not UTF-8.\n", encoding="utf-8")
    report = update_index(make_settings(corpus, tmp_path))
    assert any("not valid UTF-8" in w for w in report.warnings)
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {c.source for c in loaded.chunks} == {"crlf.txt", "cr.txt", "new\nline.txt"}
    for c in loaded.chunks:
        with open(corpus / c.source, encoding="utf-8") as fh:  # as a user would read it
            assert fh.read()[c.start : c.end] == c.text


def test_files_saved_with_a_byte_order_mark(tmp_path, fake_encoder):
    # Windows Notepad saves UTF-8 with a byte-order mark, and "Unicode" as UTF-16.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "plan.md").write_bytes(b"\xef\xbb\xbf# Quantum plan\n\nSensors for puffin counts.\n")
    (corpus / "notes.txt").write_bytes(b"\xef\xbb\xbfKittiwakes\n\nThey nest on cliffs.\n")
    (corpus / "wide.txt").write_bytes(b"\xff\xfe" + "Gannets dive deep.\n".encode("utf-16-le"))
    (corpus / "sources.toml").write_bytes(b'\xef\xbb\xbf["notes.txt"]\ntitle = "Seabird notes"\n')
    report = update_index(make_settings(corpus, tmp_path))
    assert not any("sources.toml" in w for w in report.warnings), report.warnings
    assert any("wide.txt is not UTF-8: read as utf-16" in w for w in report.warnings)
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert loaded.sources["notes.txt"]["title"] == "Seabird notes"
    assert loaded.sources["plan.md"]["title"] == "Quantum plan"  # its first line, as without a mark
    by_source = {c.source: c for c in loaded.chunks}
    assert by_source["wide.txt"].text == "Gannets dive deep."
    for name in ("plan.md", "notes.txt"):
        c = by_source[name]
        assert "\ufeff" not in c.text and "\ufeff" not in c.heading
        with open(corpus / name, encoding="utf-8") as fh:  # offsets as a user would read the file
            assert fh.read()[c.start : c.end] == c.text


@pytest.mark.parametrize("text,title", [
    ("# Quantum plan ##\n\nBody.", "Quantum plan"),  # closing hashes are not the title
    ("Intro.\n\n#   Spaced  out  \n", "Spaced  out"),
    ("# C#\n", "C#"),  # a hash no space sets apart is the title's own
    ("#\n\nNot a title, a paragraph.\n", ""),  # an empty heading does not reach past its line
    ("## Two\n# One\n", "One"),
    ("# a" + " " * 60_000 + "b\n", "a" + " " * 60_000 + "b"),  # over 20 s before; no timed test
])
def test_a_markdown_title_is_its_first_level_one_heading(text: str, title: str) -> None:
    from itsqa.corpus import markdown_title

    assert markdown_title(text) == title


def test_markdown_front_matter_is_metadata_not_text(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = "Quantum sensing pilots will run in the Arctic from 2024.\n"
    (corpus / "pilots.md").write_text("---\ntitle: Quantum pilots report\nauthor: Jane Doe\n"
                                      "date: 2023-05-01\ntags: [quantum]\n---\n\n" + body,
                                      encoding="utf-8")
    (corpus / "given.md").write_text("+++\ntitle = \"Its own title\"\ndate = 2021-01-01\n+++\n"
                                     "# Body heading\n\nPuffins count the sensors.\n",
                                     encoding="utf-8")
    (corpus / "sources.toml").write_text('["given.md"]\ntitle = "Given title"\n', encoding="utf-8")
    report = update_index(make_settings(corpus, tmp_path))
    assert report.warnings == ()
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    pilots = loaded.sources["pilots.md"]
    assert (pilots["title"], pilots["publisher"], pilots["date"]) == (
        "Quantum pilots report", "Jane Doe", "2023-05-01")
    given = loaded.sources["given.md"]
    assert (given["title"], given["date"]) == ("Given title", "2021-01-01")  # sources.toml first
    by_source = {c.source: c for c in loaded.chunks}
    assert by_source["pilots.md"].text == body.strip()
    assert "title" not in by_source["given.md"].text and "+++" not in by_source["given.md"].text
    for name in ("pilots.md", "given.md"):
        c = by_source[name]
        with open(corpus / name, encoding="utf-8") as fh:
            assert fh.read()[c.start : c.end] == c.text
        assert "title" not in c.heading and "date" not in c.heading


def test_expansion_terms_follow_the_corpus_and_are_reused(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    gen = store.current_generation(s.index_dir)
    words, stems, vectors = store.load_terms(gen)
    assert "envoys" in words and "aardvark" not in words and len(stems) == len(words)
    before = dict(zip(words, vectors, strict=True))
    (corpus_copy / "2024-new-source.md").write_text(
        "# Aardvark policy\n\nThe aardvark strategy sets out burrowing priorities.\n",
        encoding="utf-8")
    (corpus_copy / WIGGIN).unlink()
    update_index(s)
    words2, _, vectors2 = store.load_terms(store.current_generation(s.index_dir))
    assert "aardvark" in words2
    after = dict(zip(words2, vectors2, strict=True))
    assert all(np.array_equal(after[w], before[w]) for w in after if w in before)
    expected = fake_encoder.encode(["aardvark"])[0]
    assert np.allclose(after["aardvark"], expected, atol=1e-3)
    df = np.load(store.current_generation(s.index_dir) / store.WORDPIECE_DF)
    assert df.ndim == 1 and df.max() <= len(open_index(s, refresh=False).retriever.index.chunks)


@pytest.mark.parametrize("mode", ["late", "proximity"])
def test_re_scoring_reorders_only_the_hybrid_head(corpus_copy, tmp_path, fake_encoder, mode):
    """Late mode against hybrid; hybrid (with proximity) against hybrid without it."""
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    base = r if mode == "late" else open_index(replace(s, proximity_weight=0.0),
                                               refresh=False).retriever
    moved = False
    for q in ["what are the quantum priorities", "envoys in Silicon Valley", "?!"]:
        before, _ = base.rank(q, "hybrid", depth=40)
        after, _ = r.rank(q, "late" if mode == "late" else "hybrid", depth=40)
        d = s.rerank_depth
        assert {row for row, _ in after[:d]} == {row for row, _ in before[:d]}
        assert [row for row, _ in after[d:]] == [row for row, _ in before[d:]]
        scores = [sc for _, sc in after]
        assert scores == sorted(scores, reverse=True)
        moved = moved or [row for row, _ in after] != [row for row, _ in before]
    assert moved  # it does re-order something on this corpus


def test_proximity_prefers_the_passage_that_answers_in_one_sentence(tmp_path, fake_encoder):
    # The same words in both (so BM25 and the bag-of-words passage vectors tie; no sentence
    # vectors, which would see the difference too); only one says "quantum funding" in one
    # sentence.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Quantum sensors are new this year. Funding arrives in the "
                                  "spring for the programme.\n", encoding="utf-8")
    (corpus / "b.txt").write_text("Quantum funding arrives this year. Sensors are new in the "
                                  "spring for the programme.\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    s = replace(s, chunking=replace(s.chunking, sentence_vectors=False))
    update_index(s)
    r = open_index(s, refresh=False).retriever
    rows = {c.source: i for i, c in enumerate(r.index.chunks)}
    prox = r.proximity_scores("quantum funding", [rows["a.txt"], rows["b.txt"]])
    assert prox[1] > prox[0] > 0
    ranked, _ = r.rank("quantum funding", "hybrid")
    assert ranked[0][0] == rows["b.txt"]
    plain = open_index(replace(s, proximity_weight=0.0), refresh=False).retriever
    assert plain.rank("quantum funding", "hybrid")[0][0][0] == rows["a.txt"]  # a tie, kept in order


def test_missing_words_are_the_question_words_no_source_has(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    # stems count ("priorities" is there as "priority"); function words and numbers never count
    assert r.missing_words("What are the quantum priorities in 2023?") == ()
    assert r.missing_words("Who is the tech envoy to Brazil, and does brazil have one?") == ("Brazil",)
    assert r.missing_words("zebra quantum Xylophones") == ("zebra", "Xylophones")
    assert r.missing_words("?! what how") == ()
    ans = r.ask("Is there a tech envoy to Brazil?", k=2)
    assert ans.missing_words == ("Brazil",) and ans.as_json()["missing_words"] == ["Brazil"]
    # adding a source that names it makes it findable, and no longer missing
    (corpus_copy / "brazil.txt").write_text("The UK and Brazil signed a technology partnership.\n",
                                            encoding="utf-8")
    update_index(s)
    r = open_index(s, refresh=False).retriever
    assert r.missing_words("Is there a tech envoy to Brazil?") == ()


def test_expansion_is_told_which_question_words_no_source_has(corpus_copy, tmp_path,
                                                              fake_encoder, monkeypatch):
    from dataclasses import replace

    from itsqa import lexical

    seen: list[frozenset[str]] = []
    real = lexical.neighbours

    def spy(*args: object) -> dict[str, float]:
        seen.append(args[4])  # type: ignore[arg-type]
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(lexical, "neighbours", spy)
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    open_index(s, refresh=False).retriever.ask("Which Xylophones are quantum priorities?")
    assert seen[-1] == frozenset({"xylophones"})
    off = replace(s, absent_expansion=False)
    open_index(off, refresh=False).retriever.ask("Which Xylophones are quantum priorities?")
    assert seen[-1] == frozenset()


def test_a_pasted_page_expands_only_its_first_words(corpus_copy, tmp_path, fake_encoder):
    from itsqa.retrieval import EXPANSION_WORDS

    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    words = [f"word{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(300)]
    expanded = r._expansion_words(" ".join(words + ["quantum"]))
    assert expanded == sorted(words[:EXPANSION_WORDS])
    assert r._expansion_words("quantum priorities for quantum") == ["priorities", "quantum"]
    assert r.ask(" ".join(words), k=2).hits  # still answered


def test_a_passage_of_one_sentence_is_marked_whole_and_is_the_answer(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "Quantum sensing matters."
    (corpus / "short.txt").write_text(f"  {sentence}\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    ans = open_index(s, refresh=False).retriever.ask("quantum sensing", k=1)
    hit = ans.hits[0]
    assert [hit.text[a:b] for a, b in hit.highlights] == [sentence]
    assert ans.best_answer == sentence


def test_neighbouring_passages_are_not_folded_as_copies(tmp_path, fake_encoder):
    """Two passages of one source share the sentence the chunker repeats between them; when
    that sentence is most of one of them they look like copies, but each has text of its own.
    A copy in another source still folds."""
    from dataclasses import replace

    from itsqa.store import ChunkRecord

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Placeholder text about engineering biology.\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    shared = ("Engineering biology applies engineering principles to the design of biological "
              "systems, building on synthetic biology and the making of new components.")
    first = f"The priorities include quantum. {shared}"
    second = f"{shared} It raises legal questions."
    rows = [ChunkRecord("a.txt", 0, 0, len(first), first, "", ""),
            ChunkRecord("a.txt", 1, len(first) - len(shared), len(first) - len(shared) + len(second),
                        second, "", ""),
            ChunkRecord("b.txt", 0, 0, len(second), second, "", "")]
    r.index = replace(r.index, chunks=rows)
    chosen = r.select([(1, 3.0), (0, 2.0), (2, 1.0)], k=5)
    assert [row for row, _, _ in chosen] == [1, 0]  # both neighbours shown
    assert chosen[0][2] == [2]  # the copy in b.txt folds into the passage it copies


def test_copies_filling_the_head_of_the_ranking_still_leave_k_distinct_passages(tmp_path,
                                                                                fake_encoder):
    """A source that repeats one paragraph hundreds of times puts its copies first for a question
    in its words; they fold into one result, and the other k - 1 come from further down."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    para = ("Quantum sensing programmes in the strategy. Partners will share quantum sensing work. "
            "Quantum sensing trials will follow.")
    (corpus / "copies.txt").write_text("\n\n".join([para] * 800) + "\n", encoding="utf-8")
    (corpus / "other.txt").write_text("Semiconductor supply chains matter for partners.\n",
                                      encoding="utf-8")
    (corpus / "third.txt").write_text("Telecoms diversification is a priority.\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    assert len(r.index.chunks) > 100  # more copies than the first look at the ranking takes
    answer = r.ask("quantum sensing trials with partners", k=3)
    assert len(answer.hits) == 3
    assert [Path(h.citation.source).name for h in answer.hits].count("copies.txt") == 1
    # The same at the level of one ranked list: 40 copies, then a passage of its own.
    ranked = [(row, 10.0 - 0.1 * i) for i, row in enumerate(
        [c for c, rec in enumerate(r.index.chunks) if rec.source == "copies.txt"][:40:2])]
    other = next(c for c, rec in enumerate(r.index.chunks) if rec.source == "other.txt")
    chosen = r.select([*ranked, (other, 0.5)], k=2)
    assert [row for row, _, _ in chosen] == [ranked[0][0], other]


def test_bm25_weighs_the_title_above_the_body(tmp_path, fake_encoder):
    """A word of a source's title counts more in BM25 than the same word once in another source's
    body (the context line is indexed `bm25_context_repeats` times); counted once, they tie."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Notes on ice sheets and the polar climate record.\n")
    (corpus / "b.txt").write_text("Notes on glaciers sheets and the polar climate record.\n")
    (corpus / "sources.toml").write_text('["a.txt"]\ntitle = "Glaciers"\n\n'
                                         '["b.txt"]\ntitle = "Oceans"\n')
    scores = {}
    for repeats in (1, 2):
        s = Settings(corpus_dir=corpus, index_dir=tmp_path / f"index-{repeats}")
        s = replace(s, chunking=replace(s.chunking, bm25_context_repeats=repeats))
        update_index(s)
        r = open_index(s, refresh=False).retriever
        got = r.bm25_scores("glaciers")
        scores[repeats] = {r.index.chunks[i].source: float(got[i]) for i in range(len(got))}
    assert scores[1]["a.txt"] == pytest.approx(scores[1]["b.txt"])
    assert scores[2]["a.txt"] > scores[2]["b.txt"] > 0


def test_each_passages_neighbours_come_from_other_sources_and_follow_edits(corpus_copy, tmp_path,
                                                                          fake_encoder):
    """The neighbour table (for score regularisation) is rebuilt with the index: each passage's
    neighbours are the most similar passages of other sources, by the stored vectors."""
    s = make_settings(corpus_copy, tmp_path)
    for step in ("built", "removed"):
        if step == "removed":
            (corpus_copy / WIGGIN).unlink()
        update_index(s)
        r = open_index(s, refresh=False).retriever
        chunks, rows, sims = r.index.chunks, r.index.neighbours, r.index.neighbour_sims
        vecs = np.asarray(store.load_embeddings(r.index.path))[: len(chunks)]
        assert rows.shape == (len(chunks), store.NEIGHBOUR_COUNT)
        for i, c in enumerate(chunks):
            got = [int(j) for j in rows[i] if j >= 0]
            assert got and all(chunks[j].source != c.source for j in got)
            assert np.allclose(sims[i, : len(got)], vecs[got] @ vecs[i], atol=1e-5)
            assert list(sims[i, : len(got)]) == sorted(sims[i, : len(got)], reverse=True)
            others = [j for j, o in enumerate(chunks) if o.source != c.source and j not in got]
            assert all(vecs[j] @ vecs[i] <= sims[i, len(got) - 1] + 1e-6 for j in others)
        if step == "removed":
            assert all(c.source != WIGGIN for c in chunks)


def test_regularisation_lifts_a_passage_whose_neighbours_also_match():
    """Fused z-score + weight x the cosine-weighted mean z of the passage's neighbours; a
    passage with none keeps its own z as their mean; weight 0 leaves the scores alone."""
    from itsqa.retrieval import Retriever

    fused = np.array([1.0, 1.0, 0.8, -0.5, -1.3])
    rows = np.array([[3, -1], [2, 3], [1, 0], [0, -1], [-1, -1]], dtype=np.int32)
    sims = np.array([[0.5, 0], [0.9, 0.1], [0.9, 0.2], [0.5, 0], [0, 0]], dtype=np.float32)
    index = SimpleNamespace(neighbours=rows, neighbour_sims=sims)
    r = Retriever(replace(Settings(), regularise_weight=0.5), index, lambda: None)
    got = r.regularise(fused)
    z = (fused - fused.mean()) / fused.std()
    expected = z + 0.5 * np.array([z[3], (0.9 * z[2] + 0.1 * z[3]) / 1.0,
                                   (0.9 * z[1] + 0.2 * z[0]) / 1.1, z[0], z[4]])
    assert np.allclose(got, expected)
    assert got[1] > got[0]  # tied on fused score; passage 1's neighbours match, passage 0's do not
    off = Retriever(replace(Settings(), regularise_weight=0.0), index, lambda: None)
    assert np.array_equal(off.regularise(fused), fused)
    lone = SimpleNamespace(neighbours=np.full((5, 2), -1, dtype=np.int32),
                           neighbour_sims=np.zeros((5, 2), dtype=np.float32))
    alone = Retriever(Settings(), lone, lambda: None).regularise(fused)
    assert list(np.argsort(-alone, kind="stable")) == list(np.argsort(-fused, kind="stable"))


def answer_in(tmp_path: Path, files: dict[str, str], question: str) -> Answer:
    """Index a small corpus of `files` (name: text) and ask it `question` for one passage."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text + "\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    return open_index(s, refresh=False).retriever.ask(question, k=1)


def test_the_answer_sentence_weighs_the_questions_rare_words_with_its_meaning(tmp_path,
                                                                            fake_encoder):
    """Within a passage, sentences are scored as passages are: cosine fused with the idf of the
    question's words each holds. The sentence holding the rare word the question asks about
    is the answer although another sentence, full of the question's common words, is nearer
    it by cosine; that one is marked as well."""
    # says a little more than the question (so it is no mere restatement), with its words
    near = "The strategy says what it is about plainly."
    rare = "The strategy bans zeppelins over cities."
    question = "What does the strategy say about zeppelins?"
    q, a, b = fake_encoder.encode([question, near, rare])
    assert q @ a > q @ b  # by cosine alone the other sentence would be the answer
    ans = answer_in(tmp_path, {
        "a.txt": f"{near} {rare} Farmers grow wheat in the spring. Rivers flow to the sea in winter.",
        "b.txt": "The strategy says little about farming or rivers today.",
        "c.txt": "Another strategy says much about the railways of the north."}, question)
    hit = ans.hits[0]
    assert hit.citation.source.endswith("a.txt")
    assert ans.best_answer == rare
    assert sorted(hit.text[x:y] for x, y in hit.highlights) == sorted([near, rare])


def test_a_sentence_that_only_restates_the_question_is_not_the_answer(tmp_path, fake_encoder):
    """A label that repeats the question's words ("Protecting our security interests.") is
    nearest it by cosine and by the words it holds, but says nothing more: the sentence after
    it, which does, is the answer and is marked."""
    label = "Protecting our security interests."
    meaning = "Ensuring that sensitive technology does not fall into hostile hands."
    question = "What does protecting our security interests mean?"
    q, a, b = fake_encoder.encode([question, label, meaning])
    assert q @ a > q @ b  # by cosine alone the label would be the answer
    ans = answer_in(tmp_path, {
        "a.txt": f"{label} {meaning} Farmers grow wheat in the spring and sell it in autumn.",
        "b.txt": "Rivers flow to the sea in winter and in summer."}, question)
    hit = ans.hits[0]
    assert ans.best_answer == meaning
    assert label not in [hit.text[x:y] for x, y in hit.highlights]


def test_a_sentence_that_restates_the_question_is_the_answer_when_nothing_says_more(
        tmp_path, fake_encoder):
    ans = answer_in(tmp_path, {"a.txt": "Quantum sensing priorities matter. Sensing quantum priorities."},
                    "quantum sensing priorities matter")
    assert ans.best_answer == "Quantum sensing priorities matter."


def test_a_lead_in_answers_with_what_it_introduces(tmp_path, fake_encoder):
    """A sentence ending in a colon introduces the answer: the one-line answer and the marks
    carry on to the item after it."""
    lead = "The government will deliver its diplomatic levers by engaging in:"
    item = "• Cyber work: growing its network of cyber officers and dialogues."
    ans = answer_in(tmp_path, {
        "a.txt": f"Farmers grow wheat in the spring and sell it in autumn.\n\n{lead}\n\n{item}\n\n"
                 "• Trade work: supporting exports and attracting foreign investment.",
        "b.txt": "Rivers flow to the sea in winter and in summer."},
        "Which diplomatic levers will the government use?")
    hit = ans.hits[0]
    marked = [hit.text[x:y] for x, y in hit.highlights]
    assert lead in marked and item in marked
    assert ans.best_answer == f"{lead} {item}"
