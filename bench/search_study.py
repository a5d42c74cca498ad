"""The pooling study's search part: which strategy is right for retrieval and for clustering.

For every model, ``run_compare`` (what ``hiddenpool compare --strategies all`` runs) on

* retrieval on the registered ``manpages`` collection (every query, the whole corpus searched;
  each NAME summary is a query, its page's DESCRIPTION relevant 2, its SEE ALSO pages 1): the
  symmetric sweep, the query/document template pairs that fit the model (``--corpus-passes 1``
  keeps only the pairs whose document side is the plain text, e.g. ``bge/:mean``, so the
  corpus is read once), the model's own pooling whitened, the STS-B and probe winners of
  docs/model-study.md, the best strategy post-processed, and the BM25 row; paired over queries;
* clustering on ``trec``'s coarse classes (k-means, V-measure, 10 seeded runs; a seeded sample
  of ``--cluster-limit`` questions): the symmetric sweep with the same extra rows; paired over
  runs.

Writes docs/study/<model>-search/<dataset>/results.json (with provenance) and the "Search and
grouping" section of docs/pooling-study.md from every saved model (minilm, mpnet,
linux-roberta-128 first; ``--out`` moves the whole tree, e.g. for ``--smoke``).

    python bench/search_study.py --models minilm
    python bench/search_study.py --models mpnet --max-length 128 --corpus-passes 1
    python bench/search_study.py --models linux-roberta-128 --smoke --out /tmp/ss  # wiring
    python bench/search_study.py --render          # rewrite the section from the .json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import provenance, write_results
from study_common import (
    RAW,
    add_smoke_options,
    check_smoke,
    checkpoint_name,
    model_source,
    replace_block,
    shown_name,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PROBES = ("vader-movies", "vader-tweets", "rotten-tomatoes")
ORDER = ("minilm", "mpnet", RAW)
RETRIEVAL, CLUSTERING = "manpages", "trec"
START, END = "<!-- search-study:start -->", "<!-- search-study:end -->"
WHITEN = (64, 128, 256)


def folder(key: str, dataset: str, docs: Path = DOCS) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(key).name) or "m"
    return docs / "study" / f"{name}-search" / dataset


def references(key: str, docs: Path = DOCS) -> dict[str, str]:
    """The strategies other studies chose for this model: ``sts-b`` and each probe dataset's
    winner in bench/model_study.py's summary under ``docs`` (none for a model it did not
    study)."""
    models = docs / "study" / "models" / "summary.json"  # bench/model_study.py's winners
    if not models.is_file():
        return {}
    saved = json.loads(models.read_text()).get(key, {})
    return {name: next(iter(scores)) for name, scores in saved.items() if scores}


def _one_pass(spec: str) -> bool:
    from hiddenpool.pooling import parse_strategy

    return parse_strategy(spec).side_template("document") is None


def strategies(
    encoder: Any, key: str, two_sided: bool, corpus_passes: int | None, docs: Path = DOCS
) -> list[str]:
    """The sweep ``--strategies all`` runs, the reference winners and the own pooling
    whitened (post_process adds the best one's stages after ranking)."""
    from hiddenpool.compare import default_strategies
    from hiddenpool.pooling import parse_strategy

    specs = default_strategies(encoder.backbone, sides=two_sided)
    if corpus_passes == 1:
        specs = [s for s in specs if _one_pass(s)]
    own = str(encoder.strategy)
    width = encoder.width(own)
    specs += [
        *references(key, docs).values(),
        *(f"{own} | whiten({k})" for k in WHITEN if k < width),
    ]
    return list(dict.fromkeys(str(parse_strategy(s)) for s in specs))


def _rows(result: Any) -> list[dict[str, Any]]:
    rows = []
    for row in [*result.strategies, *result.baselines]:
        rows.append(
            {
                "name": row.name,
                "dim": row.dim,
                "metrics": {m: round(s.mean, 6) for m, s in row.metrics.items()},
                "per_unit": [round(float(v), 6) for v in row.metrics[result.primary_metric].folds],
                "seconds": round(row.seconds, 3),
            }
        )
    return rows


def run_task(key: str, task: str, args: argparse.Namespace) -> Path:
    """One model on one task: run_compare over the sweep, saved with provenance."""
    import torch
    from threadpoolctl import threadpool_limits

    from hiddenpool import Encoder
    from hiddenpool.compare import load_task_data, run_compare, subsample
    from hiddenpool.evaluate.tasks import create_task

    started = provenance()
    torch.set_num_threads(args.threads)
    source = model_source(key, args.smoke)
    encoder = Encoder(source, normalize=False, max_length=args.max_length)
    chosen = create_task(task)
    dataset = RETRIEVAL if task == "retrieval" else args.cluster_data
    data = load_task_data(chosen, dataset)
    limit = args.query_limit if task == "retrieval" else args.cluster_limit
    data = subsample(data, limit or None, seed=0)
    passes = args.corpus_passes if task == "retrieval" else None
    specs = args.strategies or strategies(encoder, key, chosen.two_sided, passes, args.out)
    import sklearn.cluster  # noqa: F401 - loads sklearn's libgomp, so the limit below reaches it

    began = time.perf_counter()
    # --threads BLAS/OpenMP threads: on a loaded CPU libgomp's spinning threads slow k-means
    # ~800x; threadpoolctl limits only the libraries loaded when it is entered
    with threadpool_limits(args.threads):
        run = run_compare(
            data, encoder, specs, seed=0, batch_size=args.batch_size, show_progress=None,
            post_process=not args.strategies, task=chosen,
        )  # fmt: skip
    result = run.result
    payload = {
        "model": key,
        "checkpoint": shown_name(args.smoke) if key == RAW else encoder.backbone.name,
        "task": task,
        "dataset": dataset,
        "rows": result.n_rows,
        "of": len(load_task_data(chosen, dataset)),
        "unit": result.unit,
        "primary_metric": result.primary_metric,
        "own": str(encoder.strategy),
        "references": {} if args.strategies else references(key, args.out),
        "tag": args.tag,
        "max_length": encoder.max_length,
        "corpus_passes": passes,
        "documents": len(data.doc_ids) if task == "retrieval" else None,
        "passes": run.passes,
        "embed_seconds": round(run.embed_seconds, 1),
        "evaluate_seconds": round(run.evaluate_seconds, 1),
        "seconds": round(time.perf_counter() - began, 1),
        "stages_note": run.stages_note,
        "strategies": _rows(result),
    }
    where = folder(key, dataset + (f"-{args.tag}" if args.tag else ""), args.out)
    path = write_results(where / "results.json", payload, started)
    print(f"{key} {task}: {len(specs)} strategies in {payload['seconds']} s", flush=True)
    return path


# ---------------------------------------------------------------- rendering from the .json


def _paired(saved: dict, a: str, b: str) -> Any:
    from hiddenpool.evaluate.stats import PairedDifference

    rows = {r["name"]: r for r in saved["strategies"]}
    return PairedDifference.between(
        a, b, saved["primary_metric"], True, rows[a]["per_unit"], rows[b]["per_unit"]
    )


def _ci(d: Any) -> str:
    mark = "" if not d.exceeds_noise else (" ▲" if d.mean > 0 else " ▼")
    return f"{d.mean:+.4f} [{d.ci_low:+.4f}, {d.ci_high:+.4f}]{mark}"


def _said(d: Any, what: str, than: str) -> str:
    if not d.exceeds_noise:
        return f"{what} and {than} do not differ beyond the noise ({_ci(d)})"
    word = "beats" if d.mean > 0 else "loses to"
    return f"{what} {word} {than} ({_ci(d)})"


def _ranked(saved: dict) -> list[dict]:
    dense = [r for r in saved["strategies"] if r["name"] != "bm25"]
    return sorted(dense, key=lambda r: -r["metrics"][saved["primary_metric"]])


def _whitened(saved: dict, base: str) -> list[str]:
    names = [r["name"] for r in saved["strategies"]]
    return [n for n in names if n.startswith(f"{base} | whiten(")]


def _shown(saved: dict) -> list[tuple[str, str]]:
    """(strategy, why it is shown) for the table, in order."""
    own, ranked = saved["own"], _ranked(saved)
    names = {r["name"] for r in saved["strategies"]}
    rows = [(own, "the model's own pooling (the default)")]
    rows += [(r["name"], f"rank {i} of this sweep") for i, r in enumerate(ranked[:3], start=1)]
    for spec, won in _by_spec(saved).items():
        rows.append((spec, f"winner on {won} (docs/model-study.md)"))
    for name in sorted(names):
        if "/" in name.split("|")[0] and name.endswith(":mean"):
            rows.append((name, "query/document templates"))
    for base in dict.fromkeys([own, ranked[0]["name"]]):
        rows += [(n, "whitened, fitted on the " + _fitted(saved)) for n in _whitened(saved, base)]
    if "bm25" in names:
        rows.append(("bm25", "lexical baseline (bm25s)"))
    seen: dict[str, str] = {}
    for name, why in rows:
        seen[name] = f"{seen[name]}; {why}" if name in seen else why
    return list(seen.items())


def _by_spec(saved: dict) -> dict[str, str]:
    """Each reference winner and the datasets it won (``STS-B``, ``vader-tweets, ...``)."""
    out: dict[str, list[str]] = {}
    for dataset, spec in saved["references"].items():
        out.setdefault(spec, []).append("STS-B" if dataset == "sts-b" else dataset)
    return {spec: ", ".join(names) for spec, names in out.items()}


def _fitted(saved: dict) -> str:
    return "corpus documents" if saved["task"] == "retrieval" else "texts clustered"


def _table(saved: dict) -> list[str]:
    rows = {r["name"]: r for r in saved["strategies"]}
    rank = {r["name"]: i for i, r in enumerate(_ranked(saved), start=1)}
    own, metric = saved["own"], saved["primary_metric"]
    extra = ["recall@100", "mrr@10"] if saved["task"] == "retrieval" else []
    unit = "queries" if saved["task"] == "retrieval" else "runs"
    lines = [
        f"| strategy | why shown | rank | {metric} | "
        + "".join(f"{m} | " for m in extra)
        + f"− `{own}`, paired over {unit} (95% CI) |",
        "|---|---|---|---|" + "---|" * len(extra) + "---|",
    ]
    for name, why in _shown(saved):
        row = rows[name]
        vs = "—" if name == own else _ci(_paired(saved, name, own))
        cells = "".join(f"{row['metrics'][m]:.4f} | " for m in extra)
        shown = name.replace("|", "\\|")
        lines.append(
            f"| `{shown}` | {why} | {rank.get(name, '—')} | {row['metrics'][metric]:.4f} | "
            f"{cells}{vs} |"
        )
    return lines


def _setup(saved: dict) -> str:
    prov = saved["provenance"]
    command = prov["command"].replace("python ", "", 1)
    size = f"{saved['rows']} of {saved['of']} {'queries' if saved['unit'] == 'query' else 'texts'}"
    if saved["task"] == "retrieval":
        size += f", all {saved['documents']} documents searched"
    if saved["rows"] < saved["of"]:
        size += " (a seeded sample, seed 0)"
    plural = "es" if saved["passes"] > 1 else ""
    passes = ""
    if saved.get("tag"):
        passes = (
            " Only these strategies were run (a second run on the same queries and corpus, "
            "adding what the main sweep of this model left out); ranks are within this run."
        )
    elif saved.get("corpus_passes") == 1:
        passes = (
            " Only the template pairs whose document side is the plain text (`bge/...`) were "
            "swept, one pass over the corpus, to keep this model's run short on a shared CPU: "
            "the E5 (`query/passage`) and nomic (`search_query/search_document`) pairs are not "
            "measured on this model."
        )
    return (
        f"`python {command}` at commit `{prov['git_commit'][:8]}` on {prov['date_utc'][:10]} "
        f"({prov['cpu']}, {prov['torch_threads']} torch thread, load {prov['load_before'][0]} "
        f"before and {prov['load_after'][0]} after), `{checkpoint_name(saved['checkpoint'])}`, "
        f"{saved['max_length']} tokens per text, {size}; {len(saved['strategies'])} rows, "
        f"{saved['passes']} forward pass{plural}, embedding {saved['embed_seconds']:.0f} s and "
        f"scoring {saved['evaluate_seconds']:.0f} s. {saved['stages_note']}{passes}"
    ).replace(".  ", ". ")


def _findings(saved: dict) -> list[str]:
    own, best = saved["own"], _ranked(saved)[0]["name"]
    names = {r["name"] for r in saved["strategies"]}
    task = "retrieval" if saved["task"] == "retrieval" else "clustering"
    lines = []
    if best != own:
        said = _said(_paired(saved, best, own), f"`{best}`", f"`{own}`")
        lines.append(f"- Best of the sweep: {said}.")
    else:
        lines.append(f"- The model's own pooling `{own}` is the best of the sweep.")
    for spec, what in _by_spec(saved).items():
        if spec == best:
            lines.append(f"- The {what} winner `{spec}` also wins {task}.")
            continue
        d = _paired(saved, spec, best)
        lines.append(
            f"- The {what} winner `{spec}` against the {task} winner: "
            f"{_said(d, f'`{spec}`', f'`{best}`')}; against the own pooling: "
            f"{_said(_paired(saved, spec, own), f'`{spec}`', f'`{own}`')}."
        )
    for name in sorted(n for n in names if "/" in n.split("|")[0] and n.endswith(":mean")):
        lines.append(f"- Templates: {_said(_paired(saved, name, own), f'`{name}`', f'`{own}`')}.")
    for base in dict.fromkeys([own, best]):
        for name in _whitened(saved, base):
            d = _paired(saved, name, base)
            lines.append(f"- Whitening: {_said(d, f'`{name}`', f'`{base}`')}.")
    if "bm25" in names:
        for name in dict.fromkeys([own, best]):
            d = _paired(saved, name, "bm25")
            lines.append(f"- Dense against BM25: {_said(d, f'`{name}`', 'BM25')}.")
    return lines


def section(key: str, saved: dict) -> str:
    what = (
        "retrieval on manpages (nDCG@10)"
        if saved["task"] == "retrieval"
        else "clustering on trec coarse classes (V-measure)"
        if saved["dataset"] == CLUSTERING
        else f"clustering on {saved['dataset']}'s classes (V-measure)"
    )
    return "\n".join(
        [
            f"### {key}: {what}" + (f", the {saved['tag']} run" if saved.get("tag") else ""),
            "",
            _setup(saved),
            "",
            *_table(saved),
            "",
            "**Findings** (▲/▼: the 95% interval excludes 0; anything else is no difference "
            "this data can show):",
            "",
            *_findings(saved),
            "",
        ]
    )


HEAD = """## Search and grouping

Does the strategy that wins for STS-B or for the probes also win for search and for grouping?
From bench/search_study.py: `run_compare` (what `hiddenpool compare --strategies all` runs)
with each model's own pooling as the default, on retrieval over the registered `manpages`
collection (constructed from Debian's manual pages: each page's NAME summary is a query, its
DESCRIPTION the relevant document (grade 2) and its SEE ALSO pages grade 1; exact cosine
search, nDCG@10 by pytrec_eval; `hiddenpool datasets -v`) and k-means clustering of `trec`'s
coarse question classes (MTEB's protocol, V-measure over 10 seeded runs), and of
`rotten-tomatoes`' two classes (fresh and rotten reviews: sentiment, not topic) as a second
labelled set. Every difference is
paired: over queries for retrieval (a Student-t interval of the per-query nDCG@10 differences),
over the seeded runs for clustering (those runs resample the same texts and reseed k-means: they
measure the protocol's own noise, not a fresh draw of data). The STS-B and probe winners are
those of docs/model-study.md (bench/model_study.py's summary, scored at each model's own
length). To fit a shared 2-core CPU, MPNet embeds the first 128 tokens of each text (the whole
corpus is still searched) and {who} cluster a seeded sample of 2,000 texts per dataset;
each setup line says so. Timings are wall seconds on that loaded machine. Every number below is
rendered from docs/study/<model>-search/<dataset>/results.json.
{pending}"""
PENDING = """
The third model, the raw Linux-docs RoBERTa, is pending: it is being retrained stronger
(issue #22), and its rows will be added when that model exists. No number here is about it.
"""


def _best_of(saved: dict, names: list[str], base: str) -> str:
    """The best-scoring of ``names`` minus ``base``, paired, with its name; — if none."""
    if not names:
        return "—"
    metric = saved["primary_metric"]
    rows = {r["name"]: r for r in saved["strategies"]}
    name = max(names, key=lambda n: rows[n]["metrics"][metric])
    shown = name.replace("|", "\\|")
    return f"`{shown}` {_ci(_paired(saved, name, base))}"


def overview(found: list[dict]) -> list[str]:
    """One row per model and task: each question's answer against the own pooling."""
    lines = [
        "Each cell: a strategy minus the model's own pooling on the same queries (retrieval, "
        "nDCG@10) or seeded runs (clustering, V-measure), mean and 95% interval; ▲/▼ where it "
        "excludes 0. Details per model and task below.",
        "",
        "| model | task | own pooling | winner of the sweep | STS-B winner | best template pair "
        "| best whitening of the own pooling | own pooling − BM25 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for saved in found:
        own, metric = saved["own"], saved["primary_metric"]
        rows = {r["name"]: r for r in saved["strategies"]}
        best = _ranked(saved)[0]["name"]
        sts = saved["references"].get("sts-b")
        pairs = [n for n in rows if "/" in n.split("|")[0]]
        bm25 = _ci(_paired(saved, own, "bm25")) if "bm25" in rows else "—"
        task = f"{saved['task']}, {saved['dataset']}"
        task += f" ({saved['tag']} run)" if saved.get("tag") else ""
        lines.append(
            f"| {saved['model']} | {task} | `{own}` {rows[own]['metrics'][metric]:.4f} | "
            f"{_best_of(saved, [best], own)} | {_best_of(saved, [sts] if sts else [], own)} | "
            f"{_best_of(saved, pairs, own)} | {_best_of(saved, _whitened(saved, own), own)} | "
            f"{bm25} |"
        )
    return [*lines, "", "In plain words (every figure from the table above or below):", "",
            *_answers(found), ""]  # fmt: skip


def _word(d: Any) -> str:
    return "no difference" if not d.exceeds_noise else "higher" if d.mean > 0 else "lower"


def _answers(found: list[dict]) -> list[str]:
    """One line per question of the section, each a list of paired verdicts."""
    sts, probes, templates, bm25, whitening = [], [], [], [], []
    for saved in found:
        own, rows = saved["own"], {r["name"] for r in saved["strategies"]}
        where = f"{saved['model']} {saved['task']} ({saved['dataset']}"
        where += f", {saved['tag']} run)" if saved.get("tag") else ")"
        spec = saved["references"].get("sts-b")
        if spec:
            best = _ranked(saved)[0]["name"]
            if spec == best:
                sts.append(f"{where}: it is the winner")
            else:
                d = _paired(saved, spec, best)
                than = "not different from" if not d.exceeds_noise else f"{_word(d)} than"
                sts.append(f"{where}: {than} the winner `{best}` ({_ci(d)})")
        for spec, won in _by_spec(saved).items():
            if won != "STS-B" and spec != own:
                d = _paired(saved, spec, own)
                probes.append(f"{where} `{spec}` ({won}) {_word(d)} ({_ci(d)})")
        for name in sorted(n for n in rows if "/" in n.split("|")[0]):
            d = _paired(saved, name, own)
            templates.append(f"{where} `{name}` {_word(d)} ({_ci(d)})")
        if "bm25" in rows and not saved.get("tag"):  # a tagged run repeats the main run's
            d = _paired(saved, own, "bm25")
            bm25.append(f"{where}: {_word(d)} ({_ci(d)})")
        for name in _whitened(saved, own):
            d = _paired(saved, name, own)
            whitening.append(f"{where} `{name}` {_word(d)} ({_ci(d)})")
    return [
        "- The STS-B winner, against each task's winner: " + "; ".join(sts) + ".",
        "- The probe winners, against the own pooling: " + "; ".join(probes) + ".",
        "- Query/document template pairs, against the own pooling (models not trained with "
        "them): " + "; ".join(templates) + ".",
        "- Dense (the own pooling) against BM25 on manpages: " + "; ".join(bm25) + ".",
        "- Whitening the own pooling (fitted without labels), against it: "
        + "; ".join(whitening)
        + ".",
    ]


def render(docs: Path = DOCS) -> str:
    """The section from every results.json under ``docs``/study/*-search/ (the raw model's
    rows, once saved, replace the note that they are pending)."""
    raw = any(folder(RAW, "x", docs).parent.glob("*/results.json"))
    head = HEAD.format(who="every model" if raw else "both models", pending="" if raw else PENDING)
    parts = [head]
    found = sorted(
        docs.glob("study/*-search/*/results.json"),
        key=lambda p: (
            ORDER.index(p.parts[-3][: -len("-search")])
            if p.parts[-3][: -len("-search")] in ORDER
            else len(ORDER),
            p.parts[-3],
            p.parts[-2] != RETRIEVAL,
        ),
    )
    saved = [json.loads(path.read_text(encoding="utf-8")) for path in found]
    if saved:
        parts += ["\n".join(overview(saved))]
    parts += [section(one["model"], one) for one in saved]
    return "\n".join(parts)


def replace_section(text: str, docs: Path = DOCS) -> None:
    replace_block(docs / "pooling-study.md", START, END, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm"], metavar="MODEL")
    parser.add_argument("--tasks", nargs="+", default=["retrieval", "clustering"])
    parser.add_argument("--max-length", type=int, default=None, help="tokens; None: the model's")
    parser.add_argument("--corpus-passes", type=int, default=None, choices=[1])
    parser.add_argument("--query-limit", type=int, default=0, help="queries; 0: all")
    parser.add_argument("--cluster-data", default=CLUSTERING, help="a labelled dataset")
    parser.add_argument("--cluster-limit", type=int, default=2000, help="texts; 0: all")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--strategies", nargs="+", default=None, help="only these specs")
    parser.add_argument("--tag", default="", help="with --strategies: saved as <dataset>-TAG")
    parser.add_argument("--render", action="store_true", help="only rebuild the section")
    add_smoke_options(parser)
    args = parser.parse_args()
    check_smoke(args)
    for key in [] if args.render else args.models:
        for task in args.tasks:
            run_task(key, task, args)
    replace_section(render(args.out), args.out)
    print(f"wrote {args.out / 'pooling-study.md'}")


if __name__ == "__main__":
    main()
