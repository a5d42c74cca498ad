"""The model a run starts from: a new RoBERTa, GPT-2 or Llama of a named size, or a checkpoint
given by --from, with the head of the run's objective."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from hiddenpool.backbone.families import FAMILIES, family_facts
from hiddenpool.pretrain.config import SIZES, PretrainConfig

__all__ = ["check_max_length", "continued_model", "new_model"]

_POSITIONS_AFTER_PAD = ("roberta", "xlm-roberta", "camembert", "mpnet")
_DECODER = family_facts("unknown-decoder", is_decoder=True)  # families not listed: decoders


def continued_model(config: PretrainConfig) -> tuple[Any, Any, list[str], str]:
    """Load ``config.from_model`` with the objective's head: model, tokenizer, fresh keys, text.

    A checkpoint saved without an MLM head (MiniLM, a sentence-transformers folder) gets a freshly
    initialised one; its keys are returned so the caller can say so. For CLM the tokenizer gets a
    pad token (its end-of-text one where it has none) and pads on the left.

    Raises:
        ValueError: the architecture has no masked-LM (causal-LM) form, or the tokenizer has no
            mask token (MLM).
        FileNotFoundError: no such model.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    clm = config.objective == "clm"
    auto: Any = AutoModelForCausalLM if clm else AutoModelForMaskedLM

    from hiddenpool.backbone.loading import resolve_checkpoint
    from hiddenpool.backbone.safety import check_local_checkpoint

    name, source = resolve_checkpoint(config.from_model)
    if isinstance(source, Path):
        if not (source / "config.json").is_file():
            raise FileNotFoundError(f"--from {config.from_model}: no config.json, so not a model")
        check_local_checkpoint(source, allow_pickle=False, trust_remote_code=False)
    try:
        if clm:
            _check_decoder(config, AutoConfig.from_pretrained(source).model_type)
        tokenizer = AutoTokenizer.from_pretrained(source)
        model, info = auto.from_pretrained(
            source, output_loading_info=True, use_safetensors=True, dtype=torch.float32
        )
    except ValueError as error:
        first = str(error).strip().splitlines()[0]
        if "Unrecognized configuration class" in first and clm:
            raise ValueError(
                f"--from {config.from_model}: not a causal-LM checkpoint (transformers has no "
                "causal-language-model head for its architecture); --objective clm continues "
                "decoders such as GPT-2, Llama, Qwen or Mistral (encoders train with mlm)"
            ) from None
        if "Unrecognized configuration class" in first:
            raise ValueError(
                f"--from {config.from_model}: not an MLM-capable checkpoint (transformers has no "
                "masked-language-model head for its architecture); pretrain continues encoders "
                "such as BERT, RoBERTa, MPNet, DeBERTa or ELECTRA"
            ) from None
        raise
    except OSError as error:
        first = str(error).strip().splitlines()[0]
        raise FileNotFoundError(f"--from {config.from_model}: could not load ({first})") from None
    if clm:
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        tokenizer.padding_side = "left"
    elif tokenizer.mask_token is None:
        raise ValueError(
            f"--from {config.from_model}: its tokenizer has no mask token, so it cannot be "
            "trained with masked language modelling"
        )
    fresh = sorted(info.get("missing_keys", ()))
    description = (
        f"{name} ({model.config.model_type}, {model.config.num_hidden_layers} layers, "
        f"{model.config.hidden_size} wide) continued"
    )
    return model, tokenizer, fresh, description


def _check_decoder(config: PretrainConfig, model_type: str) -> None:
    """Refuse an encoder for CLM (transformers gives BERT a causal head it was not trained for)."""
    if FAMILIES.get(model_type, _DECODER).summary == "first":
        raise ValueError(
            f"--from {config.from_model}: a {model_type} encoder, not a decoder; --objective clm "
            "continues decoders such as GPT-2, Llama, Qwen or Mistral (encoders train with mlm)"
        )


def new_model(config: PretrainConfig, tokenizer: Any) -> tuple[Any, str]:
    """A randomly initialised model of ``config.size`` for the objective, and its description.

    ``RobertaForMaskedLM`` for MLM; ``GPT2LMHeadModel`` or ``LlamaForCausalLM`` for CLM.
    """
    if config.objective == "clm":
        return _new_decoder(config, tokenizer)
    from transformers import RobertaConfig, RobertaForMaskedLM

    size = SIZES[config.size]
    model_config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        intermediate_size=size.intermediate_size,
        max_position_embeddings=config.max_length + 2,  # RoBERTa numbers positions after pad
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    description = (
        f"RobertaForMaskedLM '{config.size}' from scratch ({size.num_layers} layers, "
        f"{size.hidden_size} wide, {len(tokenizer):,}-token byte-level BPE)"
    )
    return RobertaForMaskedLM(model_config), description


def _new_decoder(config: PretrainConfig, tokenizer: Any) -> tuple[Any, str]:
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    size = SIZES[config.size]
    special = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "tie_word_embeddings": True,  # small vocabularies: the embedding is most parameters
    }
    model: Any
    if config.model_architecture == "gpt2":
        # No dropout: single-pass pretraining does not overfit, and without it a run's result
        # is the same for every process count (dropout masks come from each process's RNG).
        model = GPT2LMHeadModel(
            GPT2Config(
                n_embd=size.hidden_size,
                n_layer=size.num_layers,
                n_head=size.num_heads,
                n_inner=size.intermediate_size,
                n_positions=config.max_length,
                resid_pdrop=0.0,
                embd_pdrop=0.0,
                attn_pdrop=0.0,
                **special,
            )
        )
        name = "GPT2LMHeadModel"
    else:
        model = LlamaForCausalLM(
            LlamaConfig(
                hidden_size=size.hidden_size,
                num_hidden_layers=size.num_layers,
                num_attention_heads=size.num_heads,
                num_key_value_heads=size.num_heads,
                # SwiGLU has three matrices where GELU has two: 2/3 of the width keeps the size
                intermediate_size=size.intermediate_size * 2 // 3,
                max_position_embeddings=config.max_length,
                **special,
            )
        )
        name = "LlamaForCausalLM"
    description = (
        f"{name} '{config.size}' from scratch ({size.num_layers} layers, "
        f"{size.hidden_size} wide, {len(tokenizer):,}-token byte-level BPE)"
    )
    return model, description


def check_max_length(model: Any, max_length: int) -> None:
    """Refuse a ``--max-length`` longer than the model's position table."""
    positions = int(getattr(model.config, "max_position_embeddings", 0) or 0)
    if not positions:
        return
    limit = positions - 2 if model.config.model_type in _POSITIONS_AFTER_PAD else positions
    if max_length > limit:
        raise ValueError(f"--max-length {max_length} exceeds the model's {limit} positions")
