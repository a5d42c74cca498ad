"""The decoder study: how to get a sentence vector out of a frozen causal LM (issue 22).

The decoder bench/pretrain_decoder.py pretrains on the Linux kernel docs (GPT-2 style), frozen:
the last token, mean, SGPT's position-weighted mean, echo (the text twice, the mean over the
second copy; Springer et al.), PromptEOL (a one-word prompt read at its last token; Jiang et
al.), the last token and the mean of every layer, an average over the layers, and BERT-whitening
of the last token and of the mean. Scored as bench/model_study.py scores its models: a linear
probe with K-fold CV on vader-movies, vader-tweets, rotten-tomatoes and trec (seeded rows; the
same rows and folds for every strategy, whitening fitted on each training fold), and zero-shot
cosine on the STS-B test split (whitening fitted on STS-B train sentences). Writes
docs/study/decoder/<dataset>/ (report.md, results.json with its run's provenance) and
docs/study/decoder/run.json (provenance, options, costs, the pretraining record's held-out
metrics from docs/study/pretrain-linux-gpt2-128.json), then docs/decoder-study.md, rebuilt from
those files alone (``--render`` rebuilds it without loading a model).

    python bench/pretrain_decoder.py             # builds linux-gpt2-128 first
    python bench/decoder_study.py                # 1,000 rows per probe dataset, all STS-B pairs
    python bench/decoder_study.py --render       # rebuild docs/decoder-study.md
    python bench/decoder_study.py --smoke        # the smoke model; writes under the temp dir
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # loaded by path from tests, too

from decoder_padding import padding_check
from model_study import _cell, _score, _verdict
from postprocess_study import _data
from provenance import this_run, write_results
from render_readme import provenance_line
from study_common import DECODER, DECODER_CLAIMS
from template_study import PROBED, STS, load_result

from hiddenpool.evaluate import CompareResult
from hiddenpool.pooling import POOLERS, parse_strategy
from hiddenpool.pooling.templates import create_template

ROOT = Path(__file__).resolve().parents[1]
MODEL = DECODER  # the cache folder bench/pretrain_decoder.py writes
DATASETS = (*PROBED, STS)
CLAIMS = DECODER_CLAIMS  # (question, a, b): "a beats b", paired over the same folds
HEADS = ("last", "mean")  # the two readings studied per layer and whitened


def decoder_strategies(num_layers: int, hidden_size: int, fit_rows: int | None = None) -> list[str]:
    """The study's specs for a decoder of ``num_layers`` blocks, ``hidden_size`` wide.

    ``last``/``mean`` at every hidden_states index (0 = embeddings; the plain spec is the last
    layer), their average over every block (``@1:``), and each whitened to a quarter and a half
    of the width (below it, so whitening also reduces), each k below ``fit_rows`` (the fewest
    rows a whitening is fitted on: a training fold) when given.

    >>> decoder_strategies(4, 256)[:5]
    ['last', 'mean', 'weighted_mean', 'echo:mean', 'prompteol:last']
    """
    specs = ["last", "mean", "weighted_mean", "echo:mean", "prompteol:last"]
    specs += [f"{head}@{k}" for head in HEADS for k in range(num_layers)]
    specs += [f"{head}@1:" for head in HEADS]
    ks = [k for k in (hidden_size // 4, hidden_size // 2) if fit_rows is None or k < fit_rows]
    specs += [f"{head} | whiten({k})" for head in HEADS for k in ks]
    return list(dict.fromkeys(str(parse_strategy(s)) for s in specs))


def _paths(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """The model folder and its pretraining record (None for a folder given with --model)."""
    name = MODEL + ("-smoke" if args.smoke else "")
    record = ROOT / "docs" / "study" / f"pretrain-{name}.json"
    if args.model is not None:
        return args.model, None
    from hiddenpool._runtime import cache_root

    return cache_root() / "models" / name, record


def _pretrain_summary(path: Path) -> dict[str, Any]:
    """What the write-up says of the pretraining, copied from its committed record."""
    record = json.loads(path.read_text())
    return {
        "record": f"docs/study/{path.name}",
        "command": record["provenance"]["command"],
        "finished": record["provenance"]["date_utc"],
        "description": record["model"]["description"],
        "parameters": record["model"]["parameters"],
        "max_length": record["settings"]["max_length"],
        "steps": record["steps"],
        "tokens_seen": record["tokens_seen"],
        "held_out_before": record["held_out_before"],
        "held_out_after": record["held_out_after"],
    }


def run_study(args: argparse.Namespace, folder: Path, record: Path | None) -> None:
    """Embed and score every strategy on every dataset; write the results and run.json."""
    import torch

    from hiddenpool import Encoder
    from hiddenpool.compare import run_compare
    from hiddenpool.evaluate import write_report

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    encoder = Encoder(str(folder), normalize=False)
    backbone = encoder.backbone
    fit_rows = args.limit * (args.folds - 1) // args.folds if args.limit else None
    specs = decoder_strategies(backbone.num_layers, backbone.hidden_size, fit_rows)
    study = args.out / "study" / "decoder"
    costs: dict[str, dict[str, Any]] = {}
    for name in DATASETS:
        data, fit_texts, fit_name = _data(name, args)
        run = run_compare(
            data, encoder, specs, folds=args.folds, seed=0, show_progress=False,
            fit_texts=fit_texts, fit_name=fit_name,
        )  # fmt: skip
        write_report(
            run.result,
            study / name,
            model_name=MODEL if record else str(folder),
            dataset_name=f"{name} (test split)" if name == STS else name,
            num_layers=backbone.num_layers,
            notes=[run.stages_note] if run.stages_note else (),
        )
        write_results(study / name / "results.json", run.result.to_dict(), this_run())
        costs[name] = {
            "rows": run.rows,
            "passes": run.passes,
            "embed_seconds": round(run.embed_seconds, 1),
            "score_seconds": round(run.evaluate_seconds, 1),
            "stages_fitted_on": run.stages_note,
        }
        print(
            f"{name}: {run.rows} rows, {run.passes} passes, {run.embed_seconds:.0f} s embedding, "
            f"{run.evaluate_seconds:.0f} s scoring ({time.strftime('%H:%M:%S')})",
            flush=True,
        )
    short = [t for t in _data(STS, args)[0].texts if len(backbone.tokenizer(t)["input_ids"]) <= 48]
    payload = {
        "padding": padding_check(folder, short[:32]),  # left-padded batch against plain HF
        "model": {
            "folder": f"<cache>/models/{folder.name}" if record else str(folder),
            "family": backbone.facts.name,
            "num_layers": backbone.num_layers,
            "hidden_size": backbone.hidden_size,
            "max_length": encoder.max_length,
            "own_strategy": str(encoder.strategy),
        },
        "pretrain": _pretrain_summary(record) if record else None,
        "options": {
            k: getattr(args, k) for k in ("limit", "sts_limit", "sts_fit", "folds", "threads")
        },
        "datasets": list(DATASETS),
        "strategies": specs,
        "costs": costs,
        "seconds": round(time.perf_counter() - started),
    }
    write_results(study / "run.json", payload, this_run())


def _code(spec: str) -> str:
    """A spec as code inside a table cell (its stage bars escaped)."""
    return "`" + spec.replace("|", "\\|") + "`"


def _diff_cells(result: CompareResult, a: str, b: str) -> str:
    """'| +0.012 | [+0.001, +0.020] | holds |' for the claim a > b, paired over folds."""
    d = result.compare(a, b)
    return f"| {d.mean:+.3f} | [{d.ci_low:+.3f}, {d.ci_high:+.3f}] | {_verdict(result, a, b)[0]} |"


def _tally(words: dict[str, str]) -> str:
    """'holds on a, b; within noise on c' from {dataset: verdict word}."""
    groups: dict[str, list[str]] = {}
    for name, word in words.items():
        groups.setdefault(word, []).append(name)
    order = ("holds", "reversed", "within noise", "the last is best")
    return "; ".join(f"{w} on {', '.join(groups[w])}" for w in order if w in groups)


def _answers(results: dict[str, CompareResult]) -> list[str]:
    """The issue's questions, each answered by its tally over the datasets."""
    lines = ["## In short", ""]
    for question, a, b in CLAIMS:
        words = {n: _verdict(r, a, b)[0] for n, r in results.items()}
        lines.append(f"- {question} `{a}` > `{b}`: {_tally(words)}.")
    lines += ["", "The tables below give each difference and interval.", ""]
    return lines


