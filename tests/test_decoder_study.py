"""bench/decoder_study.py: the write-up is its saved results, its verdicts follow the intervals,
and its strategies are ones a decoder runs.

The results here are synthetic (fold scores drawn with a seed, written as write_report and
write_results write them); every number the render prints is checked against the saved files by
an independent reading (the JSON's own fields, scipy's paired t-interval), so a stale or
miscopied number fails. No model is run except a tiny random GPT-2.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from hiddenpool.evaluate import CompareResult, StrategyResult
from hiddenpool.evaluate.stats import MetricSummary

ROOT = Path(__file__).resolve().parents[1]
FOLDS = 5
NUM_LAYERS, WIDTH = 4, 256  # the real decoder's shape
NUMBER = r"[+-]?\d+\.\d{3}"


@pytest.fixture(scope="module")
def study():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(
        "decoder_study", ROOT / "bench" / "decoder_study.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["decoder_study"] = module
    spec.loader.exec_module(module)
    return module


def _fold_scores(study, dataset: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-fold scores with known relations: echo clearly above mean on vader-movies, clearly
    below on vader-tweets, pure noise around it elsewhere."""
    specs = study.decoder_strategies(NUM_LAYERS, WIDTH)
    base = rng.uniform(0.4, 0.6, FOLDS)
    scores = {s: base + rng.normal(0, 0.02, FOLDS) for s in specs}
    scores["mean"] = base
    shift = {"vader-movies": 0.05, "vader-tweets": -0.05}.get(dataset, 0.0)
    scores["echo:mean"] = base + shift + rng.normal(0, 0.002 if shift else 0.05, FOLDS)
    return scores


def _result(study, dataset: str, rng: np.random.Generator) -> CompareResult:
    metric = "spearman" if dataset.startswith("vader") or dataset == study.STS else "accuracy"
    task = {"spearman": "regression", "accuracy": "classification"}[metric]
    task = "similarity" if dataset == study.STS else task
    strategies = tuple(
        StrategyResult(
            name, int(name.split("whiten(")[-1][:-1]) if "whiten" in name else WIDTH,
            {metric: MetricSummary.from_folds(folds)}, np.empty(0), "alpha",
            ((1.0,),) * FOLDS, False, 0.1,
        )
        for name, folds in _fold_scores(study, dataset, rng).items()
    )  # fmt: skip
    fold_ids = np.arange(20 * FOLDS) % FOLDS
    return CompareResult(task, metric, True, (metric,), strategies, None, fold_ids, "mean")


def _pretrain_record(path: Path) -> Path:
    record = {
        "provenance": {"command": "python bench/pretrain_decoder.py",
                       "date_utc": "2026-12-03T01:02:03Z"},
        "model": {"description": "GPT2LMHeadModel 'small' from scratch", "parameters": 5240320},
        "settings": {"max_length": 128},
        "steps": 2300,
        "tokens_seen": 9420800,
        "held_out_before": {"loss": 9.048, "perplexity": 8501.7, "accuracy": 0.0005},
        "held_out_after": {"loss": 4.2171, "perplexity": 67.84, "accuracy": 0.3123,
                           "predicted_tokens": 117475, "blocks": 931},
    }  # fmt: skip
    path.write_text(json.dumps(record))
    return path


@pytest.fixture()
def saved(study, tmp_path: Path) -> Path:
    """A docs/ folder holding a decoder study's saved results, as run_study writes them."""
    from provenance import provenance, write_results

    rng = np.random.default_rng(0)
    folder = tmp_path / "study" / "decoder"
    started = provenance(["bench/decoder_study.py"])
    for name in study.DATASETS:
        write_results(folder / name / "results.json", _result(study, name, rng).to_dict(), started)
    costs = {
        n: {"rows": 1000, "passes": 3, "embed_seconds": 12.3, "score_seconds": 45.6,
            "stages_fitted_on": "Stages were fitted on the training folds."}
        for n in study.DATASETS
    }  # fmt: skip
    payload = {
        "model": {"folder": "<cache>/models/linux-gpt2-128", "family": "gpt2",
                  "num_layers": NUM_LAYERS, "hidden_size": WIDTH, "max_length": 128,
                  "own_strategy": "mean"},
        "pretrain": study._pretrain_summary(_pretrain_record(tmp_path / "pretrain.json")),
        "options": {"limit": 1000, "sts_limit": 0, "sts_fit": 1000, "folds": FOLDS, "threads": 1},
        "datasets": list(study.DATASETS),
        "strategies": study.decoder_strategies(NUM_LAYERS, WIDTH),
        "costs": costs,
        "seconds": 1234,
    }  # fmt: skip
    write_results(folder / "run.json", payload, started)
    return tmp_path


