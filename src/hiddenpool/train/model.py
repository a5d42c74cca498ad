"""PooledModel: a backbone, a pooling strategy and a head as one module the HF Trainer drives.

The pipeline reads top to bottom: ``forward_features`` (capture only the layers the strategy
needs) -> ``pool`` (the strategy) -> ``forward_head`` (dropout samples, linear, loss).

Under a prompt template (``promptbert:mask``) each text is placed in the template and tokenised
as the frozen :class:`~hiddenpool.encode.Encoder` tokenises it (the text cut, never the
template), and the batch carries the template's spans (``text_mask``, ``mask_token_mask``) into
the pooler, so an untrained PooledModel pools exactly the Encoder's vectors. Learned token
poolers (``attention``, ``conv1d``, ``gem_learned``) reduce over the text's tokens there, as
``mean`` does (the convolution still sees every real token); learned layer combiners act token by
token and need nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers.utils import ModelOutput

from hiddenpool.backbone import Backbone, HiddenStates, load_backbone
from hiddenpool.encode.batching import pad_all
from hiddenpool.encode.windows import tokenize_windows
from hiddenpool.pooling import Pooler, Strategy, create_pooler, parse_strategy
from hiddenpool.pooling.templates import Template, create_template, register_template
from hiddenpool.train.config import (
    CONFIG_NAME,
    HEAD_WEIGHTS_NAME,
    PooledModelConfig,
    is_pooled_model_dir,
)
from hiddenpool.train.heads import Head
from hiddenpool.train.optim import unused_modules

__all__ = ["PooledModel", "PooledOutput"]

logger = logging.getLogger(__name__)


@dataclass
class PooledOutput(ModelOutput):
    """What ``PooledModel.forward`` returns: ``loss`` (given labels) and ``logits`` (B, K)."""

    loss: Tensor | None = None
    logits: Tensor | None = None


def _initializer_range(config: Any) -> float:
    for name in ("initializer_range", "init_std"):
        value = getattr(config, name, None)
        if isinstance(value, float) and value > 0:
            return value
    return 0.02


class PooledModel(nn.Module):
    """Backbone -> pooling strategy -> head, trainable with the Hugging Face ``Trainer`` as is.

    Args:
        backbone: a loaded :class:`~hiddenpool.backbone.Backbone`.
        config: the pooling spec, task, labels and head settings.

    Its ``forward`` takes the tokenizer's batch plus ``labels`` and returns
    :class:`PooledOutput` (``loss``, ``logits``). Only the layers the strategy reads are run.
    Parameters no output depends on (blocks above the deepest pooled layer, the model's own pooler
    unless the strategy is ``pooler``) are frozen, so optimisers and DDP skip them.

    >>> backbone = load_backbone()  # doctest: +SKIP
    >>> config = PooledModelConfig("mean", "regression", labels=("score",), targets=("score",))
    >>> model = PooledModel(backbone, config)  # doctest: +SKIP
    >>> batch = backbone.tokenize(["good", "bad"])  # doctest: +SKIP
    >>> out = model(**batch, labels=torch.tensor([1.0, -1.0]))  # doctest: +SKIP
    >>> out.logits.shape  # doctest: +SKIP
    torch.Size([2, 1])
    """

    def __init__(self, backbone: Backbone, config: PooledModelConfig) -> None:
        super().__init__()
        self.backbone = backbone  # plain attribute: the tokenizer, facts and capture()
        self.base = backbone.model  # the same module, registered so its weights train and save
        strategy, self.template = _strategy_and_template(config)
        if self.template is not None and config.template is None:
            config = replace(config, template=self.template)  # saved with the folder
        self.pooled_config = config
        self.strategy = strategy
        self.pooling: Pooler = create_pooler(strategy, backbone.hidden_size, backbone.num_layers)
        self.head = Head(
            self.pooling.width,
            config.num_outputs,
            config.resolved_loss,
            dropout=config.dropout,
            msd=config.msd,
            init_std=_initializer_range(backbone.model.config),
        )
        num_layers = backbone.num_layers
        self._request = strategy.capture_request(num_layers)
        for module in unused_modules(backbone, strategy):
            module.requires_grad_(False)
        self.pooling.to(backbone.device)
        self.head.to(backbone.device)

    # --- pipeline --------------------------------------------------------------------------
    def forward_features(
        self,
        batch: dict[str, Tensor],
        text_mask: Tensor | None = None,
        mask_token_mask: Tensor | None = None,
    ) -> HiddenStates:
        """Run the backbone as deep as the strategy needs; keep only its layers (and, under a
        template, the spans of the text and of the mask token, (B, T))."""
        states = self.backbone.capture(batch, self._request)
        if self.template is None:
            return states
        if text_mask is None or (self.template.has_mask and mask_token_mask is None):
            raise ValueError(
                f"{self.strategy}: the batch lacks the template's spans (text_mask"
                f"{', mask_token_mask' if self.template.has_mask else ''}); tokenise with "
                "model.tokenize, which places each text in the template"
            )
        return replace(
            states,
            text_mask=text_mask.bool(),
            mask_token_mask=None if mask_token_mask is None else mask_token_mask.bool(),
        )

    def pool(self, states: HiddenStates) -> Tensor:
        """(B, width) float32 pooled vectors."""
        return self.pooling(states)

    def forward_head(
        self, pooled: Tensor, labels: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        return self.head(pooled, labels)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor,
        token_type_ids: Tensor | None = None,
        special_tokens_mask: Tensor | None = None,
        labels: Tensor | None = None,
        text_mask: Tensor | None = None,
        mask_token_mask: Tensor | None = None,
    ) -> PooledOutput:
        """Logits (B, K) float32, and the loss when ``labels`` are given.

        Args:
            input_ids, attention_mask, token_type_ids, special_tokens_mask: the tokenizer's
                batch, (B, T).
            labels: (B,) or (B, K) floats for regression / multilabel, (B,) class indices for
                classification.
            text_mask, mask_token_mask: (B, T) under a prompt template: the text's tokens and
                the template's mask token (:meth:`tokenize` gives them).
        """
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            batch["token_type_ids"] = token_type_ids
        if special_tokens_mask is not None:
            batch["special_tokens_mask"] = special_tokens_mask
        pooled = self.pool(self.forward_features(batch, text_mask, mask_token_mask))
        logits, loss = self.forward_head(pooled, labels)
        return PooledOutput(loss=loss, logits=logits)

    # --- conveniences ----------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        return self.backbone.tokenizer

    @property
    def max_length(self) -> int:
        return self.pooled_config.max_length

    def tokenize(self, texts: list[str]) -> dict[str, Tensor]:
        """Tokenise a batch as training did (max_length, special-tokens mask; each text placed
        in the prompt template, with its spans), padded, on the model's device."""
        if self.template is None:
            return self.backbone.tokenize(texts, max_length=self.max_length)
        windows = tokenize_windows(self.tokenizer, texts, self.max_length, template=self.template)
        padded = pad_all(self.tokenizer, windows)
        return {k: torch.from_numpy(v).to(self.backbone.device) for k, v in padded.items()}

    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        """Activation checkpointing on the backbone's blocks (non-reentrant, so the layers the
        capture hooks keep stay in the autograd graph)."""
        base = self.base
        if not getattr(base, "supports_gradient_checkpointing", False):
            raise ValueError(
                f"{type(base).__name__} does not support gradient checkpointing; "
                "drop grad_checkpointing=True"
            )
        options = {"use_reentrant": False}
        enable = getattr(base, "activation_checkpointing_enable", None)
        if enable is not None:  # transformers >= 5.x name
            enable(activation_checkpointing_kwargs=options, **kwargs)
        else:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options, **kwargs)

    # --- saving ------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write the backbone (config.json + safetensors), tokenizer, ``hiddenpool_model.json`` and
        the pooler + head weights (``pooled_head.safetensors``) to ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.base.save_pretrained(directory)
        self.backbone.tokenizer.save_pretrained(directory)
        head_state = {
            f"{prefix}.{key}": value.detach().contiguous().cpu()
            for prefix, module in (("pooling", self.pooling), ("head", self.head))
            for key, value in module.state_dict().items()
        }
        save_file(head_state, str(directory / HEAD_WEIGHTS_NAME), metadata={"format": "pt"})
        (directory / CONFIG_NAME).write_text(self.pooled_config.to_json(), encoding="utf-8")
        return directory

    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        trust_remote_code: bool = False,
        allow_pickle: bool = False,
    ) -> PooledModel:
        """Load a folder written by :meth:`save_pretrained`, in eval mode (the loading opt-ins
        are :func:`~hiddenpool.backbone.load_backbone`'s)."""
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory}: no such model folder")
        if not is_pooled_model_dir(directory):
            raise ValueError(
                f"{directory} is not a hiddenpool model: it has no {CONFIG_NAME} "
                "(train one with `hiddenpool train`, or pass the --out folder of a K-fold run "
                "to `hiddenpool predict`)"
            )
        where = str(directory / CONFIG_NAME)
        config = PooledModelConfig.from_json((directory / CONFIG_NAME).read_text("utf-8"), where)
        weights = directory / HEAD_WEIGHTS_NAME
        if not weights.is_file():
            raise ValueError(
                f"{directory} is not a complete hiddenpool model: {weights.name} is missing"
            )
        backbone = load_backbone(
            directory,
            device=device,
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            allow_pickle=allow_pickle,
        )
        model = cls(backbone, config)
        state = load_file(str(weights))
        for prefix, module in (("pooling", model.pooling), ("head", model.head)):
            part = {k[len(prefix) + 1 :]: v for k, v in state.items() if k.startswith(prefix + ".")}
            try:
                module.load_state_dict(part, strict=True)
            except RuntimeError as error:
                first = str(error).strip().splitlines()[0]
                raise ValueError(
                    f"{weights}: weights do not match {config.pooling} ({first})"
                ) from None
        return model.to(device).eval()


def _strategy_and_template(config: PooledModelConfig) -> tuple[Strategy, Template | None]:
    """The strategy of ``config`` and its prompt template; a template saved in the config (a
    user's, from a trained folder) is registered first, so its spec parses anywhere."""
    saved = config.template
    if saved is not None:
        try:
            register_template(saved)
        except ValueError as error:
            raise ValueError(f"the model's saved template: {error}") from None
    strategy = parse_strategy(config.pooling)
    if strategy.template is None:
        if saved is not None:
            raise ValueError(
                f"pooling {config.pooling} reads no template, but the config holds {saved.name!r}"
            )
        return strategy, None
    if saved is not None and saved.name != strategy.template:
        raise ValueError(
            f"pooling {config.pooling} reads template {strategy.template!r}, but the config "
            f"holds {saved.name!r}"
        )
    return strategy, create_template(strategy.template)