def _claims(results: dict[str, CompareResult]) -> list[str]:
    lines: list[str] = []
    for question, a, b in CLAIMS:
        lines += [f"### {question}", "", f"`{a}` − `{b}`:", ""]
        lines += ["| dataset | difference | 95% CI | verdict |", "|---|---|---|---|"]
        lines += [f"| {n} {_diff_cells(r, a, b)}" for n, r in results.items()]
        words = {n: _verdict(r, a, b)[0] for n, r in results.items()}
        lines += ["", f"`{a}` > `{b}`: {_tally(words)}.", ""]
    return lines


def best_layer(result: CompareResult, head: str, num_layers: int) -> str:
    """The best of ``head@0`` .. ``head@L-1`` and ``head`` (the last layer) by mean score."""
    layers = [*(f"{head}@{k}" for k in range(num_layers)), head]
    return max(layers, key=lambda spec: _score(result, spec))


def _claim(
    lines: list[str],
    words: dict[str, dict[str, str]],
    key: str,
    name: str,
    result: CompareResult,
    a: str,
    b: str,
) -> None:
    """One "a > b" row of a claims table, and its verdict under ``key`` for ``name``."""
    lines.append(f"| {name} | {_code(a)} > {_code(b)} {_diff_cells(result, a, b)}")
    words.setdefault(key, {})[name] = _verdict(result, a, b)[0]


