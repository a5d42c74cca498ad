"""``hiddenpool pretrain CORPUS --out DIR``: masked- or causal-LM pretraining on your own text."""

from __future__ import annotations

import argparse
import os
import sys

from hiddenpool.cli.common import at_least, positive

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "pretrain"
HELP = "pretrain a masked or causal language model on your corpus, from scratch or continued"
_SIZES = ("tiny", "small", "base")  # hiddenpool.pretrain.SIZES, without importing torch here
_ARCHITECTURES = ("roberta", "gpt2", "llama")  # hiddenpool.pretrain.ARCHITECTURES


def _eval_blocks(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or all, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 or all, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train a masked language model (RoBERTa, --objective mlm) or a causal one (GPT-2 or "
        "Llama, --objective clm) from scratch, with a byte-level BPE tokenizer trained on "
        "CORPUS, or continue a checkpoint (--from) on CORPUS, with the Hugging Face Trainer. "
        "Checkpoints every --save-steps; --resume continues an interrupted run. DIR ends up an "
        "ordinary *ForMaskedLM / *ForCausalLM checkpoint that every hiddenpool command loads. "
        "Runs on several processes under torchrun or accelerate launch (DDP)."
    )
    parser.add_argument(
        "corpus",
        metavar="CORPUS",
        help=".txt (a document per line, or paragraphs separated by blank lines), .csv, .tsv, "
        ".jsonl or .parquet (with --text-column), or a folder of them",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (new or empty)")
    parser.add_argument(
        "--objective",
        choices=("mlm", "clm"),
        default="mlm",
        help="mlm: masked language modelling (encoders); clm: next-token prediction (decoders)",
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--from",
        dest="from_model",
        default=None,
        metavar="MODEL",
        help="continue this checkpoint (folder or registered name, e.g. minilm); an MLM head is "
        "added where it has none",
    )
    start.add_argument(
        "--size",
        default=None,
        help=f"model shape from scratch: {', '.join(_SIZES)} (default: small)",
    )
    parser.add_argument(
        "--arch",
        default=None,
        help="architecture from scratch: roberta (mlm); gpt2 or llama (clm; default gpt2)",
    )
    parser.add_argument(
        "--tokenizer",
        choices=("train", "from-model"),
        default=None,
        help="train a tokenizer on CORPUS (from scratch) or keep the model's (with --from)",
    )
    parser.add_argument("--vocab-size", type=at_least(261), default=8000, metavar="N")
    parser.add_argument("--max-length", type=at_least(8), default=128, metavar="N")
    parser.add_argument(
        "--mlm-probability", type=_fraction, default=0.15, metavar="P", help="(mlm only)"
    )
    parser.add_argument(
        "--whole-word-mask", action="store_true", help="mask every piece of a chosen word"
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=float, default=1.0, metavar="N")
    length.add_argument("--max-steps", type=positive, default=None, metavar="N")
    parser.add_argument(
        "--eval-fraction",
        type=_fraction,
        default=0.02,
        metavar="F",
        help="share of documents held out for the held-out loss and accuracy",
    )
    parser.add_argument(
        "--max-eval-blocks",
        type=_eval_blocks,
        default=1000,
        metavar="N",
        help="held-out blocks evaluated (the first N), or all (default: 1000)",
    )
    parser.add_argument("--text-column", default=None, metavar="C", help="text column of tables")
    parser.add_argument("--batch-size", type=positive, default=32, metavar="N")
    parser.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (5e-4 from scratch, 5e-5 --from)"
    )
    parser.add_argument("--save-steps", type=positive, default=500, metavar="N")
    parser.add_argument(
        "--eval-steps",
        type=positive,
        default=None,
        metavar="N",
        help="evaluate the held-out split every N steps (default: at every checkpoint)",
    )
    parser.add_argument("--logging-steps", type=positive, default=50, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "fp16", "bf16"),
        default="auto",
        help="bf16 autocasts on a CPU too; auto is bf16/fp16 on a GPU, fp32 on a CPU",
    )
    parser.add_argument(
        "--threads", type=positive, default=None, metavar="N", help="CPU threads (torch)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the unfinished run in DIR")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    if args.size is not None and args.size not in _SIZES:
        raise ValueError(f"--size {args.size!r} is unknown; expected one of {', '.join(_SIZES)}")
    if args.arch is not None and args.arch not in _ARCHITECTURES:
        raise ValueError(
            f"--arch {args.arch!r} is unknown; expected one of {', '.join(_ARCHITECTURES)}"
        )
    if args.arch is not None and args.from_model is not None:
        raise ValueError("--arch names a model from scratch; with --from drop --arch")
    import torch

    from hiddenpool.pretrain import PretrainConfig, pretrain

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = PretrainConfig(
        corpus=args.corpus,
        out=args.out,
        objective=args.objective,
        from_model=args.from_model,
        architecture=args.arch,
        size=args.size or "small",
        tokenizer=args.tokenizer,
        vocab_size=args.vocab_size,
        max_length=args.max_length,
        mlm_probability=args.mlm_probability,
        whole_word_mask=args.whole_word_mask,
        epochs=args.epochs,
        max_steps=args.max_steps or -1,
        eval_fraction=args.eval_fraction,
        max_eval_blocks=args.max_eval_blocks,
        text_column=args.text_column,
        batch_size=args.batch_size,
        lr=args.lr,
        save_steps=args.save_steps,
        eval_steps=args.eval_steps,
        logging_steps=args.logging_steps,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
    )
    try:
        result = pretrain(config, resume=args.resume, show_progress=False if args.quiet else None)
    except ImportError as error:  # the Trainer needs accelerate (the train extra)
        first = str(error).strip().splitlines()[0]
        raise ValueError(
            f"pretraining needs the train extra: pip install 'hiddenpool[train]' ({first})"
        ) from None
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one summary
        print(result.summary(), file=sys.stdout)
    return 0
