"""The one-off export of a sentence-transformers model to ONNX: the transformer with mean pooling
and L2 normalisation as one graph (its token vectors as a second output), its attention and layer
norms fused into onnxruntime's own operators where the model is BERT-like, optimised once by
onnxruntime and saved with its weights in a file of their own, so that asking maps them instead
of parsing 90 MB of protobuf."""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .model import ModelSpec

ONNX_FILE = "model.onnx"
ONNX_OPTIMISED = "model.opt.onnx"
ONNX_OPTIMISED_DATA = "model.opt.onnx.data"
TYPE_IDS = "token_type_ids"  # an input of BERT-like models' graphs only
# Version of what the export holds; older exports are redone. 2: token vectors as a second output.
# 3: the optimised graph's weights in ONNX_OPTIMISED_DATA. 4: attention fused (BERT-like models).
EXPORT_VERSION = 4
# Model types whose exported graph onnxruntime's transformer optimiser can fuse as "bert".
FUSABLE = frozenset({"bert"})


def _pooled_module(transformer: Any) -> Any:
    """The transformer wrapped to return (normalised mean-pooled vector, token vectors)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, *type_ids: Any) -> Any:
            extra = {TYPE_IDS: type_ids[0]} if type_ids else {}
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      **extra).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1), hidden

    return Pooled().eval()


def _write_graph(model: Any, path: Path) -> None:
    """torch.onnx.export of the pooled model, with token type ids only for a model that reads
    them (BERT, MiniLM; not MPNet, RoBERTa or DistilBERT, whose export would otherwise fail)."""
    import torch

    transformer: Any = model[0].auto_model
    enc = model.tokenizer(["an example", "a second, longer example"], padding=True,
                          return_tensors="pt")
    names = ["input_ids", "attention_mask"]
    if TYPE_IDS in enc and TYPE_IDS in inspect.signature(transformer.forward).parameters:
        names.append(TYPE_IDS)
    with warnings.catch_warnings(), torch.no_grad(), _eager_attention(transformer):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _pooled_module(transformer), tuple(enc[n] for n in names), str(path),
            input_names=names, output_names=["embedding", "tokens"],
            dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names},
                          "embedding": {0: "batch"}, "tokens": {0: "batch", 1: "seq"}},
            opset_version=17, dynamo=False,
        )


def _set_attention(transformer: Any, kind: str) -> None:
    setter = getattr(transformer, "set_attn_implementation", None)  # transformers 4.48+
    if setter is not None:
        setter(kind)
    else:
        transformer.config._attn_implementation = kind


@contextlib.contextmanager
def _eager_attention(transformer: Any) -> Iterator[None]:
    """Attention written out as matrix products while exporting: the form onnxruntime's optimiser
    recognises and fuses (PyTorch's fused attention exports as a graph it does not)."""
    before = getattr(transformer.config, "_attn_implementation", None)
    try:
        _set_attention(transformer, "eager")
    except (ValueError, AttributeError):
        before = None  # the model offers one implementation only
    try:
        yield
    finally:
        if before is not None:
            _set_attention(transformer, before)


def _fuse(path: Path, config: Any) -> None:
    """Replace the graph at `path` by onnxruntime's fused form (one operator per attention, layer
    norms with their residual adds): less time between operators on a CPU, the same vectors. A
    model it cannot fuse whole keeps the plain graph."""
    if getattr(config, "model_type", None) not in FUSABLE:
        return
    from onnxruntime.transformers.optimizer import optimize_model

    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        fused = optimize_model(str(path), model_type="bert", opt_level=0,
                               num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size)
    finally:
        quiet.setLevel(level)
    if fused.get_fused_operator_statistics().get("Attention", 0) == config.num_hidden_layers:
        fused.save_model_to_file(str(path))


def _optimise(folder: Path) -> None:
    """Save onnxruntime's optimised graph beside the export, weights in a file of their own."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.optimized_model_filepath = str(folder / ONNX_OPTIMISED)
    opts.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", ONNX_OPTIMISED_DATA)
    opts.add_session_config_entry(
        "session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    opts.log_severity_level = 3
    ort.InferenceSession(str(folder / ONNX_FILE), opts, providers=["CPUExecutionProvider"])


def export_onnx(model: Any, spec: ModelSpec, target: Path) -> Path:
    """Export a loaded SentenceTransformer `model` (of `spec`) into the folder `target`, with its
    tokenizer and a model.json naming what it holds. Atomic: written into a temporary sibling
    folder, then renamed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)
    try:
        _write_graph(model, tmp / ONNX_FILE)
        _fuse(tmp / ONNX_FILE, model[0].auto_model.config)
        _optimise(tmp)
        shutil.copyfile(spec.path / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "model.json").write_text(json.dumps({
            "model": spec.name, "model_key": spec.key,
            "max_seq_length": spec.max_seq_length, "export_version": EXPORT_VERSION,
        }), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def export_ready(folder: Path, spec: ModelSpec) -> bool:
    """Whether `folder` holds a current export of `spec` (its files, not whether it loads)."""
    meta = folder / "model.json"
    if not (folder / ONNX_FILE).is_file() or not meta.is_file():
        return False
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        return bool(info.get("model_key") == spec.key
                    and info.get("export_version") == EXPORT_VERSION)
    except (OSError, ValueError):
        return False
