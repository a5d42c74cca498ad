"""``hiddenpool train DATA``: fine-tune a pooled head (the Feedback Prize 3 workflow)."""

from __future__ import annotations

import argparse

from hiddenpool.train.config import TASKS, TrainConfig

__all__ = ["add_parser", "config_from_args", "run"]

_DEFAULTS = TrainConfig(data="")


def _columns(values: list[str] | None) -> tuple[str, ...]:
    """``--label-column a b`` and ``--label-column a,b`` both name two columns."""
    return tuple(
        part.strip() for value in values or () for part in value.split(",") if part.strip()
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    d = _DEFAULTS
    parser = commands.add_parser(
        "train",
        help="fine-tune a backbone + pooling strategy + head, with K-fold CV",
        description="Fine-tune MODEL with a pooling strategy and a regression or classification "
        "head on DATA (a registered dataset such as vader-movies, or a .csv/.tsv/.jsonl/.parquet "
        "file) with the Hugging Face Trainer. With --folds K, trains K models and reports "
        "out-of-fold metrics; `hiddenpool predict OUT ...` then averages them.",
    )
    parser.add_argument("data", help="registered dataset name or data file")
    parser.add_argument(
        "--model", default=None, help="model folder or hub name (default: MiniLM-L6)"
    )
    parser.add_argument("--pooling", default=d.pooling, help=f"pooling spec (default: {d.pooling})")
    parser.add_argument(
        "--task",
        choices=TASKS,
        default=None,
        help="regression, classification or multilabel (default: the dataset's)",
    )
    parser.add_argument(
        "--label-column",
        action="extend",
        nargs="+",
        dest="label_columns",
        metavar="C",
        help="label column(s) of a file; several for multi-target",
    )
    parser.add_argument("--text-column", default=None, help="text column of a file (default: text)")
    parser.add_argument("--out", default=d.out, help=f"output folder (default: {d.out})")
    g = parser.add_argument_group("cross-validation and evaluation")
    g.add_argument(
        "--folds", type=int, default=d.folds, help="K >= 2: K-fold CV with OOF predictions"
    )
    g.add_argument(
        "--valid-fraction",
        type=float,
        default=d.valid_fraction,
        help=f"held out when --folds 1 (default: {d.valid_fraction}; 0: none)",
    )
    g.add_argument(
        "--fold-seed", type=int, default=None, help="seed of the split (default: --seed)"
    )
    g.add_argument(
        "--metric",
        default=None,
        help="checkpoint metric: rmse, mcrmse, spearman, accuracy, macro_f1 (default: by task)",
    )
    g.add_argument(
        "--early-stopping",
        type=int,
        default=d.early_stopping,
        help=f"patience in evaluations (default: {d.early_stopping}; 0: off)",
    )
    g.add_argument(
        "--eval-steps",
        type=int,
        default=None,
        help="evaluate and checkpoint every N steps (default: every epoch)",
    )
    g = parser.add_argument_group("optimisation")
    g.add_argument("--epochs", type=float, default=d.epochs)
    g.add_argument("--max-steps", type=int, default=d.max_steps, help="overrides --epochs when > 0")
    g.add_argument("--lr", type=float, default=d.lr)
    g.add_argument(
        "--head-lr", type=float, default=None, help="lr of pooler + head (default: --lr)"
    )
    g.add_argument(
        "--llrd",
        type=float,
        default=d.llrd,
        help="layer-wise lr decay per block from the top, e.g. 0.9 (default: 1, off)",
    )
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument(
        "--warmup",
        type=float,
        default=d.warmup,
        help="warm-up: a fraction of the steps (< 1) or a number of steps",
    )
    g.add_argument("--scheduler", default=d.scheduler, help="cosine, linear, constant, ...")
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--grad-accum", type=int, default=d.grad_accum)
    g.add_argument("--max-length", type=int, default=None, help="tokens (default: the model's)")
    g.add_argument("--seed", type=int, default=d.seed)
    g = parser.add_argument_group("tricks")
    g.add_argument(
        "--reinit-layers", type=int, default=0, metavar="N", help="re-initialise the top N blocks"
    )
    g.add_argument(
        "--freeze-layers",
        type=int,
        default=0,
        metavar="N",
        help="freeze the embeddings and the first N blocks",
    )
    g.add_argument("--freeze-embeddings", action="store_true", help="freeze the embeddings")
    g.add_argument(
        "--msd",
        type=int,
        default=d.msd,
        metavar="K",
        help="multi-sample dropout: K dropout masks on the pooled vector",
    )
    g.add_argument("--dropout", type=float, default=d.dropout, help="dropout before the head")
    g.add_argument("--loss", default=d.loss, help="auto, mse, smooth_l1 (regression)")
    g.add_argument("--grad-checkpointing", action="store_true", help="activation checkpointing")
    g.add_argument(
        "--precision",
        choices=("auto", "fp32", "fp16", "bf16"),
        default=d.precision,
        help="auto: bf16/fp16 on CUDA, fp32 on CPU",
    )
    g = parser.add_argument_group("run")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue a crashed run in --out from its last checkpoint",
    )
    g.add_argument("--keep-checkpoints", action="store_true")
    g.add_argument("--logging-steps", type=int, default=d.logging_steps)
    g.add_argument("--device", default=d.device, help="auto, cpu, cuda")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        data=args.data,
        model=args.model,
        pooling=args.pooling,
        task=args.task,
        label_columns=_columns(args.label_columns),
        text_column=args.text_column,
        out=args.out,
        folds=args.folds,
        valid_fraction=args.valid_fraction,
        fold_seed=args.fold_seed,
        epochs=args.epochs,
        max_steps=args.max_steps,
        lr=args.lr,
        head_lr=args.head_lr,
        llrd=args.llrd,
        weight_decay=args.weight_decay,
        warmup=args.warmup,
        scheduler=args.scheduler,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        reinit_layers=args.reinit_layers,
        freeze_layers=args.freeze_layers,
        freeze_embeddings=args.freeze_embeddings,
        msd=args.msd,
        dropout=args.dropout,
        loss=args.loss,
        grad_checkpointing=args.grad_checkpointing,
        precision=args.precision,
        max_length=args.max_length,
        metric=args.metric,
        early_stopping=args.early_stopping,
        eval_steps=args.eval_steps,
        logging_steps=args.logging_steps,
        keep_checkpoints=args.keep_checkpoints,
        resume=args.resume,
        seed=args.seed,
        device=args.device,
        extra={"disable_tqdm": True} if args.quiet else {},
    )


def run(args: argparse.Namespace) -> int:
    from hiddenpool.train.trainer import train

    config = config_from_args(args)
    try:
        result = train(config, verbose=not args.quiet)
    except ImportError as error:  # the Trainer needs accelerate (the train extra)
        first = str(error).strip().splitlines()[0]
        raise ValueError(
            f"training needs the train extra: pip install 'hiddenpool[train]' ({first})"
        ) from None
    print(result.summary())
    return 0
