"""The one place that runs the embedding model: sentence-transformers for building (and the
one-off ONNX export, onnx_export.py), onnxruntime with the model's own tokenizer for fast
encoding. Heavy imports (torch, sentence_transformers, onnxruntime) happen only inside the
functions that need them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ModelError
from .model import ModelSpec, model_text, tokenizer
from .onnx_export import ONNX_FILE, ONNX_OPTIMISED, TYPE_IDS, export_onnx, export_ready
from .tokens import unit_rows

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[int], None]


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


class Encoder(Protocol):
    name: str
    spec: ModelSpec

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Progress | None = None) -> np.ndarray: ...

    def tokens(self, texts: Sequence[str]) -> list[TokenVectors]: ...


def offline_hugging_face() -> None:
    """Keep Hugging Face libraries offline and quiet; call before importing them (they read
    these variables once, at import)."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"),
                        ("TOKENIZERS_PARALLELISM", "false"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
                        ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(name, value)


class SentenceTransformerEncoder:
    """sentence-transformers on the CPU: normalised vectors, batched."""

    name = "sentence-transformers"

    def __init__(self, spec: ModelSpec) -> None:
        offline_hugging_face()
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
               progress: Progress | None = None) -> np.ndarray:
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
            out.append(TokenVectors(np.asarray(kept, dtype=np.int64), unit_rows(vecs),
                                    tuple(self.model.tokenizer.convert_ids_to_tokens(kept))))
        return out

    def dimension(self) -> int:
        dim = self.model.get_sentence_embedding_dimension()
        return int(dim or 0)

    def export_onnx(self, target: Path) -> Path:
        """Export this model to ONNX in `target` (atomically; see onnx_export.py)."""
        return export_onnx(self.model, self.spec, target)


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


# Characters of text per model run: a run's activations then stay within the processor's caches,
# which on a CPU makes one or two passages (or a dozen sentences) a run faster than 32.
RUN_CHARS = 1_500


def length_batches(lengths: Sequence[int], batch_size: int) -> list[range]:
    """Batches over texts sorted by length: at most `batch_size` each and RUN_CHARS characters
    in all (a longer text alone), and a new one where a text is more than twice as long as the
    batch's first (and 32 characters longer). A batch is padded to its longest text, so a question
    encoded with its one-word expansion terms would otherwise pay for each word as for the whole
    question."""
    out: list[range] = []
    start = total = 0
    for i, n in enumerate(lengths):
        first = lengths[start]
        if i > start and (i - start >= batch_size or total + n > RUN_CHARS
                          or (n > 2 * first and n - first > 32)):
            out.append(range(start, i))
            start, total = i, 0
        total += n
    if lengths:
        out.append(range(start, len(lengths)))
    return out


def _onnx_session(folder: Path, prepack: bool) -> Any:
    """An onnxruntime session on the export in `folder`, preferring the pre-optimised graph."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, os.cpu_count() or 1)
    # Threads that spin after a run would take the CPU from the numpy work that follows it.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not prepack:  # opening then only maps the weights file: a cold ask's choice
        opts.add_session_config_entry("session.disable_prepacking", "1")
    opts.log_severity_level = 3
    model = folder / ONNX_OPTIMISED
    if model.is_file():
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    else:
        model = folder / ONNX_FILE
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def encode_with_tokens(encoder: Encoder, texts: Sequence[str]) -> tuple[np.ndarray, TokenVectors]:
    """The vectors of `texts` and the token vectors of the first (a question and its words), in
    as few model runs as the encoder allows."""
    both = getattr(encoder, "encode_first_with_tokens", None)
    if both is not None:
        return both(texts)
    return encoder.encode(texts), encoder.tokens(texts[:1])[0]


def encode_each_with_tokens(encoder: Encoder, texts: Sequence[str]
                            ) -> tuple[np.ndarray, list[TokenVectors]]:
    """The vectors of `texts` and each one's token vectors, in as few model runs as the encoder
    allows (one per batch for the ONNX export)."""
    both = getattr(encoder, "encode_all_with_tokens", None)
    if both is not None:
        return both(texts)
    return encoder.encode(texts), encoder.tokens(texts)


class OnnxEncoder:
    """The exported model on onnxruntime: same vectors as sentence-transformers, no torch.
    `prepack`: let onnxruntime pre-pack the weights, which makes the session ~0.06 s slower to
    open and each run ~3 ms faster (worth it in a long-running process)."""

    name = "onnx"

    def __init__(self, folder: Path, spec: ModelSpec, prepack: bool = False) -> None:
        try:
            self.session = _onnx_session(folder, prepack)
            self.tokenizer = tokenizer(folder / "tokenizer.json", spec.max_seq_length)
        except Exception as exc:
            raise ModelError(f"cannot load the ONNX export in {folder}: {exc}") from exc
        self.inputs = frozenset(i.name for i in self.session.get_inputs())
        self.spec = spec
        self.truncated = False  # whether any text so far was longer than the model reads

    def _batches(self, texts: list[str], batch_size: int) -> list[tuple[list[int], list[Any]]]:
        """(indices into `texts`, their encodings) for each batch, shortest texts first."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = []
        for batch in length_batches([len(texts[i]) for i in order], batch_size):
            idx = order[batch.start : batch.stop]
            encs = self.tokenizer.encode_batch([texts[j] for j in idx])
            self.truncated = self.truncated or any(e.overflowing for e in encs)
            out.append((idx, encs))
        return out

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Progress | None = None) -> np.ndarray:
        import numpy as np

        texts = model_text(texts)
        result = np.zeros((len(texts), 0), dtype=np.float32)
        for idx, encs in self._batches(texts, batch_size):
            rows = self.session.run(["embedding"], _feed(encs, self.inputs))[0]
            if not result.shape[1]:
                result = np.zeros((len(texts), rows.shape[1]), dtype=np.float32)
            result[np.array(idx)] = rows
            if progress:
                progress(len(idx))
        return result

    def encode_first_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, TokenVectors]:
        """As `encode`, and the token vectors of texts[0] from the same run of its batch."""
        import numpy as np

        texts = model_text(texts)
        result = np.zeros((len(texts), 0), dtype=np.float32)
        first: TokenVectors | None = None
        for idx, encs in self._batches(texts, 32):
            want = ["embedding", "tokens"] if 0 in idx else ["embedding"]
            outs = self.session.run(want, _feed(encs, self.inputs))
            if not result.shape[1]:
                result = np.zeros((len(texts), outs[0].shape[1]), dtype=np.float32)
            result[np.array(idx)] = outs[0]
            if 0 in idx:
                at = idx.index(0)
                first = _token_vectors(encs[at], outs[1][at])
        assert first is not None
        return result, first

    def encode_all_with_tokens(self, texts: Sequence[str], batch_size: int = 32
                               ) -> tuple[np.ndarray, list[TokenVectors]]:
        """As `encode`, and every text's token vectors from the same runs."""
        import numpy as np

        texts = model_text(texts)
        result = np.zeros((len(texts), 0), dtype=np.float32)
        tokens: list[TokenVectors | None] = [None] * len(texts)
        for idx, encs in self._batches(texts, batch_size):
            vecs, hidden = self.session.run(["embedding", "tokens"], _feed(encs, self.inputs))
            if not result.shape[1]:
                result = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            result[np.array(idx)] = vecs
            for j, e, h in zip(idx, encs, hidden, strict=True):
                tokens[j] = _token_vectors(e, h)
        return result, [t for t in tokens if t is not None]

    def tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        texts = model_text(texts)
        out: list[TokenVectors | None] = [None] * len(texts)
        # small batches: less padding, faster on few cores
        for idx, encs in self._batches(texts, 8):
            hidden = self.session.run(["tokens"], _feed(encs, self.inputs))[0]
            for j, e, h in zip(idx, encs, hidden, strict=True):
                out[j] = _token_vectors(e, h)
        return [o for o in out if o is not None]


