"""What several subcommands share: the model and loading options, and number types.

The model options are defined here once and added by every command that loads a model (inspect,
embed, compare, train, predict, export), so they are spelt, documented and passed on alike. This
module stays free of torch and transformers: ``hiddenpool --help`` imports it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from hiddenpool._runtime import DTYPES

if TYPE_CHECKING:
    from hiddenpool.backbone import Backbone

__all__ = [
    "add_model_arguments",
    "add_template_argument",
    "at_least",
    "dtype_name",
    "load_from_args",
    "model_from_args",
    "non_negative",
    "positive",
    "register_templates",
]

_DEFAULT_MODEL = "the embedded MiniLM-L6"


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


positive, non_negative = at_least(1), at_least(0)


def dtype_name(text: str) -> str:
    """An argparse type: ``auto`` or a weights dtype, ``fp16`` spelt ``float16`` and so on."""
    text = text.lower()
    if text == "auto":
        return text
    try:
        return DTYPES[text]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"expected auto, float32, float16 or bfloat16, got {text!r}"
        ) from None


def add_model_arguments(
    parser: argparse.ArgumentParser,
    *,
    positional: str | None = None,
    model_help: str = f"model folder or hub name (default: {_DEFAULT_MODEL})",
    device: str | None = "auto",
    dtype: str | None = "auto",
    max_length: bool = False,
) -> None:
    """Add the model and loading options, in a group of their own.

    Args:
        parser: the subcommand's parser.
        positional: also take the model as an optional first positional argument with this
            metavar (``inspect MODEL``); :func:`model_from_args` reconciles it with ``--model``.
        model_help: what the model argument is, for this command.
        device: the default of ``--device``; None leaves the option out.
        dtype: the default of ``--dtype``; None leaves the option out (``train`` has its own).
        max_length: add ``--max-length`` (where texts are tokenised for a forward pass).
    """
    if positional is not None:
        parser.add_argument(
            "model_path", nargs="?", default=None, metavar=positional, help=model_help
        )
    group = parser.add_argument_group("model and loading")
    group.add_argument("--model", default=None, metavar="MODEL", help=model_help)
    if device is not None:
        group.add_argument(
            "--device", default=device, help=f"auto, cpu, cuda, cuda:1, ... (default: {device})"
        )
    if dtype is not None:
        group.add_argument(
            "--dtype",
            type=dtype_name,
            default=dtype,
            metavar="DTYPE",
            help="weights dtype: auto (float32 on CPU, bfloat16/float16 on GPU), float32, "
            f"float16, bfloat16 (default: {dtype})",
        )
    if max_length:
        group.add_argument(
            "--max-length",
            type=positive,
            default=None,
            metavar="N",
            help="tokens per text (default: the model's own)",
        )
    group.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow code shipped with the checkpoint to run",
    )
    group.add_argument(
        "--allow-pickle",
        action="store_true",
        help="accept pickled weights (pytorch_model.bin) when no safetensors exist",
    )


def model_from_args(args: argparse.Namespace) -> str | None:
    """The model named by ``--model`` or by the positional argument (not both)."""
    given = getattr(args, "model_path", None)
    if given is not None and args.model is not None and given != args.model:
        raise ValueError(f"give the model once: {given!r} and --model {args.model!r} differ")
    return args.model if args.model is not None else given


def load_from_args(args: argparse.Namespace) -> Backbone:
    """Load the model named on the command line with its device, dtype and loading opt-ins."""
    from hiddenpool._runtime import resolve_device, resolve_dtype
    from hiddenpool.backbone import load_backbone

    where = resolve_device(args.device)
    return load_backbone(
        model_from_args(args),
        device=where,
        dtype=resolve_dtype(args.dtype, where),
        trust_remote_code=args.trust_remote_code,
        allow_pickle=args.allow_pickle,
    )


def add_template_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--template NAME='...{text}...'``, repeatable, for commands that take pooling specs."""
    parser.add_argument(
        "--template",
        action="append",
        default=[],
        dest="templates",
        metavar="NAME='...{text}...'",
        help="register a prompt template for specs NAME:POOLER (e.g. --template "
        "topic='Topic of \"{text}\": [MASK].' --pooling topic:mask); [MASK] becomes the "
        "model's mask token; see `hiddenpool strategies`",
    )


def register_templates(args: argparse.Namespace) -> None:
    """Register the ``--template`` options given (ValueError naming the template if invalid)."""
    from hiddenpool.pooling.templates import register_template

    for given in getattr(args, "templates", None) or []:
        name, sep, text = given.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--template {given!r}: write NAME='...{{text}}...'")
        register_template(name.strip(), text)
