"""The pooling study on three frozen models: sentence-trained MiniLM and MPNet, and a raw MLM.

Does "mean wins" only hold for models trained for mean pooling? The same focused set of
strategies (every token pooler the seeds rank, CLS, the pooler, mean pooling of every layer,
layer averages) is scored on each model: a linear probe with 5-fold CV on vader-movies,
vader-tweets and rotten-tomatoes (the same rows and folds for every strategy and model), and
zero-shot cosine on the STS Benchmark test split, where the published pattern for raw MLM models
comes from (frozen BERT-base: CLS 16.50, mean 46.35, first-last average 59.04).

Writes docs/study/models/<model>/<dataset>/ (report, results, charts), docs/study/models/
<model>/run.json (its seconds and provenance), docs/study/models/summary.json and
docs/model-study.md.

    python bench/pretrain_linux.py                # builds linux-roberta-128 first
    python bench/model_study.py                   # 1,000 rows per probe dataset (≈ 45 min)
    python bench/model_study.py --limit 0         # every row
    python bench/model_study.py --reuse minilm mpnet   # re-embed only the raw model

A model is ``minilm``, ``mpnet`` (registered; fetched once), ``linux-roberta-128`` (the folder
bench/pretrain_linux.py writes into the cache; its pretraining figures come from the committed
docs/study/pretrain-linux-roberta-128.json) or any folder. ``--reuse`` names models that are not
re-embedded: their results are read back from <out>/study/models/<model>/<dataset>/results.json
(they must have this run's rows and folds). ``--smoke --out /tmp/ms`` runs on the smoke model of
``bench/pretrain_linux.py --smoke`` instead, to check the wiring.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import torch
from provenance import this_run, write_results
from study_common import (
    RAW,
    add_smoke_options,
    check_smoke,
    model_source,
    pretrain_record,
    shown_name,
)

from hiddenpool import Encoder
from hiddenpool.compare import run_compare, subsample
from hiddenpool.data import load_dataset
from hiddenpool.evaluate import CompareResult, write_report

ROOT = Path(__file__).resolve().parents[1]
PROBED = ("vader-movies", "vader-tweets", "rotten-tomatoes")
STS = "sts-b"
# The seeds' order with frozen, parameter-free stand-ins: AttentionPooling -> `attn` (tokens
# weighted by the attention the summary token pays them), WeightedLayerPooling -> `mean@1:` (its
# starting point: every layer weighted alike). Their learned forms only mean something trained.
SEEDS_ORDER = (
    ("AttentionPooling", "attn"),
    ("WeightedLayerPooling", "mean@1:"),
    ("Mean", "mean"),
    ("Max", "max"),
    ("Min", "min"),
)
SHOWN = ("mean", "max", "min", "cls", "pooler", "attn", "mean@1:", "mean@-4:", "mean@1,-1",
         "mean@0,-1", "meanmax", "mean(skip_special=true)")  # fmt: skip
PUBLISHED = {"cls": 16.50, "mean": 46.35, "mean@1,-1": 59.04}  # frozen BERT-base, STS-B


@dataclass(frozen=True)
class ModelRun:
    key: str
    shown: str  # how the doc names the checkpoint
    encoder: Encoder
    results: dict[str, CompareResult]
    seconds: float | None  # embedding and scoring; None: reused from a run that did not say
    pretrain: dict | None  # the committed training record of a model pretrained here
    reused: str | None = None  # where reused results come from (commit, date), else None


def focused_strategies(num_layers: int, has_pooler: bool) -> list[str]:
    specs = [s for s in SHOWN if s != "pooler" or has_pooler]
    specs += ["cls@concat(-4:)"] + [f"mean@{k}" for k in range(num_layers)]  # mean is layer L
    return specs


def _data(name: str, args: argparse.Namespace) -> Any:
    if name == STS:
        return subsample(load_dataset(STS, split="test"), args.sts_limit or None, seed=0)
    return subsample(load_dataset(name), args.limit or None, seed=0)


def _encoder(key: str, smoke: bool) -> tuple[Encoder, str, dict | None]:
    """The model, how the doc names it, and its committed training record (raw model only)."""
    encoder = Encoder(model_source(key, smoke), normalize=False)
    shown = shown_name(smoke) if key == RAW else encoder.backbone.name
    return encoder, shown, pretrain_record(shown)


def _run_model(key: str, args: argparse.Namespace) -> ModelRun:
    encoder, shown, record = _encoder(key, args.smoke)
    backbone = encoder.backbone
    specs = focused_strategies(backbone.num_layers, backbone.pooler_status != "absent")
    results: dict[str, CompareResult] = {}
    started = time.perf_counter()
    for name in (*PROBED, STS):
        data = _data(name, args)
        run = run_compare(data, encoder, specs, folds=args.folds, seed=0, show_progress=False)
        results[name] = run.result
        write_report(
            run.result,
            args.out / "study" / "models" / key / name,
            model_name=key,
            dataset_name=f"{name} (test split)" if name == STS else name,
            num_layers=backbone.num_layers,
        )
        print(f"{key} {name}: {run.rows} rows, best {run.result.best.name}", flush=True)
    seconds = time.perf_counter() - started
    saved = {
        "model": key,
        "checkpoint": shown,
        "seconds": round(seconds, 1),
        "limit": args.limit,
        "sts_limit": args.sts_limit,
        "folds": args.folds,
        "rows": {n: r.n_rows for n, r in results.items()},
    }
    write_results(args.out / "study" / "models" / key / "run.json", saved, this_run())
    return ModelRun(key, shown, encoder, results, seconds, record)


def _reused_from(folder: Path, run: dict | None) -> str:
    """Where reused results come from: their run.json's commit and date, else the last commit
    that changed the folder (git), else that neither is known."""
    if run is not None:
        prov = run["provenance"]
        return f"run at commit `{prov['git_commit'][:8]}` on {prov['date_utc'][:10]}"
    try:
        found = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %cs", "--", str(folder.resolve())],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        found = []
    if len(found) == 2:
        return f"last committed in `{found[0]}` on {found[1]}"
    return "commit and date not known"


def _reuse_model(key: str, args: argparse.Namespace) -> ModelRun:
    """A model's results read back from an earlier run of this study, not re-embedded.

    Raises:
        FileNotFoundError: a dataset's results.json is missing.
        ValueError: the saved results have other rows or folds than this run asks for, or lack
            a strategy the study shows.
    """
    encoder, shown, record = _encoder(key, args.smoke)  # loads weights, embeds nothing
    folder = args.out / "study" / "models" / key
    backbone = encoder.backbone
    needed = focused_strategies(backbone.num_layers, backbone.pooler_status != "absent")
    results: dict[str, CompareResult] = {}
    for name in (*PROBED, STS):
        path = folder / name / "results.json"
        if not path.is_file():
            raise FileNotFoundError(f"--reuse {key}: {path} is missing; run {key} without --reuse")
        result = CompareResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
        rows = len(_data(name, args))
        if (result.n_rows, result.n_folds) != (rows, args.folds):
            raise ValueError(
                f"--reuse {key}: {path} has {result.n_rows} rows in {result.n_folds} folds; "
                f"this run scores {rows} rows in {args.folds} folds (--limit/--sts-limit/--folds)"
            )
        missing = sorted(set(needed) - {s.name for s in result.strategies})
        if missing:
            raise ValueError(f"--reuse {key}: {path} lacks {', '.join(missing)}; rerun {key}")
        results[name] = result
    run_file = folder / "run.json"
    run = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else None
    seconds = None if run is None else float(run["seconds"])
    print(f"{key}: reused {folder}", flush=True)
    return ModelRun(key, shown, encoder, results, seconds, record, _reused_from(folder, run))


def _score(result: CompareResult, name: str) -> float:
    return result.get(name).metrics[result.primary_metric].mean


def _cell(result: CompareResult, name: str) -> str:
    metric = result.get(name).metrics[result.primary_metric]
    return f"{metric.mean:.3f} ± {metric.std:.3f}"


def _verdict(result: CompareResult, better: str, worse: str) -> tuple[str, str]:
    diff = result.compare(better, worse)
    lo, hi = diff.ci_low, diff.ci_high
    word = "holds" if lo > 0 else "reversed" if hi < 0 else "within noise"
    return word, f"{word} ({diff.mean:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}])"


def _pretrain_lines(record: dict) -> list[str]:
    """The raw model's pretraining, every figure from its committed record."""
    m, c, s = record["model"], record["corpus"], record["settings"]
    before, after = record["held_out_before"], record["held_out_after"]
    cut = c["cut_by_max_length"]
    sessions = record["sessions"]
    wall = sum(x["seconds"] for x in sessions)
    threads = record["threads"]
    held = (
        f"the whole held-out split ({after['blocks']:,} blocks)"
        if s["max_eval_blocks"] is None
        else f"{after['blocks']:,} held-out blocks (at most {s['max_eval_blocks']:,})"
    )
    evals = {e["step"]: e["eval_loss"] for e in record["loss_curve"] if "eval_loss" in e}
    curve = ", ".join(f"{loss:.2f} (step {step:,})" for step, loss in evals.items())
    prov = record["provenance"]
    lr = "hiddenpool's default lr" if s["lr"] is None else f"lr {s['lr']:g}"
    trained = (
        f", {record['train_seconds_last_session'] / 60:.1f} min of it training"
        if len(sessions) == 1
        else ""
    )
    return [
        f"Made by `{prov['command']}` (`hiddenpool pretrain`; every figure here from its "
        f"record docs/study/{record['recipe']}.json, written by a run at commit "
        f"`{prov['git_commit'][:8]}`): {m['description']}, "
        f"{m['parameters'] / 1e6:.1f}M parameters, max length {s['max_length']}. Corpus: the "
        "Linux kernel documentation (Debian `linux-doc-6.1` 6.1.176-1, its reST sources without "
        f"translations): {c['train_documents']:,} training paragraphs, {c['train_tokens']:,} "
        f"tokens; {c['eval_documents']:,} held out ({c['eval_tokens']:,} tokens). "
        f"{100 * cut['share']:.1f}% of the corpus's {cut['documents']:,} documents "
        f"({cut['longer_than_a_block']:,}) are longer than the {s['max_length'] - 2} text tokens "
        f"of one packed block of {s['max_length']}, so no block holds them whole. Training: "
        f"{record['steps']:,} steps × {s['batch_size']} blocks = "
        f"{record['tokens_seen']:,} tokens seen, {lr}, "
        f"{100 * s['mlm_probability']:.0f}% of tokens masked"
        f"{' (whole words)' if s['whole_word_mask'] else ''}, {record['precision']}; "
        f"{wall / 60:.1f} min in {len(sessions)} session{'s' if len(sessions) > 1 else ''} "
        f"(wall time with data preparation and evaluation{trained}) on {record['machine']}, "
        f"{threads} "
        f"torch thread{'s' if threads > 1 else ''}. Held-out MLM loss {before['loss']:.2f} → "
        f"{after['loss']:.2f}, masked-token accuracy {100 * before['accuracy']:.1f}% → "
        f"**{100 * after['accuracy']:.1f}%** on {held}, {after['masked_tokens']:,} masked "
        f"tokens. Held-out loss at each evaluation during training: {curve or 'none logged'}.",
        "",
    ]


