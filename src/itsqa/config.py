"""Settings: one frozen object, read from the ITSQA_* environment variables and CLI options."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .lexical import TOKENIZER_VERSION

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


# Bump when the chunking, furniture or context rules change, so existing indexes are rebuilt.
CHUNK_RULES_VERSION = 15


@dataclass(frozen=True)
class ChunkSettings:
    """How sources are cut into passages (and the BM25 tokenizer's version). Stored in the
    manifest: a change forces a rebuild, reusing the vectors of unchanged texts."""

    target_chars: int = 700
    max_chars: int = 1000
    # Tokens the model reads per passage, less room for the title/heading context and [CLS]/[SEP].
    max_tokens: int = 256
    context_tokens: int = 40
    overlap_sentences: int = 1
    # A section (heading to heading) that fits in max_chars is one passage, not cut at target_chars.
    whole_sections: bool = True
    # A longer one is cut into the fewest passages of about equal length (each <= target_chars).
    balanced_sections: bool = True
    drop_furniture: bool = True
    drop_stranded: bool = True  # also fragments stranded between furniture lines (furniture.py)
    # Also embed each sentence of a passage; a passage's dense score is its best vector's.
    sentence_vectors: bool = True
    # Give the model the source title and section heading before the text?
    passage_context: bool = True
    # The section as its heading path ("International priorities › 2) Quantum"), or its own
    # heading alone?
    heading_path: bool = True
    sentence_context: bool = False
    context_publisher: bool = True
    # BM25 indexes the context line this many times before the text: a title or heading word
    # weighs more than one in the body (BM25F's field weight, by repetition).
    bm25_context_repeats: int = 2

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "target_chars": self.target_chars,
            "max_chars": self.max_chars,
            "max_tokens": self.max_tokens,
            "context_tokens": self.context_tokens,
            "overlap_sentences": self.overlap_sentences,
            "whole_sections": self.whole_sections,
            "balanced_sections": self.balanced_sections,
            "drop_furniture": self.drop_furniture,
            "drop_stranded": self.drop_stranded,
            "heading_path": self.heading_path,
            "sentence_vectors": self.sentence_vectors,
            "passage_context": self.passage_context,
            "sentence_context": self.sentence_context,
            "context_publisher": self.context_publisher,
            "bm25_context_repeats": self.bm25_context_repeats,
            "rules": CHUNK_RULES_VERSION,
            "tokenizer": TOKENIZER_VERSION,
        }


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where things are and how to retrieve."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    model_path: Path | None = None  # None: the bundled all-MiniLM-L6-v2
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    mode: str = "hybrid"
    # Hybrid: 0.7 * z(dense) + 0.3 * z(BM25); "rrf" fuses ranks instead (k = rrf_k).
    fusion: str = "zscore"
    # A passage's dense score: its best vector ("max") or the mean of its best two ("top2").
    dense_pool: str = "top2"
    dense_weight: float = 0.7
    rrf_k: int = 60
    # Score regularisation (hybrid and late): each passage's fused score, standardised, gains this
    # much of the cosine-weighted mean standardised score of its most similar passages from other
    # sources (store.NEIGHBOUR_COUNT, found at build time). 0 turns it off.
    regularise_weight: float = 0.1
    # Hybrid only: BM25 also counts each query word's nearest corpus words (see lexical.py).
    expansion: bool = True
    # ... and a query word that no passage holds reaches further (lexical.ABSENT_THRESHOLD).
    absent_expansion: bool = True
    # A question word that no passage holds and no English dictionary knows is read as the
    # nearest corpus or English word in spelling (see spelling.py).
    spelling: bool = True
    # BM25 drops the question's function words ("what", "does", "about"; see lexical.py).
    query_stopwords: bool = True
    # Hybrid and late: the best `rerank_depth` fused passages are re-scored. Each gains
    # `proximity_weight` x how much of the question's BM25 weight one sentence of the passage
    # holds, so a passage that answers in one sentence beats one whose words are scattered; and
    # `late_weight` x its late-interaction score (each word piece of the question matched to its
    # closest token of the passage as the model read it, title and headings included, weighted
    # by rarity). All standardised over those passages; 0 turns either off. The two weights were
    # fitted together on both corpora (benchmarks/ABLATION.md).
    proximity_weight: float = 0.3
    late_weight: float = 0.9
    rerank_depth: int = 20
    # Mode "late" weighs late interaction more: `late_weight` + `rerank_weight`.
    rerank_weight: float = 1.0
    # Optional: a sentence-transformers CrossEncoder saved in this folder re-orders the best
    # `rerank_depth` passages of any mode by its score (see rerank.py). None ships with itsqa.
    reranker: Path | None = None
    # Below this best dense cosine the answer is flagged as not confident (see README, "confidence").
    confidence_threshold: float = 0.38
    debug: bool = False

    def with_paths(self, corpus_dir: Path | None = None, index_dir: Path | None = None) -> Settings:
        return replace(
            self,
            corpus_dir=corpus_dir if corpus_dir is not None else self.corpus_dir,
            index_dir=index_dir if index_dir is not None else self.index_dir,
        )


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Settings with the ITSQA_* variables applied (ITSQA_CORPUS, ITSQA_INDEX, ITSQA_MODEL,
    ITSQA_RERANKER, ITSQA_DEBUG)."""
    env = dict(os.environ) if env is None else env
    model = env.get("ITSQA_MODEL")
    reranker = env.get("ITSQA_RERANKER")
    return Settings(
        corpus_dir=Path(env.get("ITSQA_CORPUS") or "corpus"),
        index_dir=Path(env.get("ITSQA_INDEX") or "index"),
        model_path=Path(model) if model else None,
        reranker=Path(reranker) if reranker else None,
        debug=_flag(env.get("ITSQA_DEBUG")),
    )
