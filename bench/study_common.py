"""What the study scripts share: the raw model (where its weights are, its committed training
record), the common options of bench/template_study.py and bench/postprocess_study.py, and the
record of how a model's run was made, which each section prints.

The raw MLM of the studies is ``RAW`` (bench/pretrain_linux.py's ``roberta-128`` recipe): its
weights live in the cache (``<cache>/models/linux-roberta-128``, out of git), and every figure
about its pretraining is read from the committed docs/study/pretrain-linux-roberta-128.json that
bench/pretrain_recipe.py writes, never from the cache. ``--smoke`` points every study at the
recipe's smoke run instead (``linux-roberta-128-smoke``), to check the wiring in minutes.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
from datetime import date
from pathlib import Path

from hiddenpool._runtime import cache_root
from hiddenpool.models import get_model_info, registered_name

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "docs" / "study"
RAW = "linux-roberta-128"  # the raw MLM's key in every study, and its folder in the cache
DECODER = "linux-gpt2-128"  # the decoder of bench/decoder_study.py, and its folder in the cache
# (question, a, b): the decoder study's claims, each "a beats b", paired over the same folds
DECODER_CLAIMS = (
    ("Does echo help a causal model (Springer et al.)?", "echo:mean", "mean"),
    ("Does the last token lose to mean?", "mean", "last"),
    ("Does PromptEOL beat the plain last token (Jiang et al.)?", "prompteol:last", "last"),
)
CACHED = "<cache>/models/"  # how the studies show a folder of the cache's models/


def raw_folder(smoke: bool = False) -> Path:
    """The raw model's weights: the cache's models/linux-roberta-128 (``-smoke`` appended for
    the smoke run), where bench/pretrain_linux.py writes them."""
    return cache_root() / "models" / (RAW + ("-smoke" if smoke else ""))


def shown_name(smoke: bool = False) -> str:
    """How the studies name the raw model's folder: ``<cache>/models/linux-roberta-128``."""
    return CACHED + raw_folder(smoke).name


def raw_source(smoke: bool = False) -> str:
    """The raw model's folder, checked: finished and with its training record committed.

    Raises:
        FileNotFoundError: the model is not built (or still training), or its record is
            missing from docs/study.
    """
    folder = raw_folder(smoke)
    if not (folder / "pretrain.json").is_file():  # hiddenpool pretrain writes it last
        flag = " --smoke" if smoke else ""
        raise FileNotFoundError(
            f"{folder}: not built or still training; run python bench/pretrain_linux.py{flag}"
        )
    pretrain_record(shown_name(smoke))  # raises when the committed record is missing
    return str(folder)


def model_source(key: str, smoke: bool = False) -> str | None:
    """What ``Encoder`` loads for a study's model key: None (the default MiniLM) for
    ``minilm``, the raw model's checked folder for ``RAW``, else the key itself (a registered
    name or a folder)."""
    if key == "minilm":
        return None
    return raw_source(smoke) if key == RAW else key


def record_path(model: str) -> Path | None:
    """The committed training record of a raw model named as the studies show it
    (``<cache>/models/linux-roberta-128[-smoke]``), or None for any other model."""
    name = model.removeprefix(CACHED)
    if name not in (RAW, RAW + "-smoke"):
        return None
    return STUDY / f"pretrain-{name}.json"  # bench/pretrain_linux.py: pretrain-linux-<recipe>


def pretrain_record(model: str) -> dict | None:
    """The training record bench/pretrain_recipe.py committed for a raw model (see
    ``record_path``), or None for any other model.

    Raises:
        FileNotFoundError: the model is a raw model and its record is not in docs/study.
    """
    path = record_path(model)
    if path is None:
        return None
    if not path.is_file():
        raise FileNotFoundError(
            f"{path.relative_to(ROOT)}: missing; bench/pretrain_linux.py writes it when the "
            "model finishes training (commit it)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def raw_facts(record: dict) -> str:
    """The record's model in a phrase: layers, width, max length, masked-token accuracy."""
    m, after = record["model"], record["held_out_after"]
    return (
        f"{m['num_layers']} layers, {m['hidden_size']} wide, max length "
        f"{record['settings']['max_length']}, held-out masked-token accuracy "
        f"{100 * after['accuracy']:.1f}% over {after['masked_tokens']:,} masked tokens, per "
        f"docs/study/{record['recipe']}.json"
    )


def study_parser(description: str, limit: int) -> argparse.ArgumentParser:
    """--models, --limit, --folds, --sts-limit, --threads, --render, --smoke and --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--models", nargs="+", default=["minilm"], metavar="MODEL")
    parser.add_argument("--limit", type=int, default=limit, help="rows per probe dataset; 0: all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sts-limit", type=int, default=0, help="STS-B test pairs; 0: all")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a busy CPU)")
    parser.add_argument(
        "--render", action="store_true", help="only rebuild the markdown from saved results"
    )
    add_smoke_options(parser)
    return parser


def add_smoke_options(parser: argparse.ArgumentParser) -> None:
    """--smoke (the raw model is the smoke run's) and --out (where docs/ is written)."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{RAW} is the smoke run of bench/pretrain_linux.py --smoke (needs --out)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="the docs folder")


def check_smoke(args: argparse.Namespace) -> None:
    """A smoke run must not write into the repository's docs/.

    Raises:
        SystemExit: ``--smoke`` with ``--out`` inside docs/.
    """
    docs = (ROOT / "docs").resolve()
    out = Path(args.out).resolve()
    if args.smoke and (out == docs or docs in out.parents):
        raise SystemExit(f"--smoke: give --out outside {docs} (e.g. --out /tmp/study)")


def checkpoint_name(name: str) -> str:
    """A registered model's checkpoint (``mpnet`` -> ``all-mpnet-base-v2``), else the name."""
    return get_model_info(name).checkpoint if registered_name(name) else name


def run_record(key: str, model_name: str, args: argparse.Namespace, options: str = "") -> dict:
    """The model, the command that scored it, when and where."""
    command = f"--models {key} --limit {args.limit} --folds {args.folds}{options}"
    return {
        "model": shown_name(args.smoke) if key == RAW else checkpoint_name(model_name),
        "command": command
        + (f" --sts-limit {args.sts_limit}" if args.sts_limit else "")
        + (" --smoke" if args.smoke else ""),
        "date": str(date.today()),
        "machine": f"{platform.machine()}, {args.threads} torch thread, shared 2-core CPU",
        "limit": args.limit,
        "folds": args.folds,
    }


def replace_block(doc: Path, start: str, end: str, text: str) -> None:
    """Put ``text`` between the markers ``start`` and ``end`` of ``doc`` (appended, markers
    and all, when the doc has none yet; a missing doc is created, as under a smoke --out)."""
    block = f"{start}\n{text.rstrip()}\n{end}"
    body = doc.read_text(encoding="utf-8") if doc.is_file() else ""
    if start in body:
        body = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, body, flags=re.S)
    else:
        body = (body.rstrip("\n") + "\n\n" if body.strip() else "") + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(body, encoding="utf-8")
