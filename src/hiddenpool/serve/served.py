"""What a server serves: one loaded model, its named strategies, and why each pooling was chosen.

The complaint filed most against embedding servers is that they silently pooled a model in a way
it was not trained for (text-embeddings-inference falls back to CLS for a BERT folder without a
pooling config). Here the pooling comes from the model's own config: a sentence-transformers
folder's Pooling module, or the trained pooler of a ``hiddenpool train`` folder. A folder with
neither is refused unless ``pooling`` is given, and every served name records where its pooling
came from.
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
from hiddenpool.encode import Encoder, tokenize_windows
from hiddenpool.pooling import Pooler, Strategy, parse_strategy
from hiddenpool.pooling.templates import create_template

if TYPE_CHECKING:
    from hiddenpool.train import PooledModel

__all__ = ["Batch", "ServedModel", "ServedStrategy", "load_served_model", "normalized"]


@dataclass(frozen=True)
class ServedStrategy:
    """One strategy a request can ask for by name.

    Attributes:
        name: what a request's ``model`` field names it by (``MODEL:SPEC``).
        spec: the canonical spec.
        width: vector width.
        normalize: whether its vectors are L2-normalised (the model's own Normalize module).
        source: why the server uses this pooling, in words.
    """

    name: str
    spec: str
    width: int
    normalize: bool
    source: str


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


class _TrainedEncoder(Encoder):
    """An Encoder that also runs one trained (learned) pooler: that of a PooledModel."""

    def __init__(self, model: PooledModel, **kwargs: object) -> None:
        self._trained = model.pooling
        super().__init__(model.backbone, **kwargs)  # type: ignore[arg-type]

    def pooler(self, spec: str | Strategy) -> Pooler:
        if parse_strategy(spec) == self._trained.strategy:
            return self._trained
        return super().pooler(spec)


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
        encoder: Encoder,
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
    ) -> Batch:
        """One group of requests' texts through the model (in a worker thread), all specs at once.

        Args:
            texts: the requests' texts, one request after the other.
            specs: the strategies the requests asked for.
            batch_tokens: padded tokens per forward pass.
            sizes: texts per request (None: one request).
        """
        sizes = [len(texts)] if sizes is None else list(sizes)
        templates = {self.template_of(spec) for spec in specs}
        if len(templates) > 1:
            raise ValueError(f"one group, one prompt template: got {sorted(map(str, templates))}")
        result = self.encoder.embed(texts, list(specs), batch_tokens=batch_tokens)
        if len(sizes) == 1 and result.num_truncated == 0:  # the counts Embedding gives suffice
            tokens = np.array([result.num_tokens], dtype=np.int64)
            return Batch(result.vectors, tokens, np.zeros(len(texts), dtype=bool))
        # per request and per text: tokenise again, only the texts (no forward pass)
        template = next(iter(templates), None)
        windows = tokenize_windows(
            self.encoder.backbone.tokenizer,
            texts,
            self.max_length,
            template=create_template(template) if template is not None else None,
        )
        per_text = np.zeros(len(texts), dtype=np.int64)
        np.add.at(per_text, windows.doc, windows.lengths)
        owner = np.repeat(np.arange(len(sizes)), sizes)  # the request of each text
        tokens = np.bincount(owner, weights=per_text, minlength=len(sizes)).astype(np.int64)
        return Batch(result.vectors, tokens, windows.truncated.astype(bool))

    @staticmethod
    def template_of(spec: str) -> str | None:
        """The prompt template ``spec`` places texts in (None: the plain text)."""
        return parse_strategy(spec).template

    def predict(self, texts: list[str], batch_tokens: int) -> np.ndarray:
        """(n, K) predictions of the trained head (values or probabilities)."""
        from hiddenpool.train.metrics import predictions_from_logits
        from hiddenpool.train.predict import predict_logits

        if self.predictor is None:
            raise ValueError("this model has no trained head")
        logits = predict_logits(self.predictor, texts, batch_tokens=batch_tokens)
        return predictions_from_logits(self.predictor.pooled_config.task, logits)


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
) -> list[ServedStrategy]:
    served: dict[str, ServedStrategy] = {}
    for spec, source in chosen:
        canonical = str(parse_strategy(spec))
        key = f"{name}:{canonical}"
        if key not in served:
            width = encoder.width(canonical)
            served[key] = ServedStrategy(key, canonical, width, normalize, source)
    return list(served.values())


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
) -> ServedModel:
    """Load ``model`` for serving ``pooling`` (or its own pooling when none is given).

    Args:
        model: a sentence-transformers folder, a folder written by ``hiddenpool train``, any
            checkpoint folder (then ``pooling`` is required), a hub name, or None (the default
            MiniLM-L6 with its own mean pooling).
        pooling: specs to serve; the first is the default. Empty: the model's own.
        served_name: the model name requests use (default: the folder's name).

    Raises:
        ValueError: the model has no pooling config and ``pooling`` is empty; a K-fold folder.
    """
    from hiddenpool.train.config import is_pooled_model_dir

    opts = {"trust_remote_code": trust_remote_code, "allow_pickle": allow_pickle}
    if model is not None and Path(model).is_dir() and is_pooled_model_dir(Path(model)):
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
    encoder = Encoder(backbone, own, normalize=False, max_length=max_length, backend=backend)
    name = served_name or _display_name(model, backbone)
    if pooling:
        note = f"the model's own is {own}" if own is not None else "the model names none"
        chosen = [(spec, f"given on the command line ({note})") for spec in pooling]
    else:
        chosen = [(str(own), f"the model's own sentence-transformers Pooling ({where})")]
    normalize = own_normalize if own is not None else backbone.normalize
    return ServedModel(encoder, name, _strategies(name, encoder, chosen, normalize))


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
