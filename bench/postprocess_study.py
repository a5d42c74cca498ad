"""The pooling study's post-processing part: what whitening, PCA, truncation and quantisation
do to each dataset's best frozen strategy.

For every model and registered dataset, the best strategy of the pooling study
(docs/study/<model>/summary.json, from bench/pooling_study.py, or else the three-model study's
docs/study/models/summary.json from bench/model_study.py; a dataset in neither gets the model's
own pooling) is scored alone and under ``| whiten(k)``, ``| pca(k)``, ``| truncate(k)``,
``| int8`` and ``| binary``, from one forward pass; on STS-B the model's own pooling is staged
too when it is not the best, since that is what BERT-whitening whitened. Probe datasets fit the
stages on each training fold only; STS-B fits them on its train split's sentences and scores
zero-shot cosine on the test split, as BERT-whitening did. Writes docs/study/<model>/
postprocess.md and .json, and the "After pooling" section of docs/pooling-study.md from every
model's saved .md (minilm, mpnet, linux-roberta-128 first).

    python bench/postprocess_study.py                   # MiniLM, 1,000 rows per probe dataset
    python bench/postprocess_study.py --models mpnet linux-roberta-128 --limit 400
    python bench/postprocess_study.py --render          # rewrite the markdown from the .json
    python bench/postprocess_study.py --models linux-roberta-128 --smoke --out /tmp/pp  # wiring

A model is ``minilm``, ``mpnet``, ``linux-roberta-128`` (as in bench/model_study.py; its
pretraining figures come from the committed docs/study/pretrain-linux-roberta-128.json) or any
folder. ``--out`` (default docs/) is where the study tree is read and written.
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
    replace_block,
    run_record,
    study_parser,
)

from hiddenpool import Encoder
from hiddenpool.compare import run_compare, subsample
from hiddenpool.data import load_dataset
from hiddenpool.evaluate import CompareResult
from hiddenpool.evaluate.stages_report import stage_rows

ROOT = Path(__file__).resolve().parents[1]
PROBED = ("vader-movies", "vader-tweets", "rotten-tomatoes", "trec")
STS = "sts-b"
ORDER = ("minilm", "mpnet", RAW)  # the order of the sections
START, END = "<!-- post-processing:start -->", "<!-- post-processing:end -->"


def _folder(out: Path, key: str) -> Path:
    return out / "study" / (re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(key).name) or "m")


def variants(best: str, width: int) -> list[str]:
    """The best strategy alone and under each stage the study reports."""
    ks = [k for k in (64, 128, 256) if k < width]
    return [
        best,
        *(f"{best} | whiten({k})" for k in ks),
        f"{best} | pca({ks[-1]})",
        f"{best} | truncate({ks[-1]})",
        f"{best} | int8",
        f"{best} | binary",
    ]


def chosen(key: str, own: str, docs: Path) -> dict[str, tuple[str, str]]:
    """Per dataset, the strategy to post-process and where that choice comes from (read from
    the study tree under ``docs``)."""
    out: dict[str, tuple[str, str]] = {}
    pooling = _folder(docs, key) / "summary.json"  # bench/pooling_study.py
    if pooling.is_file():
        for name, result in json.loads(pooling.read_text()).items():
            if name == "provenance":  # bench/provenance.py's record, not a dataset
                continue
            out[name] = (next(iter(result["scores"])), "best of the pooling study")
    models = docs / "study" / "models" / "summary.json"  # bench/model_study.py
    if models.is_file():
        for name, scores in json.loads(models.read_text()).get(key, {}).items():  # by model
            out.setdefault(name, (next(iter(scores)), "best of the three-model study"))
    for name in (*PROBED, STS):
        out.setdefault(name, (own, "the model's own pooling, the dataset being in neither"))
    return out


def _scored(result: CompareResult, base: str) -> dict[str, object]:
    """One unprocessed strategy, its stages, and each stage against it paired over folds."""
    stages = []
    for row in stage_rows(result):
        if row.base != base:
            continue
        diff = result.compare(row.name, base)
        stages.append({**row.to_dict(), "diff": diff.to_dict()})
    return {
        "best": base,
        "score": result.get(base).metrics[result.primary_metric].mean,
        "bytes": 4 * result.get(base).dim,
        "stages": stages,
    }


def _data(name: str, args: argparse.Namespace) -> tuple[object, list[str] | None, str]:
    if name != STS:
        return subsample(load_dataset(name), args.limit or None, seed=0), None, ""
    fitting = subsample(load_dataset(STS, split="train"), args.sts_fit or None, seed=0)
    note = f"the {len(fitting.texts)} sentences of {len(fitting)} train pairs (seeded sample)"
    test = subsample(load_dataset(STS, split="test"), args.sts_limit or None, seed=0)
    return test, fitting.texts, note


def run_model(key: str, args: argparse.Namespace) -> dict[str, object]:
    """Every dataset's best strategy and its post-processed forms, scored."""
    encoder = Encoder(model_source(key, args.smoke), normalize=False)
    own = str(encoder.strategy)
    out: dict[str, dict[str, object]] = {}
    choice = chosen(key, own, args.out)
    for name in (*PROBED, STS):
        best, origin = choice[name]
        bases = [best, own] if name == STS and own != best else [best]
        specs = [v for base in bases for v in variants(base, encoder.width(base))]
        started = time.perf_counter()
        data, fit_texts, fit_name = _data(name, args)
        run = run_compare(
            data, encoder, specs, folds=args.folds, seed=0, show_progress=False,  # type: ignore[arg-type]
            fit_texts=fit_texts, fit_name=fit_name,
        )  # fmt: skip
        out[name] = {
            **_scored(run.result, best),
            "metric": run.result.primary_metric,
            "origin": origin,
            "also": [_scored(run.result, base) for base in bases[1:]],
            "rows": run.rows,
            "fitted_on": run.stages_note,
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(f"{key} {name}: {run.rows} rows in {out[name]['seconds']} s "
              f"({time.strftime('%H:%M:%S')})", flush=True)  # fmt: skip
    run_info = run_record(key, encoder.backbone.name, args, f" --sts-fit {args.sts_fit}")
    return {"run": run_info, "datasets": out}


def _diff(row: dict) -> str:
    d = row.get("diff")
    if not d:
        return "—"
    mark = "" if not d["exceeds_noise"] else (" ▲" if d["a_is_better"] else " ▼")
    return f"{d['mean']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]{mark}"


def _table(results: dict[str, dict]) -> list[str]:
    lines = [
        "| dataset | strategy | score | stage | score after | retained | stage − strategy, "
        "paired over folds (95% CI) | bytes per vector |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        for scored in [result, *result.get("also", [])]:
            best = str(scored["best"])
            lines.append(
                f"| {name} ({result['rows']} rows) | `{best}` | {float(scored['score']):.4f} "
                f"({result['metric']}) | — | — | 100% | | {scored['bytes']} |"
            )
            for row in scored["stages"]:
                stage = str(row["name"])[len(best) :].strip().replace("|", "\\|")
                lines.append(
                    f"| | | | `{stage}` | {row['score']:.4f} | {100 * row['retained']:.1f}% "
                    f"| {_diff(row)} | {row['bytes_per_vector']} |"
                )
    return lines


def section(key: str, saved: dict) -> str:
    """Markdown for one model."""
    info = saved["run"]
    results = {n: saved["datasets"][n] for n in (*PROBED, STS) if n in saved["datasets"]}
    by_origin: dict[str, list[str]] = {}
    for name, result in results.items():
        by_origin.setdefault(str(result["origin"]), []).append(name)
    origins = [f"{origin} ({', '.join(names)})" for origin, names in by_origin.items()]
    sts = results.get(STS, {})
    lines = [
        f"### After pooling: whitening, PCA, truncation, quantisation ({key})",
        "",
        f"`python bench/postprocess_study.py {info['command']}` on {info['date']} "
        f"({info['machine']}), `{checkpoint_name(info['model'])}`, raw (unnormalised) vectors, "
        f"{info['folds']} folds. Each dataset's chosen strategy alone and post-processed; "
        "retained is the share of its score kept (higher is better for every metric here); "
        "the paired column is the stage's score minus the unprocessed one on the same folds "
        "(▲/▼ where the 95% CI excludes 0). Probe datasets fit every stage on the training rows "
        f"of each fold only. STS-B: {_lower(sts.get('fitted_on', ''))} Zero-shot cosine on "
        f"{sts.get('rows', '?')} test pairs. Strategies: {'; '.join(origins)}.",
        "",
        *_table(results),
        "",
        "**Findings:**",
        "",
        *_reading(results, pretrain_record(info["model"])),
        "",
    ]
    return "\n".join(lines)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _retained(results: dict[str, dict], stage: str) -> list[float]:
    """The share of the score ``stage`` keeps on every row the tables show: each dataset's best
    strategy and the other strategies staged with it (STS-B's own pooling, under ``also``)."""
    return [
        100 * float(row["retained"])
        for result in results.values()
        for scored in (result, *result.get("also", []))
        for row in scored["stages"]
        if str(row["name"]).endswith(f"| {stage}")
    ]


def _whitening(name: str, scored: dict) -> str:
    """The best whitening of one strategy against it, in words."""
    rows = [row for row in scored["stages"] if "whiten" in str(row["name"])]
    best = max(rows, key=lambda row: float(row["score"]))
    stage = str(best["name"]).split("| ")[-1]
    d = best["diff"]
    moved = "raises" if d["mean"] > 0 else "lowers"
    noise = "beyond" if d["exceeds_noise"] else "within"
    return (
        f"{name} `{scored['best']}`: the best whitening, `{stage}`, {moved} {scored['score']:.4f} "
        f"to {best['score']:.4f} ({d['mean']:+.4f}, 95% CI [{d['ci_low']:+.4f}, "
        f"{d['ci_high']:+.4f}], {noise} the fold noise)"
    )


def _reading(results: dict[str, dict], record: dict | None) -> list[str]:
    """What the table says, with its own numbers."""
    int8, binary = _retained(results, "int8"), _retained(results, "binary")
    lines = [
        f"- `int8` keeps {min(int8):.1f}–{max(int8):.1f}% of the score at a quarter of the bytes; "
        f"`binary` keeps {min(binary):.1f}–{max(binary):.1f}% at a thirty-second."
    ]
    probes = [r for n, r in results.items() if n != STS]
    if all(any("diff" in row for row in r["stages"]) for r in probes):
        said = [_whitening(n, r) for n, r in results.items() if n != STS]
        lines.append("- Under a probe: " + "; ".join(said) + ".")
    if STS in results and "diff" in results[STS]["stages"][0]:
        sts = results[STS]
        said = [_whitening("STS-B", s) for s in [sts, *sts.get("also", [])]]
        lines.append(
            "- Zero-shot cosine (where BERT-whitening reported its gains, on frozen raw BERT): "
            + "; ".join(said)
            + "."
        )
    if record is not None:
        lines.append(
            f"- This is a raw MLM pretrained here on the Linux documentation ({raw_facts(record)}),"
            " not BERT-base: what whitening does here is evidence about this model, not about "
            "the raw BERT of BERT-whitening."
        )
    return lines


def overview(saved: dict[str, dict]) -> list[str]:
    """Across models: whitening the model's own pooling on STS-B (BERT-whitening's setting),
    and what int8 and binary keep everywhere."""
    if not saved:
        return []
    lines = [
        "Across models (details per model below): STS-B zero-shot cosine of the model's own "
        "pooling, alone and under its best `whiten(k)` fitted on train sentences, paired over "
        "folds; and the share of the score `int8` and `binary` keep over all five datasets.",
        "",
        "| model | STS-B, own pooling | best whitening | whitened − unprocessed (95% CI) "
        "| int8 keeps | binary keeps |",
        "|---|---|---|---|---|---|",
    ]
    up, down = "raises STS-B beyond the fold noise on", "lowers STS-B beyond the fold noise on"
    level = "moves STS-B only within the fold noise on"
    verdicts: dict[str, list[str]] = {up: [], down: [], level: []}
    for key, data in saved.items():
        results = data["datasets"]
        sts = results[STS]
        own = [sts, *sts.get("also", [])][-1]  # the model's own pooling is staged last
        rows = [row for row in own["stages"] if "whiten" in str(row["name"])]
        best = max(rows, key=lambda row: float(row["score"]))
        int8, binary = _retained(results, "int8"), _retained(results, "binary")
        lines.append(
            f"| {key} | `{own['best']}` {own['score']:.4f} | `{str(best['name']).split('| ')[-1]}` "
            f"{best['score']:.4f} | {_diff(best)} | {min(int8):.1f}–{max(int8):.1f}% "
            f"| {min(binary):.1f}–{max(binary):.1f}% |"
        )
        d = best["diff"]
        verdict = level if not d["exceeds_noise"] else up if d["a_is_better"] else down
        verdicts[verdict].append(f"{key} ({d['mean']:+.4f})")
    said = [f"{k} {', '.join(v)}" for k, v in verdicts.items() if v]
    lines += ["", f"In plain words: the best whitening of the own pooling {'; '.join(said)}."]
    return [*lines, ""]


def _replace(doc: Path, text: str) -> None:
    replace_block(doc, START, END, text)


def main() -> None:
    parser = study_parser(__doc__.splitlines()[0], limit=1000)
    parser.add_argument(
        "--sts-fit", type=int, default=1000, help="STS-B train pairs to fit on; 0: all 5,749"
    )
    args = parser.parse_args()
    check_smoke(args)
    torch.set_num_threads(args.threads)
    this_run()  # the provenance record (load before) of what this run saves
    for key in [] if args.render else args.models:
        started = time.perf_counter()
        saved = run_model(key, args)
        saved["run"]["seconds"] = round(time.perf_counter() - started)  # type: ignore[index]
        _folder(args.out, key).mkdir(parents=True, exist_ok=True)
        write_results(_folder(args.out, key) / "postprocess.json", saved, this_run())
    texts, saved_all = [], {}
    for key in [*ORDER, *(k for k in args.models if k not in ORDER)]:
        folder = _folder(args.out, key)
        if not (folder / "postprocess.json").is_file():
            continue
        saved = json.loads((folder / "postprocess.json").read_text())
        if "run" not in saved:  # written before the paired column: keep its markdown
            texts.append((folder / "postprocess.md").read_text())
            continue
        saved_all[key] = saved
        text = section(key, saved)
        text += f"\n({saved['run']['seconds']} s for this model.)\n"
        (folder / "postprocess.md").write_text(text)
        texts.append(text)
    head = ["## After pooling", "", *overview(saved_all)]
    doc = args.out / "pooling-study.md"
    _replace(doc, "\n".join(head) + "\n" + "\n".join(texts))
    print(f"wrote {doc}")


if __name__ == "__main__":
    main()
