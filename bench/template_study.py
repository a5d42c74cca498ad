"""The template study: prompt-based representations against plain pooling, frozen, real data.

``promptbert:mask``, ``promptbert:mean``, ``echo:mean`` and ``query:mean`` against ``mean``,
``cls`` and ``mean@-4:`` on every registered dataset: a linear probe (5-fold CV) on
vader-movies, vader-tweets, rotten-tomatoes and trec, and zero-shot cosine similarity on the STS
Benchmark test split. One forward pass per template. Writes docs/study/<model>-templates/
<dataset>/ (report.md with its Templates section, results.json) and docs/study/templates.md, the
section bench/pooling_study.py puts into docs/pooling-study.md.

    python bench/template_study.py                 # MiniLM, 2,000 rows per probe dataset
    python bench/template_study.py --limit 0       # every row
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from datetime import date
from pathlib import Path

from hiddenpool import Encoder
from hiddenpool.compare import run_compare, subsample
from hiddenpool.data import load_dataset
from hiddenpool.evaluate import CompareResult, write_report
from hiddenpool.evaluate.templates_report import template_rows

ROOT = Path(__file__).resolve().parents[1]
PROBED = ("vader-movies", "vader-tweets", "rotten-tomatoes", "trec")
STS = "sts-b"
PLAIN = ("mean", "cls", "mean@-4:")
TEMPLATED = ("promptbert:mask", "promptbert:mean", "echo:mean", "query:mean")


def _folder(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(key).name).strip("-.") or "model"


def _cell(result: CompareResult, name: str) -> str:
    metric = result.get(name).metrics[result.primary_metric]
    return f"{metric.mean:.3f} ± {metric.std:.3f}"


def _versus(result: CompareResult, name: str, reference: str) -> str:
    diff = result.compare(name, reference)
    mark = "" if not diff.exceeds_noise else (" ▲" if diff.a_is_better else " ▼")
    return f"{diff.mean:+.3f} [{diff.ci_low:+.3f}, {diff.ci_high:+.3f}]{mark}"


def _run(
    key: str, limit: int, folds: int, out: Path, sts_limit: int = 0
) -> tuple[dict[str, CompareResult], dict]:
    encoder = Encoder(None if key == "minilm" else key, normalize=False)
    specs = [*PLAIN, *TEMPLATED]
    results: dict[str, CompareResult] = {}
    costs: dict[str, tuple[int, float, int]] = {}
    for name in (*PROBED, STS):
        data = (
            subsample(load_dataset(STS, split="test"), sts_limit or None, seed=0)
            if name == STS
            else subsample(load_dataset(name), limit or None, seed=0)
        )
        run = run_compare(data, encoder, specs, folds=folds, seed=0, show_progress=False)
        results[name] = run.result
        costs[name] = (run.rows, run.embed_seconds, run.passes)
        write_report(
            run.result,
            out / "study" / f"{_folder(key)}-templates" / name,
            model_name=encoder.backbone.name,
            dataset_name=f"{name} (test split)" if name == STS else name,
            num_layers=encoder.backbone.num_layers,
        )
        print(
            f"{key} {name}: {run.rows} rows, {run.passes} passes, "
            f"{run.embed_seconds:.0f} s, best {run.result.best.name}",
            flush=True,
        )
    return results, {"model": encoder.backbone.name, "costs": costs}


def _section(
    key: str, results: dict[str, CompareResult], info: dict, limit: int, folds: int
) -> list[str]:
    datasets = list(results)
    sts_rows = info["costs"][STS][0]
    lines = [
        f"### {key}: prompt templates (`{info['model']}`)",
        "",
        f"Probe datasets subsampled to {limit or 'all'} rows (seed 0), {folds}-fold linear "
        f"probe; sts-b: {sts_rows} pairs of the test split, zero-shot cosine (Spearman of all "
        "pairs, ± over folds). Scores: mean ± std over folds. Differences are paired over the "
        "same folds, with the 95% CI; ▲/▼ where it excludes 0.",
        "",
        "| strategy | " + " | ".join(datasets) + " |",
        "|---|" + "---|" * len(datasets),
    ]
    for spec in (*PLAIN, *TEMPLATED):
        cells = [_cell(results[d], spec) for d in datasets]
        lines.append(f"| `{spec}` | " + " | ".join(cells) + " |")
    lines += ["", "Versus `mean` (the model's own pooling), paired over folds:", ""]
    lines += ["| strategy | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    for spec in TEMPLATED:
        cells = [_versus(results[d], spec, "mean") for d in datasets]
        lines.append(f"| `{spec}` | " + " | ".join(cells) + " |")
    lines += ["", "Best template per dataset against the best plain-text strategy:", ""]
    for name in datasets:
        rows = template_rows(results[name])
        plain = rows[0]
        best = next(row for row in rows if row.versus_plain is not None)
        diff = best.versus_plain
        assert diff is not None
        verdict = "wins" if diff.a_is_better else "loses"
        noise = "beyond" if diff.exceeds_noise else "within"
        lines.append(
            f"- {name}: best template `{best.best}` {verdict} against `{plain.best}` by "
            f"{diff.mean:+.3f} (95% CI [{diff.ci_low:+.3f}, {diff.ci_high:+.3f}], {noise} the "
            "fold noise)."
        )
    costs = ", ".join(
        f"{d} {rows} rows {seconds:.0f} s / {passes} passes"
        for d, (rows, seconds, passes) in info["costs"].items()
    )
    lines += ["", f"Embedding cost ({platform.processor() or platform.machine()}): {costs}.", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm"], metavar="MODEL")
    parser.add_argument("--limit", type=int, default=2000, help="rows per probe dataset; 0: all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--sts-limit", type=int, default=0, help="sts-b pairs (0: all; smoke)")
    args = parser.parse_args()
    start = time.perf_counter()
    lines = [
        "## Prompt templates",
        "",
        "The text placed in a template before the model reads it (`hiddenpool strategies` lists "
        'them): PromptBERT\'s `This sentence : "{text}" means [MASK] .` read at the mask token '
        "or as the mean over the text's tokens, echo (the text twice, the mean over the second "
        "copy) and E5's `query: ` prefix (mean over the text's tokens), against plain `mean`, "
        "`cls` and the last-4 average. Generated by "
        f"`{' '.join(['python bench/template_study.py', *sys.argv[1:]])}` on {date.today()}.",
        "",
    ]
    summary = {}
    for key in args.models:
        results, info = _run(key, args.limit, args.folds, args.out, args.sts_limit)
        lines += _section(key, results, info, args.limit, args.folds)
        summary[key] = {
            name: {row.template: row.to_dict() for row in template_rows(result)}
            for name, result in results.items()
        }
    lines.append(f"_Run time {time.perf_counter() - start:.0f} s._")
    folder = args.out / "study"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "templates.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "templates.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {folder / 'templates.md'}")


if __name__ == "__main__":
    main()
