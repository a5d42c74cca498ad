"""Write the measured figures of bench/README.md and README.md from bench/results/*.json.

Every table of measurements in bench/README.md (and each sentence of README.md that quotes a
bench figure) sits between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``; NAME is
one of RENDERERS below, which builds that text from its results file alone. So a figure can
only reach the docs through a committed results file, and tests/test_bench_results.py checks
that the files say what the results render to.

    python bench/render_readme.py           # rewrite the generated parts in place
    python bench/render_readme.py --check   # exit 1 if any generated part is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))  # loaded by path from tests, too

from render_findings import FINDINGS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOCS = (
    ROOT / "bench" / "README.md",
    ROOT / "README.md",
    ROOT / "docs" / "scaling.md",
    ROOT / "docs" / "models.md",
)
BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[\w-]+) -->)(?P<body>.*?)(<!-- end generated -->)", re.S
)


LOADED: set[Path] = set()  # every results file a render read


def load(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    LOADED.add(path)
    return json.loads(path.read_text())


def _s(x: float) -> str:
    """Seconds: two significant decimals below 10, one below 100, none above."""
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _range(spread: dict[str, float], fmt: Callable[[float], str] = _s) -> str:
    return f"{fmt(spread['median'])} ({fmt(spread['min'])}–{fmt(spread['max'])})"


def _int(x: float) -> str:
    return f"{x:,.0f}"


def provenance_line(record: dict[str, Any]) -> str:
    """Command, commit, date, machine and load of a results file, as one paragraph."""
    p = record["provenance"]
    dirty = (
        f", with {len(p['uncommitted'])} uncommitted file(s) under src/ or bench/"
        if p.get("git_dirty")
        else ""
    )
    threads = p["torch_threads"]
    versions = p["versions"]
    shown = ", ".join(
        f"{k} {versions[k]}"
        for k in ("torch", "transformers", "sentence-transformers", "onnxruntime")
        if k in versions
    )
    return (
        f"*Run* `{p['command']}` on {p['date_utc'][:16].replace('T', ' ')} UTC at commit "
        f"`{p['git_commit'][:7]}`{dirty}; {p['cpu']}, {p['cores']} cores"
        + (f", {threads} torch thread(s) in the bench process" if threads else "")
        + f"; {shown}; load average {p['load_before'][0]} before, {p['load_after'][0]} after."
    )


def embed_throughput() -> str:
    r = load("embed_throughput")
    peer = r["peer"]
    st = r["spread_seconds"]["st-torch"]["median"]
    rows = []
    for name in ("st-torch", "hp-torch", peer, "hp-onnx", "hp-onnx-int8"):
        seconds = r["spread_seconds"][name]
        rows.append(
            f"| {name} | {_range(seconds)} | {_int(r['tokens_per_s'][name])} | "
            f"{st / seconds['median']:.2f}x | {r['share_of_fp32_peak'][name]:.0%} / "
            f"{r['share_of_onnxruntime_matmul_peak'][name]:.0%} |"
        )
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in r["max_abs_diff"].items())
    i8 = r["int8"]
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"{r['texts']:,} texts ({r['tokens']:,} tokens), {r['repeats']} interleaved rounds; "
            f"model FLOPs {r['model_gflop']} GFLOP; fp32 peak from a 2048^3 matmul: torch "
            f"{r['fp32_peak_gflops']} GFLOP/s, ONNX Runtime "
            f"{r['fp32_peak_gflops_onnxruntime_matmul']} GFLOP/s.",
            "",
            "| contender | seconds: median (range) | tokens/s | vs st-torch | share of peak "
            "(torch / ORT matmul) |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Max abs differences: {diffs}. int8 against fp32: cosine mean "
            f"{i8['cosine_to_fp32_mean']:.3f}, min {i8['cosine_to_fp32_min']:.3f}; Spearman of "
            f"20,000 pairwise similarities {i8['pairwise_similarity_spearman']:.3f}.",
            "",
        ]
    )


def embed_sweep() -> str:
    r = load("embed_sweep")
    one, twenty = r["sweep_spread"]["one (mean)"], r["sweep_spread"]["twenty"]
    early = [
        f"| {spec} | {e['expected']:.3f} | {e['measured']:.3f} | {e['relative_error']:+.1%} | "
        f"{_range(r['early_exit_spread'][spec])} |"
        for spec, e in r["early_exit"].items()
    ]
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"{r['texts']:,} texts, {r['repeats']} interleaved rounds, backend {r['backend']}.",
            "",
            "| one (`mean`), s | twenty, s | ratio of medians (target <= 1.25) |",
            "|---|---|---|",
            f"| {_range(one)} | {_range(twenty)} | **{r['sweep_ratio_20_over_1']:.2f}x** |",
            "",
            "| spec | expected | measured | error | seconds: median (range) |",
            "|---|---|---|---|---|",
            *early,
            "",
        ]
    )


def embed_memory() -> str:
    r = load("embed_memory")
    rows = []
    for scale in ("1", "10"):
        rss = ", ".join(f"{x:.0f}" for x in r["peak_rss_mib"][scale])
        rows.append(
            f"| {scale}x ({int(scale) * r['texts_1x']:,} texts) | {rss} MiB | "
            f"{_s(r['median_seconds'][scale])} |"
        )
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"Chunks of {r['chunk_size']}, OMP_NUM_THREADS={r['threads']} in the children, "
            f"{len(r['peak_rss_mib']['1'])} interleaved rounds.",
            "",
            "| corpus | peak RSS (each round) | median seconds |",
            "|---|---|---|",
            *rows,
            "",
            f"Median peak RSS ratio 10x / 1x: **{r['ratio_10x_over_1x']:.2f}** "
            "(target within 10%).",
            "",
        ]
    )


def ray_vs_local() -> str:
    r = load("ray_vs_local")
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"{r['rows']:,} rows in {r['shards']} shards, `{r['spec']}`, {r['repeats']} "
            f"interleaved rounds (each run loads the model), Ray with {r['ray_cpus']} CPUs.",
            "",
            "| engine | seconds (each round) | texts/s (median) |",
            "|---|---|---|",
            f"| local | {', '.join(_s(x) for x in r['local_seconds'])} | "
            f"{r['local_texts_per_s']} |",
            f"| Ray (after {_s(r['ray_start_seconds'])} s starting Ray) | "
            f"{', '.join(_s(x) for x in r['ray_seconds'])} | {r['ray_texts_per_s']} |",
            "",
            f"**Ray / local {r['ray_over_local']:.2f}x**; max abs difference "
            f"{r['max_abs_diff']:.1e}.",
            "",
        ]
    )


def probe_solvers() -> str:
    lines = [
        "| probe | problem | hand-written: CPU, wall s | scikit-learn: CPU, wall s | "
        "ratio of medians (CPU / wall) | same scores |",
        "|---|---|---|---|---|---|",
    ]
    runs = []
    for probe in ("logistic", "ridge"):
        r = load(f"probe_solvers_{probe}")
        runs.append(r)
        cpu, wall = r["summary"]["CPU"], r["summary"]["wall"]
        new = next(k for k in cpu if k not in ("hand-written", "ratio_of_medians"))
        dims = " + ".join(f"`{s}` ({d})" for s, d in r["strategies"].items())
        scores = r["primary_metric_mean"]["hand-written"]
        lines.append(
            f"| {probe} | {r['dataset']}, {r['rows']:,} rows, {dims}, {r['repeats']} rounds | "
            f"{_range(cpu['hand-written'])}, {_range(wall['hand-written'])} | `{new}` "
            f"{_range(cpu[new])}, {_range(wall[new])} | **{cpu['ratio_of_medians']:.2f}x / "
            f"{wall['ratio_of_medians']:.2f}x** | {'yes' if r['same_scores'] else 'no'}: "
            + ", ".join(f"{v:.4f}" for v in scores.values())
            + " |"
        )
    return "\n".join(["", *(provenance_line(r) + "\n" for r in runs), *lines, ""])


def cli_startup() -> str:
    r = load("cli_startup")
    by = {(row["command"], row["tree"]): row for row in r["rows"]}
    head = "| command | now: wall | now: CPU |"
    rule = "|---|---|---|"
    if r.get("baseline_commit"):
        head = f"| command | `{r['baseline_commit']}`: wall | CPU | now: wall | now: CPU |"
        rule = "|---|---|---|---|---|"
    rows = []
    for command, tree in by:
        if tree == "baseline":
            continue
        row = by[(command, tree)]
        cells = [f"**{_s(row['median_wall_seconds'])} s**", f"{_s(row['median_cpu_seconds'])} s"]
        if r.get("baseline_commit"):
            old = by.get((command, "baseline"))
            cells = (
                [f"{_s(old['median_wall_seconds'])} s", f"{_s(old['median_cpu_seconds'])} s"]
                if old
                else ["", ""]
            ) + cells
        rows.append(f"| `{command}` | " + " | ".join(cells) + " |")
    return "\n".join(
        ["", provenance_line(r), f"Medians of {r['repeats']} interleaved runs.", "", head, rule,
         *rows, ""]
    )  # fmt: skip


def predict_throughput() -> str:
    r = load("predict_throughput")
    labels = {
        "before": "before (32 per batch, sorted by characters)",
        "after": "**after** (token budget, sorted by tokens)",
        "encoder": "Encoder.encode (no head)",
    }
    rows = [
        f"| {labels[k]} | {r['texts_per_s'][k]} | {_range(r['spread_seconds'][k])} |"
        for k in labels
    ]
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"{r['texts']:,} texts, {r['repeats']} interleaved rounds.",
            "",
            "| | texts/s (median) | seconds: median (range) |",
            "|---|---|---|",
            *rows,
            "",
            f"after / before **{r['after_over_before']:.2f}x**, after / encoder "
            f"{r['after_over_encoder']:.2f}x; before and after agree to "
            f"{r['max_abs_diff_before_after']:.1e}.",
            "",
        ]
    )


def fit_self_cost() -> str:
    r = load("fit_self_cost")
    passes = [
        f"| `{row['run'].replace('|', chr(92) + '|')}` | {_s(row['median_seconds'])} "
        f"({_s(row['min_seconds'])}–{_s(row['max_seconds'])}) | {row['over_one_pass']:.2f}x |"
        for row in r["passes"]
    ]
    memory = [
        f"| {row['vectors']:,} | {row['peak_mib']} MiB | {_s(row['seconds'])} |"
        for row in r["fitting_memory"]
    ]
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"{r['texts']:,} texts, {r['repeats']} interleaved round(s), OMP_NUM_THREADS="
            f"{r['threads']}.",
            "",
            f"| {r['texts']:,} texts | seconds: median (range) | vs one pass |",
            "|---|---|---|",
            *passes,
            "",
            "| vectors fitted (384 wide) | peak fitting memory | seconds |",
            "|---|---|---|",
            *memory,
            "",
        ]
    )


def main_job() -> str:
    r = load("main_job")
    rows = []
    for name, s in r["summary"].items():
        walls = ", ".join(_s(run["wall_seconds"]) for run in r["runs"][name])
        rows.append(
            f"| `hiddenpool {name}` | {s['rows']:,} | {s['strategies']} | {walls} | "
            f"{_s(s['median_embed_seconds'])} | {_s(s['median_probe_seconds'])} |"
        )
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"Threads: {r['threads'] or 'torch default'}.",
            "",
            "| command | rows | strategies | wall seconds (each round) | embedding s (median) "
            "| probing s (median) |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )


def readme_main_job() -> str:
    """The README's sentence on the full default compare."""
    s = load("main_job")["summary"]
    full, quick = s["compare"], s["compare --limit 1000"]
    record = load("main_job")
    p = record["provenance"]
    return (
        f"The full default (`hiddenpool compare`, {full['rows']:,} rows, {full['strategies']} "
        f"strategies) took {full['median_wall_seconds']:.0f} s and `--limit 1000` "
        f"{quick['median_wall_seconds']:.0f} s here (medians of {record['repeats']} rounds, "
        "model loading, embedding, probing and the report included) on 2 CPU cores shared with "
        f"other jobs (load average {p['load_before'][0]} before, {p['load_after'][0]} after; "
        "[bench/README.md](bench/README.md))."
    )


