"""Audit the question set's judgments, independently of any system's output: list every run of
words in the corpus that nearly matches an evidence phrase (word-level similarity at or above the
threshold, e.g. the same sentence syndicated with "in" for "into") and does not overlap a place
where one of the question's phrases stands. Each such run is a place where a right answer would
be scored as a miss; review it by hand and add the variant as evidence when it answers the
question. One line per place: the run most like the phrase, with a few words either side.

    python benchmarks/audit_evidence.py [--threshold 0.8] [eval/questions.jsonl] [corpus]

At 0.8 it finds reworded copies of a sentence; at 0.6 it also finds paraphrases of a few words
("an expansive technology diplomacy network" ~ "an extensive tech diplomacy network"), with more
lines to read.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from itsqa.corpus import read_document, scan
from itsqa.evaluation import fold, load_questions


def occurrences(words: list[str], phrase: list[str]) -> set[int]:
    """Indices of the words covered by every occurrence of `phrase` in `words`."""
    n = len(phrase)
    covered: set[int] = set()
    for i in range(len(words) - n + 1):
        if words[i : i + n] == phrase:
            covered.update(range(i, i + n))
    return covered


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("questions", nargs="?", type=Path, default=root / "eval" / "questions.jsonl")
    ap.add_argument("corpus", nargs="?", type=Path, default=root / "corpus")
    args = ap.parse_args()
    docs = {}
    for sf in scan(args.corpus).files:
        doc, _ = read_document(sf, None)
        if doc is not None:
            docs[sf.name] = fold(doc.text).split()
    found = 0
    for q in load_questions(args.questions):
        phrases = [p for p in (fold(e).split() for e in q.evidence) if p]
        for name, words in docs.items():
            stands = set().union(*(occurrences(words, p) for p in phrases))
            runs: list[tuple[float, int, int, str]] = []  # (ratio, start, end, phrase)
            for phrase in phrases:
                n = len(phrase)
                matcher = difflib.SequenceMatcher(None, b=phrase, autojunk=False)
                for size in range(max(2, n - 2), n + 3):
                    for i in range(len(words) - size + 1):
                        run = words[i : i + size]
                        matcher.set_seq1(run)
                        if matcher.quick_ratio() < args.threshold:
                            continue
                        ratio = matcher.ratio()
                        if ratio < args.threshold:
                            continue
                        if len(stands.intersection(range(i, i + size))) * 2 >= size:
                            continue  # mostly the phrase itself (or a piece of it), not a variant
                        if f" {' '.join(run)} " in f" {' '.join(phrase)} ":
                            continue  # a shorter piece of the phrase, not a variant of it
                        runs.append((ratio, i, i + size, " ".join(phrase)))
            taken: set[int] = set()
            for ratio, i, j, like in sorted(runs, key=lambda r: (-r[0], r[1])):
                if taken.intersection(range(i, j)):
                    continue  # one line per place: the run most like the phrase
                taken.update(range(i, j))
                found += 1
                context = " ".join(words[max(0, i - 6) : i]) + " [" + " ".join(words[i:j]) + "] " \
                    + " ".join(words[j : j + 6])
                print(f"{q.id} {name} ({ratio:.2f}): {like!r}\n    ~ {context}")
    print(f"{found} near-variants of evidence phrases to review (threshold {args.threshold})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
