"""The README's sentences on what the studies found, built from the studies' saved results.

Each renderer reads the results files a study wrote under docs/study/ (per-fold scores of every
strategy) and words its claim from paired 95% intervals over the same folds: a strategy "beats"
another only where the interval of the difference excludes zero, and a count says on how many
model-dataset pairs that held, was within noise or was reversed. bench/render_readme.py splices
them into README.md between ``<!-- generated: NAME -->`` markers; tests/test_bench_results.py
checks the README says what they render to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model_study import PUBLISHED, SEEDS_ORDER
from study_common import DECODER, DECODER_CLAIMS, RAW

from hiddenpool.evaluate.stats import PairedDifference

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "docs" / "study"
MODELS = ("minilm", "mpnet", RAW)
SHOWN = {
    "minilm": "MiniLM",
    "mpnet": "MPNet",
    RAW: "the raw MLM RoBERTa pretrained here on the Linux kernel documentation",
}
LOADED: set[Path] = set()  # every results file a render read

__all__ = ["FINDINGS", "LOADED", "Verdict", "verdict"]


def _load(path: Path) -> dict[str, Any]:
    LOADED.add(path)
    return json.loads(path.read_text())


def _results(folder: Path) -> dict[str, dict[str, Any]]:
    """``{dataset: results.json}`` of a study folder, in dataset order."""
    return {p.parent.name: _load(p) for p in sorted(folder.glob("*/results.json"))}


class Verdict:
    """Paired difference ``a - b`` on one result, in words."""

    def __init__(self, result: dict[str, Any], a: str, b: str) -> None:
        metric = result["primary_metric"]
        folds = {s["name"]: s["metrics"][metric]["folds"] for s in result["strategies"]}
        self.diff = PairedDifference.between(
            a, b, metric, bool(result["higher_is_better"]), folds[a], folds[b]
        )

    @property
    def word(self) -> str:
        """``holds`` (a better beyond noise), ``reversed`` or ``within noise``."""
        if not self.diff.exceeds_noise:
            return "within noise"
        return "holds" if self.diff.a_is_better else "reversed"


def verdict(result: dict[str, Any], a: str, b: str) -> str:
    """``holds``, ``reversed`` or ``within noise`` for ``a`` over ``b`` on ``result``."""
    return Verdict(result, a, b).word


def _count(results: dict[str, dict[str, Any]], a: str, b: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"holds": [], "within noise": [], "reversed": []}
    for name, result in results.items():
        out[verdict(result, a, b)].append(name)
    return out


def _tally(counts: dict[str, list[str]], total: int) -> str:
    """``on 3 of 5 (within noise on vader-tweets; reversed on sts-b)``."""
    text = f"{len(counts['holds'])} of {total}"
    rest = [
        f"{word} on {', '.join(counts[word])}"
        for word in ("within noise", "reversed")
        if counts[word]
    ]
    return text + (f" ({'; '.join(rest)})" if rest else "")


def readme_pooling_findings() -> str:
    """MiniLM's pooling study: mean against max, min and CLS; the last four layers."""
    results = _results(STUDY / "minilm")
    n = len(results)
    names = ", ".join(results)
    rivals = {f"`{b}`": _count(results, "mean", b) for b in ("max", "min", "cls")}
    everywhere = [b for b, c in rivals.items() if len(c["holds"]) == n]
    others = [b for b in rivals if b not in everywhere]
    claims = [f"`mean` beats {', '.join(everywhere)} on all {n}"] if everywhere else []
    claims += [f"`mean` beats {b} on {_tally(rivals[b], n)}" for b in others]
    first = "; ".join(claims)
    four = _count(results, "mean@-4:", "mean")
    return (
        f"What it found for frozen MiniLM on {n} datasets ({names}) is in "
        "[docs/pooling-study.md](docs/pooling-study.md), paired over the same folds (a "
        f"difference counts where its 95% interval excludes zero): {first}; averaging the last "
        f"four layers (`mean@-4:`) beats the last layer (`mean`) on {_tally(four, n)}."
    )


def _model_results() -> dict[str, dict[str, dict[str, Any]]]:
    return {
        key: _results(STUDY / "models" / key) for key in MODELS if (STUDY / "models" / key).is_dir()
    }