def readme_cli_startup() -> str:
    rows = [row for row in load("cli_startup")["rows"] if row["tree"] == "now"]
    walls = [row["median_wall_seconds"] for row in rows if row["command"].startswith("hiddenpool")]
    return f"(at most {max(walls):.2f} s here; [bench/README.md](bench/README.md))"


def _serve_table(setting: dict[str, Any]) -> list[str]:
    lines = [
        "| concurrency | server | texts/s | p50 ms | p99 ms | server CPU s | hiddenpool / it |",
        "|---|---|---|---|---|---|---|",
    ]
    for concurrency, point in setting["points"].items():
        summary = point["summary"]
        names = sorted((k for k in summary if " / " not in k), key=_server_order)
        for name in names:
            s = summary[name]
            ratio = summary.get(f"hiddenpool / {name}")
            shown = (
                f"{ratio['median']:.2f}x ({ratio['min']:.2f}–{ratio['max']:.2f})" if ratio else ""
            )
            lines.append(
                f"| {concurrency} | {name} | {_range(s['texts_per_s'], _fmt1)} | "
                f"{_range(s['p50_ms'], _fmt0)} | {_range(s['p99_ms'], _fmt0)} | "
                f"{_range(s['cpu_seconds'], _fmt1)} | " + shown + " |"
            )
    return lines