def _layers(results: dict[str, CompareResult], num_layers: int) -> list[str]:
    lines = [
        "### Does another layer beat the last one?",
        "",
        "Each reading at every hidden_states index (0 = the embedding output, "
        f"{num_layers} = the last block), and `@1:` the average over every block:",
        "",
    ]
    indices = [*map(str, range(num_layers + 1)), "1:"]
    lines += ["| dataset | reading | " + " | ".join(indices) + " |"]
    lines += ["|---|---|" + "---|" * len(indices)]
    for name, result in results.items():
        for head in HEADS:
            specs = [*(f"{head}@{k}" for k in range(num_layers)), head, f"{head}@1:"]
            cells = " | ".join(f"{_score(result, s):.3f}" for s in specs)
            lines.append(f"| {name} | `{head}` | {cells} |")
    lines += [
        "",
        "The best layer (picked on the same folds it is scored on, so the interval favours it) "
        "against the last, and the average over every block against the last:",
        "",
        "| dataset | claim | difference | 95% CI | verdict |",
        "|---|---|---|---|---|",
    ]
    words: dict[str, dict[str, str]] = {}
    for name, result in results.items():
        for head in HEADS:
            best = best_layer(result, head, num_layers)
            if best == head:
                lines.append(f"| {name} | `{head}`: the last layer is the best | | | |")
                words.setdefault(f"best `{head}` layer > last", {})[name] = "the last is best"
            else:
                _claim(lines, words, f"best `{head}` layer > last", name, result, best, head)
        for head in HEADS:
            a = f"{head}@1:"
            _claim(lines, words, f"`{a}` > `{head}`", name, result, a, head)
    lines.append("")
    lines += [f"- {claim}: {_tally(w)}." for claim, w in words.items()]
    return [*lines, ""]


