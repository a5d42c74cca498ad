"""The pooling study: frozen models, every parameter-free strategy, real datasets.

For each model, every strategy of ``compare``'s default set is scored two ways: by a linear probe
(5-fold CV) on vader-movies, vader-tweets, rotten-tomatoes and trec, and zero-shot by cosine
similarity on the STS Benchmark test split (1,379 pairs, nothing fitted), the figure MTEB
publishes. Writes docs/study/<model>/<dataset>/ (report.md, results.json, ranking.png, layers.png),
docs/study/<model>/summary.json (every strategy's score per dataset) and docs/pooling-study.md: per
model, the key strategies, the seeds' claim part by part, and where zero-shot similarity and the
probes disagree on which pooling is best.

    python bench/pooling_study.py                        # MiniLM, 4,000 rows per probe dataset
    python bench/pooling_study.py --models minilm mpnet  # one section per model
    python bench/pooling_study.py --limit 0              # every row
    python bench/pooling_study.py --templates            # and the prompt-template strategies

A model is ``minilm`` (the embedded default) or anything ``Encoder`` loads: a registered model
name, a folder, a hub name.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from provenance import this_run, write_results
from scipy.stats import spearmanr

from hiddenpool import Encoder
from hiddenpool.compare import default_strategies, run_compare, subsample
from hiddenpool.data import load_dataset
from hiddenpool.evaluate import CompareResult, write_report
from hiddenpool.pooling import parse_strategy

ROOT = Path(__file__).resolve().parents[1]
PROBED = ("vader-movies", "vader-tweets", "rotten-tomatoes", "trec")
_MARKED = re.compile(r"<!-- ([a-z-]+):start -->.*?<!-- \1:end -->", re.S)
STS = "sts-b"
SHOWN = (
    "mean", "max", "min", "cls", "pooler", "meanmax", "mean@-4:", "mean@1,-1", "mean@0,-1",
    "cls@concat(-4:)", "attn",
)  # fmt: skip
PAIRS = (
    ("mean", "max"),
    ("max", "min"),
    ("mean", "min"),
    ("mean", "cls"),
    ("mean@1,-1", "mean@0,-1"),
    ("mean@-4:", "mean"),
)
# MTEB's published STSBenchmark main score (cosine Spearman x 100, test split) for the model each
# short name stands for, with its own pooling (mean + normalise for both), and where it is from.
PUBLISHED_STSB = {
    "minilm": (
        82.03,
        "sentence-transformers/all-MiniLM-L6-v2",
        "embeddings-benchmark/results, results/sentence-transformers__all-MiniLM-L6-v2/"
        "8b3219a92973c328a8e22fadcfa821b5dc75636a/STSBenchmark.json (cosine_spearman 0.82032)",
    ),
    "mpnet": (
        83.42,
        "sentence-transformers/all-mpnet-base-v2",
        "embeddings-benchmark/results, results/sentence-transformers__all-mpnet-base-v2/"
        "84f2bcc00d77236f9e89c8a360a00fb1139bf47d/STSBenchmark.json (cosine_spearman 0.83422)",
    ),
}


@dataclass(frozen=True)
class ModelRun:
    """One model's comparisons: a probe result per dataset plus the zero-shot STS-B one."""

    key: str
    encoder: Encoder
    specs: list[str]
    results: dict[str, CompareResult]  # PROBED datasets and STS
    seconds: dict[str, tuple[float, float, int]]

    @property
    def datasets(self) -> tuple[str, ...]:
        return (*PROBED, STS)


def _score(result: CompareResult, name: str) -> float:
    return result.get(name).metrics[result.primary_metric].mean


def _cell(result: CompareResult, name: str) -> str:
    metric = result.get(name).metrics[result.primary_metric]
    return f"{metric.mean:.3f} ± {metric.std:.3f}"


def _rank(result: CompareResult, name: str) -> int:
    return [s.name for s in result.ranked()].index(name) + 1


def _verdict(result: CompareResult, better: str, worse: str) -> str:
    diff = result.compare(better, worse)
    sign = 1 if result.higher_is_better else -1
    lo, hi = sorted((sign * diff.ci_low, sign * diff.ci_high))
    if lo > 0:
        return f"holds ({sign * diff.mean:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}])"
    if hi < 0:
        return f"reversed ({sign * diff.mean:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}])"
    return f"within noise ({sign * diff.mean:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}])"