def _server_order(name: str) -> tuple[int, int]:
    """hiddenpool first, then Infinity by batch size."""
    batch = re.search(r"batch (\d+)", name)
    return (name != "hiddenpool", int(batch[1]) if batch else 0)


def _fmt0(x: float) -> str:
    return f"{x:.0f}"


def _fmt1(x: float) -> str:
    return f"{x:.1f}"


def _fmt2(x: float) -> str:
    return f"{x:.2f}"


def _target(setting: dict[str, Any]) -> str:
    t = setting["target_at_64"]
    parts = []
    for key in ("vs_default_batch", "vs_best_batch"):
        if key in t and not (
            key == "vs_best_batch" and t["best_infinity"] == "infinity (batch 32)"
        ):
            v = t[key]
            parts.append(
                f"against {v['infinity']}: {v['throughput_ratio']:.2f}x, p99 "
                f"{'no worse' if v['p99_no_worse'] else 'worse'}: "
                f"**{'met' if v['met'] else 'not met'}**"
            )
    return "; ".join(parts)


def serve_load() -> str:
    r = load("serve_load")
    a = r["settings"]
    lines = [
        "",
        provenance_line(r),
        f"{a['rounds']} rounds, contenders in turn (order reversed every other round), at most "
        f"{a['max_requests']} requests of {a['per_request']} texts per point and server, sending "
        f"stopped after {a['seconds']:.0f} s; figures are median (range) over rounds.",
        "",
    ]
    for label in ("defaults", "one-thread"):
        if label in r:
            loads = [p["load"][0] for pt in r[label]["points"].values() for p in pt["rounds"]]
            lines += [
                f"**{label}** (load average {min(loads)}–{max(loads)} at the points' starts; "
                f"target at concurrency 64 {_target(r[label])}):",
                "",
                *_serve_table(r[label]),
                "",
            ]
    e = r.get("equality")
    if e:
        lines.append(
            f"Vectors: over {e['texts']} texts the server's floats are within "
            f"{e['max_abs_diff_float']:.1e} of `Encoder().encode`; base64 decodes to the same "
            f"values: {'yes' if e['base64_equals_float'] else 'no'}."
        )
    o = r.get("overload")
    if o:
        rss = [x / 1024 for x in o["rss_kib"]]
        statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(o["statuses"].items()))
        lines.append(
            f"Overload: {o['rate']:.1f} requests/s (2x the median concurrency-64 throughput) for "
            f"{o['seconds']:.0f} s, each on a new connection: {o['sent']:,} sent; by status "
            f"{statuses}; resident memory {min(rss):.0f}–{max(rss):.0f} MiB."
        )
    codes = r.get("exit_codes", {})
    if codes:
        lines.append(
            "Exit codes on SIGTERM: "
            + "; ".join(
                ", ".join(f"{n} {c}" for n, c in v.items()) + f" ({k})" for k, v in codes.items()
            )
            + "."
        )
    lines.append("")
    return "\n".join(lines)