def _saved_folds(out: Path) -> dict[str, dict[str, dict]]:
    """dataset -> strategy -> its primary metric's summary, straight from the JSON."""
    folder = out / "study" / "decoder"
    found = {}
    for path in sorted(folder.glob("*/results.json")):
        d = json.loads(path.read_text())
        found[path.parent.name] = {
            s["name"]: s["metrics"][d["primary_metric"]] for s in d["strategies"]
        }
    return found


def _paired(a: dict, b: dict) -> tuple[float, float, float]:
    x, y = np.asarray(a["folds"]), np.asarray(b["folds"])
    interval = stats.ttest_rel(x, y).confidence_interval(0.95)
    return float(np.mean(x - y)), float(interval.low), float(interval.high)


def _word(low: float, high: float) -> str:
    return "holds" if low > 0 else "reversed" if high < 0 else "within noise"


def _cells(line: str) -> list[str]:
    """A table row's cells, bold and escaped stage bars undone."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().strip("*").replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def _table_mismatches(doc: str, saved: dict, run: dict) -> list[str]:
    """The cells of the table of every strategy that are not the saved mean ± std."""
    bad = []
    table = doc.split("## Every strategy")[1].split("## The questions")[0]
    rows = [_cells(line) for line in table.splitlines() if line.startswith("| `")]
    for cells in rows:
        spec = cells[0].strip("`")
        for dataset, cell in zip(run["datasets"], cells[2:], strict=True):
            m = saved[dataset][spec]
            if cell != f"{m['mean']:.3f} ± {m['std']:.3f}":
                bad.append(f"{spec} on {dataset}: {cell}")
    if [c[0].strip("`") for c in rows] != run["strategies"]:
        bad.append("the strategy rows are not the run's strategies")
    return bad


def _layer_mismatches(cells: list[str], saved: dict) -> list[str]:
    """A per-layer row's scores that are not the saved means."""
    head = cells[1].strip("`")
    specs = [*(f"{head}@{k}" for k in range(NUM_LAYERS)), head, f"{head}@1:"]
    return [
        f"layer table {spec} on {cells[0]}: {cell}"
        for spec, cell in zip(specs, cells[2:], strict=True)
        if cell != f"{saved[cells[0]][spec]['mean']:.3f}"
    ]


def _verdict_mismatches(cells: list[str], a: str, b: str, saved: dict) -> list[str]:
    """A verdict row whose numbers are not scipy's paired interval or whose word is wrong."""
    interval = re.fullmatch(rf"\[({NUMBER}), ({NUMBER})\]", cells[-2])
    assert interval is not None, cells
    mean, low, high = _paired(saved[cells[0]][a], saved[cells[0]][b])
    bad = []
    if (cells[-3], interval[1], interval[2]) != (f"{mean:+.3f}", f"{low:+.3f}", f"{high:+.3f}"):
        bad.append(f"{a} - {b} on {cells[0]}: {cells[-3]} {cells[-2]}")
    if cells[-1] != _word(low, high):
        bad.append(f"{a} - {b} on {cells[0]}: {cells[-1]!r} for [{low:+.4f}, {high:+.4f}]")
    return bad


def _mismatches(doc: str, out: Path) -> list[str]:
    """Every table cell and verdict of ``doc`` that is not what the saved files say."""
    saved = _saved_folds(out)
    run = json.loads((out / "study" / "decoder" / "run.json").read_text())
    bad = _table_mismatches(doc, saved, run)
    claim: tuple[str, str] | None = None  # the claim of a question's table, from its header
    checked = 0
    for line in doc.split("## The questions")[1].split("## Cost")[0].splitlines():
        if (c := re.match(r"^`(.+?)` − `(.+?)`:$", line)) is not None:
            claim = (c[1], c[2])
        elif line.startswith(("### Does another", "### Does whitening")):
            claim = None
        cells = _cells(line) if line.startswith("| ") else []
        if len(cells) == 2 + NUM_LAYERS + 2 and cells[1] in ("`last`", "`mean`"):
            bad += _layer_mismatches(cells, saved)
        elif cells and re.fullmatch(rf"\[{NUMBER}, {NUMBER}\]", cells[-2]):
            a, b = claim if claim is not None else re.findall(r"`([^`]+)`", cells[1])
            bad += _verdict_mismatches(cells, a, b, saved)
        else:
            continue
        checked += 1
    if checked < (3 + 2 + 6) * len(run["datasets"]):  # claims, layer rows, the other verdicts
        bad.append(f"only {checked} rows read")
    return bad


