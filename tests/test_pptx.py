"""PowerPoint .pptx sources: each slide a page with its title as a heading, its shapes in reading
order, tables and speaker notes, the deck's own metadata, and files that are not PowerPoint
packages skipped saying why."""

from __future__ import annotations

import datetime
import io

import pytest

from itsqa import store
from itsqa.build import update_index
from itsqa.readers import Unreadable, read_pptx

from .helpers import make_settings
from .test_docx import _docx, _zip


def _deck(title: str = "Quantum briefing") -> bytes:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.core_properties.title = title
    deck.core_properties.author = "DSIT"
    deck.core_properties.created = datetime.datetime(2023, 3, 22, 9, 30)
    first = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
    first.shapes.title.text = "Why quantum matters"
    body = first.placeholders[1].text_frame
    body.text = "Quantum sensing pilots will run in the Arctic."
    item = body.add_paragraph()
    item.text, item.level = "Funding of 2.5 billion over ten years", 1
    first.notes_slide.notes_text_frame.text = "Mention the puffin survey when presenting."
    second = deck.slides.add_slide(deck.slide_layouts[5])  # title only
    second.shapes.title.text = "Partners"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), text in {(0, 0): "Country", (0, 1): "Area", (1, 0): "Japan",
                         (1, 1): "Semiconductors"}.items():
        table.cell(r, c).text = text
    # added in the opposite order to where they stand on the slide
    second.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1)).text_frame.text = "Below."
    second.shapes.add_textbox(Inches(1), Inches(1.5), Inches(4), Inches(0.4)).text_frame.text = "Above."
    deck.slides.add_slide(deck.slide_layouts[6])  # blank: no text, no page
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def test_a_deck_reads_slide_by_slide_in_reading_order_with_notes_and_tables() -> None:
    p = read_pptx(_deck())
    assert p.text == ("Why quantum matters\n\nQuantum sensing pilots will run in the Arctic.\n\n"
                      "• Funding of 2.5 billion over ten years\n\n"
                      "Mention the puffin survey when presenting.\n\n"
                      "Partners\n\nAbove.\n\nCountry | Area\n\nJapan | Semiconductors\n\nBelow.")
    assert [p.text[a:b] for a, b, _ in p.headings] == ["Why quantum matters", "Partners"]
    assert [p.text[a:b].split("\n")[0] for a, b in p.pages] == ["Why quantum matters", "Partners"]
    assert p.pages[-1][1] == len(p.text)
    assert (p.meta.title, p.meta.publisher, p.meta.date) == ("Quantum briefing", "DSIT", "2023-03-22")
    assert read_pptx(_deck(title="")).meta.title == "Why quantum matters"  # the first slide's


@pytest.mark.parametrize("data,reason", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "older PowerPoint file renamed .pptx"),
    (b"plain text named .pptx", "not a PowerPoint .pptx file"),
    (_docx(), "not a PowerPoint presentation"),
])
def test_what_is_not_a_readable_deck_is_unreadable_saying_why(data: bytes, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        read_pptx(data)


def test_a_deck_that_unpacks_past_the_limit_is_not_unpacked(monkeypatch) -> None:
    monkeypatch.setenv("ITSQA_MAX_SOURCE_MB", "0.1")
    bomb = _zip({"ppt/presentation.xml": b"\x00" * (5 * 2**20)})
    with pytest.raises(Unreadable, match="it unpacks to 5 MB, over the 4 MB allowed"):
        read_pptx(bomb)


def test_decks_are_indexed_and_cited_by_slide(tmp_path, fake_encoder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "briefing.pptx").write_bytes(_deck())
    report = update_index(make_settings(corpus, tmp_path))
    assert report.added == ("briefing.pptx",) and not report.warnings
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    text = loaded.texts["briefing.pptx"]
    by_page = {c.page: c for c in loaded.chunks}
    assert set(by_page) == {1, 2}  # a passage never runs from one slide onto the next
    assert "puffin survey" in by_page[1].text and by_page[2].heading == "Partners"
    for c in loaded.chunks:
        assert text[c.start:c.end] == c.text