def readme_serve() -> str:
    """The README's sentence on serve against Infinity."""
    r = load("serve_load")
    parts = []
    for label, words in (("one-thread", "with one torch thread"), ("defaults", "at defaults")):
        if label not in r:
            continue
        t = r[label]["target_at_64"]
        v = t.get("vs_best_batch") or t["vs_default_batch"]
        parts.append(
            f"{words} {v['throughput_ratio']:.2f}× the throughput of "
            + (
                "Infinity at its defaults"
                if label == "defaults"
                else f"Infinity at its best batch size in the sweep ({v['infinity']})"
            )
            + " with a "
            + f"{'p99 no worse' if v['p99_no_worse'] else 'worse p99'}, so the target "
            f"(at least 1.0× with no worse p99) was {'met' if v['met'] else 'not met'}"
        )
    loads = [p["load"][0] for s in ("defaults", "one-thread") if s in r
             for pt in r[s]["points"].values() for p in pt["rounds"]]  # fmt: skip
    return (
        "At concurrency 64 on 2 CPU cores shared with other jobs (load average "
        f"{min(loads)}–{max(loads)}), medians of {r['settings']['rounds']} interleaved rounds: "
        + "; ".join(parts)
    )


def search_cost() -> str:
    r = load("search_cost")
    memory = [
        f"| {m['docs']:,} | {m['chunk']:,} | {m['peak_mb']:.1f} | {m['vectors_mb']:.1f} "
        f"| {m['peak_mb'] - m['vectors_mb']:.1f} | {m['full_matrix_mb']:.1f} |"
        for m in r["memory"]
    ]
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"{r['docs']:,} passages, {r['queries']:,} queries, {r['strategies']} strategies, "
            f"{r['threads']} thread(s).",
            "",
            "| | wall seconds | process CPU seconds |",
            "|---|---|---|",
            f"| embedding (one pass, every strategy) | {_s(r['embed_s'])} "
            f"| {_s(r['embed_cpu_s'])} |",
            f"| scoring every strategy: search + metrics | {_s(r['scoring_s'])} "
            f"({_s(r['search_s'])} + {_s(r['metrics_s'])}) | {_s(r['scoring_cpu_s'])} |",
            f"| scoring / embedding | {100 * r['scoring_over_embedding']:.1f}% "
            f"| {100 * r['scoring_over_embedding_cpu']:.1f}% |",
            "",
            "| documents | chunk | search peak, MiB | one copy of the vectors, MiB "
            f"| peak less that copy, MiB | one {r['queries']:,} x documents matrix, MiB |",
            "|---|---|---|---|---|---|",
            *memory,
            "",
        ]
    )