def _folder(key: str) -> str:
    """A model's folder name under docs/study: its short name, or a path's last part."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(key).name).strip("-.") or "model"


def _run_model(key: str, limit: int, folds: int, out: Path, templates: bool) -> ModelRun:
    """Embed every dataset once with ``key`` and rank every strategy on each."""
    encoder = Encoder(None if key == "minilm" else key, normalize=False)
    specs = default_strategies(encoder.backbone)
    if not templates:  # each prompt template is one more forward pass over every dataset
        specs = [s for s in specs if parse_strategy(s).template is None]
    results: dict[str, CompareResult] = {}
    seconds: dict[str, tuple[float, float, int]] = {}
    for name in (*PROBED, STS):
        if name == STS:  # the whole official test split: MTEB's figure needs every pair
            data = load_dataset(STS, split="test")
        else:
            data = subsample(load_dataset(name), limit or None, seed=0)
        run = run_compare(data, encoder, specs, folds=folds, seed=0, show_progress=False)
        results[name] = run.result
        seconds[name] = (run.embed_seconds, run.evaluate_seconds, run.rows)
        write_report(
            run.result,
            out / "study" / _folder(key) / name,
            model_name=encoder.backbone.name,
            dataset_name=f"{name} (test split)" if name == STS else name,
            num_layers=encoder.backbone.num_layers,
        )
        print(f"{key} {name}: {run.rows} rows, best {run.result.best.name}", flush=True)
    summary = {
        name: {
            "score_kind": "zero-shot cosine" if name == STS else "linear probe CV",
            "metric": result.primary_metric,
            "scores": {s.name: _score(result, s.name) for s in result.ranked()},
        }
        for name, result in results.items()
    }
    write_results(out / "study" / _folder(key) / "summary.json", summary, this_run())
    return ModelRun(key, encoder, specs, results, seconds)


def _key_table(run: ModelRun) -> list[str]:
    results = run.results
    head = [f"{n} ({results[n].primary_metric}, probe)" for n in PROBED]
    head.append(f"{STS} test (spearman, zero-shot)")
    lines = ["| strategy | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for spec in SHOWN:
        if all(spec in {s.name for s in results[n].strategies} for n in run.datasets):
            lines.append(
                f"| `{spec}` | " + " | ".join(_cell(results[n], spec) for n in run.datasets) + " |"
            )
    best = [
        f"`{results[n].best.name}` {_cell(results[n], results[n].best.name)}" for n in run.datasets
    ]
    lines.append("| **best** | " + " | ".join(best) + " |")
    return lines


def _claims(run: ModelRun) -> list[str]:
    lines = [
        "Paired differences over the same folds (for STS-B, disjoint folds of the test pairs); "
        "'holds' means the 95% CI excludes 0.",
        "",
        "| comparison | " + " | ".join(run.datasets) + " |",
        "|---|" + "---|" * len(run.datasets),
    ]
    for better, worse in PAIRS:
        names = {s.name for s in run.results[STS].strategies}
        if better in names and worse in names:
            cells = [_verdict(run.results[n], better, worse) for n in run.datasets]
            lines.append(f"| `{better}` > `{worse}` | " + " | ".join(cells) + " |")
    return lines


def _sts_section(run: ModelRun) -> list[str]:
    """Every strategy: zero-shot STS-B next to its probe scores, and where they disagree."""
    results, sts = run.results, run.results[STS]
    ranked = [s.name for s in sts.ranked()]
    lines = []
    own = str(run.encoder.strategy)
    if run.key in PUBLISHED_STSB and own in ranked:
        value, hub, source = PUBLISHED_STSB[run.key]
        measured = 100 * _score(sts, own)
        lines += [
            f"**Against the published figure.** The model's own pooling (`{own}`, normalised; "
            f"cosine ignores length) scores **{measured:.2f}** on the STS-B test split; MTEB "
            f"publishes **{value:.2f}** for `{hub}` ({source}): a difference of "
            f"{measured - value:+.2f}. `tests/test_mteb.py` checks the same run under MTEB's own "
            "evaluator.",
            "",
        ]
    lines += [
        "Zero-shot cosine rewards the geometry a model was trained to have (its own pooling, "
        "compared by cosine); a probe can weight any direction, so it rewards information "
        "wherever it sits. Every strategy, best zero-shot first:",
        "",
    ]
    head = ["strategy", "STS-B zero-shot (rank)", *(f"{n} probe (rank)" for n in PROBED)]
    lines += ["| " + " | ".join(head) + " |", "|---|" + "---|" * (len(head) - 1)]
    for name in ranked:
        cells = [
            f"{_score(results[n], name):.3f} ({_rank(results[n], name)})" for n in run.datasets
        ]
        lines.append(f"| `{name}` | " + " | ".join([cells[-1], *cells[:-1]]) + " |")
    lines += ["", "Where the two kinds of score disagree:", ""]
    for n in PROBED:
        probe = results[n]
        rho = spearmanr([_score(sts, s) for s in ranked], [_score(probe, s) for s in ranked])
        agree = (
            "undefined (one side is constant)"
            if np.isnan(rho.statistic)
            else (f"Spearman {rho.statistic:+.2f}")
        )
        zero_best, probe_best = sts.best.name, probe.best.name
        same = "the same strategy" if zero_best == probe_best else "different strategies"
        lines.append(
            f"- **{n}**: zero-shot picks `{zero_best}`, the probe picks `{probe_best}` ({same}); "
            f"the probe ranks zero-shot's winner {_rank(probe, zero_best)} of {len(ranked)} and "
            f"zero-shot ranks the probe's winner {_rank(sts, probe_best)}. Rank agreement over "
            f"all {len(ranked)} strategies: {agree}."
        )
    probe_rank = {s: sum(_rank(results[n], s) for n in PROBED) / len(PROBED) for s in ranked}
    shifts = sorted(ranked, key=lambda s: -abs(_rank(sts, s) - probe_rank[s]))[:5]
    moved = ", ".join(
        f"`{s}` ({_rank(sts, s)} zero-shot, {probe_rank[s]:.1f} mean probe rank)" for s in shifts
    )
    flips = []
    for a, b in PAIRS:
        if a in ranked and b in ranked:
            zero_shot = _verdict(sts, a, b).split(" ")[0]
            probes = {n: _verdict(results[n], a, b).split(" ")[0] for n in PROBED}
            differ = [n for n, v in probes.items() if v != zero_shot]
            if differ:
                flips.append(f"`{a}` > `{b}` ({zero_shot} zero-shot; not on {', '.join(differ)})")
    lines += [
        f"- Largest rank shifts between the two kinds of score: {moved}.",
        "- Parts of the claim where STS-B's verdict differs from a probe dataset's: "
        + ("; ".join(flips) if flips else "none")
        + ".",
    ]
    return lines


def _model_section(run: ModelRun, limit: int, folds: int) -> list[str]:
    backbone = run.encoder.backbone
    lines = [
        f"## {run.key}: `{backbone.name}`",
        "",
        f"{backbone.num_layers} layers, {backbone.hidden_size} wide, frozen, vectors not "
        f"normalised; own pooling `{run.encoder.strategy}`; {len(run.specs)} strategies. Probe "
        f"datasets: {limit or 'all'} rows sampled with seed 0, {folds}-fold CV with the same folds "
        "for every strategy; ridge (regression, Spearman) or logistic regression (classification, "
        "accuracy) on standardised features, regularisation chosen inside the training fold. "
        f"STS-B: all 1,379 test pairs, cosine of each pair, Spearman against the gold scores, "
        f"nothing fitted ({folds} disjoint folds of the pairs give the spread). Reports: "
        f"`docs/study/{_folder(run.key)}/<dataset>/`.",
        "",
        "### Key strategies (score ± std over folds)",
        "",
        *_key_table(run),
        "",
        "### The seeds' claim, part by part (frozen features)",
        "",
        *_claims(run),
        "",
        "### STS-B: zero-shot cosine next to the linear probes",
        "",
        *_sts_section(run),
        "",
        "Timings (embedding is one forward pass for all strategies):",
        "",
    ]
    for n, (embed, probe, rows) in run.seconds.items():
        lines.append(f"- {n}: {rows} rows, embedding {embed:.0f} s, scoring {probe:.0f} s")
    return lines


def _finetune_order() -> str:
    """The seeds' order, checked against the fine-tuning runs in bench/results/finetune.json."""
    runs = json.loads((ROOT / "bench" / "results" / "finetune.json").read_text())["runs"]
    scores: dict[str, list[float]] = {}
    for run in runs:
        scores.setdefault(run["strategy"], []).append(run["spearman"])
    mean = {k: sum(v) / len(v) for k, v in scores.items()}
    seeds = max(len(v) for v in scores.values())
    named = {
        "AttentionPooling": "attention",
        "WeightedLayerPooling": "mean@weighted(1:)",
        "Mean": "mean",
        "Max": "max",
        "Min": "min",
    }
    shown = " > ".join(
        f"{k} ({mean[v]:.3f})" for k, v in sorted(named.items(), key=lambda kv: -mean[kv[1]])
    )
    return (
        f"Fine-tuned (MiniLM, 1 epoch on 2,000 vader-movies snippets, held-out Spearman, mean of "
        f"{seeds} seeds), the seeds' five rank: {shown}. Against the seeds' order "
        "AttentionPooling > WeightedLayerPooling > Mean > Max > Min: attention ranks first but "
        "within seed noise of mean (paired per-seed differences below), weighted layer pooling "
        "falls below mean, and max and min come last. After fine-tuning the spread is small, as "
        "SBERT and SimCSE found."
    )