def _best_layer(result: dict[str, Any], layers: int) -> int:
    metric = result["primary_metric"]
    scores = {s["name"]: s["metrics"][metric]["mean"] for s in result["strategies"]}
    named = [f"mean@{k}" for k in range(layers)] + ["mean"]
    return max(range(layers + 1), key=lambda k: scores[named[k]])


def _layers(result: dict[str, Any]) -> int:
    return 1 + max(
        int(s["name"].removeprefix("mean@"))
        for s in result["strategies"]
        if s["name"].removeprefix("mean@").isdigit()
    )


def readme_model_findings() -> str:
    """The three-model study: CLS against mean, and the best layer, per model."""
    runs = _model_results()
    parts = []
    for key, results in runs.items():
        n = len(results)
        cls = _count(results, "mean", "cls")
        layers = _layers(next(iter(results.values())))
        lower = []
        for name, result in results.items():
            best = _best_layer(result, layers)
            if best < layers and verdict(result, f"mean@{best}", "mean") == "holds":
                lower.append(f"{name}: layer {best}")
        parts.append(
            f"{SHOWN[key]}: mean beats CLS on {_tally(cls, n)}; a lower layer beats the last "
            f"beyond noise on {len(lower)} of {n}" + (f" ({', '.join(lower)})" if lower else "")
        )
    return (
        f"On {len(runs)} frozen models ({', '.join(SHOWN[k] for k in runs)}), "
        "[docs/model-study.md](docs/model-study.md) scores the same strategies on the same rows "
        "and folds (three probe datasets and STS-B): " + "; ".join(parts) + "."
    )


def _template_results() -> dict[str, dict[str, dict[str, Any]]]:
    return {
        key: _results(STUDY / f"{key}-templates")
        for key in MODELS
        if (STUDY / f"{key}-templates").is_dir()
    }


def readme_template_findings() -> str:
    """The template study: promptbert:mask against mean; which template helped where."""
    runs = _template_results()
    pairs = sum(len(r) for r in runs.values())
    mask = {"holds": 0, "reversed": 0}
    over_mean: list[str] = []
    over_best = 0
    for key, results in runs.items():
        for name, result in results.items():
            word = verdict(result, "promptbert:mask", "mean")
            if word in mask:
                mask[word] += 1
            over_mean += [
                f"`{spec}` on {SHOWN[key]} {name}"
                for spec in ("promptbert:mean", "query:mean", "echo:mean")
                if verdict(result, spec, "mean") == "holds"
            ]
            over_best += any(
                row["versus_plain"]["a_is_better"] and row["versus_plain"]["exceeds_noise"]
                for row in result.get("templates") or []
                if row["versus_plain"]
            )
    helped = (
        f"a template beat the plain `mean` beyond noise on {len(over_mean)} "
        f"({', '.join(over_mean)})"
        if over_mean
        else "no template beat the plain `mean` beyond noise"
    )
    return (
        f"Evidence on {len(runs)} real models, {pairs} model–dataset pairs "
        "([docs/pooling-study.md](docs/pooling-study.md), paired over folds): "
        f"`promptbert:mask` beat `mean` beyond fold noise on {mask['holds']} and lost on "
        f"{mask['reversed']}; {helped}; a template beat the best plain strategy beyond noise on "
        f"{over_best} of {pairs}."
    )


def _stage_runs() -> dict[str, dict[str, Any]]:
    return {
        key: _load(STUDY / key / "postprocess.json")
        for key in MODELS
        if (STUDY / key / "postprocess.json").is_file()
    }


def _whitening(entry: dict[str, Any]) -> str:
    """The best whitening of one post-processed strategy, its scores and its verdict."""
    whitened = [s for s in entry["stages"] if "| whiten(" in s["name"]]
    top = max(whitened, key=lambda s: s["score"])
    diff = top["diff"]
    word = "within fold noise"
    if diff["exceeds_noise"]:
        word = ("up" if diff["a_is_better"] else "down") + (
            f" beyond noise (95% CI [{diff['ci_low']:+.3f}, {diff['ci_high']:+.3f}])"
        )
    stage = top["name"].split(" | ")[1]
    return (
        f"`{entry['best']}` {100 * top['base_score']:.1f} → {100 * top['score']:.1f} with "
        f"`{stage}`, {word}"
    )


