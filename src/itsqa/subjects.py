"""What a question asks about, as far as its words alone tell: the words that frame a question
rather than name its subject ("how much", "do you know whether"), and the names it asks about
("Huawei", "G7", "Horizon Europe"). A question whose every name is absent from the corpus is
about something the sources do not cover, however close its other words come."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

# Words that frame a question, ask for a kind of answer or hedge it, beyond the stopword lists:
# a source that lacks them says nothing about whether it answers.
FRAMING = frozenset("""
about actually also anything anyone anywhere apparently ask asked basically can't concerning
could curious currently does doesn't done else even ever exactly explain find fine get gets
getting give given go goes going gone got happen happened happening hear heard hearing help
hmm how however idea just keep kind kinds know known let like likely look looking lot lots
make makes many matter maybe mean meant mention mentioned mentions might much must need
needs please plus possible probably quite rather really regarding roughly say saying says
see seem seems someone something somehow sort specifically still suppose supposed sure
tell thing things think thinking though thought trying understand want wanted wants way
whatever whether wondering would wouldn't yes yet
cover covers covered describe describes described discuss discusses discussed name names named
refer refers referred talk talks talked
""".split())
# A word of a question is a name when it is capitalised after the start of its sentence, mixes
# letters and digits ("G7", "5G"), or is an acronym of four or more capitals ("AUKUS"). Shorter
# acronyms ("EU", "IP") often stand for words the sources spell out, so they are not counted.
_WORD = re.compile(r"[^\W_](?:[\w&'’.-]*[^\W_])?")
_SENTENCE_END = ".?!:;\"“(["
NEAR_PREFIX = 4  # a corpus word sharing this many first letters is a form of the name


def names(question: str) -> list[str]:
    """The names a question asks about, in order, each once."""
    out: dict[str, str] = {}
    for m in _WORD.finditer(question):
        w = m.group()
        before = question[:m.start()].rstrip()
        letters = [c for c in w if c.isalpha()]
        if not letters or w == "I":
            continue
        mixed = any(c.isdigit() for c in w)
        acronym = len(letters) >= 4 and all(c.isupper() for c in letters)
        capital = w[0].isupper() and bool(before) and before[-1] not in _SENTENCE_END
        if (mixed or acronym or capital) and not (w.isupper() and len(letters) < 4 and not mixed):
            out.setdefault(w.lower(), w)
    return list(out.values())


def has_near_form(stem: str, sorted_vocab: Sequence[str]) -> bool:
    """Whether a corpus stem shares the first NEAR_PREFIX letters of `stem` ("british" for
    "britain"): then the sources name it in another form."""
    if len(stem) < NEAR_PREFIX:
        return False
    head = stem[:NEAR_PREFIX]
    i = bisect.bisect_left(sorted_vocab, head)
    return i < len(sorted_vocab) and sorted_vocab[i].startswith(head)
