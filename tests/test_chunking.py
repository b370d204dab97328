from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itsqa.chunking import HEADING_JOIN, chunk_text, cited_path, heading_path, is_heading, sentences
from itsqa.config import ChunkSettings, Settings
from itsqa.furniture import find_furniture
from itsqa.inputs import embed_text
from itsqa.model import model_spec, token_counter

from .helpers import CORPUS, FIXTURES

SOURCES = sorted(CORPUS.glob("*.txt")) + sorted(FIXTURES.glob("*.txt"))


@pytest.fixture(scope="module")
def count():
    return token_counter(model_spec(Settings()))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_offsets_exact_and_within_limits(path: Path, count) -> None:
    text = path.read_text(encoding="utf-8")
    cfg = ChunkSettings()
    chunks = chunk_text(text, cfg, find_furniture(text), count)
    assert chunks, "every source yields passages"
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= cfg.max_chars
        assert count(c.text) <= cfg.max_tokens - 2 - cfg.context_tokens
        assert c.text == c.text.strip()
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_non_ascii_fixture_keeps_exact_offsets(count) -> None:
    path = FIXTURES / "2024-01-05-accents-et-symboles.txt"
    text = path.read_text(encoding="utf-8")
    chunks = chunk_text(text, ChunkSettings(target_chars=120), (), count)
    joined = " ".join(c.text for c in chunks)
    for word in ("Straße", "🚀", "שלום", "Zürich", "£500"):
        assert word in joined
    for c in chunks:
        assert path.read_text(encoding="utf-8")[c.start : c.end] == c.text


def test_quantum_priorities_stay_together_under_their_heading(count) -> None:
    text = (CORPUS / "2023-04-11-burges-salmon-government-publishes-its.txt").read_text(
        encoding="utf-8")
    chunks = chunk_text(text, ChunkSettings(), find_furniture(text), count)
    quantum = [c for c in chunks if "Implement the\xa0National Quantum Strategy" in c.text]
    assert len(quantum) == 1
    assert quantum[0].text.startswith("2) Quantum technology")
    assert "Lead global governance on the risks and opportunities of quantum" in quantum[0].text
    # The section above the numbered heading is kept as context: these are *priorities*.
    assert quantum[0].heading == f"International priorities{HEADING_JOIN}2) Quantum technology"


def test_a_short_opening_joins_the_passage_after_it_not_a_passage_of_its_own() -> None:
    body = " ".join(["The strategy sets out how the UK will work with its partners."] * 6)
    text = f"24th March 2023\n\nDSIT launches a strategy\n\n{body}\n\nContext\n\n{body}"
    chunks = chunk_text(text, ChunkSettings())
    assert chunks[0].text.startswith("24th March 2023\n\nDSIT launches a strategy\n\nThe")
    assert chunks[0].heading == "DSIT launches a strategy"
    assert all(len(c.text) > 100 for c in chunks)
    # Alone on its page (a passage never crosses a page), a short opening is kept as it is.
    lone = "24th March 2023\n\n" + body
    kept = chunk_text(lone, ChunkSettings(), breaks=[len("24th March 2023\n\n")])
    assert [c.text for c in kept] == ["24th March 2023", body]


@pytest.mark.parametrize("whole", [True, False])
def test_a_section_that_fits_in_max_chars_is_one_passage(whole: bool, count) -> None:
    item = "· Work with like-minded partners on shared principles for trusted access to data."
    section = "6) Data\n\n" + "\n\n".join([item] * 11)  # ~940 characters: over target, under max
    long_section = "7) More\n\n" + "\n\n".join([item] * 14)  # ~1,200: must be cut
    text = f"{section}\n\n{long_section}"
    chunks = chunk_text(text, ChunkSettings(whole_sections=whole), count_tokens=count)
    assert 700 < len(section) <= 1000 < len(long_section)
    assert (chunks[0].text == section) is whole
    assert all(c.text != long_section and len(c.text) <= 1000 for c in chunks)
    assert chunks[-1].text.endswith(item) and chunks[-1].heading == "7) More"