def pretrain_throughput() -> str:
    r = load("pretrain_throughput")
    s, settings, peak = r["summary"], r["settings"], r["matmul_peak_flop_per_second"]
    names = {
        "hiddenpool": "`hiddenpool pretrain --precision bf16` (packed, masked-only logits)",
        "hiddenpool-fp32": "`hiddenpool pretrain --precision fp32`",
        "plain": "plain `Trainer` + `DataCollatorForLanguageModeling`, fp32",
    }
    rows = []
    for variant in ("hiddenpool", "hiddenpool-fp32", "plain"):
        t, f = s[variant]["tokens_per_second"], s[variant]["flop_per_second"]
        rows.append(
            f"| {names[variant]} | {_int(t['median'])} ({_int(t['min'])}-{_int(t['max'])}) "
            f"| {f['median'] / 1e9:.2f} | {100 * s[variant]['share_of_bf16_peak']:.1f}% "
            f"| {100 * s[variant]['share_of_fp32_peak']:.1f}% |"
        )
    ratio = r["speedup_over_plain"]
    return "\n".join(
        [
            "",
            provenance_line(r),
            f"RoBERTa '{settings['size']}' MLM ({r['parameters'] / 1e6:.1f}M parameters), "
            f"{settings['pages']} pages of the Linux docs, batch {settings['batch_size']} x "
            f"{settings['max_length']} tokens, {settings['steps']} steps, "
            f"{settings['threads']} thread, {settings['rounds']} interleaved rounds; real "
            "(non-padding) tokens per second of `Trainer.train`, median (range).",
            "",
            "| run | tokens/s | GFLOP/s (6 x params x tokens/s) | of bf16 matmul peak "
            "| of fp32 matmul peak |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"hiddenpool over the plain script: {ratio['median']:.1f}x median, "
            f"{ratio['min']:.1f}-{ratio['max']:.1f}x per round. Matmul peak (2048 x 2048, same "
            f"threads): {peak['bfloat16'] / 1e9:.0f} GFLOP/s bf16, {peak['float32'] / 1e9:.0f} "
            f"fp32. bf16 and fp32 on the same blocks and masks: per-step training loss within "
            f"{r['bf16_vs_fp32_max_loss_gap']:.4f} over {r['curves_per_run']} steps. Per round, "
            "hiddenpool bf16 / fp32 tokens/s: "
            + ", ".join(
                f"{a['tokens_per_second'] / b['tokens_per_second']:.2f}x"
                for a, b in zip(r["runs"]["hiddenpool"], r["runs"]["hiddenpool-fp32"], strict=True)
            )
            + ".",
            "",
        ]
    )


