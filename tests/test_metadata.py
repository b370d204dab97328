"""Source metadata: sources.toml (its fields checked, its edits followed by the index) and the
front matter of Markdown files."""

from __future__ import annotations

from itsqa import store
from itsqa.build import update_index
from itsqa.service import open_index

from .helpers import BS, make_settings


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
    from itsqa.metadata import load_metadata

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
