"""The ONNX Runtime backend: the backbone and the requested poolers exported as one graph.

The exported module takes the padded batch and returns one pooled vector per strategy, so layer
combinations (``mean@-4:``, ``cls@concat(-4:)``) and token pooling run inside the graph, and
the layers above the deepest one needed are pruned from it. Each (model, strategies, int8) is
exported once and cached under ``<cache>/onnx/<key>/`` (``$HIDDENPOOL_CACHE``, else
``$XDG_CACHE_HOME/hiddenpool``, else ``~/.cache/hiddenpool``); the key hashes the weights, the
config, the strategies and the versions of hiddenpool and torch.

A prompt template (``promptbert:mask``, ``echo:mean``) needs no change to the graph: the text is
placed in the template on the host when it is tokenised, and the template's spans (``text_mask``,
``mask_token_mask``) are graph inputs like ``pool_mask``, read by the poolers inside the graph.

Every export is checked against the PyTorch path on a batch of another shape than the one it
was traced with. ONNX Runtime applies its own graph optimisations when it loads the graph; its
offline transformer optimizer (attention fused into one kernel) made MiniLM slower on the CPU
this was measured on, so it is not used (bench/README.md). ``onnx-int8`` adds dynamic int8
quantisation of the weights, per output channel.

Needs ``pip install hiddenpool[onnx]`` (onnx, onnxruntime).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from hiddenpool._runtime import cache_root
from hiddenpool.backbone import Backbone, HiddenStates
from hiddenpool.backbone.capture import model_inputs
from hiddenpool.encode.batching import pad_all
from hiddenpool.encode.windows import tokenize_windows
from hiddenpool.pooling import Pooler, Strategy
from hiddenpool.pooling.templates import Template, create_template

__all__ = ["OnnxBackend", "PooledGraph", "export_pooled_graph", "onnx_cache_dir"]

_OPSET = 17
_FORMAT = 3  # bump when the exported graph changes (3: int8 weights in 7 bits)
_TRACE_TEXTS = ("a short probe", "a somewhat longer probe sentence for the exporter to trace")
_CHECK_TEXTS = (
    "ok",
    "three texts, other lengths",
    "and a third one, a good deal longer than those",
)
_SPANS = ("text_mask", "mask_token_mask")
_INPUTS = (
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "special_tokens_mask",
    "pool_mask",
    "text_mask",  # a prompt template's spans (see HiddenStates)
    "mask_token_mask",
)


def onnx_cache_dir() -> Path:
    """``<cache>/onnx``, the cache root as :func:`hiddenpool._runtime.cache_root` resolves it."""
    return cache_root() / "onnx"


def _require_onnxruntime() -> Any:
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
        import onnxruntime
    except ImportError:
        raise ValueError(
            "the onnx backend needs ONNX Runtime: pip install 'hiddenpool[onnx]' "
            "(onnx, onnxruntime), or use backend='torch'"
        ) from None
    return onnxruntime


class PooledGraph(nn.Module):
    """Backbone + poolers as one module: padded batch in, one (B, width) vector per strategy out.

    Args:
        backbone: the loaded backbone (its model is shared, not copied).
        poolers: the parameter-free poolers to compute, in output order.
        inputs: the names of the forward arguments, a subset of ``_INPUTS`` in that order.
    """

    def __init__(self, backbone: Backbone, poolers: Sequence[Pooler], inputs: Sequence[str]):
        super().__init__()
        self.model = backbone.model
        self.facts = backbone.facts
        self.num_layers = backbone.num_layers
        self.poolers = nn.ModuleList(poolers)
        self.inputs = tuple(inputs)
        self.pooler_output = any(p.strategy.needs_pooler for p in poolers)

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        batch = dict(zip(self.inputs, args, strict=True))
        pool_mask = batch.pop("pool_mask").bool()
        special = batch.pop("special_tokens_mask", None)
        text_mask, mask_token_mask = (batch.pop(k, None) for k in _SPANS)
        kwargs = model_inputs(self.model, self.facts, batch)
        output = self.model(**kwargs, output_hidden_states=True)
        states = HiddenStates(
            layers=dict(enumerate(output.hidden_states)),
            attention_mask=pool_mask,
            num_layers=self.num_layers,
            summary=self.facts.summary,
            special_tokens_mask=None if special is None else special.bool(),
            pooler_output=output.pooler_output if self.pooler_output else None,
            text_mask=None if text_mask is None else text_mask.bool(),
            mask_token_mask=None if mask_token_mask is None else mask_token_mask.bool(),
        )
        return tuple(pooler(states) for pooler in self.poolers)


def _weights_digest(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def cache_key(
    backbone: Backbone, strategies: Sequence[Strategy], quantize: bool, weights: str = ""
) -> str:
    """A hash of everything the exported graph depends on (``weights``: a digest of them)."""
    from hiddenpool import __version__

    config = backbone.model.config.to_json_string(use_diff=False)
    parts = [
        f"format={_FORMAT}",
        f"hiddenpool={__version__}",
        f"torch={torch.__version__}",
        f"opset={_OPSET}",
        f"int8={quantize}",
        f"facts={backbone.facts}",
        config,
        weights or _weights_digest(backbone.model),
        *(str(s) for s in strategies),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _template(poolers: Sequence[Pooler]) -> Template | None:
    """The prompt template the poolers read (the Encoder runs one template per pass)."""
    names = {p.strategy.template for p in poolers}
    if len(names) > 1:
        raise ValueError(f"one graph reads one prompt template, got {sorted(map(str, names))}")
    name = names.pop() if names else None
    return create_template(name) if name is not None else None


def _probe_batch(
    backbone: Backbone,
    inputs: Sequence[str],
    texts: Sequence[str] = _TRACE_TEXTS,
    template: Template | None = None,
) -> dict[str, np.ndarray]:
    """A padded batch of ``texts`` as the Encoder builds it (placed in ``template``, if any)."""
    tokenizer = backbone.tokenizer
    windows = tokenize_windows(tokenizer, texts, backbone.max_length, template=template)
    batch = pad_all(tokenizer, windows)
    batch["pool_mask"] = batch["attention_mask"]  # one window per text: every real token
    return {k: batch[k] for k in inputs}


def _max_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    return max(float(np.abs(x - y).max()) if x.size else 0.0 for x, y in zip(a, b, strict=True))


def _session(path: Path, threads: int | None = None) -> Any:
    ort = _require_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session: Any, batch: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Run ``session`` on the inputs it has (the export drops inputs no output reads)."""
    return session.run(None, {i.name: batch[i.name] for i in session.get_inputs()})


