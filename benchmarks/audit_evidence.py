"""Audit the question set's judgments, independently of any system's output: list every run of
words in the corpus that nearly matches an evidence phrase (word-level similarity >= 0.8, e.g. the
same sentence syndicated with "in" for "into") without containing one of the question's phrases.
Each such run is a place where a right answer would be scored as a miss; review it by hand and
add the variant as evidence when it answers the question.

    python benchmarks/audit_evidence.py [eval/questions.jsonl] [corpus]
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from itsqa.corpus import read_document, scan
from itsqa.evaluation import fold, load_questions

THRESHOLD = 0.8


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    qpath = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "eval" / "questions.jsonl"
    corpus = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "corpus"
    docs = {}
    for sf in scan(corpus).files:
        doc, _ = read_document(sf, None)
        if doc is not None:
            docs[sf.name] = fold(doc.text).split()
    found = 0
    for q in load_questions(qpath):
        phrases = [fold(e).split() for e in q.evidence]
        for phrase in phrases:
            n = len(phrase)
            for name, words in docs.items():
                for size in range(max(2, n - 2), n + 3):
                    for i in range(len(words) - size + 1):
                        run = words[i : i + size]
                        if difflib.SequenceMatcher(None, phrase, run).ratio() < THRESHOLD:
                            continue
                        near = " ".join(words[max(0, i - 5) : i + size + 5])
                        if any(" ".join(p) in near for p in phrases):
                            continue  # the phrase itself stands here
                        if f" {' '.join(run)} " in f" {' '.join(phrase)} ":
                            continue  # a shorter piece of the phrase, not a variant of it
                        found += 1
                        print(f"{q.id} {name}: {' '.join(phrase)!r} ~ {' '.join(run)!r}")
                        break
    print(f"{found} near-variants of evidence phrases to review", file=sys.stderr)


if __name__ == "__main__":
    main()