def _kept_blocks(doc: str) -> list[str]:
    """Sections other generators keep in the study between markers (post-processing, from
    bench/postprocess_study.py), carried over when the study is rewritten."""
    return [m.group(0) for m in _MARKED.finditer(doc)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm"], metavar="MODEL")
    parser.add_argument("--limit", type=int, default=4000, help="rows per probe dataset; 0: all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--templates", action="store_true", help="also compare's prompt-template strategies"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    this_run()  # the provenance record (load before) of what this run saves

    runs = [
        _run_model(key, args.limit, args.folds, args.out, args.templates) for key in args.models
    ]
    models = " ".join(args.models) + (" --templates" if args.templates else "")
    lines = [
        "# Pooling study: which strategy is right for a frozen model?",
        "",
        f"Generated by `python bench/pooling_study.py --models {models} --limit {args.limit}` on "
        f"{date.today()} ({platform.processor() or platform.machine()}, "
        f"{platform.python_version()}). Two kinds of score, which can disagree on which pooling "
        "is best: a **linear probe** fitted with cross-validation (vader-movies, vader-tweets, "
        "rotten-tomatoes, trec) and **zero-shot cosine similarity** on the STS Benchmark test "
        "split, nothing fitted, the figure MTEB and the STS papers report. Every strategy of a "
        "model comes from one forward pass per dataset.",
        "",
        "More than one model: MiniLM, MPNet and a raw MLM RoBERTa pretrained here on the Linux "
        "kernel documentation, frozen, on the same rows and folds, with the published raw-MLM "
        "pattern (CLS far below mean, lower layers above the last) tested per model: "
        "[model-study.md](model-study.md) (`bench/model_study.py`).",
        "",
    ]
    for run in runs:
        lines += [*_model_section(run, args.limit, args.folds), ""]
    templates = args.out / "study" / "templates.md"  # bench/template_study.py's section
    if templates.is_file():
        lines += [templates.read_text(encoding="utf-8").rstrip("\n"), ""]
    finetune = ROOT / "docs" / "finetune-results.md"
    if finetune.is_file():
        body = finetune.read_text(encoding="utf-8").split("\n", 1)[1]
        body = body.replace(" To be merged into `docs/pooling-study.md`.", "")
        body = body.replace("\n## ", "\n### ")
        lines += [
            "## Fine-tuned pooling heads (from bench/finetune.py)",
            "",
            _finetune_order(),
            "",
            body,
        ]
    doc = args.out / "pooling-study.md"
    kept = _kept_blocks(doc.read_text(encoding="utf-8")) if doc.is_file() else []
    doc.write_text("\n\n".join(["\n".join(lines).rstrip("\n"), *kept]) + "\n")
    print(f"wrote {args.out / 'pooling-study.md'} at {time.strftime('%H:%M:%S')}")


if __name__ == "__main__":
    main()