@pytest.mark.parametrize("balanced", [True, False])
def test_a_long_section_is_cut_into_passages_of_about_equal_length(balanced: bool, count) -> None:
    item = "· Work with like-minded partners on shared principles for trusted access to data."
    section = "6) Data\n\n" + "\n\n".join([item] * 12)  # just over 1,000: two passages
    chunks = chunk_text(section, ChunkSettings(balanced_sections=balanced), count_tokens=count)
    sizes = [len(c.text) for c in chunks]
    assert len(chunks) == 2 and all(c.text.endswith(item) for c in chunks)
    # Greedy: a full ~700-character passage and a ~300-character remainder; balanced: halves.
    assert (max(sizes) - min(sizes) < 100) is balanced, sizes


@pytest.mark.parametrize("ending", [":", "."])
def test_a_lead_in_keeps_the_paragraph_it_introduces(ending: str, count) -> None:
    intro = "The Government will draw on industry, finance, academia and civil society. " * 6
    item = ("• creating a new centre to support sustainable growth around the world. It will bring "
            "together experts from government, the private sector and academia to help countries "
            "transform their economies.")
    text = f"Priority actions\n\n{intro}Priority actions identified include{ending}\n\n" + \
        "\n\n".join([item] * 5)
    chunks = chunk_text(text, ChunkSettings(), count_tokens=count)
    # Cut after "include:", the passage would announce a list it does not hold; after a full
    # stop, a break at the paragraph is the preferred cut (the control).
    assert chunks[0].text.endswith(f"include{ending}") is (ending == ".")
    assert chunks[0].text.endswith(item) is (ending == ":")


def _walk(lines: list[tuple[str, bool]]) -> list[str]:
    """The heading path after each heading; (line, read straight after another heading)."""
    path: list[tuple[str, str]] = []
    out = []
    for line, after in lines:
        path = heading_path(path, line, after)
        out.append(HEADING_JOIN.join(h for _, h in path))
    return out


def test_heading_path_numbered_sections_sit_under_their_parent() -> None:
    got = _walk([("Priorities", False), ("1) AI", True), ("2) Quantum", False),
                 ("Actions", False), ("3) Later list", False)])
    assert got == ["Priorities", "Priorities › 1) AI", "Priorities › 2) Quantum", "Actions",
                   "Actions › 3) Later list"]


def test_heading_path_markdown_levels_and_plain_headings() -> None:
    got = _walk([("# Strategy", False), ("## Quantum", True), ("Goals", True),
                 ("## Data", False), ("Aims", False), ("# Annex", False)])
    assert got == ["Strategy", "Strategy › Quantum", "Strategy › Quantum › Goals",
                   "Strategy › Data", "Strategy › Data › Aims", "Annex"]


def test_heading_path_is_bounded() -> None:
    got = _walk([(f"Level {i}", True) for i in range(6)])
    assert got[-1].count(HEADING_JOIN) == 2


@pytest.mark.parametrize("heading,text,expected", [
    ("Priorities › 2) Quantum", "2) Quantum\n\n· Implement it.", "Doc — Priorities\n2) Quantum"),
    ("Priorities › 2) Quantum", "· Lead on it.", "Doc — Priorities › 2) Quantum\n· Lead on it."),
    ("Priorities", "Priorities\n\nSix of them.", "Doc\nPriorities"),
    ("Doc", "Text.", "Doc\nText."),
    ("DOC ", "Text.", "Doc\nText."),
    ("Doc › Aims", "Text.", "Doc — Aims\nText."),
    ("", "Text.", "Doc\nText."),
])
def test_embed_text_gives_the_headings_above_the_passage(heading: str, text: str,
                                                           expected: str) -> None:
    assert embed_text("Doc", heading, text).startswith(expected)


def test_sentences_split_at_sentence_ends_only() -> None:
    text = "The U.K. plan, e.g. for AI, is new. It costs £5m! Does it work? Yes."
    got = [text[a:b] for a, b in sentences(text, 0, len(text))]
    assert got == ["The U.K. plan, e.g. for AI, is new.", "It costs £5m!", "Does it work?", "Yes."]
    # A numbered item's marker, or an initial, is not a sentence of its own.
    item = "2. Responsible – data used lawfully. J. Smith agreed. B) Secure by design."
    got = [item[a:b] for a, b in sentences(item, 0, len(item))]
    assert got == ["2. Responsible – data used lawfully.", "J. Smith agreed.", "B) Secure by design."]


