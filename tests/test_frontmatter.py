"""Front matter atop a Markdown file: metadata read by line, never evaluated; the block's end."""

from __future__ import annotations

import pytest

from itsqa.frontmatter import MAX_CHARS, read_front_matter

JEKYLL = """---
layout: post
title: "Quantum: the next decade"   
author:
  - Jane Doe
  - 'John Roe'
date: 2023-05-01 10:00:00 +0100
tags: [quantum, arctic]
url: https://example.org/q  # where it was published
---
# Heading in the body

Text.
"""


def test_yaml_front_matter_gives_title_authors_date_and_url_and_where_it_ends() -> None:
    fm = read_front_matter(JEKYLL)
    assert fm is not None
    assert (fm.title, fm.publisher, fm.date, fm.url) == (
        "Quantum: the next decade", "Jane Doe, John Roe", "2023-05-01", "https://example.org/q")
    assert JEKYLL[fm.end:].startswith("# Heading in the body")
    assert fm.warning == ""


@pytest.mark.parametrize("text,expected", [
    ("---\ntitle: A\npublisher: DSIT\nauthor: Jane\n---\nBody", ("A", "DSIT", "")),  # publisher first
    ("---\nauthors: [Ann, \"Bo, Jr\"]\n...\nBody", ("", "Ann, \"Bo, Jr\"", "")),  # closed by ...
    ("\n---\ntitle: After a byte-order mark\n---\n", ("After a byte-order mark", "", "")),
    ("+++\ntitle = \"Hugo page\"\ndate = 2023-03-22\nauthor = [\"A\", \"B\"]\n+++\nBody",
     ("Hugo page", "A, B", "2023-03-22")),
    ("---\ndate: 2023-03\n---\n", ("", "", "2023-03")),
    ("---\ntitle: >-\n  A title folded\n  over two lines\nauthor:\n- Ann\n- Bo\n---\nBody",
     ("A title folded over two lines", "Ann, Bo", "")),  # a block scalar; items at column 0
    ("---\n---\nBody", ("", "", "")),  # empty, still a block to leave out
])
def test_forms_of_front_matter(text: str, expected: tuple[str, str, str]) -> None:
    fm = read_front_matter(text)
    assert fm is not None
    assert (fm.title, fm.publisher, fm.date) == expected
    assert text[fm.end:] in ("Body", "")


@pytest.mark.parametrize("text", [
    "# Title\n\n---\ntitle: not at the top\n---\n",  # a block further down is text
    "---\ntitle: never closed\n\nA body under a rule.\n",
    "Text\n---\n",
    "---\nAn opening paragraph between two rules, which is text.\n---\nBody",
    "---\ntitle: A\nA line that is not YAML.\n---\n",
    "---\n" + "x" * (MAX_CHARS + 10) + "\n---\n",  # too long to be metadata: a rule, then text
])
def test_no_front_matter(text: str) -> None:
    assert read_front_matter(text) is None


def test_bad_fields_are_ignored_with_a_warning_and_nothing_is_evaluated() -> None:
    fm = read_front_matter("---\ntitle: !!python/object/apply:os.system ['echo hi']\n"
                           "date: May 1st\n---\nBody")
    assert fm is not None
    assert fm.title == "!!python/object/apply:os.system ['echo hi']"  # text, as written
    assert fm.date == "" and "date 'May 1st' is not a date" in fm.warning
    for unreal in ("2023-13", "2023-02-30", "2023-99-99 10:00"):  # the shape of a date, no such day
        fm = read_front_matter(f"---\ndate: {unreal}\n---\nBody")
        assert fm is not None and fm.date == "" and "is not a date" in fm.warning
    broken = read_front_matter("+++\ntitle = \n+++\nBody")  # not TOML: its text is kept
    assert broken is not None and broken.end == 0 and broken.title == ""
    assert "does not read as TOML front matter" in broken.warning



@pytest.mark.parametrize("line,title", [
    ("title: a" + " " * 60_000 + "b  # a note", "a b"),  # 15 s to read before (by hand; no timed test)
    ("title:\t'quoted # not a comment'   ", "quoted # not a comment"),
    ("title:   spaced   ", "spaced"),
])
def test_values_lose_surrounding_space_and_a_trailing_comment(line: str, title: str) -> None:
    fm = read_front_matter(f"---\n{line}\nauthor:\n  -   Ann  \n---\n")
    assert fm is not None and (fm.title, fm.publisher) == (title, "Ann")
