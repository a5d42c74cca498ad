"""The template study: prompt-based representations against plain pooling, frozen, real data.

``promptbert:mask``, ``promptbert:mean``, ``echo:mean`` and ``query:mean`` against ``mean``,
``cls`` and ``mean@-4:`` on every registered dataset: a linear probe (5-fold CV) on
vader-movies, vader-tweets, rotten-tomatoes and trec, and zero-shot cosine similarity on the STS
Benchmark test split. One forward pass per template. Per model it writes docs/study/<model>-
templates/<dataset>/ (report.md with its Templates section, results.json) and run.json (the
command, date, machine, costs); then docs/study/templates.md with a section per model that has a
run.json (minilm, mpnet, linux-roberta-128 first), read back from those files, and puts that
section into docs/pooling-study.md (bench/pooling_study.py splices the same file in when it
rewrites the study).

    python bench/template_study.py                 # MiniLM, 2,000 rows per probe dataset
    python bench/template_study.py --models mpnet linux-roberta-128 --limit 400 --sts-limit 500
    python bench/template_study.py --render        # rebuild the section from the saved results
    python bench/template_study.py --models linux-roberta-128 --smoke --out /tmp/ts  # wiring

A model is ``minilm``, ``mpnet``, ``linux-roberta-128`` (bench/pretrain_linux.py's folder in
the cache, as in bench/model_study.py; its pretraining figures come from the committed
docs/study/pretrain-linux-roberta-128.json) or any folder.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import torch
from provenance import this_run, write_results
from study_common import (
    RAW,
    check_smoke,
    checkpoint_name,
    model_source,
    pretrain_record,
    raw_facts,
    run_record,
    study_parser,
)

from hiddenpool import Encoder
from hiddenpool.compare import run_compare, subsample
from hiddenpool.data import load_dataset
from hiddenpool.evaluate import CompareResult, write_report
from hiddenpool.evaluate.stats import PairedDifference
from hiddenpool.evaluate.templates_report import template_rows

ROOT = Path(__file__).resolve().parents[1]
PROBED = ("vader-movies", "vader-tweets", "rotten-tomatoes", "trec")
STS = "sts-b"
PLAIN = ("mean", "cls", "mean@-4:")
TEMPLATED = ("promptbert:mask", "promptbert:mean", "echo:mean", "query:mean")
ORDER = ("minilm", "mpnet", RAW)  # the order of the sections in templates.md


def _folder(out: Path, key: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(key).name).strip("-.") or "model"
    return out / "study" / f"{name}-templates"


def _run(key: str, args: argparse.Namespace) -> None:
    """Embed and score one model on every dataset; write its reports and run.json."""
    started = time.perf_counter()
    encoder = Encoder(model_source(key, args.smoke), normalize=False)
    costs: dict[str, tuple[int, float, int]] = {}
    for name in (*PROBED, STS):
        data = (
            subsample(load_dataset(STS, split="test"), args.sts_limit or None, seed=0)
            if name == STS
            else subsample(load_dataset(name), args.limit or None, seed=0)
        )
        specs = [*PLAIN, *TEMPLATED]
        run = run_compare(data, encoder, specs, folds=args.folds, seed=0, show_progress=False)
        costs[name] = (run.rows, round(run.embed_seconds, 1), run.passes)
        write_report(
            run.result,
            _folder(args.out, key) / name,
            model_name=key if key == RAW else encoder.backbone.name,
            dataset_name=f"{name} (test split)" if name == STS else name,
            num_layers=encoder.backbone.num_layers,
        )
        print(
            f"{key} {name}: {run.rows} rows, {run.passes} passes, {run.embed_seconds:.0f} s, "
            f"best {run.result.best.name} ({time.strftime('%H:%M:%S')})",
            flush=True,
        )
    record = {
        **run_record(key, encoder.backbone.name, args),
        "costs": costs,
        "seconds": round(time.perf_counter() - started),
    }
    write_results(_folder(args.out, key) / "run.json", record, this_run())


def load_result(path: Path) -> CompareResult:
    """A CompareResult back from write_report's results.json: the fold scores, which is all
    the tables and paired differences read (no out-of-fold predictions)."""
    return CompareResult.from_dict(json.loads(path.read_text(encoding="utf-8")))


def _cell(result: CompareResult, name: str) -> str:
    metric = result.get(name).metrics[result.primary_metric]
    return f"{metric.mean:.3f} ± {metric.std:.3f}"


def _versus(result: CompareResult, name: str, reference: str) -> str:
    diff = result.compare(name, reference)
    mark = "" if not diff.exceeds_noise else (" ▲" if diff.a_is_better else " ▼")
    return f"{diff.mean:+.3f} [{diff.ci_low:+.3f}, {diff.ci_high:+.3f}]{mark}"


def _best_template(result: CompareResult) -> tuple[str, str, PairedDifference]:
    """The best plain-text strategy, the best templated one, and their paired difference."""
    rows = template_rows(result)
    best = next(row for row in rows if row.versus_plain is not None)
    assert best.versus_plain is not None
    return rows[0].best, best.best, best.versus_plain


def _tally(results: dict[str, CompareResult], spec: str, reference: str) -> str:
    """'beats it on a; loses on b; within noise on c' for spec - reference, paired over folds."""
    groups: dict[str, list[str]] = {"beats it on": [], "loses on": [], "within noise on": []}
    for name, result in results.items():
        diff = result.compare(spec, reference)
        group = "within noise on"
        if diff.exceeds_noise:
            group = "beats it on" if diff.a_is_better else "loses on"
        groups[group].append(f"{name} ({diff.mean:+.3f})")
    return "; ".join(f"{k} {', '.join(v)}" for k, v in groups.items() if v)


def _findings(results: dict[str, CompareResult], record: dict | None) -> list[str]:
    """What the tables say, in words, from their own numbers."""
    lines = ["**Findings** (paired over folds; within noise: the 95% CI includes 0):", ""]
    pairs = [(n, spec, r.compare(spec, "mean")) for n, r in results.items() for spec in TEMPLATED]
    up = [f"`{spec}` on {n} ({d.mean:+.3f})" for n, spec, d in pairs if d.exceeds_noise
          and d.a_is_better]  # fmt: skip
    down = sum(d.exceeds_noise and not d.a_is_better for _, _, d in pairs)
    lines.append(
        f"- In short: of {len(pairs)} template–dataset pairs, {len(up)} beat plain `mean` beyond "
        f"the fold noise{': ' + ', '.join(up) if up else ''}; {down} lose to it; the rest are "
        "within the noise."
    )
    for spec in TEMPLATED:
        lines.append(f"- `{spec}` against `mean`: {_tally(results, spec, 'mean')}.")
    wins = [n for n, r in results.items() if (d := _best_template(r)[2]).exceeds_noise
            and d.a_is_better]  # fmt: skip
    losses = [n for n, r in results.items() if (d := _best_template(r)[2]).exceeds_noise
              and not d.a_is_better]  # fmt: skip
    lines.append(
        "- The best template against the best plain-text strategy: wins beyond the fold noise "
        f"on {', '.join(wins) or 'no dataset'}, loses beyond it on "
        f"{', '.join(losses) or 'no dataset'}, of {len(results)}."
    )
    if record is not None:
        lines.append(
            f"- This model is a raw MLM pretrained here on the Linux documentation "
            f"({raw_facts(record)}): `promptbert:mask` reads its state at the mask token, so "
            "these rows are about this model's mask prediction, not about PromptBERT's setting "
            "(BERT-base pretrained on general English)."
        )
    return lines


def section(key: str, out: Path) -> str:
    """One model's markdown, read back from its run.json and results.json files."""
    folder = _folder(out, key)
    info = json.loads((folder / "run.json").read_text())
    results = {n: load_result(folder / n / "results.json") for n in (*PROBED, STS)}
    datasets = list(results)
    lines = [
        f"### {key}: prompt templates (`{checkpoint_name(info['model'])}`)",
        "",
        f"`python bench/template_study.py {info['command']}` on {info['date']} "
        f"({info['machine']}). Probe datasets subsampled to {info['limit'] or 'all'} rows "
        f"(seed 0), {info['folds']}-fold linear probe; sts-b: {info['costs'][STS][0]} pairs of "
        "the test split (seed 0), zero-shot cosine (Spearman of all pairs, ± over folds). Runs "
        "with the same options use the same rows and folds on every model. Scores: mean ± std "
        "over folds. Differences are paired over the same folds, with the 95% CI; ▲/▼ where it "
        "excludes 0.",
        "",
        "| strategy | " + " | ".join(datasets) + " |",
        "|---|" + "---|" * len(datasets),
    ]
    for spec in (*PLAIN, *TEMPLATED):
        cells = [_cell(results[d], spec) for d in datasets]
        lines.append(f"| `{spec}` | " + " | ".join(cells) + " |")
    lines += ["", "Versus `mean`, paired over folds:", ""]
    lines += ["| strategy | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    for spec in TEMPLATED:
        cells = [_versus(results[d], spec, "mean") for d in datasets]
        lines.append(f"| `{spec}` | " + " | ".join(cells) + " |")
    lines += ["", "Best template per dataset against the best plain-text strategy:", ""]
    for name in datasets:
        plain, best, diff = _best_template(results[name])
        verdict = "wins against" if diff.a_is_better else "loses against"
        verdict = "ties with" if abs(diff.mean) < 0.0005 else verdict
        noise = "beyond" if diff.exceeds_noise else "within"
        lines.append(
            f"- {name}: best template `{best}` {verdict} `{plain}` by {diff.mean:+.3f} "
            f"(95% CI [{diff.ci_low:+.3f}, {diff.ci_high:+.3f}], {noise} the fold noise)."
        )
    costs = ", ".join(
        f"{d} {rows} rows {seconds:.0f} s / {passes} passes"
        for d, (rows, seconds, passes) in info["costs"].items()
    )
    seconds = f"; {info['seconds']} s in all" if info.get("seconds") else ""
    record = pretrain_record(info["model"])
    lines += ["", f"Embedding cost: {costs}{seconds}.", "", *_findings(results, record)]
    return "\n".join(lines)


def _overview(out: Path, keys: list[str]) -> list[str]:
    """Per template and model: on how many datasets it beats / loses to `mean` beyond noise."""
    lines = [
        "Across models: datasets where the template beats `mean` (▲), loses to it (▼) or is "
        "within the fold noise (=), paired over folds (details per model below).",
        "",
        "| template | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    loaded = {
        k: [load_result(_folder(out, k) / n / "results.json") for n in (*PROBED, STS)] for k in keys
    }
    words = []
    for spec in TEMPLATED:
        cells, totals = [], [0, 0, 0]
        for key in keys:
            diffs = [r.compare(spec, "mean") for r in loaded[key]]
            up = sum(d.exceeds_noise and d.a_is_better for d in diffs)
            down = sum(d.exceeds_noise and not d.a_is_better for d in diffs)
            cells.append(f"▲{up} ▼{down} ={len(diffs) - up - down}")
            totals = [totals[0] + up, totals[1] + down, totals[2] + len(diffs)]
        lines.append(f"| `{spec}` | " + " | ".join(cells) + " |")
        words.append(
            f"`{spec}` beats `mean` beyond the fold noise on {totals[0]} and loses on {totals[1]} "
            f"of {totals[2]} model–dataset pairs"
        )
    return [*lines, "", "In plain words: " + "; ".join(words) + ".", ""]


def render(out: Path, extra: list[str]) -> str:
    """The whole template section: every model with a run.json, ORDER first."""
    keys = [*ORDER, *(k for k in extra if k not in ORDER)]
    keys = [k for k in keys if (_folder(out, k) / "run.json").is_file()]
    lines = [
        "## Prompt templates",
        "",
        "The text placed in a template before the model reads it (`hiddenpool strategies` lists "
        'them): PromptBERT\'s `This sentence : "{text}" means [MASK] .` read at the mask token '
        "or as the mean over the text's tokens, echo (the text twice, the mean over the second "
        "copy) and E5's `query: ` prefix (mean over the text's tokens), against plain `mean`, "
        "`cls` and the last-4 average, frozen, on every real model (generated by "
        "`bench/template_study.py`; each model's section gives its command, rows and date).",
        "",
        *_overview(out, keys),
        "\n\n".join(section(k, out) for k in keys),
    ]
    return "\n".join(lines) + "\n"


def _splice(doc: Path, text: str) -> None:
    """Replace the study's template section, from its heading up to the next top-level heading
    or marked block (no markers of its own: bench/pooling_study.py carries marked blocks over
    and splices templates.md in, so markers would print it twice)."""
    if not doc.is_file():
        return
    body = doc.read_text(encoding="utf-8")
    pattern = r"^## Prompt templates\n.*?(?=^## |^<!-- |\Z)"
    new, count = re.subn(pattern, lambda _: text + "\n", body, count=1, flags=re.S | re.M)
    doc.write_text(new if count else body.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def main() -> None:
    parser = study_parser(__doc__.splitlines()[0], limit=2000)
    args = parser.parse_args()
    check_smoke(args)
    torch.set_num_threads(args.threads)
    this_run()  # the provenance record (load before) of what this run saves
    for key in [] if args.render else args.models:
        _run(key, args)
    text = render(args.out, args.models)
    (args.out / "study").mkdir(parents=True, exist_ok=True)
    (args.out / "study" / "templates.md").write_text(text, encoding="utf-8")
    _splice(args.out / "pooling-study.md", text)
    print(f"wrote {args.out / 'study' / 'templates.md'} and its section of pooling-study.md")


if __name__ == "__main__":
    main()
