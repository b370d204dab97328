from __future__ import annotations

import pytest

from itsqa.furniture import find_furniture

from .helpers import CORPUS


def furniture_text(name: str) -> tuple[str, list[str]]:
    text = (CORPUS / name).read_text(encoding="utf-8")
    return text, [text[s.start : s.end] for s in find_furniture(text)]


@pytest.mark.parametrize("name,expected", [
    ("2023-03-computer-weekly-tech-strategy-as-tool-of-diplomacy.txt",
     ["Stuart Monk - Fotolia", "Read more about UK government technology strategy",
      "Data Center"]),
    ("2023-03-24-telecoms-news-dsit-launches-its.txt",
     ["If you have any questions about the Government’s new International Technology Strategy",
      "More News:", "Book your tickets here."]),
    ("2023-04-11-burges-salmon-government-publishes-its.txt",
     ["please contact Lucy Pegler", "Key contact", "Subscribe to news and insight",
      "Burges Salmon careers"]),
    ("2023-03-22-hansard-written-statement-hcws660.txt",
     ["Read Full debate", "Read Hansard Text", "- Hansard - - - Excerpts"]),
    ("2023-lexology-wiggin-government-publishes-new-its.txt", ["telephone (+44 20 7612 9612)"]),
])
def test_known_furniture_is_found(name: str, expected: list[str]) -> None:
    _, spans = furniture_text(name)
    joined = "\n".join(spans)
    for e in expected:
        assert e in joined


@pytest.mark.parametrize("name,article", [
    ("2023-03-computer-weekly-tech-strategy-as-tool-of-diplomacy.txt",
     "Regarding quantum, the document states"),
    ("2023-04-11-burges-salmon-government-publishes-its.txt",
     "ITS23 is not short of ambition and commitments"),
    ("2023-03-24-telecoms-news-dsit-launches-its.txt", "Development diplomacy"),
    ("2023-03-22-hansard-written-statement-hcws660.txt", "[HCWS660]"),
])
def test_article_text_is_never_furniture(name: str, article: str) -> None:
    _, spans = furniture_text(name)
    assert not any(article in s for s in spans)


def test_tail_block_needs_to_be_near_the_end() -> None:
    text = "Related articles\n\n" + "A real sentence about the strategy. " * 40
    assert find_furniture(text) == []


def test_spans_are_ordered_and_disjoint() -> None:
    for path in CORPUS.glob("*.txt"):
        spans = find_furniture(path.read_text(encoding="utf-8"))
        for a, b in zip(spans, spans[1:], strict=False):
            assert a.end <= b.start


def test_fragments_stranded_by_furniture_are_chrome() -> None:
    # The Hansard capture's title-and-notice above its links, and the speaker's byline between
    # two of them: no sentence, furniture on both sides.
    text, spans = furniture_text("2023-03-22-hansard-written-statement-hcws660.txt")
    rules = {text[s.start : s.end]: s.rule for s in find_furniture(text)}
    assert rules["The UK's International Technology Strategy\n\n(Limited Text - Ministerial Extracts only)"] \
        == "stranded fragment"
    assert any(k.startswith("James Cleverly Portrait") and v == "stranded fragment"
               for k, v in rules.items())
    assert not any("This is a joint statement" in s for s in spans)


@pytest.mark.parametrize("middle,dropped", [
    ("Envoys to the Gulf", True),  # a label on its own between two links
    ("By Jane Smith, Technology Correspondent, with reporting from London (PA)", True),  # a byline
    ("Tech envoys\nThe Gulf and East Africa (from 2024)", True),  # two label lines
    ("A short sentence stands here.", False),  # a sentence is article text, however short
    ("One line\nTwo lines\nThree lines\nFour lines", False),  # more than a fragment
    ("x" * 250, False),  # too long to be a fragment
    ("## Data", False),  # a Markdown heading is the author's structure
])
def test_stranded_fragment_rule(middle: str, dropped: bool) -> None:
    body = "The strategy was published in March and sets out six priorities for the UK. " * 5
    text = f"{body}\n\nRead more about the strategy\n\n{middle}\n\nShare this article\n\n{body}"
    found = "".join(text[s.start : s.end] for s in find_furniture(text))
    assert (middle.splitlines()[0] in found) is dropped
    assert "six priorities" not in found


@pytest.mark.parametrize("closing,after,dropped", [
    ("If you have any questions about the strategy, do feel free to let us know.", "", True),
    ("For further information please contact our technology team.", "More News:\n\nOfcom plans", True),
    ("Should you wish to discuss this, get in touch with your usual contact.", "Share this", True),
    # Not a sign-off: no way to reach anyone, or article text still follows it.
    ("If you have any questions, the strategy's annex answers most of them.", "", False),
    ("If you have any questions, please contact the department.", "The strategy goes on.", False),
    ("If you have been in contact with a supplier, the guidance says you must declare it.", "", False),
])
def test_a_closing_invitation_to_get_in_touch_is_a_sign_off(closing: str, after: str,
                                                            dropped: bool) -> None:
    body = "The strategy was published in March and sets out six priorities for the UK. " * 8
    text = f"{body}\n\n{closing}" + (f"\n\n{after}" if after else "")
    spans = find_furniture(text)
    assert any(s.rule == "sign-off" and text[s.start : s.end] == closing for s in spans) is dropped
    assert not any("six priorities" in text[s.start : s.end] for s in spans)


def test_a_sign_off_line_early_in_the_page_is_left_alone() -> None:
    body = "The strategy was published in March and sets out six priorities for the UK. " * 8
    text = f"If you have any questions, please contact the department.\n\n{body}"
    assert find_furniture(text) == []


def test_no_furniture_no_stranded_fragment() -> None:
    # Short lines with no furniture anywhere near them are the document, not chrome.
    assert find_furniture("A title\n\nA subtitle\n\nText of the page.") == []


@pytest.mark.parametrize("line,furniture", [
    ("Home > News > Technology", True),
    ("Home › News › UK politics › Government spending", True),
    ("- Hansard - - - Excerpts", True),
    ("Quantum computing . . . . . . . . . . . . . . 17", True),  # a contents or index line
    # a table row's cells, a list item, a sentence with operators: text, whatever their symbols
    ("Codec | Aliases | Meaning | Encoder / decoder", False),
    ("• The nonce and message length are concatenated: flags | nonce | length", False),
    ("* ``use_dualstack_endpoint`` - Use the dual IPv4 / IPv6 endpoint for", False),
    ("Order comparisons (<, >, <=, and >=) raise TypeError.", False),
    ("Compression: 400k + ( 8 x block size )", False),
])
def test_a_trail_of_links_or_a_contents_line_is_furniture_and_other_symbols_are_not(
        line: str, furniture: bool) -> None:
    text = f"An opening sentence of the article.\n\n{line}\n\nA closing sentence of the article."
    spans = [text[s.start:s.end] for s in find_furniture(text)]
    assert (line in spans) is furniture


def test_stated_spans_are_found_by_range() -> None:
    from itsqa.furniture import StatedSpans

    spans = StatedSpans([(30, 40), (5, 8), (10, 20)])
    assert [spans.overlaps(a, b) for a, b in [(0, 5), (0, 6), (8, 10), (19, 25), (20, 30),
                                               (35, 36), (41, 50), (0, 100)]] == [
        False, True, False, True, False, True, False, True]
    assert spans.within(15, 35) == [(0, 5), (15, 20)]  # clipped, as offsets from the start
    assert spans.within(40, 50) == [] and StatedSpans([]).within(0, 9) == []
