"""What a server serves: one loaded model, its named strategies, and why each pooling was chosen.

The complaint filed most against embedding servers is that they silently pooled a model in a way
it was not trained for (text-embeddings-inference falls back to CLS for a BERT folder without a
pooling config). Here the pooling comes from the model's own config: a sentence-transformers
folder's Pooling module, or the trained pooler of a ``hiddenpool train`` folder. A folder with
neither is refused unless ``pooling`` is given, and every served name records where its pooling
came from.

A strategy with post-pooling stages (``mean | whiten(256)``) serves the stages ``hiddenpool embed
--fit`` fitted (the state file ``--transform`` reads), refused for another model or strategy, so
the server gives the vectors ``embed --transform STATE`` gives; stages that need no fitting
(``| truncate(k) | normalize``, ``| binary``) need no state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from hiddenpool.backbone import Backbone, default_model_path, load_backbone
from hiddenpool.backbone.sentence_transformers import read_sentence_transformers_folder
from hiddenpool.encode import Embedding, Encoder
from hiddenpool.pooling import Pooler, Strategy, parse_strategy
from hiddenpool.pooling.spec import Side
from hiddenpool.pooling.stages import stages_dtype, stages_to_fit
from hiddenpool.postprocess import FittedStages, stateless_stages
from hiddenpool.serve.token_ids import id_windows

if TYPE_CHECKING:
    from hiddenpool.postprocess.state import StageState
    from hiddenpool.train import PooledModel

__all__ = ["Batch", "ServedModel", "ServedStrategy", "load_served_model", "normalized"]


@dataclass(frozen=True)
class ServedStrategy:
    """One strategy a request can ask for by name.

    Attributes:
        name: what a request's ``model`` field names it by (``MODEL:SPEC``).
        spec: the canonical spec.
        width: vector width (bytes of packed bits after ``| binary``).
        normalize: whether pooled vectors are L2-normalised (the model's own Normalize module),
            before any stage.
        source: why the server uses this pooling, in words.
        stages: the spec's post-pooling stages, fitted; None without stages.
    """

    name: str
    spec: str
    width: int
    normalize: bool
    source: str
    stages: FittedStages | None = None

    @property
    def pooling(self) -> str:
        """The spec without its stages: what the model thread computes."""
        return str(parse_strategy(self.spec).pooling)

    @property
    def dtype(self) -> str:
        """float32, or int8/uint8 after a quantising stage."""
        return stages_dtype(parse_strategy(self.spec).stages)

    @property
    def unit(self) -> bool:
        """Its vectors are unit length: the model normalises and no stage follows, or the last
        stage is ``normalize``."""
        stages = parse_strategy(self.spec).stages
        return stages[-1].name == "normalize" if stages else self.normalize

    def finish(self, pooled: np.ndarray) -> np.ndarray:
        """Pooled vectors -> the served form: the model's normalisation, then the stages (as
        :meth:`Encoder.embed` applies them)."""
        out = normalized(np.ascontiguousarray(pooled)) if self.normalize else pooled
        return self.stages.transform(out) if self.stages is not None else out


@dataclass(frozen=True)
class Batch:
    """Pooled vectors of a group of requests' texts, not yet normalised, with counts.

    Attributes:
        vectors: spec -> (n, width) float32.
        tokens: (requests,) tokens each request's texts ran through the model (special tokens
            included).
        truncated: (n,) whether the text was cut at ``max_length``.
    """

    vectors: dict[str, np.ndarray]
    tokens: np.ndarray
    truncated: np.ndarray


def normalized(vectors: np.ndarray) -> np.ndarray:
    """L2-normalised rows, computed exactly as :class:`~hiddenpool.encode.Encoder` does."""
    return torch.nn.functional.normalize(torch.from_numpy(vectors), p=2.0, dim=-1).numpy()


class _ServeEncoder(Encoder):
    """An Encoder that also embeds inputs given as token ids (see :mod:`.token_ids`)."""

    def embed_ids(
        self,
        ids: list[list[int]],
        specs: Sequence[str],
        batch_tokens: int,
        side: Side = "document",
    ) -> Embedding:
        """Pooled vectors (unnormalised) of token-id inputs, in one forward pass per batch."""
        windows = id_windows(self.backbone.tokenizer, ids, self.max_length)
        poolers = {spec: self.pooler(spec, side) for spec in specs}
        outputs = {k: np.zeros((len(ids), p.width), np.float32) for k, p in poolers.items()}
        self._run_pass(windows, poolers, outputs, None, batch_tokens, lambda done, tokens: None)
        return Embedding(
            vectors=outputs,
            num_texts=len(ids),
            num_tokens=windows.num_tokens,
            num_truncated=int(windows.truncated.sum()),
            text_tokens=windows.lengths,
            truncated=windows.truncated,
        )


class _TrainedEncoder(_ServeEncoder):
    """An Encoder that also runs one trained (learned) pooler: that of a PooledModel."""

    def __init__(self, model: PooledModel, **kwargs: object) -> None:
        self._trained = model.pooling
        super().__init__(model.backbone, **kwargs)  # type: ignore[arg-type]

    def pooler(self, spec: str | Strategy, side: Side = "document") -> Pooler:
        if parse_strategy(spec).pooling == self._trained.strategy:
            return self._trained
        return super().pooler(spec, side)


class ServedModel:
    """A loaded model with the strategies it serves; the first one is the default.

    Args:
        encoder: runs the model (vectors unnormalised: each strategy normalises on its own).
        name: the served model name.
        strategies: the served strategies, the default first.
        predictor: the trained model whose head answers ``/predict``, if any.
    """

    def __init__(
        self,
        encoder: _ServeEncoder,
        name: str,
        strategies: Sequence[ServedStrategy],
        predictor: PooledModel | None = None,
    ) -> None:
        self.encoder = encoder
        self.name = name
        self.strategies = list(strategies)
        self.predictor = predictor
        self._by_name: dict[str, ServedStrategy] = {name: self.strategies[0]}
        for strategy in self.strategies:
            self._by_name[strategy.name] = strategy

    @property
    def default(self) -> ServedStrategy:
        return self.strategies[0]

    @property
    def max_length(self) -> int:
        return self.encoder.max_length

    def lookup(self, requested: str | None) -> ServedStrategy:
        """The strategy a request names: the model name, ``MODEL:SPEC``, or None (the default).

        Raises:
            KeyError: with a message listing the served names.
        """
        if requested is None or requested == "":
            return self.default
        found = self._by_name.get(requested)
        if found is None and ":" in requested:
            head, _, spec = requested.partition(":")
            if head == self.name:
                try:
                    canonical = str(parse_strategy(spec))
                except ValueError:
                    canonical = spec
                found = self._by_name.get(f"{self.name}:{canonical}")
        if found is None:
            names = ", ".join(s.name for s in self.strategies)
            raise KeyError(f"model {requested!r} is not served here; served: {names}")
        return found

    def embed(
        self,
        texts: list[str],
        specs: Sequence[str],
        batch_tokens: int,
        sizes: Sequence[int] | None = None,
        *,
        side: Side = "document",
    ) -> Batch:
        """One group of requests' texts through the model (in a worker thread), all specs at once.

        Args:
            texts: the requests' texts, one request after the other.
            specs: the strategies the requests asked for.
            batch_tokens: padded tokens per forward pass.
            sizes: texts per request (None: one request).
            side: ``"document"`` or ``"query"``: which template a two-sided spec reads.
        """
        templates = {self.template_of(spec, side) for spec in specs}
        if len(templates) > 1:
            raise ValueError(f"one group, one prompt template: got {sorted(map(str, templates))}")
        result = self.encoder.embed(texts, list(specs), side=side, batch_tokens=batch_tokens)
        return _per_request(result, sizes)

    def embed_ids(
        self,
        ids: list[list[int]],
        specs: Sequence[str],
        batch_tokens: int,
        sizes: Sequence[int] | None = None,
        *,
        side: Side = "document",
    ) -> Batch:
        """:meth:`embed` for inputs given as token ids of this model's tokenizer."""
        if any(self.template_of(spec, side) is not None for spec in specs):
            raise ValueError("token-id inputs take no prompt template")
        return _per_request(self.encoder.embed_ids(ids, specs, batch_tokens, side), sizes)

    @staticmethod
    def template_of(spec: str, side: Side = "document") -> str | None:
        """The prompt template ``spec`` places texts of ``side`` in (None: the plain text)."""
        return parse_strategy(spec).side_template(side)

    @property
    def vocabulary_size(self) -> int:
        """Token ids a request may send: 0 .. vocabulary_size - 1."""
        return len(self.encoder.backbone.tokenizer)

    def predict(self, texts: list[str], batch_tokens: int) -> np.ndarray:
        """(n, K) predictions of the trained head (values or probabilities)."""
        from hiddenpool.train.metrics import predictions_from_logits
        from hiddenpool.train.predict import predict_logits

        if self.predictor is None:
            raise ValueError("this model has no trained head")
        logits = predict_logits(self.predictor, texts, batch_tokens=batch_tokens)
        return predictions_from_logits(self.predictor.pooled_config.task, logits)


