"""Finding the sources in the corpus folder: what is read, what is skipped and why (binary data,
links, pipes, editor leftovers, the index itself), odd file names and line endings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from itsqa import store
from itsqa.build import update_index
from itsqa.config import Settings
from itsqa.errors import CorpusError

from .helpers import make_settings
from .pdfmaker import make_pdf


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
    assert "broken.pdf: it ends before a PDF's end marker (%%EOF)" in w
    from itsqa.catalog import list_sources

    reasons = {r.name: r.reason for r in list_sources(make_settings(corpus, tmp_path))[0]}
    assert reasons["binary.txt"] == "binary data, not text"
    assert reasons["empty.txt"] == "no text in it"
    assert reasons["scanned.pdf"].startswith("no text in it (a scanned PDF")
    assert reasons["menu.html"] == "no article text found in it"
    assert reasons["broken.pdf"].startswith("it ends before a PDF's end marker")
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


def test_empty_corpus_is_an_error(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(CorpusError, match="no sources"):
        update_index(make_settings(corpus, tmp_path))
    (corpus / "empty.txt").write_text("   \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no readable text"):
        update_index(make_settings(corpus, tmp_path))


def test_index_inside_the_corpus_is_not_read_as_sources(corpus_copy, tmp_path, fake_encoder):
    s = Settings(corpus_dir=corpus_copy, index_dir=corpus_copy / "index")
    update_index(s)
    (corpus_copy / "2025-extra.txt").write_text("Gannets.\n", encoding="utf-8")
    report = update_index(s)
    assert report.added == ("2025-extra.txt",)
    assert not [w for w in report.warnings if "index/" in w]
    assert all(not c.source.startswith("index/") for c in store.load(s.index_dir).chunks)


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


def test_each_extension_is_read_by_its_format(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    page = ('<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
            "<head><title>Envoys</title></head><body><article><h1>Envoys</h1><p>The UK will "
            "expand its network of technology envoys across the Indo-Pacific.</p></article>"
            "</body></html>")
    (corpus / "envoys.XHTML").write_text(page, encoding="utf-8")
    (corpus / "notes.rest").write_text("Notes\n=====\n\nPuffins nest on the cliffs.\n",
                                       encoding="utf-8")
    (corpus / "sheet.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    report = update_index(make_settings(corpus, tmp_path))
    assert report.added == ("envoys.XHTML", "notes.rest")
    assert any("sheet.csv: not a supported format" in w for w in report.warnings)
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert {n: m["format"] for n, m in loaded.sources.items()} == {"envoys.XHTML": "html",
                                                                  "notes.rest": "rst"}