RENDERERS: dict[str, Callable[[], str]] = {
    "embed_throughput": embed_throughput,
    "embed_sweep": embed_sweep,
    "embed_memory": embed_memory,
    "ray_vs_local": ray_vs_local,
    "probe_solvers": probe_solvers,
    "cli_startup": cli_startup,
    "predict_throughput": predict_throughput,
    "fit_self_cost": fit_self_cost,
    "main_job": main_job,
    "serve_load": serve_load,
    "search_cost": search_cost,
    "pretrain_throughput": pretrain_throughput,
    "readme_main_job": readme_main_job,
    "readme_cli_startup": readme_cli_startup,
    "readme_serve": readme_serve,
    **FINDINGS,  # the studies' findings, from docs/study/ (bench/render_findings.py)
}


def render(text: str) -> str:
    """``text`` with every generated part rebuilt from the results files."""

    def one(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in RENDERERS:
            raise ValueError(f"unknown generated part {name!r}; known: {', '.join(RENDERERS)}")
        return f"{match[1]}{RENDERERS[name]()}{match[4]}"

    return BLOCK.sub(one, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale parts")
    args = parser.parse_args()
    stale = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for path in stale:
        print(f"{path.relative_to(ROOT)}: {'stale' if args.check else 'rewritten'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