def _token_vectors(enc: Any, hidden: Any) -> TokenVectors:
    """A text's word pieces and unit-length contextual vectors, special tokens and padding
    left out, from its encoding and the model's hidden states for it."""
    import numpy as np

    n = int(sum(enc.attention_mask))
    return TokenVectors(np.asarray(enc.ids[1 : n - 1], dtype=np.int64), unit_rows(hidden[1 : n - 1]),
                        tuple(enc.tokens[1 : n - 1]))


def model_cache() -> Path:
    """Where ONNX exports are kept, one folder per model: ITSQA_MODEL_CACHE, else the user's
    cache ($XDG_CACHE_HOME or ~/.cache)/itsqa/models. Shared by every index on the machine."""
    given = os.environ.get("ITSQA_MODEL_CACHE")
    if given:
        return Path(given)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "itsqa" / "models"


def onnx_folder(index_dir: Path, spec: ModelSpec) -> Path:
    """Where the export of `spec` is looked for and made: the model cache, or the index folder
    where the cache cannot be written (and no export is there already)."""
    shared = model_cache() / spec.key
    if export_ready(shared, spec) or _writable(model_cache()):
        return shared
    return index_dir / "models" / spec.key


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _load_export(folder: Path, spec: ModelSpec, prepack: bool = False
                 ) -> tuple[OnnxEncoder | None, ModelError | None]:
    """The ONNX export of `spec` in `folder`, or (None, why it fails to load) where one is there
    but damaged, or (None, None) where there is none."""
    if not export_ready(folder, spec):
        return None, None
    try:
        return OnnxEncoder(folder, spec, prepack), None
    except ModelError as exc:
        return None, exc


def export_works(index_dir: Path, spec: ModelSpec) -> bool:
    """Whether the index folder holds an ONNX export of `spec` that loads."""
    return _load_export(onnx_folder(index_dir, spec), spec)[0] is not None


def load_encoder(spec: ModelSpec, index_dir: Path | None, *, export: bool = False,
                 note: Callable[[str], None] | None = None, prepack: bool = False) -> Encoder:
    """The fast ONNX encoder where a working export exists; else sentence-transformers, exporting
    ONNX (again, where the export is damaged) for next time when `export` is true. `prepack`
    for a long-running process (see OnnxEncoder)."""
    if index_dir is None:
        return SentenceTransformerEncoder(spec)
    folder = onnx_folder(index_dir, spec)
    fast, damage = _load_export(folder, spec, prepack)
    if fast is not None:
        return fast
    say = note or (lambda _m: None)
    if damage:
        say(f"{damage}: " + ("exporting the model again" if export else
                             "using sentence-transformers instead"))
    elif export:
        say("exporting the model to ONNX for fast asks (once)")
    st = SentenceTransformerEncoder(spec)
    if export:
        try:
            st.export_onnx(folder)
            # one encoder for every vector of the index, whichever build made it
            return OnnxEncoder(folder, spec, prepack)
        except Exception as exc:  # the slow path still answers; say why it stays slow
            say(f"could not export the model to ONNX ({type(exc).__name__}: {exc}); "
                "asking will load sentence-transformers each time")
    else:
        say("no working ONNX export of the model in the index: using sentence-transformers "
            "(slower); `itsqa index` exports it")
    return st