def readme_stage_findings() -> str:
    """The post-processing study: whitening on STS-B per model, and what int8 keeps."""
    runs = _stage_runs()
    parts = []
    kept: list[float] = []
    for key, run in runs.items():
        for data in run["datasets"].values():
            for entry in [data, *data.get("also", [])]:
                kept += [s["retained"] for s in entry["stages"] if s["name"].endswith("| int8")]
        sts = run["datasets"]["sts-b"]
        entries = [sts, *sts.get("also", [])]
        parts.append(f"{SHOWN[key]} " + " and ".join(_whitening(e) for e in entries))
    return (
        "Evidence ([docs/pooling-study.md](docs/pooling-study.md)) on STS-B, zero-shot cosine "
        "with the stages fitted on STS-B train sentences, the best whitening of each model's "
        "best strategy (and of its own pooling where that differs): "
        + "; ".join(parts)
        + f". `int8` keeps {100 * min(kept):.1f}–{100 * max(kept):.1f}% of the score "
        f"({len(kept)} model–dataset–strategy rows)."
    )


def _pretrain_record(name: str) -> dict[str, Any]:
    return _load(STUDY / f"pretrain-{name}.json")


def _minutes(record: dict[str, Any]) -> float:
    """Wall minutes of training over every session (a run resumed across sessions)."""
    return sum(s.get("seconds", 0.0) for s in record["sessions"]) / 60


def pretrain_table(name: str) -> str:
    """A markdown table of one pretraining record (docs/study/pretrain-NAME.json)."""
    r = _pretrain_record(name)
    m, c, s = r["model"], r["corpus"], r["settings"]
    before, after = r["held_out_before"], r["held_out_after"]
    cut = c["cut_by_max_length"]
    mlm = r["objective"] == "mlm"
    counted = after["masked_tokens"] if mlm else after["predicted_tokens"]
    what = "masked-token accuracy" if mlm else "next-token accuracy"
    per = r["tokens_seen"] / max(r["steps"], 1)
    whole = s.get("max_eval_blocks") is None
    scope = "the whole held-out split" if whole else f"{after['blocks']} held-out blocks"
    rows = [
        ("model", f"{m['description']}, {m['parameters'] / 1e6:.1f}M parameters, max length "
         f"{s['max_length']}"),
        ("corpus", f"{c['train_documents']:,} training paragraphs ({c['train_tokens'] / 1e6:.2f}M "
         f"tokens), {c['eval_documents']:,} held out ({c['eval_tokens']:,} tokens); "
         f"{100 * cut['share']:.1f}% of the {cut['documents']:,} paragraphs are longer than one "
         "block (cut by the max length)"),
        ("training", f"{r['steps']:,} steps × {s['batch_size']} blocks = "
         f"{r['tokens_seen'] / 1e6:.2f}M tokens ({per:,.0f} a step), lr {s['lr']:g}, "
         f"{r['precision']}"),
        ("compute", f"{_minutes(r):.0f} min over {len(r['sessions'])} session(s) on "
         f"{r['machine']} ({r['provenance']['cpu']}), {r['threads']} torch thread(s), shared "
         "with other jobs"),
        ("held-out", f"loss {before['loss']:.2f} → {after['loss']:.2f}"
         + ("" if mlm else f", perplexity {before['perplexity']:,.0f} → "
            f"{after['perplexity']:,.1f}")
         + f", {what} {100 * before['accuracy']:.1f}% → **{100 * after['accuracy']:.1f}%** "
         f"({counted:,} tokens, {scope})"),
        ("command", f"`{r['provenance']['command']}` at commit "
         f"`{r['provenance']['git_commit'][:8]}`"),
    ]  # fmt: skip
    return "\n".join(["", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""])


def models_raw_pretrain() -> str:
    """docs/models.md: how the raw RoBERTa of the studies was trained (once it has been)."""
    if not (STUDY / f"pretrain-{RAW}.json").is_file():
        return f" Its record is not committed yet: `{RAW}` has not finished training."
    return pretrain_table(RAW)


