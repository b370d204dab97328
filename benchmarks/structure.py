"""Citations on corpora nobody here wrote: how many passages name a real heading of their source
as their section, and how many titles still carry a header-link glyph or a site's suffix.

A section is real when the last heading of the passage's path is one of the headings the
source's format states (HTML h1-h6, a PDF's outline, Markdown # lines), compared ignoring case
and spacing. Plain text states none, so its guessed sections are counted apart.

    python benchmarks/structure.py              # pydocs, pdfs and its
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from typing import Any

from common import table
from corpora import cache_root, corpus

CORPORA = ("pydocs", "pdfs", "its")
_NUMBER = re.compile(r"(?:[0-9a-z]{1,3}\.)*[0-9a-z]{1,3}\.?")  # "7.7.1", "a.1", "2."
GLYPHS = re.compile(r"[¶§]|\s(?:—|–|\|)\s.*(?:documentation|docs)\b", re.IGNORECASE)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _stated_headings(folder: Any) -> dict[str, tuple[str, set[str], Any]]:
    """{source name: (format, the normalised headings its format states, its code blocks)}; a
    PDF's format says whether it has an outline."""
    from itsqa.corpus import read_document, scan

    out = {}
    for sf in scan(folder).files:
        doc, _ = read_document(sf, None)
        if doc is not None:
            heads = {_norm(doc.text[a:b]).lstrip("# ") for a, b, _ in doc.structure.headings}
            kind = doc.format
            if kind == "pdf":
                kind += " with an outline" if doc.structure.explicit else " without one"
            out[sf.name] = (kind, heads, doc.structure.code)
    return out


def _code_blocks(chunks: Any, stated: dict[str, Any]) -> Counter[str]:
    """Code blocks the formats state: in one passage whole, or cut (between lines) over more."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for rec in chunks:
        spans.setdefault(rec.source, []).append((rec.start, rec.end))
    n: Counter[str] = Counter()
    for name, (_, _, code) in stated.items():
        for a, b in code:
            whole = any(s <= a and b <= e for s, e in spans.get(name, []))
            n["whole" if whole else "cut"] += 1
    return n


def _is_stated(heading: str, stated: set[str]) -> bool:
    """Whether `heading` is a stated heading, or one with its number before it ("7.7.1 RSA"
    where a PDF's outline says "RSA")."""
    h = _norm(heading).lstrip("# ")
    return h in stated or any(h.endswith(" " + s) and _NUMBER.fullmatch(h[: -len(s)].strip())
                              for s in stated)


def measure(name: str) -> dict[str, Any]:
    """Per format: passages, those whose section is a stated heading, those with none; and the
    titles that carry glyphs or site suffixes."""
    from itsqa.chunking import HEADING_JOIN
    from itsqa.config import Settings
    from itsqa.service import open_index

    c = corpus(name)
    r = open_index(Settings(corpus_dir=c.folder, index_dir=cache_root() / f"index-{name}"),
                   refresh=True).retriever
    stated = _stated_headings(c.folder)
    counts: dict[str, Counter[str]] = {}
    for rec in r.index.chunks:
        fmt, heads, _ = stated.get(rec.source, ("?", set(), ()))
        n = counts.setdefault(fmt, Counter())
        n["passages"] += 1
        last = rec.heading.split(HEADING_JOIN)[-1] if rec.heading else ""
        n["none" if not last else "stated" if _is_stated(last, heads) else "guessed"] += 1
    titles = [str(s.get("title") or "") for s in r.index.sources.values()]
    return {"formats": {f: dict(v) for f, v in counts.items()},
            "code": dict(_code_blocks(r.index.chunks, stated)),
            "titles": len(titles), "bad_titles": [t for t in titles if GLYPHS.search(t)]}


def run(names: tuple[str, ...] = CORPORA) -> tuple[str, dict[str, Any]]:
    figures = {n: measure(n) for n in names}
    rows = []
    for n, f in figures.items():
        for fmt, v in sorted(f["formats"].items()):
            total = v["passages"]
            rows.append([n, fmt, f"{total:,}", f"{v.get('stated', 0) / total:.1%}",
                         f"{v.get('guessed', 0) / total:.1%}", f"{v.get('none', 0) / total:.1%}"])
    titles = "; ".join(f"{n}: {len(f['bad_titles'])} of {f['titles']}" for n, f in figures.items())
    code = "; ".join(f"{n}: {f['code'].get('whole', 0)} of {sum(f['code'].values())} whole"
                     for n, f in figures.items() if f["code"])
    md = "\n\n".join([
        "Each passage's section (the last heading of its path) against the headings its source "
        "states (HTML h1–h6, a PDF's outline, Markdown `#` lines); plain text states none, so "
        "its sections are guessed from the shape of lines.",
        table(["corpus", "format", "passages", "section is a stated heading",
               "section guessed", "no section"], rows),
        f"Titles with a header-link glyph or a site suffix: {titles}.",
        "Code blocks (HTML `pre`, fenced Markdown) in one passage, with the text around them "
        f"where it fits; a longer one is cut between its lines: {code or 'none in these corpora'}."])
    return md, figures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpora", nargs="*", default=list(CORPORA))
    print(run(tuple(ap.parse_args().corpora))[0])


if __name__ == "__main__":
    main()
