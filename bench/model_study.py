"""The pooling study on three frozen models: sentence-trained MiniLM and MPNet, and a raw MLM.

Does "mean wins" only hold for models trained for mean pooling? The same focused set of
strategies (every token pooler the seeds rank, CLS, the pooler, mean pooling of every layer,
layer averages) is scored on each model: a linear probe with 5-fold CV on vader-movies,
vader-tweets and rotten-tomatoes (the same rows and folds for every strategy and model), and
zero-shot cosine on the STS Benchmark test split, where the published pattern for raw MLM models
comes from (frozen BERT-base: CLS 16.50, mean 46.35, first-last average 59.04).

Writes docs/study/models/<model>/<dataset>/ (report, results, charts), docs/study/models/
summary.json and docs/model-study.md.

    python bench/pretrain_linux.py                # builds linux-roberta-small first (≈ 20 min)
    python bench/model_study.py                   # 1,000 rows per probe dataset (≈ 45 min)
    python bench/model_study.py --limit 0         # every row

A model is ``minilm``, ``mpnet`` (registered; fetched once), ``linux-roberta-small`` (the folder
bench/pretrain_linux.py writes into the cache) or any folder.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import torch
from provenance import this_run, write_results

from hiddenpool import Encoder
from hiddenpool._runtime import cache_root
from hiddenpool.compare import run_compare, subsample
from hiddenpool.data import load_dataset
from hiddenpool.evaluate import CompareResult, write_report

ROOT = Path(__file__).resolve().parents[1]
PROBED = ("vader-movies", "vader-tweets", "rotten-tomatoes")
STS = "sts-b"
RAW = "linux-roberta-small"
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
    encoder: Encoder
    results: dict[str, CompareResult]
    seconds: float
    pretrain: dict | None  # pretrain.json of a model made by hiddenpool pretrain


def _source(key: str) -> str | None:
    if key == "minilm":
        return None
    if key == RAW:
        folder = cache_root() / "models" / RAW
        if not (folder / "pretrain.json").is_file():
            raise SystemExit(f"{folder}: not built; run python bench/pretrain_linux.py first")
        return str(folder)
    return key


def focused_strategies(num_layers: int, has_pooler: bool) -> list[str]:
    specs = [s for s in SHOWN if s != "pooler" or has_pooler]
    specs += ["cls@concat(-4:)"] + [f"mean@{k}" for k in range(num_layers)]  # mean is layer L
    return specs


def _run_model(key: str, limit: int, sts_limit: int, folds: int, out: Path) -> ModelRun:
    source = _source(key)
    encoder = Encoder(source, normalize=False)
    backbone = encoder.backbone
    specs = focused_strategies(backbone.num_layers, backbone.pooler_status != "absent")
    results: dict[str, CompareResult] = {}
    started = time.perf_counter()
    for name in (*PROBED, STS):
        if name == STS:
            data = subsample(load_dataset(STS, split="test"), sts_limit or None, seed=0)
        else:
            data = subsample(load_dataset(name), limit or None, seed=0)
        run = run_compare(data, encoder, specs, folds=folds, seed=0, show_progress=False)
        results[name] = run.result
        write_report(
            run.result,
            out / "study" / "models" / key / name,
            model_name=key,
            dataset_name=f"{name} (test split)" if name == STS else name,
            num_layers=backbone.num_layers,
        )
        print(f"{key} {name}: {run.rows} rows, best {run.result.best.name}", flush=True)
    record = None
    if source and (Path(source) / "pretrain.json").is_file():
        record = json.loads((Path(source) / "pretrain.json").read_text())
    return ModelRun(key, encoder, results, time.perf_counter() - started, record)


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
    m, c, t, after = record["model"], record["corpus"], record["train"], record["eval_after"]
    s = record["settings"]
    return [
        f"Made by `python bench/pretrain_linux.py` (`hiddenpool pretrain`): {m['description']}, "
        f"{m['parameters'] / 1e6:.1f}M parameters, max length {s['max_length']}. Corpus: the "
        "Linux kernel documentation (Debian `linux-doc-6.1` 6.1.176-1, its reST sources without "
        f"translations): {c['train_documents']:,} training paragraphs, {c['train_tokens']:,} "
        f"tokens; {c['eval_documents']:,} held out. {t['global_step']} steps of "
        f"{t['batch_size']} blocks ({t['epochs']:.2f} epochs), lr {t['learning_rate']:g}, "
        f"token masking 15% (80/10/10); {t['seconds'] / 60:.1f} min on "
        f"{t['machine']} ({t['threads']} thread, shared with other jobs). Held-out MLM loss "
        f"{record['eval_before']['loss']:.2f} → {after['loss']:.2f}, masked-token accuracy "
        f"**{100 * after['accuracy']:.1f}%** ({after['masked_tokens']:,} masked tokens). A small, "
        "briefly trained raw MLM: past the unigram plateau, far from converged.",
        "",
    ]


def _model_section(run: ModelRun) -> list[str]:
    b, results = run.encoder.backbone, run.results
    names = (*PROBED, STS)
    shown = f"`<cache>/models/{RAW}`" if run.key == RAW else f"`{b.name}`"
    lines = [
        f"## {run.key}",
        "",
        f"{shown}: {b.facts.name}, {b.num_layers} layers, {b.hidden_size} wide; own pooling "
        f"`{run.encoder.strategy}`; pooler {b.pooler_status}. Embedding and scoring took "
        f"{run.seconds / 60:.1f} min.",
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
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    this_run()  # the provenance record (load before) of what this run saves
    torch.set_num_threads(args.threads)
    runs = [
        _run_model(key, args.limit, args.sts_limit, args.folds, args.out) for key in args.models
    ]
    command = f"--models {' '.join(args.models)} --limit {args.limit}"
    if args.sts_limit:
        command += f" --sts-limit {args.sts_limit}"
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