def _score(result: dict[str, Any], name: str) -> float:
    metric = result["primary_metric"]
    return next(s["metrics"][metric]["mean"] for s in result["strategies"] if s["name"] == name)


def models_findings() -> str:
    """docs/models.md: what the three-model study says, each claim with its paired count."""
    runs = _model_results()
    head = "| model | CLS | mean | first-last (`mean@1,-1`) | best layer |"
    table = [head, "|---|---|---|---|---|"]
    table.append(
        "| BERT-base (published; SBERT Table 1, BERT-flow) | "
        f"{PUBLISHED['cls']:.2f} | {PUBLISHED['mean']:.2f} | {PUBLISHED['mean@1,-1']:.2f} | |"
    )
    bullets = []
    for key, results in runs.items():
        sts = results["sts-b"]
        layers = _layers(sts)
        best = _best_layer(sts, layers)
        named = f"mean@{best}" if best < layers else "mean"
        cells = [f"{100 * _score(sts, s):.2f}" for s in ("cls", "mean", "mean@1,-1")]
        top = f"{100 * _score(sts, named):.2f} (layer {best} of {layers})"
        table.append(f"| {SHOWN[key]} | " + " | ".join([*cells, top]) + " |")
        probes = {n: r for n, r in results.items() if n != "sts-b"}
        n = len(probes)
        averages = {spec: _count(probes, spec, "mean") for spec in ("mean@1:", "mean@-4:")}
        order = [name for name, _ in SEEDS_ORDER]
        seeds = sum(
            sorted(SEEDS_ORDER, key=lambda kv: -_score(r, kv[1])) == list(SEEDS_ORDER)
            for r in results.values()
        )
        bullets.append(
            f"- **{SHOWN[key]}**: on STS-B zero-shot `mean` over CLS "
            f"{verdict(sts, 'mean', 'cls')}, first-last over the last layer "
            f"{verdict(sts, 'mean@1,-1', 'mean')}"
            + (
                f", its best layer ({best}) over the last {verdict(sts, named, 'mean')}"
                if best < layers
                else ""
            )
            + "; on the probes, "
            + ", ".join(f"`{spec}` beats `mean` on {_tally(c, n)}" for spec, c in averages.items())
            + f"; the seeds' order ({' > '.join(order)}) on {seeds} of {len(results)} datasets."
        )
    return "\n".join(["", *table, "", *bullets, ""])


def _decoder_results() -> dict[str, dict[str, Any]]:
    return _results(STUDY / "decoder")


def models_decoder_pretrain() -> str:
    """docs/models.md: how the decoder of the studies was trained (once it has been)."""
    if not (STUDY / f"pretrain-{DECODER}.json").is_file():
        return f" Its record is not committed yet: `{DECODER}` has not finished training."
    return pretrain_table(DECODER)


def readme_decoder_findings() -> str:
    """The decoder study's three questions, each with its paired count over the datasets."""
    results = _decoder_results()
    if not results:
        return (
            f"The decoder study has not been run yet: `{DECODER}` is not trained "
            "(bench/pretrain_decoder.py, then bench/decoder_study.py)."
        )
    claims = "; ".join(
        f"`{a}` beats `{b}` on {_tally(_count(results, a, b), len(results))}"
        for _, a, b in DECODER_CLAIMS
    )
    return (
        "On a GPT-2-style decoder pretrained here on the Linux kernel documentation, frozen, "
        f"[docs/decoder-study.md](docs/decoder-study.md) asks how to read a sentence vector out "
        f"of a causal LM ({', '.join(results)}; paired over the same folds): {claims}."
    )


FINDINGS: dict[str, Callable[[], str]] = {
    "readme_pooling_findings": readme_pooling_findings,
    "readme_model_findings": readme_model_findings,
    "readme_template_findings": readme_template_findings,
    "readme_stage_findings": readme_stage_findings,
    "models_raw_pretrain": models_raw_pretrain,
    "models_findings": models_findings,
    "models_decoder_pretrain": models_decoder_pretrain,
    "readme_decoder_findings": readme_decoder_findings,
}
