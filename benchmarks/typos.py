"""Typing errors: the question set asked again with one word of each question mistyped, with and
without reading mistyped words as the nearest corpus or English word (spelling.py), beside the
set as written. A demanding user mistypes; the held-out questions may too.

    python benchmarks/typos.py                          # seeds 0-3 and the set as written
    python benchmarks/typos.py --seeds 2 3 --edits 2    # two edits in each mistyped word
    python benchmarks/typos.py --beir ../shared/benchmarks/cranfield   # and a BEIR collection

The errors are made, not collected: in each question one word of five letters or more that is
not a function word, chosen at random (seeded), gets one typing error (or --edits of them) of a
kind chosen at random: a letter left out, a letter of a neighbouring key put in or typed
instead, or two neighbouring letters swapped; the first and last letters stay. Most misspellings
are one such edit (Damerau, 1964). A question set stays as it is where no word qualifies.
Relevance judgments are the set's own (evidence phrases), unchanged.
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import replace
from pathlib import Path

from itsqa.beir import beir_cache, evaluate_beir, load_beir, materialise
from itsqa.config import Settings
from itsqa.eval_runs import doc_ranker, system_ranker
from itsqa.evaluation import EvalReport, Question, evaluate_questions, load_questions
from itsqa.lexical import query_stopwords
from itsqa.service import open_index
from itsqa.stats import paired_p

ROOT = Path(__file__).resolve().parent.parent
ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
WORD = re.compile(r"[A-Za-z]{5,}")


def _keys_near(c: str) -> list[str]:
    """The letters on the keys around `c` on a QWERTY keyboard."""
    for r, row in enumerate(ROWS):
        if c in row:
            i = row.index(c)
            return sorted({ROWS[rr][j] for rr in (r - 1, r, r + 1) if 0 <= rr < 3
                           for j in (i - 1, i, i + 1) if 0 <= j < len(ROWS[rr])} - {c})
    return list("etaoin")


def mistype(word: str, rng: random.Random, edits: int = 1) -> str:
    """`word` with `edits` typing errors inside it (its first and last letters kept)."""
    out = word
    for _ in range(edits):
        for _attempt in range(20):
            w = list(out)
            i = rng.randrange(1, len(w) - 1)
            upper = w[i].isupper()
            near = _keys_near(w[i].lower())
            kind = rng.choice(("delete", "insert", "substitute", "swap"))
            if kind == "delete" and len(w) > 3:
                del w[i]
            elif kind == "insert":
                w.insert(i, rng.choice(near))
            elif kind == "substitute":
                w[i] = rng.choice(near).upper() if upper else rng.choice(near)
            elif kind == "swap" and i + 1 < len(w) - 1 and w[i] != w[i + 1]:
                w[i], w[i + 1] = w[i + 1], w[i]
            else:
                continue
            if "".join(w).lower() != out.lower():
                out = "".join(w)
                break
    return out


def mistyped(questions: list[Question], seed: int, edits: int = 1) -> list[Question]:
    rng = random.Random(seed)
    stops = frozenset(query_stopwords())
    out = []
    for q in questions:
        words = [m for m in WORD.finditer(q.question) if m.group().lower() not in stops]
        if words:
            m = rng.choice(words)
            q = replace(q, question=q.question[:m.start()] + mistype(m.group(), rng, edits)
                        + q.question[m.end():])
        out.append(q)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3])
    ap.add_argument("--edits", type=int, default=1, help="typing errors in each mistyped word")
    ap.add_argument("--beir", type=Path)
    args = ap.parse_args()
    base = replace(Settings(), corpus_dir=ROOT / "corpus", index_dir=ROOT / "index")
    on = open_index(base).retriever
    off = open_index(replace(base, spelling=False), refresh=False).retriever
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    answerable = sum(q.answerable for q in questions)
    print(f"question set: eval/questions.jsonl ({answerable} answerable, "
          f"{len(questions) - answerable} unanswerable), hybrid mode; p: paired sign-flip test "
          "on MRR@10, correction against none")
    print("| questions | spelling | hit@1 | hit@5 | MRR@10 | p | up / down (MRR) | "
          "unanswerable flagged | answerable flagged | questions read otherwise |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    sets = [("as written", questions)] + [
        (f"mistyped, seed {s}" + (f", {args.edits} edits" if args.edits != 1 else ""),
         mistyped(questions, s, args.edits)) for s in args.seeds]
    for label, qs in sets:
        reports: dict[str, EvalReport] = {}
        read = 0
        for name, r in (("none", off), ("corrected", on)):
            reports[name] = evaluate_questions(qs, system_ranker(r, "hybrid", 5, highlight=False),
                                               5, name="q", mode="hybrid")
        read = sum(bool(on.reader.corrected(q.question)[1]) for q in qs)
        a, b = reports["none"].reciprocal_ranks(), reports["corrected"].reciprocal_ranks()
        up = sum(y > x + 1e-9 for x, y in zip(a, b, strict=True))
        down = sum(y < x - 1e-9 for x, y in zip(a, b, strict=True))
        for name, rep in reports.items():
            m = rep.metrics
            p = f"{paired_p(a, b):.2f}" if name == "corrected" else "—"
            moved = f"{up} / {down}" if name == "corrected" else ""
            n_read = str(read) if name == "corrected" else ""
            print(f"| {label} | {name} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['mrr@10']:.4f} | "
                  f"{p} | {moved} | {m['unanswerable_flagged']:.3f} | "
                  f"{m['answerable_flagged']:.3f} | {n_read} |", flush=True)
    if args.beir:
        ds = load_beir(args.beir)
        cache = beir_cache(args.beir)
        mapping = materialise(ds, cache / "corpus")
        bs = replace(base, corpus_dir=cache / "corpus", index_dir=cache / "index")
        b_on = open_index(bs).retriever
        b_off = open_index(replace(bs, spelling=False), refresh=False).retriever
        got = {name: evaluate_beir(ds, doc_ranker(r, mapping, "hybrid"), mode="hybrid")
               for name, r in (("none", b_off), ("corrected", b_on))}
        read = sum(bool(b_on.reader.corrected(q)[1]) for q in ds.queries.values())
        p = paired_p(got["none"].ndcg_per_query, got["corrected"].ndcg_per_query)
        print(f"\n{ds.name} as written ({len(ds.queries)} queries; {read} read otherwise): "
              f"nDCG@10 {got['none'].metrics['ndcg@10']:.4f} without correction, "
              f"{got['corrected'].metrics['ndcg@10']:.4f} with it (p {p:.2f})")


if __name__ == "__main__":
    main()
