"""What bench/template_study.py and bench/postprocess_study.py share: their common options and
the record of how a model's run was made, which each section prints."""

from __future__ import annotations

import argparse
import json
import platform
import re
from datetime import date
from pathlib import Path

from model_study import RAW

from hiddenpool._runtime import cache_root
from hiddenpool.models import get_model_info, registered_name


def study_parser(description: str, limit: int) -> argparse.ArgumentParser:
    """--models, --limit, --folds, --sts-limit, --threads and --render."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", nargs="+", default=["minilm"], metavar="MODEL")
    parser.add_argument("--limit", type=int, default=limit, help="rows per probe dataset; 0: all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sts-limit", type=int, default=0, help="STS-B test pairs; 0: all")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a busy CPU)")
    parser.add_argument(
        "--render", action="store_true", help="only rebuild the markdown from saved results"
    )
    return parser


def checkpoint_name(name: str) -> str:
    """A registered model's checkpoint (``mpnet`` -> ``all-mpnet-base-v2``), else the name."""
    return get_model_info(name).checkpoint if registered_name(name) else name


def run_record(key: str, model_name: str, args: argparse.Namespace, options: str = "") -> dict:
    """The model, the command that scored it, when and where."""
    command = f"--models {key} --limit {args.limit} --folds {args.folds}{options}"
    return {
        "model": f"<cache>/models/{RAW}" if key == RAW else checkpoint_name(model_name),
        "command": command + (f" --sts-limit {args.sts_limit}" if args.sts_limit else ""),
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {args.threads} torch thread, shared 2-core CPU",
        "limit": args.limit,
        "folds": args.folds,
    }


def raw_accuracy(key: str) -> float | None:
    """The held-out masked-token accuracy of the raw model bench/pretrain_linux.py made, or None
    for any other model (or when its pretrain.json is missing)."""
    record = cache_root() / "models" / RAW / "pretrain.json"
    if key != RAW or not record.is_file():
        return None
    return float(json.loads(record.read_text())["eval_after"]["accuracy"])


def replace_block(doc: Path, start: str, end: str, text: str) -> None:
    """Put ``text`` between the markers ``start`` and ``end`` of ``doc`` (appended, markers
    and all, when the doc has none yet)."""
    block = f"{start}\n{text.rstrip()}\n{end}"
    body = doc.read_text(encoding="utf-8")
    if start in body:
        body = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, body, flags=re.S)
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(body, encoding="utf-8")
