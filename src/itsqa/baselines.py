"""The peers every claim is measured against, built exactly as their users would build them:

* ten-line RAG: fixed 800-character windows of the raw files, MiniLM, exact FAISS search;
* bm25s as shipped: k1=1.5, b=0.75, its English stopwords, no stemming, same windows.

For a BEIR collection the peers see whole documents (title + text) instead of windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import DEFAULT_MODEL_NAME
from .embedding import Encoder
from .evaluation import RankFn, Result

WINDOW = 800
PEERS = ("ten-line RAG (800-char windows, MiniLM)", "bm25s (800-char windows)")
BEIR_PEERS = ("MiniLM dense, whole documents", "bm25s, whole documents")


@dataclass(frozen=True)
class Window:
    key: str  # source name (or document id)
    start: int
    end: int
    text: str


def windows(name: str, text: str, size: int = WINDOW) -> list[Window]:
    return [Window(name, i, min(len(text), i + size), text[i : i + size])
            for i in range(0, len(text), size) if text[i : i + size].strip()]


class DensePeer:
    """MiniLM vectors of each window, inner-product search in a flat FAISS index."""

    def __init__(self, items: Sequence[Window], encoder: Encoder, inputs: Sequence[str] | None = None,
                 vectors: Any = None) -> None:
        import faiss

        self.items = list(items)
        self.encoder = encoder
        self.vectors = vectors if vectors is not None else encoder.encode(
            list(inputs) if inputs is not None else [w.text for w in items])
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        self.index.add(self.vectors)

    def search(self, question: str, k: int) -> list[tuple[Window, float]]:
        q = self.encoder.encode([question])
        scores, rows = self.index.search(q, min(k, len(self.items)))
        return [(self.items[r], float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]


class Bm25Peer:
    """bm25s with its own tokenizer and English stopwords, default Lucene scoring."""

    def __init__(self, items: Sequence[Window], inputs: Sequence[str] | None = None) -> None:
        import bm25s

        self.items = list(items)
        texts = list(inputs) if inputs is not None else [w.text for w in items]
        self.retriever = bm25s.BM25(k1=1.5, b=0.75)
        self.retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False),
                             show_progress=False)

    def search(self, question: str, k: int) -> list[tuple[Window, float]]:
        import bm25s

        tokens = bm25s.tokenize([question], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        docs, scores = self.retriever.retrieve(tokens, k=min(k, len(self.items)),
                                               show_progress=False)
        return [(self.items[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True)
                if s > 0]


def peer_label(label: str, model_name: str) -> str:
    """A dense peer's label, naming the model it really ran on where ITSQA_MODEL chose another."""
    return label if model_name == DEFAULT_MODEL_NAME else label.replace("MiniLM", Path(model_name).name)


def corpus_windows(texts: dict[str, str]) -> list[Window]:
    """800-character windows of every source's text, sources in name order."""
    return [w for name in sorted(texts) for w in windows(name, texts[name])]


def peer_rankers(items: Sequence[Window], encoder: Encoder, threshold: float, k: int,
                 display: Any, model_name: str) -> dict[str, RankFn]:
    """The two peers as question-set rankers over `items`: {label: ranker}. Confidence is the
    dense peer's best cosine against `threshold`; `display` turns a source name into the path
    a result cites."""
    dense = DensePeer(items, encoder)
    bm25 = Bm25Peer(items)

    def make(peer: DensePeer | Bm25Peer) -> RankFn:
        def rank(question: str) -> tuple[list[Result], bool, str | None]:
            hits = peer.search(question, max(k, 10))
            best = dense.search(question, 1)
            conf = bool(best) and best[0][1] >= threshold
            return [Result(i + 1, s, w.text, display(w.key), w.start, w.end)
                    for i, (w, s) in enumerate(hits)], conf, None
        return rank

    return {peer_label(PEERS[0], model_name): make(dense), PEERS[1]: make(bm25)}