@pytest.mark.parametrize("line,expected", [
    ("2) Quantum technology", True), ("Key principles", True), ("# Heading", True),
    ("1) Artificial intelligence (AI)", True),  # an aside in brackets still ends a heading
    ("(Limited text only)", False), ("It was agreed (in 2022)", True),
    ("It was agreed, as the minister said (in a statement to the House in 2022)", False),
    ("11 April 2023", False), ("Wednesday 22nd March 2023", False),  # datelines date the page
    ("March 2023 update", True),
    ("· Deliver the National AI Strategy.", False),
    ("The government says that it will work closely with governments.", False),
])
def test_is_heading(line: str, expected: bool) -> None:
    assert is_heading(line) is expected


def test_long_sentence_without_spaces_is_cut_not_dropped(count) -> None:
    text = "x" * 5000
    chunks = chunk_text(text, ChunkSettings(), (), count)
    assert "".join(c.text for c in chunks) == text
    assert all(len(c.text) <= 1000 for c in chunks)


_words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_para = st.lists(_words, min_size=1, max_size=60).map(" ".join)
_doc = st.lists(_para, min_size=0, max_size=12).map(lambda ps: "\n\n".join(ps))


@settings(max_examples=150, deadline=None)
@given(_doc, st.integers(min_value=80, max_value=900))
def test_property_offsets_limits_and_coverage(text: str, target: int) -> None:
    cfg = ChunkSettings(target_chars=target, max_chars=max(target, 300))
    furniture = find_furniture(text)
    chunks = chunk_text(text, cfg, furniture)
    covered = [False] * len(text)
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= cfg.max_chars
        for i in range(c.start, c.end):
            covered[i] = True
    in_furniture = [False] * len(text)
    for sp in furniture:
        for i in range(sp.start, sp.end):
            in_furniture[i] = True
    for i, ch in enumerate(text):
        if not ch.isspace() and not in_furniture[i]:
            assert covered[i], f"character {i} ({ch!r}) is in no passage"


def test_approximate_token_budget_never_exceeded() -> None:
    text = " ".join(["word"] * 3000)
    cfg = ChunkSettings(max_tokens=64, context_tokens=0)
    for c in chunk_text(text, cfg):
        assert len(c.text) // 3 <= 62
    assert re.sub(r"\s+", "", "".join(c.text for c in chunk_text(text, cfg))) == "word" * 3000


@pytest.mark.parametrize("heading,title,section", [
    ("International priorities › 2) Quantum", "Doc", "International priorities › 2) Quantum"),
    ("UK launches tech strategy › Context", "UK launches  tech strategy", "Context"),
    ("UK launches tech strategy", "UK launches tech strategy", ""),
    ("", "Doc", ""),
])
def test_cited_section_leaves_out_a_heading_that_repeats_the_title(heading: str, title: str,
                                                                  section: str) -> None:
    assert HEADING_JOIN.join(cited_path(heading, title)) == section


def test_a_year_is_not_a_section_number() -> None:
    under = [("p", "Strategy"), ("n", "1) Quantum")]
    assert heading_path(under, "2) Data", after_heading=False) == [("p", "Strategy"), ("n", "2) Data")]
    assert heading_path(under, "2023. Outlook", after_heading=False) == [("p", "2023. Outlook")]


def test_a_sentence_wrapped_over_lines_is_one_sentence() -> None:
    from itsqa.chunking import sentence_spans

    text = ("The bandwidth cap limits uploads when the\nqueue is full. A new sentence\n"
            "Starts no run-on here.\nA line ending in a colon:\nthen a list.\n\n"
            "after a blank line nothing\njoins the line before.\n· A bullet that goes\non and on.\n"
            "    code(line,\n    more)\nprose after code")
    code = [(text.index("    code("), text.index("more)") + len("more)"))]
    got = [text[s:e] for s, e in sentence_spans(text, min_chars=1, code=code)]
    assert got == ["The bandwidth cap limits uploads when the\nqueue is full.", "A new sentence",
                   "Starts no run-on here.", "A line ending in a colon:", "then a list.",
                   "after a blank line nothing\njoins the line before.",
                   "· A bullet that goes\non and on.",
                   "    code(line,\n    more)", "prose after code"]
