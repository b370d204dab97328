"""Typing errors in a question. A mistyped word ("pirorities", "semicondutors") matches nothing
in BM25 and reads to the model as word pieces that mean little, so it is read as the nearest word
in spelling before anything is ranked, and the answer says so ("read 'pirorities' as
'priorities'").

Only a word that no passage holds and that is not an English word is read otherwise. What counts
as an English word is SymSpell's English dictionary (82,765 words with their frequencies, shipped
with symspellpy and read here as a word list, without importing it). A word in it is never
changed, however rare, so a paraphrase's own words ("restate", "diversify", "homegrown") and
names the list holds ("Brazil") stay as typed; a word the corpus holds is not a typing error.

The nearest word is looked for among the corpus's words and the dictionary's, within
Elasticsearch's "AUTO" fuzziness of Damerau-Levenshtein distance (optimal string alignment:
swapping two neighbouring letters is one edit): one edit for words of three to five letters, two
for longer ones, none for shorter. A word that looks like a name (capitalised after the question's
first word, or with a capital inside: "TikTok", "DSIT") takes a dictionary word only one edit
away: a general dictionary holds few names, so a name it lacks is more likely a name than a
typing error ("TikTok" is not "tito", two edits away), while "Brtain" is still "britain". At the
nearest distance a corpus word wins over one that is only in the dictionary (the question is
asked of this corpus), then the more frequent, then the first in alphabetical order, so that a
question is always read the same way.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DICTIONARY = "frequency_dictionary_en_82_765.txt"
# A pasted page can hold thousands of words that no source holds: only the first MOST_CHECKED
# of them are checked against the dictionary (~0.1 ms each), and only the first MOST_WORDS that
# it lacks are looked up (each look-up compares the word with every corpus and dictionary word
# of a reachable length, a few ms).
MOST_CHECKED = 64
MOST_WORDS = 16


@dataclass(frozen=True)
class Correction:
    """A word of the question as typed, and the word it was read as."""

    typed: str
    read_as: str

    def as_json(self) -> dict[str, str]:
        return {"typed": self.typed, "read_as": self.read_as}


def max_edits(word: str) -> int:
    """Elasticsearch's AUTO fuzziness: 0 edits below three letters, 1 up to five, 2 beyond."""
    return 0 if len(word) < 3 else 1 if len(word) < 6 else 2


@lru_cache(maxsize=1)
def _raw() -> bytes:
    """SymSpell's word list as it is on disk ("word count" lines, most frequent first), after a
    line break, so that every word stands between b"\\n" and b" ". Empty if it cannot be read (no
    word is then taken for a typing error)."""
    spec = importlib.util.find_spec("symspellpy")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            return b"\n" + (Path(folder) / DICTIONARY).read_bytes()
        except OSError:
            continue
    return b""


@lru_cache(maxsize=1)
def dictionary() -> list[str]:
    """The dictionary's words, most frequent first (read only when a word needs a suggestion:
    splitting the list takes ~20 ms, finding one word in it well under one)."""
    return _raw().decode("utf-8", errors="replace").split()[0::2]


@lru_cache(maxsize=1)
def _by_length() -> dict[int, tuple[list[str], list[int]]]:
    """The dictionary's words by length: {length: (words, their places in the list)}. A word
    more than max_edits longer or shorter cannot be within reach, and rapidfuzz compares every
    word it is given in full (0.4 s for one 5,000-letter word against the whole list)."""
    out: dict[int, tuple[list[str], list[int]]] = {}
    for i, w in enumerate(dictionary()):
        words, places = out.setdefault(len(w), ([], []))
        words.append(w)
        places.append(i)
    return out


def is_word(word: str) -> bool:
    """Whether `word` (any case, and with its accents or without) is in the English dictionary:
    "Qué" and "İstanbul" are "que" and "istanbul" written otherwise, not typing errors."""
    raw = _raw()
    forms = {word.lower()}
    if not word.isascii():
        plain = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
        forms.add(plain.lower())
    return any(b"\n" + f.encode("utf-8", errors="replace") + b" " in raw for f in forms)


def may_be_typo(word: str) -> bool:
    """Whether a word the corpus lacks could be a typing error worth reading otherwise: letters
    only, long enough for an edit (max_edits), and not an English word. False for every word
    when the dictionary is missing: without it no typing error can be told from a rare word."""
    return word.isalpha() and max_edits(word) > 0 and bool(_raw()) and not is_word(word)


def looks_like_name(word: str, first: bool) -> bool:
    """Capitalised where a sentence would not be (`first`: the question's first word), or with a
    capital letter after its first ("TikTok", "DSIT")."""
    return (word[:1].isupper() and not first) or any(c.isupper() for c in word[1:])


def suggest(word: str, corpus_words: Sequence[str], corpus_frequency: Callable[[str], int],
            name: bool = False) -> str | None:
    """The word `word` was most likely meant to be (lower case), or None if no corpus or
    dictionary word is within max_edits of it (within one edit for a dictionary word, if `word`
    is a `name`)."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    typed = word.lower()
    limit = max_edits(typed)
    if limit == 0:
        return None
    n = len(typed)
    dict_reach = 1 if name else limit
    pools: list[tuple[list[str], list[int], int, int]] = [
        ([w for w in corpus_words if abs(len(w) - n) <= limit], [], 0, limit)]
    by_length = _by_length()
    for length in range(n - dict_reach, n + dict_reach + 1):
        if length in by_length:
            pools.append((*by_length[length], 1, dict_reach))
    best: tuple[int, int, int, str] | None = None
    for pool, places, in_corpus, most in pools:
        for found, dist, at in process.extract(typed, pool, scorer=OSA.distance,
                                               score_cutoff=most, limit=None):
            if found == typed or not found.isalpha():
                continue
            # a corpus word by how many passages hold it; a dictionary word by its place in
            # the list, which is in order of frequency
            order = -corpus_frequency(found) if in_corpus == 0 else places[at]
            key = (int(dist), in_corpus, order, found)
            if best is None or key < best:
                best = key
    return best[3] if best else None


def match_case(word: str, like: str) -> str:
    """`word` in the case of `like`: all capitals ("DSIT"), capitalised ("Donelan"), or as is."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


def apply(question: str, corrections: Sequence[Correction]) -> str:
    """`question` with each typed word (whole words, in any case) replaced by the word it is
    read as, in the case it was typed in."""
    for c in corrections:
        def fixed(m: re.Match[str], word: str = c.read_as.lower()) -> str:
            return match_case(word, m.group())

        question = re.sub(rf"(?<!\w){re.escape(c.typed)}(?!\w)", fixed, question,
                          flags=re.IGNORECASE)
    return question
