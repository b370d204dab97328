"""Settings: one frozen object, read from the ITSQA_* environment variables and CLI options.
Every parameter's reason is in docs/how-it-works.md; the experiments behind the values are in
benchmarks/ABLATION.md."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .lexical import TOKENIZER_VERSION

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# Bump when the readers, chunking, furniture or context rules change, so indexes are re-cut.
CHUNK_RULES_VERSION = 21


@dataclass(frozen=True)
class ChunkSettings:
    """How sources are cut into passages and framed for the model and BM25. Stored in the
    manifest: a change re-cuts every source, reusing the vectors of texts read before."""

    target_chars: int = 700
    max_chars: int = 1000
    # Tokens the model reads per passage, less room for the context line and [CLS]/[SEP].
    max_tokens: int = 256
    context_tokens: int = 40
    overlap_sentences: int = 1
    # A section (heading to heading) that fits in max_chars is one passage.
    whole_sections: bool = True
    # A longer one is cut into the fewest passages of about equal length.
    balanced_sections: bool = True
    drop_furniture: bool = True
    drop_stranded: bool = True  # also fragments stranded between furniture lines
    # Each sentence of a passage gets a vector too; a passage's dense score pools its vectors.
    sentence_vectors: bool = True
    # The model reads the source title and section headings before the passage.
    passage_context: bool = True
    # The section as its heading path ("Priorities › 2) Quantum"), not its own heading alone.
    heading_path: bool = True
    sentence_context: bool = False
    context_publisher: bool = True
    # BM25 indexes the context line this many times before the text (BM25F's field weight).
    bm25_context_repeats: int = 2

    def as_dict(self) -> dict[str, int | bool]:
        """The settings as the manifest stores them, with the rule and tokenizer versions."""
        return {**asdict(self), "rules": CHUNK_RULES_VERSION, "tokenizer": TOKENIZER_VERSION}


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where things are and how to retrieve."""

    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    # Where questions are answered from: "" for the index folder, or a Qdrant address
    # (qdrant://HOST:PORT/COLLECTION, qdrant:///PATH) that the folder's builds are published to.
    store: str = ""
    model_path: Path | None = None  # None: the bundled all-MiniLM-L6-v2
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    mode: str = "hybrid"
    # Hybrid: dense_weight * z(dense) + (1 - dense_weight) * z(BM25); "rrf" fuses ranks instead.
    fusion: str = "zscore"
    # A passage's dense score: its best vector ("max") or the mean of its best two ("top2").
    dense_pool: str = "top2"
    dense_weight: float = 0.7
    rrf_k: int = 60
    # Score regularisation: each fused z-score gains this much of its similar passages' mean.
    regularise_weight: float = 0.1
    # BM25 also counts each question word's nearest corpus words (expansion.py) ...
    expansion: bool = True
    # ... and a question word that no passage holds reaches further (expansion.ABSENT_THRESHOLD).
    absent_expansion: bool = True
    # A mistyped question word is read as the nearest corpus or English word (spelling.py).
    spelling: bool = True
    # BM25 drops the question's function words ("what", "does", "about").
    query_stopwords: bool = True
    # The best `rescore_depth` fused passages are re-scored (ranking.py): each gains
    # `proximity_weight` x its term-proximity score and `late_weight` x its late-interaction
    # score, all standardised among them; 0 turns either off. Mode "late" uses
    # `late_mode_weight` instead of `late_weight`.
    proximity_weight: float = 0.3
    late_weight: float = 0.9
    late_mode_weight: float = 1.9
    rescore_depth: int = 20
    # Optional: a local sentence-transformers CrossEncoder re-orders the best `rescore_depth`
    # passages of any mode (cross_encoder.py). None ships with itsqa.
    reranker: Path | None = None
    # Below this best dense cosine the answer is flagged as not confident ...
    confidence_threshold: float = 0.38
    # ... and so is a question whose every name no source holds in any form (subjects.py).
    absent_names: bool = True

    def with_paths(self, corpus_dir: Path | None = None, index_dir: Path | None = None) -> Settings:
        """These settings over another corpus or index folder (None keeps the current one)."""
        return replace(
            self,
            corpus_dir=corpus_dir if corpus_dir is not None else self.corpus_dir,
            index_dir=index_dir if index_dir is not None else self.index_dir,
        )


def debug_enabled(env: dict[str, str] | None = None) -> bool:
    """Whether ITSQA_DEBUG asks for tracebacks."""
    value = (dict(os.environ) if env is None else env).get("ITSQA_DEBUG", "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Settings with the ITSQA_* variables applied (ITSQA_CORPUS, ITSQA_INDEX, ITSQA_STORE,
    ITSQA_MODEL, ITSQA_RERANKER)."""
    env = dict(os.environ) if env is None else env
    model = env.get("ITSQA_MODEL")
    reranker = env.get("ITSQA_RERANKER")
    return Settings(
        corpus_dir=Path(env.get("ITSQA_CORPUS") or "corpus"),
        index_dir=Path(env.get("ITSQA_INDEX") or "index"),
        store=env.get("ITSQA_STORE") or "",
        model_path=Path(model) if model else None,
        reranker=Path(reranker) if reranker else None,
    )
