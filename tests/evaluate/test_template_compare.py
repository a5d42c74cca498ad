"""compare sweeps prompt templates: one pass each, a report section with paired differences."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hiddenpool.cli.main import main
from hiddenpool.compare import default_strategies, template_strategies
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.templates import list_templates
from tiny_models import WORDS

pytestmark = pytest.mark.usefixtures("one_thread")


def _csv(tmp_path):
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(2, 10))) for _ in range(60)]
    score = [sum(w in ("good", "great", "fun") for w in t.split()) - t.count("bad") for t in texts]
    path = tmp_path / "reviews.csv"
    path.write_text(
        "text,score\n" + "".join(f"{t},{s}\n" for t, s in zip(texts, score, strict=True))
    )
    return path


def test_all_includes_the_templates_that_fit_only_when_asked(tiny_backbone):
    plain = default_strategies(tiny_backbone("bert"))  # templates are opt-in
    assert all(parse_strategy(s).template is None for s in plain)
    bert = default_strategies(tiny_backbone("bert"), templates=True)
    assert {"promptbert:mask", "promptbert:mean", "echo:mean", "query:mean"} <= set(bert)
    assert "prompteol:last" in bert
    specs, notes = template_strategies(tiny_backbone("gpt2"))
    assert not [s for s in specs if s.startswith("promptbert:")]
    assert "echo:mean" in specs and "prompteol:last" in specs
    assert "template 'promptbert' skipped: it holds [MASK] and this model has none" in notes
    assert len(notes) == len(list_templates(mask=True))  # one note per [MASK] template


def test_compare_reports_the_best_template_paired_over_folds(tmp_path, tiny_dir, capsys):
    out = tmp_path / "report"
    specs = ["mean", "cls", "mean@-2", "promptbert:mask", "promptbert:mean", "echo:mean"]
    argv = ["compare", str(_csv(tmp_path)), "--task", "regression", "--label-column", "score"]
    argv += ["--model", str(tiny_dir("bert")), "--folds", "3", "--out", str(out), "--quiet"]
    assert main([*argv, "--strategies", *specs]) == 0
    assert "(3 passes: the text, and one per prompt template)" in capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    folds = {s["name"]: s["metrics"]["spearman"]["folds"] for s in results["strategies"]}
    score = {s["name"]: s["metrics"]["spearman"]["mean"] for s in results["strategies"]}
    rows = {row["template"]: row for row in results["templates"]}
    assert set(rows) == {"plain text", "promptbert", "echo"}
    plain = max(["mean", "cls", "mean@-2"], key=score.__getitem__)
    assert rows["plain text"]["best"] == plain and rows["plain text"]["versus_plain"] is None
    best_prompt = max(["promptbert:mask", "promptbert:mean"], key=score.__getitem__)
    assert rows["promptbert"]["best"] == best_prompt
    diff = np.mean(np.subtract(folds[best_prompt], folds[plain]))
    assert rows["promptbert"]["versus_plain"]["mean"] == pytest.approx(diff)
    report = (out / "report.md").read_text()
    assert "## Templates" in report and f"| promptbert | `{best_prompt}` |" in report