def _model_section(run: ModelRun) -> list[str]:
    b, results = run.encoder.backbone, run.results
    names = (*PROBED, STS)
    if run.seconds is None:
        took = "Embedding and scoring: (reused from the earlier run)."
    else:
        took = f"Embedding and scoring took {run.seconds / 60:.1f} min"
        took += f" (reused: {run.reused})." if run.reused else "."
    lines = [
        f"## {run.key}",
        "",
        f"`{run.shown}`: {b.facts.name}, {b.num_layers} layers, {b.hidden_size} wide; own "
        f"pooling `{run.encoder.strategy}`; pooler {b.pooler_status}. {took}",
        "",
    ]
    if run.pretrain:
        lines += _pretrain_lines(run.pretrain)
    head = [f"{n} ({results[n].primary_metric})" for n in PROBED] + ["sts-b test (zero-shot)"]
    lines += ["| strategy | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    specs = {s.name for s in results[STS].strategies}
    for spec in SHOWN:
        if spec in specs:
            lines.append(
                f"| `{spec}` | " + " | ".join(_cell(results[n], spec) for n in names) + " |"
            )
    best = [f"`{results[n].best.name}` {_cell(results[n], results[n].best.name)}" for n in names]
    lines += ["| **best** | " + " | ".join(best) + " |", ""]

    lines += ["**The seeds' order, frozen** (attention > weighted layers > mean > max > min):", ""]
    for n in names:
        order = sorted(SEEDS_ORDER, key=lambda kv: -_score(results[n], kv[1]))
        shown = " > ".join(f"{k} ({_score(results[n], v):.3f})" for k, v in order)
        same = "the seeds' order" if order == list(SEEDS_ORDER) else "not the seeds' order"
        lines.append(f"- {n}: {shown} — {same}")
    lines += ["", "**CLS against mean** (paired over the same folds):", ""]
    for n in names:
        lines.append(f"- {n}: mean > cls {_verdict(results[n], 'mean', 'cls')[1]}")
    lines += ["", "**Per layer** (mean pooling of each hidden_states entry; 0 = embeddings):", ""]
    layers = [*(f"mean@{k}" for k in range(b.num_layers)), "mean"]
    lines += [
        "| dataset | " + " | ".join(str(k) for k in range(b.num_layers + 1)) + " | best |",
        "|---|" + "---|" * (b.num_layers + 2),
    ]
    middle = f"mean@{b.num_layers // 2}"
    for n in names:
        scores = [_score(results[n], s) for s in layers]
        top = max(range(len(scores)), key=lambda k: scores[k])
        lines.append(f"| {n} | " + " | ".join(f"{v:.3f}" for v in scores) + f" | {top} |")
    lines += ["", f"Middle layer ({b.num_layers // 2}) against the last:", ""]
    for n in names:
        lines.append(f"- {n}: `{middle}` > `mean` {_verdict(results[n], middle, 'mean')[1]}")
    return lines


def _published(runs: list[ModelRun]) -> list[str]:
    lines = [
        "## The published pattern for raw MLM models",
        "",
        "Frozen BERT-base on STS-B (Spearman × 100): CLS 16.50, mean 46.35 (SBERT, Table 1), "
        "first-last average 59.04 (BERT-flow / whitening): CLS far below mean, and averaging the "
        "first and last layers far above the last alone. The same three numbers here, on the "
        "STS-B test split (cosine, nothing fitted):",
        "",
        "| model | CLS | mean | first-last (`mean@1,-1`) | middle layer | best layer |",
        "|---|---|---|---|---|---|",
        "| BERT-base (published) | 16.50 | 46.35 | 59.04 | | |",
    ]
    for run in runs:
        sts = run.results[STS]
        n = run.encoder.backbone.num_layers
        layers = [*(f"mean@{k}" for k in range(n)), "mean"]
        top = max(range(n + 1), key=lambda k: _score(sts, layers[k]))
        cells = [f"{100 * _score(sts, s):.2f}" for s in ("cls", "mean", "mean@1,-1")]
        middle = f"{100 * _score(sts, f'mean@{n // 2}'):.2f} (layer {n // 2})"
        best = f"{100 * _score(sts, layers[top]):.2f} (layer {top})"
        lines.append(f"| {run.key} | " + " | ".join([*cells, middle, best]) + " |")
    lines.append("")
    for run in runs:
        sts = run.results[STS]
        gap = 100 * (_score(sts, "mean") - _score(sts, "cls"))
        first_last = _verdict(sts, "mean@1,-1", "mean")[0]
        middle = _verdict(sts, f"mean@{run.encoder.backbone.num_layers // 2}", "mean")[0]
        lines.append(
            f"- {run.key}: mean beats CLS by {gap:.1f} points "
            f"({_verdict(sts, 'mean', 'cls')[0]}); first-last over last: {first_last}; middle "
            f"layer over last: {middle}."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "mpnet", RAW])
    parser.add_argument("--limit", type=int, default=1000, help="rows per probe dataset; 0: all")
    parser.add_argument("--sts-limit", type=int, default=0, help="STS-B test pairs; 0: all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a busy CPU)")
    parser.add_argument(
        "--reuse", nargs="+", default=[], metavar="MODEL",
        help="models of --models read back from their saved results, not re-embedded",
    )  # fmt: skip
    add_smoke_options(parser)
    args = parser.parse_args()
    check_smoke(args)
    unknown = [k for k in args.reuse if k not in args.models]
    if unknown:
        parser.error(f"--reuse {' '.join(unknown)}: not in --models {' '.join(args.models)}")
    this_run()  # the provenance record (load before) of what this run saves
    torch.set_num_threads(args.threads)
    try:  # every check before the first model is embedded: one line, nothing written
        for key in args.models:
            model_source(key, args.smoke)
        reused = {key: _reuse_model(key, args) for key in args.reuse}
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"model_study.py: {error}") from None
    runs = [reused[key] if key in reused else _run_model(key, args) for key in args.models]
    command = f"--models {' '.join(args.models)} --limit {args.limit}"
    if args.sts_limit:
        command += f" --sts-limit {args.sts_limit}"
    if args.reuse:
        command += f" --reuse {' '.join(args.reuse)}"
    if args.smoke:
        command += " --smoke"
    said = [f"{run.key} ({run.reused})" for run in runs if run.reused]
    reuse_line = (
        [
            "Reused, not re-embedded in this run: "
            + "; ".join(said)
            + ". Their scores are read back from docs/study/models/<model>/<dataset>/"
            "results.json, made with the same rows and folds.",
            "",
        ]
        if said
        else []
    )
    lines = [
        "# Pooling on three frozen models: sentence-trained or raw MLM",
        "",
        f"Generated by `python bench/model_study.py {command}` on {date.today()} "
        f"({platform.machine()}, {args.threads} torch thread, shared CPU). Every MiniLM "
        "figure elsewhere comes from a model trained *for* mean "
        "pooling; here the same strategies are scored on MPNet (also trained for mean pooling) "
        "and on a raw masked-language model pretrained here. Probes: "
        f"{args.limit or 'all'} rows per dataset sampled with seed 0, {args.folds}-fold CV, the "
        "same rows and folds for every strategy and model, ridge (Spearman) or logistic "
        "regression (accuracy) on standardised features. STS-B: "
        f"{args.sts_limit or 'the 1,379'} test pairs, cosine, Spearman, nothing fitted "
        f"({args.folds} disjoint folds give the spread). All frozen; "
        "fine-tuned pooling heads were not run on MPNet or the raw model (CPU budget): the "
        "fine-tuned order for MiniLM is in docs/pooling-study.md.",
        "",
        "Prompt templates (`promptbert:mask`, `promptbert:mean`, `echo:mean`, `query:mean`) and "
        "the stages after pooling (`whiten(k)`, `pca(k)`, `truncate(k)`, `int8`, `binary`) on "
        'the same three models: [pooling-study.md](pooling-study.md), sections "Prompt '
        'templates" (`bench/template_study.py`) and "After pooling" '
        "(`bench/postprocess_study.py`).",
        "",
        *reuse_line,
        *_published(runs),
        "",
    ]
    for run in runs:
        lines += [*_model_section(run), ""]
    summary = {
        run.key: {
            n: {s.name: _score(r, s.name) for s in r.ranked()} for n, r in run.results.items()
        }
        for run in runs
    }
    folder = args.out / "study" / "models"
    folder.mkdir(parents=True, exist_ok=True)
    write_results(folder / "summary.json", summary, this_run())
    (args.out / "model-study.md").write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote {args.out / 'model-study.md'} at {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()