def _per_request(result: Embedding, sizes: Sequence[int] | None) -> Batch:
    """A group's result with its token counts summed per request."""
    counts = [result.num_texts] if sizes is None else list(sizes)
    owner = np.repeat(np.arange(len(counts)), counts)  # the request of each text
    tokens = np.bincount(owner, weights=result.text_tokens, minlength=len(counts))
    return Batch(result.vectors, tokens.astype(np.int64), result.truncated.astype(bool))


def _display_name(model: str | Path | None, backbone: Backbone) -> str:
    if model is None:
        return backbone.name
    path = Path(model)
    return path.name if path.is_dir() else str(model)


def _config_pooling(model: str | Path | None) -> tuple[str | None, bool, str]:
    """(the pooling a model folder's own config names or None, its Normalize, where it is)."""
    folder = default_model_path() if model is None else Path(model)
    if not folder.is_dir():
        return None, False, f"{model} (not a local folder: its config cannot be read)"
    defaults = read_sentence_transformers_folder(folder)
    where = f"{folder / 'modules.json'}"
    if defaults is None or defaults.pooling is None:
        return None, False, f"{folder} (no sentence-transformers Pooling module)"
    return defaults.pooling, defaults.normalize, where


def _strategies(
    name: str,
    encoder: Encoder,
    chosen: Sequence[tuple[str, str]],
    normalize: bool,
    state: StageState | None = None,
    state_source: str = "",
) -> list[ServedStrategy]:
    served: dict[str, ServedStrategy] = {}
    for spec, source in chosen:
        strategy = parse_strategy(spec)
        canonical = str(strategy)
        key = f"{name}:{canonical}"
        if key not in served:
            width = encoder.width(canonical)
            stages = _stages(strategy, encoder, normalize, state, state_source)
            if stages is not None and strategy.needs_fitting:
                source = (
                    f"{source}; stages fitted on {stages.fitted_on or 'a file'} ({state_source})"
                )
            served[key] = ServedStrategy(key, canonical, width, normalize, source, stages)
    return list(served.values())