def _whitening(results: dict[str, CompareResult], specs: Sequence[str]) -> list[str]:
    whitened = [s for s in specs if parse_strategy(s).stages]
    lines = ["### Does whitening help?", "", "| dataset | claim | difference | 95% CI | verdict |"]
    lines.append("|---|---|---|---|---|")
    words: dict[str, dict[str, str]] = {}
    for name, result in results.items():
        for spec in whitened:
            base = str(parse_strategy(spec).pooling)
            _claim(lines, words, f"`{spec}` > `{base}`", name, result, spec, base)
    lines.append("")
    lines += [f"- {claim}: {_tally(w)}." for claim, w in words.items()]
    return [*lines, ""]


def _legend(specs: Sequence[str]) -> list[str]:
    """One line per kind of strategy, from the pooler and template registries."""
    lines = []
    for head in ("last", "mean", "weighted_mean"):
        lines.append(f"- `{head}`: {POOLERS[head].description}.")
    for spec in ("echo:mean", "prompteol:last"):
        template = create_template(str(parse_strategy(spec).template))
        lines.append(f"- `{spec}`: `{template.text}` ({template.source}).")
    lines += [
        "- `HEAD@k`: the same reading of hidden_states index k (0 = the embedding output); "
        "`HEAD@1:` averages every block's hidden states first.",
        "- `HEAD | whiten(k)`: BERT-whitening to k dimensions, fitted on each training fold "
        "(probes) or on STS-B train sentences (never on the rows scored).",
    ]
    return [*lines, ""]


def _pretrain_lines(p: dict[str, Any] | None) -> list[str]:
    if p is None:
        return ["No pretraining record: a folder given with `--model`.", ""]
    before, after = p["held_out_before"], p["held_out_after"]
    return [
        f"The model: {p['description']}, {p['parameters'] / 1e6:.1f}M parameters, max length "
        f"{p['max_length']}, pretrained by `{p['command']}` ({p['steps']:,} steps, "
        f"{p['tokens_seen']:,} tokens; finished {p['finished'][:10]}; record `{p['record']}`). "
        f"Held out ({after['blocks']:,} blocks, {after['predicted_tokens']:,} predicted tokens): "
        f"loss {before['loss']:.3f} before training, {after['loss']:.3f} after; perplexity "
        f"{after['perplexity']:,.1f}; next-token accuracy {100 * after['accuracy']:.1f}%.",
        "",
    ]


def _padding_lines(check: dict[str, Any] | None) -> list[str]:
    """The left-padding check of run.json (bench/decoder_padding.py), in one paragraph."""
    if check is None:
        return []
    diffs = ", ".join(f"`{spec}` {d:.1e}" for spec, d in check["max_abs_diff"].items())
    return [
        f"Padding: {check['texts']} STS-B sentences of {check['tokens']['min']}–"
        f"{check['tokens']['max']} tokens embedded in one batch padded on the "
        f"{check['padding_side']} against plain transformers run on one text at a time, "
        f"unpadded (bench/decoder_padding.py); largest absolute differences: {diffs}.",
        "",
    ]


