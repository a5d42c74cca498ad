"""docs/pooling-study.md's "Search and grouping" section is the render of the committed results.

bench/search_study.py saves docs/study/<model>-search/<dataset>/results.json and renders the
section from them; here the doc must equal the render, each results file must carry its
provenance and agree with itself, every paired interval the section prints must be scipy's
paired t-interval of the saved per-query (or per-run) scores, and a claim of "beats" must need an
interval that excludes zero.
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = sorted(ROOT.glob("docs/study/*-search/*/results.json"))
PROVENANCE_KEYS = {
    "command", "git_commit", "git_dirty", "date_utc", "cpu", "cores", "torch_threads",
    "versions", "load_before", "load_after",
}  # fmt: skip


@pytest.fixture(scope="module")
def study():
    path = ROOT / "bench" / "search_study.py"
    spec = importlib.util.spec_from_file_location("search_study", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["search_study"] = module
    spec.loader.exec_module(module)
    return module


def _saved(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_section_equals_the_render_of_the_results(study):
    doc = (ROOT / "docs" / "pooling-study.md").read_text(encoding="utf-8")
    found = re.search(re.escape(study.START) + "\n(.*?)\n" + re.escape(study.END), doc, re.S)
    assert found, "docs/pooling-study.md has no search-study section"
    rendered = study.render().rstrip()
    for ours, theirs in zip(found[1].splitlines(), rendered.splitlines(), strict=False):
        assert ours == theirs, "stale: run python bench/search_study.py --render"
    assert found[1] == rendered
    raw = any(p.parts[-3] == f"{study.RAW}-search" for p in RESULTS)
    # the raw model: a note that its rows are pending until they are saved, then its rows
    assert ("pending" in rendered and "issue #22" in rendered) is not raw
    assert (f"| {study.RAW} |" in rendered) is raw


def test_the_pending_note_gives_way_to_the_raw_models_rows(study, tmp_path):
    docs = tmp_path / "docs"
    for path in RESULTS:
        if path.parts[-3].startswith(study.RAW):
            continue  # the copy starts without the raw model's results
        target = docs / path.relative_to(ROOT / "docs")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    without = study.render(docs)
    assert "is pending" in without and f"| {study.RAW} |" not in without
    sentence = [p for p in RESULTS if not p.parts[-3].startswith(study.RAW)]
    raw = _saved(sentence[0])
    raw["model"] = study.RAW
    target = study.folder(study.RAW, sentence[0].parts[-2], docs) / "results.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(raw), encoding="utf-8")
    rendered = study.render(docs)
    assert "is pending" not in rendered and "every model cluster" in rendered
    assert f"| {study.RAW} |" in rendered and f"### {study.RAW}: " in rendered
    assert rendered.index(f"| {study.RAW} |") > rendered.index("| mpnet |")  # ORDER: last
    study.replace_section(rendered, docs)  # a missing doc is created with the section
    assert (docs / "pooling-study.md").read_text(encoding="utf-8").count(study.START) == 1


def test_both_models_are_studied_on_both_tasks():
    pairs = {(p.parts[-3], p.parts[-2]) for p in RESULTS}
    for model in ("minilm", "mpnet"):
        assert {(f"{model}-search", "manpages"), (f"{model}-search", "trec")} <= pairs


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: "/".join(p.parts[-3:-1]))
def test_results_carry_provenance_and_agree_with_themselves(path):
    saved = _saved(path)
    assert set(saved["provenance"]) >= PROVENANCE_KEYS
    assert saved["provenance"]["command"].startswith("python bench/search_study.py")
    metric, units = saved["primary_metric"], 10 if saved["task"] == "clustering" else saved["rows"]
    names = [row["name"] for row in saved["strategies"]]
    assert len(names) == len(set(names)) and saved["own"] in names
    for row in saved["strategies"]:
        assert len(row["per_unit"]) == units, row["name"]
        assert np.mean(row["per_unit"]) == pytest.approx(row["metrics"][metric], abs=2e-6)
    if saved["task"] == "retrieval":
        assert "bm25" in names and saved["documents"] == 1098  # the whole corpus searched


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: "/".join(p.parts[-3:-1]))
def test_printed_intervals_are_scipys_paired_t_intervals(study, path):
    saved = _saved(path)
    rows = {row["name"]: row for row in saved["strategies"]}
    own = saved["own"]
    checked = 0
    for name, _ in study._shown(saved):
        a, b = np.asarray(rows[name]["per_unit"]), np.asarray(rows[own]["per_unit"])
        if name == own or np.all(a == b):
            continue
        ours = study._paired(saved, name, own)
        reference = stats.ttest_rel(a, b).confidence_interval(0.95)
        assert ours.mean == pytest.approx(float(np.mean(a - b)), abs=1e-12)
        assert (ours.ci_low, ours.ci_high) == pytest.approx(
            (reference.low, reference.high), abs=1e-9
        )
        checked += 1
    assert checked >= 3


def test_beats_needs_an_interval_that_excludes_zero(study):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.8, 200)
    saved = {
        "primary_metric": "ndcg@10",
        "strategies": [
            {"name": "mean", "per_unit": base.tolist()},
            {"name": "up", "per_unit": (base + 0.05 + rng.normal(0, 0.01, 200)).tolist()},
            {"name": "noise", "per_unit": (base + rng.normal(0, 0.2, 200)).tolist()},
        ],
    }
    up = study._paired(saved, "up", "mean")
    assert up.ci_low > 0 and study._said(up, "`up`", "`mean`").startswith("`up` beats `mean`")
    assert study._ci(up).endswith("▲")
    down = study._paired(saved, "mean", "up")
    assert study._said(down, "`mean`", "`up`").startswith("`mean` loses to `up`")
    noise = study._paired(saved, "noise", "mean")
    assert noise.ci_low < 0 < noise.ci_high
    assert "do not differ" in study._said(noise, "`noise`", "`mean`")
    assert not study._ci(noise).endswith(("▲", "▼"))
