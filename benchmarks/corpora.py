"""The corpora the benchmarks run on, each with its question set, made ready in a cache folder
(~/.cache/itsqa/corpora, or $XDG_CACHE_HOME/itsqa/corpora) from files that are on this machine:

| name | what | questions |
| --- | --- | --- |
| its | the project's corpus/ (five ITS sources) | eval/questions.jsonl and the analyst sets |
| cranfield | ../shared/benchmarks/cranfield (BEIR layout) | its qrels |
| pydocs | the Python 3.11 tutorial and HOWTOs (Debian: apt-get install python3.11-doc) | eval/pydocs.jsonl |
| pdfs | five PDF manuals from Debian packages (see PACKAGES) | eval/pdfs.jsonl |
| pydocs-all | the whole Python 3.11 documentation (library, tutorial, howto, reference) | none: scale only |

    python benchmarks/corpora.py            # make every corpus ready and say what is missing
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from common import CRANFIELD, ROOT

PYDOCS = Path("/usr/share/doc/python3.11/html")
PDFS = {
    "libtasn1.pdf": "/usr/share/doc/libtasn1-doc/libtasn1.pdf",
    "shared-mime-info-spec.pdf": "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
    "nettle.pdf": "/usr/share/doc/nettle-dev/nettle.pdf.gz",
    "fontconfig-user.pdf": "/usr/share/doc/fontconfig/fontconfig-user.pdf.gz",
    "bzip2-manual.pdf": "/usr/share/doc/bzip2/manual.pdf.gz",
}
PACKAGES = {"pydocs": "python3.11-doc", "pydocs-all": "python3.11-doc",
            "pdfs": "libtasn1-doc shared-mime-info nettle-dev fontconfig bzip2"}


@dataclass(frozen=True)
class Corpus:
    name: str
    folder: Path  # the corpus folder to index
    questions: tuple[Path, ...] = ()  # question sets (JSONL)
    beir: Path | None = None  # a BEIR collection instead


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "itsqa" / "corpora"


def _copy_html(sections: list[str], target: Path) -> Path:
    if not target.is_dir():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for section in sections:
            shutil.copytree(PYDOCS / section, tmp / section,
                            ignore=shutil.ignore_patterns("*.txt", "_*"))
        os.replace(tmp, target)
    return target


def _copy_pdfs(target: Path) -> Path:
    if not target.is_dir():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name, source in PDFS.items():
            opener = gzip.open if source.endswith(".gz") else open
            with opener(source, "rb") as src, (tmp / name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
        os.replace(tmp, target)
    return target


def missing(name: str) -> str:
    """What is missing on this machine for corpus `name` ("" when nothing)."""
    if name in ("pydocs", "pydocs-all") and not (PYDOCS / "tutorial").is_dir():
        return f"apt-get install {PACKAGES[name]}"
    if name == "pdfs" and not all(Path(p).is_file() for p in PDFS.values()):
        return f"apt-get install {PACKAGES[name]}"
    if name == "cranfield" and not CRANFIELD.is_dir():
        return f"the BEIR collection at {CRANFIELD}"
    return ""


def corpus(name: str) -> Corpus:
    """Corpus `name`, made ready (raises SystemExit naming what to install when it cannot)."""
    need = missing(name)
    if need:
        raise SystemExit(f"corpus {name} needs {need}")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    if name == "its":
        return Corpus(name, ROOT / "corpus", (ROOT / "eval" / "questions.jsonl",
                                              ROOT / "eval" / "analyst-dev.jsonl",
                                              ROOT / "eval" / "analyst-judge.jsonl"))
    if name == "cranfield":
        return Corpus(name, root / "cranfield", beir=CRANFIELD)
    if name == "pydocs":
        return Corpus(name, _copy_html(["tutorial", "howto"], root / "pydocs"),
                      (ROOT / "eval" / "pydocs.jsonl",))
    if name == "pdfs":
        return Corpus(name, _copy_pdfs(root / "pdfs"), (ROOT / "eval" / "pdfs.jsonl",))
    if name == "pydocs-all":
        return Corpus(name, _copy_html(["library", "tutorial", "howto", "reference"],
                                       root / "pydocs-all"))
    raise SystemExit(f"no corpus called {name}")


NAMES = ("its", "cranfield", "pydocs", "pdfs", "pydocs-all")


if __name__ == "__main__":
    for n in NAMES:
        need = missing(n)
        print(f"{n}: " + (f"needs {need}" if need else str(corpus(n).folder)))
