"""The README's study sentences are worded from paired intervals over the saved fold scores.

bench/render_findings.py turns docs/study/ results into claims; a claim must follow the intervals
(a difference counts only where its 95% interval excludes zero), so a changed fold score in a
results file changes the sentence.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import render_findings  # noqa: E402


def _result(scores: dict[str, list[float]]) -> dict:
    return {
        "primary_metric": "spearman",
        "higher_is_better": True,
        "strategies": [
            {"name": name, "metrics": {"spearman": {"mean": sum(f) / len(f), "folds": f}}}
            for name, f in scores.items()
        ],
    }


@pytest.mark.parametrize(
    ("a", "word"),
    [
        ([0.60, 0.61, 0.62, 0.60, 0.61], "holds"),  # +0.1 on every fold
        ([0.40, 0.41, 0.42, 0.40, 0.41], "reversed"),
        ([0.55, 0.45, 0.52, 0.48, 0.50], "within noise"),  # +/- around the same mean
    ],
)
def test_a_verdict_follows_the_paired_interval(a, word) -> None:
    b = [0.50, 0.51, 0.52, 0.50, 0.51]
    assert render_findings.verdict(_result({"a": a, "b": b}), "a", "b") == word


def test_a_changed_fold_score_changes_the_readme_sentence(monkeypatch) -> None:
    saved = render_findings._results(render_findings.STUDY / "minilm")
    before = render_findings.readme_pooling_findings()
    assert "on all" in before  # mean beats max, min and CLS on every dataset today
    planted = copy.deepcopy(saved)
    name = next(iter(planted))
    for strategy in planted[name]["strategies"]:
        if strategy["name"] == "max":  # max now far above mean on every fold of one dataset
            f = strategy["metrics"][planted[name]["primary_metric"]]
            f["folds"] = [x + 1.0 for x in f["folds"]]
    monkeypatch.setattr(render_findings, "_results", lambda folder: planted)
    after = render_findings.readme_pooling_findings()
    assert after != before
    assert f"reversed on {name}" in after


def test_every_finding_reads_only_committed_study_files() -> None:
    render_findings.LOADED.clear()
    for render in render_findings.FINDINGS.values():
        assert render().strip()
    assert render_findings.LOADED
    for path in render_findings.LOADED:
        assert path.is_relative_to(render_findings.STUDY), path


def test_a_pretraining_record_renders_every_figure_it_holds(tmp_path, monkeypatch) -> None:
    record = {
        "provenance": {"command": "python bench/pretrain_linux.py", "git_commit": "0123abcd" * 5,
                       "cpu": "Test CPU"},
        "objective": "mlm",
        "model": {"description": "RobertaForMaskedLM 'small'", "parameters": 5_315_392},
        "corpus": {"train_documents": 1000, "train_tokens": 2_500_000, "eval_documents": 20,
                   "eval_tokens": 4000,
                   "cut_by_max_length": {"documents": 1020, "longer_than_a_block": 51,
                                         "share": 0.05}},
        "settings": {"max_length": 128, "batch_size": 32, "lr": 1e-3, "max_eval_blocks": None},
        "held_out_before": {"loss": 9.1, "accuracy": 0.0},
        "held_out_after": {"loss": 3.25, "accuracy": 0.4567, "masked_tokens": 600},
        "tokens_seen": 9_420_800, "steps": 2300, "precision": "fp32", "threads": 2,
        "machine": "x86_64, 2 CPUs", "sessions": [{"seconds": 3000.0}, {"seconds": 2400.0}],
    }  # fmt: skip
    (tmp_path / "pretrain-x.json").write_text(__import__("json").dumps(record))
    monkeypatch.setattr(render_findings, "STUDY", tmp_path)
    table = render_findings.pretrain_table("x")
    for figure in ("5.3M", "128", "2.50M", "5.0%", "2,300 steps × 32", "9.42M", "90 min over 2",
                   "9.10 → 3.25", "**45.7%**", "600 tokens, the whole held-out split",
                   "`0123abcd`"):  # fmt: skip
        assert figure in table, (figure, table)


def test_the_decoder_sentence_counts_each_claim_from_its_folds(monkeypatch) -> None:
    base = [0.50, 0.51, 0.52, 0.50, 0.51]
    up, down = [x + 0.1 for x in base], [x - 0.1 for x in base]
    noisy = [0.55, 0.45, 0.52, 0.48, 0.50]
    planted = {  # echo over mean holds on a, reversed on b; mean over last within noise on both
        "a": _result({"echo:mean": up, "mean": base, "last": noisy, "prompteol:last": up}),
        "b": _result({"echo:mean": down, "mean": base, "last": noisy, "prompteol:last": noisy}),
    }
    monkeypatch.setattr(render_findings, "_decoder_results", lambda: planted)
    text = render_findings.readme_decoder_findings()
    assert "`echo:mean` beats `mean` on 1 of 2 (reversed on b)" in text, text
    assert "`mean` beats `last` on 0 of 2 (within noise on a, b)" in text, text
    assert "`prompteol:last` beats `last` on 1 of 2 (within noise on b)" in text, text
    monkeypatch.setattr(render_findings, "_decoder_results", lambda: {})
    assert "not been run yet" in render_findings.readme_decoder_findings()