def render(out: Path) -> str:
    """docs/decoder-study.md from docs/study/decoder/ (run.json and each results.json) alone."""
    study = out / "study" / "decoder"
    info = json.loads((study / "run.json").read_text())
    results = {n: load_result(study / n / "results.json") for n in info["datasets"]}
    specs, model, o = info["strategies"], info["model"], info["options"]
    n, sts = model["num_layers"], results.get(STS)
    lines = [
        "# How to get a sentence vector out of a decoder (frozen)",
        "",
        "Generated by `bench/decoder_study.py` from docs/study/decoder/ (each dataset's "
        "results.json and report.md, and run.json); `python bench/decoder_study.py --render` "
        "rebuilds it. Verdicts are paired over the same folds: *holds* when the 95% interval "
        "of the difference is above zero, *reversed* when below, else *within noise*.",
        "",
        provenance_line(info),
        "",
        f"`{model['folder']}`: {model['family']}, {n} layers, {model['hidden_size']} wide, "
        f"max length {model['max_length']}, frozen.",
        "",
        *_pretrain_lines(info["pretrain"]),
        *_padding_lines(info.get("padding")),
        f"Probes ({', '.join(d for d in results if d != STS)}): {o['limit'] or 'all'} rows per "
        f"dataset (seed 0), {o['folds']}-fold CV, the same rows and folds for every strategy; "
        "ridge (Spearman) or logistic regression (accuracy) on standardised features. "
        + (
            f"STS-B: {info['costs'][STS]['rows']:,} test pairs (seed 0), cosine, Spearman of "
            f"all pairs, ± over {sts.n_folds} folds. {info['costs'][STS]['stages_fitted_on']}"
            if sts is not None
            else ""
        ),
        "",
        "The strategies:",
        "",
        *_legend(specs),
        *_answers(results),
        "## Every strategy",
        "",
        "Mean ± std over folds (the best per dataset in bold):",
        "",
    ]
    head = [f"{d} ({r.primary_metric})" for d, r in results.items()]
    lines += ["| strategy | width | " + " | ".join(head) + " |", "|---|---|" + "---|" * len(head)]
    best = {d: r.best.name for d, r in results.items()}
    for spec in specs:
        cells = [
            f"**{_cell(r, spec)}**" if best[d] == spec else _cell(r, spec)
            for d, r in results.items()
        ]
        width = next(iter(results.values())).get(spec).dim
        lines.append(f"| {_code(spec)} | {width} | " + " | ".join(cells) + " |")
    lines += ["", "## The questions, paired over folds", ""]
    lines += [*_claims(results), *_layers(results, n), *_whitening(results, specs)]
    lines += ["## Cost", "", "| dataset | rows | forward passes | embedding s | scoring s |"]
    lines.append("|---|---|---|---|---|")
    for d, c in info["costs"].items():
        lines.append(
            f"| {d} | {c['rows']:,} | {c['passes']} | {c['embed_seconds']:.1f} "
            f"| {c['score_seconds']:.1f} |"
        )
    lines += [
        "",
        f"{info['seconds']:,} s in all, {o['threads']} torch thread(s).",
        "",
        "What this can say: how these strategies rank on this one small decoder, trained only "
        "on kernel documentation and far smaller than the models echo and PromptEOL were "
        "reported on; a verdict within noise is no evidence either way.",
    ]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help=f"default: <cache>/models/{MODEL}")
    parser.add_argument("--smoke", action="store_true", help=f"the {MODEL}-smoke model instead")
    parser.add_argument("--limit", type=int, default=1000, help="rows per probe dataset; 0: all")
    parser.add_argument("--sts-limit", type=int, default=0, help="STS-B test pairs; 0: all")
    parser.add_argument(
        "--sts-fit", type=int, default=1000, help="STS-B train pairs whitening is fitted on"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a busy CPU)")
    parser.add_argument("--out", type=Path, default=None, help="default: docs/ (--smoke: tmp)")
    parser.add_argument(
        "--render", action="store_true", help="only rebuild the markdown from saved results"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.out is None:
        smoke = Path(tempfile.gettempdir()) / "hiddenpool-decoder-smoke"
        args.out = smoke if args.smoke else ROOT / "docs"
    docs = (ROOT / "docs").resolve()
    if args.smoke and docs in (args.out.resolve(), *args.out.resolve().parents):
        parser.error(f"--smoke: give --out outside {docs}; the smoke model's results stay out")
    this_run()  # the provenance record (load before) of what this run saves
    if not args.render:
        folder, record = _paths(args)
        if not (folder / "config.json").is_file():
            parser.error(f"--model {folder}: no model there; run python bench/pretrain_decoder.py")
        if record is not None and not record.is_file():
            parser.error(f"{record}: missing; bench/pretrain_decoder.py writes it")
        run_study(args, folder, record)
    run_json = args.out / "study" / "decoder" / "run.json"
    if not run_json.is_file():
        parser.error(f"--render: {run_json} missing; run the study first")
    doc = args.out / "decoder-study.md"
    doc.write_text(render(args.out), encoding="utf-8")
    print(f"wrote {doc}")


if __name__ == "__main__":
    main()