def _stages(
    strategy: Strategy,
    encoder: Encoder,
    normalize: bool,
    state: StageState | None,
    source: str,
) -> FittedStages | None:
    """The fitted stages of ``strategy``: from ``state``, or built when no stage needs fitting.

    Raises:
        ValueError: a stage needs fitting and no state is given, the state holds no fit for
            this strategy, or it was fitted on another model, normalisation or max_length.
    """
    from hiddenpool.encode.fitting import backbone_identity

    if not strategy.stages:
        return None
    if not strategy.needs_fitting:
        return stateless_stages(strategy, encoder.pooler(strategy).width)
    if state is None:
        fitted = stages_to_fit(strategy.stages)
        raise ValueError(
            f"pooling={str(strategy)!r}: {fitted} must be fitted first; give `transform` "
            "(the .stages.safetensors file `hiddenpool embed --fit/--fit-self` writes)"
        )
    identity = backbone_identity(encoder.backbone, normalize, encoder.max_length)
    state.check(identity, [], source)
    for fitted_stages in state.fitted.values():
        if fitted_stages.strategy == strategy:
            return fitted_stages
    raise ValueError(
        f"{source} holds fitted stages for {', '.join(state.fitted)}, not for {strategy}"
    )


def load_served_model(
    model: str | Path | None = None,
    pooling: Sequence[str] = (),
    *,
    served_name: str | None = None,
    backend: str = "torch",
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    max_length: int | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    transform: str | Path | None = None,
) -> ServedModel:
    """Load ``model`` for serving ``pooling`` (or its own pooling when none is given).

    Args:
        model: a sentence-transformers folder, a folder written by ``hiddenpool train``, any
            checkpoint folder (then ``pooling`` is required), a hub name, or None (the default
            MiniLM-L6 with its own mean pooling).
        pooling: specs to serve; the first is the default. Empty: the model's own.
        served_name: the model name requests use (default: the folder's name).
        transform: a fitted state (``embed --fit``'s ``.stages.safetensors``) for the specs with
            fitted stages (``mean | whiten(256)``).

    Raises:
        ValueError: the model has no pooling config and ``pooling`` is empty; a K-fold folder;
            fitted stages without ``transform``, or a state from another model or strategy.
    """
    from hiddenpool.postprocess.state import load_state
    from hiddenpool.train.config import is_pooled_model_dir

    if transform is not None and not any(parse_strategy(s).stages for s in pooling):
        raise ValueError(
            f"--transform {transform}: no --pooling spec has stages to apply it to "
            "(e.g. 'mean | whiten(256)')"
        )
    if transform is not None and not Path(transform).is_file():
        raise FileNotFoundError(f"--transform {transform}: no such file")
    state = load_state(transform) if transform is not None else None
    opts = {"trust_remote_code": trust_remote_code, "allow_pickle": allow_pickle}
    if model is not None and Path(model).is_dir() and is_pooled_model_dir(Path(model)):
        if state is not None:
            raise ValueError(f"--transform {transform}: a trained model serves no fitted stages")
        return _load_trained(Path(model), pooling, served_name, backend, device, dtype, opts)
    if model is not None and Path(model).is_dir() and any(Path(model).glob("fold*/")):
        raise ValueError(
            f"{model} holds the fold models of a K-fold run: serve one of them "
            f"({Path(model) / 'fold0'})"
        )
    own, own_normalize, where = _config_pooling(model)
    if not pooling and own is None:
        raise ValueError(
            f"{where}: the model does not say how it pools, and serving a guess is how servers "
            "return plausible wrong vectors; name the pooling it was trained with (the pooling "
            "argument; --pooling SPEC on the command line), or find it with `hiddenpool "
            "identify` from vectors it gave elsewhere"
        )
    backbone = load_backbone(model, device=device, dtype=dtype, **opts)
    encoder = _ServeEncoder(backbone, own, normalize=False, max_length=max_length, backend=backend)
    name = served_name or _display_name(model, backbone)
    if pooling:
        note = f"the model's own is {own}" if own is not None else "the model names none"
        chosen = [(spec, f"given on the command line ({note})") for spec in pooling]
    else:
        chosen = [(str(own), f"the model's own sentence-transformers Pooling ({where})")]
    normalize = own_normalize if own is not None else backbone.normalize
    strategies = _strategies(name, encoder, chosen, normalize, state, str(transform))
    return ServedModel(encoder, name, strategies)


def _load_trained(
    folder: Path,
    pooling: Sequence[str],
    served_name: str | None,
    backend: str,
    device: str | torch.device,
    dtype: torch.dtype | None,
    opts: dict[str, bool],
) -> ServedModel:
    from hiddenpool.train import PooledModel

    if backend != "torch":
        raise ValueError(f"a trained model serves with backend='torch', not {backend!r}")
    trained = PooledModel.from_pretrained(folder, device, dtype, **opts)
    config = trained.pooled_config
    encoder = _TrainedEncoder(
        trained, pooling=config.pooling, normalize=False, max_length=config.max_length
    )
    name = served_name or folder.name
    chosen = [(config.pooling, f"the trained pooler of {folder / 'hiddenpool_model.json'}")]
    chosen += [(spec, "given on the command line") for spec in pooling]
    return ServedModel(encoder, name, _strategies(name, encoder, chosen, False), trained)
