"""reStructuredText sources: titles and their levels, literal blocks, markup kept out of passages,
the file's own metadata, and an index of a folder of them."""

from __future__ import annotations

from itsqa import store
from itsqa.build import update_index
from itsqa.readers import read_rst

from .helpers import make_settings

DOC = """\
:title: Transfer settings guide
:author: Platform team
:date: 2024-02-30

.. _transfer-settings:

==================
 Transfer settings
==================

Intro paragraph about transfers.

Bandwidth
=========

The bandwidth cap limits uploads. Set it like this::

    $ tool configure set max_bandwidth 50MB/s

Queue size and memory limits
----------------------------

.. note::

   A larger queue holds more tasks in memory.

.. code-block:: python
   :linenos:

   queue = Queue(maxsize=1000)

.. toctree::
   :maxdepth: 2

   other-page

.. function:: configure(name, value)

   Sets one value.

..
   A comment nobody reads.

Too short
===

>>> configure("x", 1)
"""


def _spans(text: str, spans) -> list[str]:
    return [text[s[0]:s[1]] for s in spans]


def test_titles_take_levels_in_the_order_their_adornments_first_appear() -> None:
    p = read_rst(DOC.encode())
    got = [(p.text[a:b], level) for a, b, level in p.headings]
    assert got == [("Transfer settings", 1), ("Bandwidth", 2), ("Queue size and memory limits", 3)]
    # an underline shorter than its title makes no title; the line is markup all the same
    assert "Too short" not in [t for t, _ in got]
    markup = _spans(p.text, p.markup)
    assert {"==================", "=========", "-" * 28, "==="} <= set(markup)


def test_literal_blocks_are_code_and_directive_markup_is_not_text() -> None:
    p = read_rst(DOC.encode())
    code = _spans(p.text, p.code)
    assert code == ["    $ tool configure set max_bandwidth 50MB/s", "   queue = Queue(maxsize=1000)",
                    '>>> configure("x", 1)']
    markup = "\n".join(_spans(p.text, p.markup))
    for line in (".. _transfer-settings:", ".. note::", ".. code-block:: python", ":linenos:",
                 "other-page", "A comment nobody reads.", ":title: Transfer settings guide"):
        assert line in markup
    # a note's body is prose, and a directive's argument names what the body describes
    for kept in ("A larger queue holds more tasks in memory.", ".. function:: configure(name, value)",
                 "Sets one value.", "The bandwidth cap limits uploads. Set it like this::"):
        assert kept not in markup


def test_a_field_list_atop_the_file_gives_its_title_and_author_and_only_a_real_date() -> None:
    meta = read_rst(DOC.encode()).meta
    assert (meta.title, meta.publisher, meta.date) == ("Transfer settings guide", "Platform team", "")
    plain = read_rst(b"Guide\n=====\n\n:date: not a field list once text began\n\nText.\n").meta
    assert (plain.title, plain.date) == ("Guide", "")


def test_odd_input_reads_without_error() -> None:
    for text in ("", "====\n" * 5000, "a\n===\n" * 5000, "::\n", ".. code-block::\n", "x::\n\n  y",
                 ":only: field\n", "\n\n.. \n"):
        p = read_rst(text.encode())
        assert all(0 <= a <= b <= len(p.text) for a, b in [*p.code, *p.markup])


def test_a_folder_of_rst_files_is_indexed_by_section_citing_the_file(tmp_path, fake_encoder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    long = DOC.replace("Intro paragraph about transfers.",
                       " ".join(f"Transfers of kind {i} are queued and retried." for i in range(30)))
    (corpus / "guide.rst").write_text(long, encoding="utf-8")
    report = update_index(make_settings(corpus, tmp_path))
    assert report.added == ("guide.rst",) and not report.warnings
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert loaded.sources["guide.rst"]["title"] == "Transfer settings guide"
    assert "guide.rst" not in loaded.texts  # a text file is its own text, cited by its offsets
    for c in loaded.chunks:
        assert long[c.start:c.end] == c.text
        assert not c.text.startswith((":title:", ".. _transfer", "=")) and not c.text.endswith("=")
    assert any(c.heading.endswith("Bandwidth") and "50MB/s" in c.text for c in loaded.chunks)
    # markup lines inside a passage's range get no vector of their own
    sentences = [long[s.start:s.end] for s in loaded.sentences]
    assert "The bandwidth cap limits uploads." in sentences
    markup = (".. note::", ".. code-block:: python", ":linenos:", ".. toctree::", "other-page")
    assert not any(t.strip(" =-") == "" or t.strip() in markup for t in sentences)