def _verify(
    backbone: Backbone, poolers: Sequence[Pooler], path: Path, batch: Mapping[str, np.ndarray]
) -> None:
    """Check the export against the PyTorch path on a batch of another shape than the trace,
    so that nothing shape-dependent was frozen into the graph."""
    from hiddenpool.encode.torch_backend import TorchBackend

    expected = TorchBackend(backbone)(batch, poolers)
    got = _run(_session(path), batch)
    diff = _max_diff([expected[p.strategy] for p in poolers], got)
    if diff > 1e-4:
        raise ValueError(
            f"{backbone.name}: the ONNX export differs from PyTorch by {diff:.2g}; "
            "use backend='torch' for this model"
        )


def export_pooled_graph(
    backbone: Backbone, poolers: Sequence[Pooler], folder: Path, quantize: bool = False
) -> Path:
    """Export backbone + poolers to ``folder/model.onnx`` (plus ``meta.json``) and return it.

    The model is traced with eager attention (plain MatMul/Softmax, which every exporter and
    runtime handles), with dynamic batch and sequence axes, then checked against PyTorch.
    ``quantize`` applies dynamic int8 quantisation to the weights.
    """
    _require_onnxruntime()
    folder.mkdir(parents=True, exist_ok=True)
    template = _template(poolers)
    known = set(backbone.tokenizer("a", return_special_tokens_mask=True).keys()) | {"pool_mask"}
    if template is not None:
        known |= {"text_mask", "mask_token_mask"} if template.has_mask else {"text_mask"}
    inputs = [k for k in _INPUTS if k in known]
    graph = PooledGraph(backbone, poolers, inputs).eval()
    probe = _probe_batch(backbone, inputs, template=template)
    plain = folder / "plain.onnx"
    model = backbone.model
    before = getattr(model.config, "_attn_implementation", "eager")
    try:
        if before != "eager":
            model.set_attn_implementation("eager")
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                tuple(torch.from_numpy(probe[k]) for k in inputs),
                str(plain),
                input_names=list(inputs),
                output_names=[f"pooled_{i}" for i in range(len(poolers))],
                dynamic_axes={k: {0: "batch", 1: "tokens"} for k in inputs},
                opset_version=_OPSET,
                dynamo=False,
            )
    finally:
        if before != "eager":
            model.set_attn_implementation(before)
    _verify(backbone, poolers, plain, _probe_batch(backbone, inputs, _CHECK_TEXTS, template))
    final = folder / "model.onnx"
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel scales: cosine to float32 0.992 on MiniLM, against 0.958 per tensor, at
        # the same speed (bench/README.md). Weights in 7 bits (reduce_range): on x86 CPUs
        # without VNNI (AVX2 only) onnxruntime's uint8 x int8 kernel sums pairs of products
        # into int16 and saturates with 8-bit weights, so the same model gave other, noisier
        # vectors there (0.014 off the exact int8 arithmetic on a tiny BERT, more than the
        # quantisation error itself); with 7-bit weights no pair can saturate and every CPU
        # computes the same int8 arithmetic (tests/encode/test_onnx_backend.py).
        logging.disable(logging.WARNING)  # its advice to pre-process, on the root logger
        try:
            quantize_dynamic(
                str(plain),
                str(final),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
            )
        finally:
            logging.disable(logging.NOTSET)
        plain.unlink()
    else:
        plain.replace(final)
    meta = {
        "model": backbone.name,
        "strategies": [str(p.strategy) for p in poolers],
        "inputs": list(inputs),
        "int8": quantize,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return final


class OnnxBackend:
    """Runs batches in ONNX Runtime (CPU); one exported graph per set of strategies.

    Args:
        backbone: the loaded backbone (exported on first use of a strategy set).
        quantize: use dynamically quantised int8 weights.
        cache_dir: where exports live; None takes :func:`onnx_cache_dir`.
    """

    def __init__(
        self, backbone: Backbone, quantize: bool = False, cache_dir: str | Path | None = None
    ) -> None:
        _require_onnxruntime()
        if backbone.device.type != "cpu":
            raise ValueError(
                "the onnx backend runs on the CPU; use device='cpu' or backend='torch'"
            )
        if next(backbone.model.parameters()).dtype != torch.float32:
            raise ValueError("the onnx backend exports float32 weights; use dtype='float32'")
        self.backbone = backbone
        self.quantize = quantize
        self.name = "onnx-int8" if quantize else "onnx"
        self.batch_tokens = 2048  # ONNX Runtime on CPU: smaller batches than PyTorch's
        self.cache_dir = Path(cache_dir) if cache_dir is not None else onnx_cache_dir()
        self._sessions: dict[tuple[Strategy, ...], Any] = {}
        self._digest: str | None = None

    def _load(self, poolers: Sequence[Pooler]) -> Any:
        strategies = tuple(p.strategy for p in poolers)
        if strategies in self._sessions:
            return self._sessions[strategies]
        for strategy in strategies:
            if strategy.needs_attentions:
                raise ValueError(
                    f"{strategy}: attention maps are not exported to ONNX; use the torch backend"
                )
        if self._digest is None:
            self._digest = _weights_digest(self.backbone.model)
        folder = self.cache_dir / cache_key(self.backbone, strategies, self.quantize, self._digest)
        path = folder / "model.onnx"
        if not path.is_file():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=self.cache_dir))
            try:
                export_pooled_graph(self.backbone, poolers, scratch, self.quantize)
                try:
                    os.replace(scratch, folder)  # atomic: another process may race us
                except OSError:
                    if not path.is_file():
                        raise
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        self._sessions[strategies] = _session(path)
        return self._sessions[strategies]

    def __call__(
        self, batch: Mapping[str, np.ndarray], poolers: Sequence[Pooler]
    ) -> dict[Strategy, np.ndarray]:
        session = self._load(poolers)
        outputs = _run(session, batch)
        pairs = zip(poolers, outputs, strict=True)
        return {p.strategy: np.asarray(o, dtype=np.float32) for p, o in pairs}
