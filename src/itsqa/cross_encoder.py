"""Optional cross-encoder re-ordering, for users who have a sentence-transformers `CrossEncoder`
saved in a local folder (`--reranker PATH` or ITSQA_RERANKER). None ships with itsqa and nothing
is downloaded: the folder must hold the model's config, weights and tokenizer.

The cross-encoder reads the question and each passage together and gives one relevance score;
the best `rescore_depth` passages of the chosen mode are re-ordered by it. Loading it imports
sentence-transformers (about 5 s on two cores), so it is made on first use only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ModelError


def check_folder(path: Path) -> Path:
    """`path` if it looks like a saved model folder, else a ModelError saying what is wrong."""
    if not path.is_dir():
        raise ModelError(f"reranker: {path} is not a folder (it should hold a saved CrossEncoder)")
    config = path / "config.json"
    if not config.is_file():
        raise ModelError(f"reranker: {path} has no config.json, so it is not a saved model folder")
    try:
        architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise ModelError(f"reranker: cannot read {config}: {exc}") from exc
    # A plain encoder (a sentence-transformers bi-encoder such as the bundled MiniLM) would load,
    # but with a classification head of random weights: its scores would be noise.
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        found = ", ".join(map(str, architectures)) or "no architecture"
        raise ModelError(f"reranker: {path} holds {found}, not a cross-encoder (a model with a "
                         "sequence-classification head)")
    return path


class CrossEncoderModel:
    """Scores (question, passage) pairs with a local cross-encoder."""

    def __init__(self, path: Path) -> None:
        self.path = check_folder(path)
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        from .embedding import offline_hugging_face

        offline_hugging_face()
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise ModelError("sentence-transformers is not installed: run `pip install -e .`") from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:
            pass
        try:
            model = CrossEncoder(str(self.path), device="cpu", local_files_only=True,
                                 trust_remote_code=False)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"reranker: cannot load a cross-encoder from {self.path}: {first}") from exc
        labels = getattr(getattr(model, "config", None), "num_labels", 1)
        if labels != 1:
            raise ModelError(f"reranker: the model in {self.path} gives {labels} scores per pair; a "
                             "reranker must give one relevance score")
        self._model = model
        return model

    def scores(self, question: str, texts: Sequence[str]) -> Any:
        """One relevance score per text, higher is better (float64 numpy array)."""
        import numpy as np

        if not texts:
            return np.zeros(0)
        model = self._load()
        out = model.predict([(question, t) for t in texts], batch_size=32, show_progress_bar=False,
                            convert_to_numpy=True)
        return np.asarray(out, dtype=np.float64).reshape(len(texts))