def test_the_render_is_every_saved_number_and_a_changed_one_shows(study, saved):
    doc = study.render(saved)
    assert _mismatches(doc, saved) == []
    for shown in ("4.217", "67.8", "31.2%", "117,475", "931 blocks", "2,300 steps", "1,234 s"):
        assert shown in doc, shown  # the pretraining record's held-out metrics and the costs
    # plant: one saved score changes after the render; the old write-up is now wrong
    path = saved / "study" / "decoder" / "trec" / "results.json"
    d = json.loads(path.read_text())
    row = next(s for s in d["strategies"] if s["name"] == "last@2")
    row["metrics"]["accuracy"]["mean"] += 0.01
    path.write_text(json.dumps(d))
    assert any(m.startswith("last@2 on trec") for m in _mismatches(doc, saved))
    assert _mismatches(study.render(saved), saved) == []  # the render reads the files afresh


def test_verdict_words_follow_the_sign_of_the_interval(study, saved):
    doc = study.render(saved)
    echo = doc.split("### Does echo help")[1].split("###")[0]
    words = dict(re.findall(r"^\| (\S+) \| .*\| ([a-z ]+) \|$", echo, re.M))
    assert words["vader-movies"] == "holds" and words["vader-tweets"] == "reversed"
    assert words["rotten-tomatoes"] == "within noise"  # echo there is mean plus pure noise
    assert "holds on vader-movies;" in echo and "reversed on vader-tweets;" in echo
    short = doc.split("## In short")[1].split("##")[0]
    assert "`echo:mean` > `mean`: holds on vader-movies; reversed on vader-tweets;" in short
    # the wording is read off the interval alone
    folds = _saved_folds(saved)["rotten-tomatoes"]
    _, low, high = _paired(folds["echo:mean"], folds["mean"])
    assert low < 0 < high


def test_render_only_rebuilds_from_the_saved_files(study, saved):
    study.main(["--render", "--out", str(saved)])
    assert (saved / "decoder-study.md").read_text() == study.render(saved)
    with pytest.raises(SystemExit):
        study.main(["--render", "--out", str(saved / "nowhere")])
    with pytest.raises(SystemExit):  # the smoke model's results never land in docs/
        study.main(["--smoke", "--render", "--out", str(ROOT / "docs" / "study")])


def test_the_strategies_are_a_decoders(study, tiny_dir, one_thread):
    from hiddenpool import Encoder
    from hiddenpool.pooling import parse_strategy

    specs = study.decoder_strategies(NUM_LAYERS, WIDTH, fit_rows=800)
    for spec in ("last", "mean", "weighted_mean", "echo:mean", "prompteol:last", "mean@1:",
                 "last@1:", "mean | whiten(64)", "last | whiten(128)"):  # fmt: skip
        assert spec in specs
    assert {f"{h}@{k}" for h in ("mean", "last") for k in range(NUM_LAYERS)} <= set(specs)
    assert "mean | whiten(64)" not in study.decoder_strategies(NUM_LAYERS, WIDTH, fit_rows=64)
    encoder = Encoder(tiny_dir("gpt2"), normalize=False)
    backbone = encoder.backbone
    assert backbone.facts.name == "gpt2" and backbone.facts.summary == "last"
    tiny = study.decoder_strategies(backbone.num_layers, backbone.hidden_size)
    assert all(str(parse_strategy(s)) == s for s in tiny)  # canonical: the names results carry
    widths = {s: encoder.width(s) for s in tiny}  # raises for a spec this model cannot run
    assert widths["mean | whiten(8)"] == 8 and widths["last"] == backbone.hidden_size
    pooled = list(dict.fromkeys(str(parse_strategy(s).pooling) for s in tiny))
    vectors = encoder.encode_many(["the movie was good", "a very long and boring film"], pooled)
    assert all(v.shape == (2, backbone.hidden_size) for v in vectors.values())
    assert not np.allclose(vectors["echo:mean"], vectors["mean"])


def test_the_committed_write_up_is_its_render(study):
    doc = ROOT / "docs" / "decoder-study.md"
    if not doc.is_file():
        pytest.skip("docs/decoder-study.md not generated yet (needs the trained decoder)")
    assert doc.read_text(encoding="utf-8") == study.render(ROOT / "docs")
    assert _mismatches(doc.read_text(encoding="utf-8"), ROOT / "docs") == []
