"""``hiddenpool compare`` on small local files with a tiny model: every task, every error line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool.cli.main import main
from hiddenpool.compare import default_strategies, post_processed
from hiddenpool.pooling import parse_strategy
from tiny_models import WORDS


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(2, 10))) for _ in range(n)]


def _score(text: str) -> float:  # a label the texts really carry: how positive they sound
    return sum(w in ("good", "great", "fun", "love") for w in text.split()) - text.count("bad")


@pytest.fixture
def regression_csv(tmp_path):
    texts = _texts(80)
    lines = ["text,score,length"] + [f"{t},{_score(t)},{len(t.split())}" for t in texts]
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _compare(tmp_path, tiny_dir, *args: str) -> dict:
    out = tmp_path / "report"
    code = main(
        [
            "compare",
            *args,
            "--model",
            str(tiny_dir("bert")),
            "--folds",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    return json.loads((out / "results.json").read_text())


@pytest.mark.filterwarnings("ignore:.*pooler_output comes from")
def test_regression_on_a_csv_writes_table_report_and_charts(
    regression_csv, tmp_path, tiny_dir, tiny_backbone, capsys
):
    results = _compare(
        tmp_path, tiny_dir, str(regression_csv), "--task", "regression", "--label-column", "score"
    )
    out = capsys.readouterr().out
    assert "spearman" in out and "ensemble (top-k)" in out
    names = [s["name"] for s in results["strategies"]]
    backbone = tiny_backbone("bert")
    defaults = default_strategies(backbone)
    # `all` adds the best strategy under whitening and quantisation, after ranking
    (best,) = {row["base"] for row in results["post_processing"]}
    assert best in defaults
    width = parse_strategy(best).width(backbone.hidden_size, backbone.num_layers)
    assert set(names) == set(defaults) | set(post_processed(best, width))
    assert "## Post-processing" in (tmp_path / "report" / "report.md").read_text()
    for file in ("report.md", "results.json", "ranking.png", "layers.png"):
        assert (tmp_path / "report" / file).stat().st_size > 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Versus the default `mean`" in report


def test_all_is_one_pass_without_templates_and_templates_are_opt_in(
    regression_csv, tmp_path, tiny_dir, tiny_backbone, capsys
):
    """The README's main job pays for one forward pass: templates cost one more each."""
    score = ("--task", "regression", "--label-column", "score")
    results = _compare(tmp_path, tiny_dir, str(regression_csv), *score)
    plain = [s["name"] for s in results["strategies"] if "|" not in s["name"]]
    expected = default_strategies(tiny_backbone("bert"), templates=False)
    assert sorted(plain) == sorted(expected)
    assert all(parse_strategy(name).template is None for name in plain)
    assert "one pass" in capsys.readouterr().err
    results = _compare(tmp_path, tiny_dir, str(regression_csv), *score, "--templates")
    plain = [s["name"] for s in results["strategies"] if "|" not in s["name"]]
    with_templates = default_strategies(tiny_backbone("bert"), templates=True)
    assert sorted(plain) == sorted(with_templates) and len(with_templates) > len(expected)
    assert "passes: the text, and one per prompt template" in capsys.readouterr().err


def test_several_targets_are_scored_by_mcrmse(regression_csv, tmp_path, tiny_dir):
    results = _compare(
        tmp_path,
        tiny_dir,
        str(regression_csv),
        "--task",
        "regression",
        "--label-column",
        "score",
        "--label-column",
        "length",
        "--strategies",
        "mean",
        "cls",
        "mean@1,-1",
    )
    assert results["primary_metric"] == "mcrmse"
    assert {s["name"] for s in results["strategies"]} == {"mean", "cls", "mean@1,-1"}


def test_classification_on_jsonl(tmp_path, tiny_dir):
    texts = _texts(90, 1)
    path = tmp_path / "labels.jsonl"
    path.write_text(
        "".join(
            json.dumps({"text": t, "label": "pos" if _score(t) > 0 else "neg"}) + "\n"
            for t in texts
        )
    )
    results = _compare(
        tmp_path,
        tiny_dir,
        str(path),
        "--task",
        "classification",
        "--label-column",
        "label",
        "--strategies",
        "mean",
        "max",
    )
    assert results["primary_metric"] == "accuracy"


def test_similarity_of_pairs_in_parquet(tmp_path, tiny_dir):
    a, b = _texts(60, 2), _texts(60, 3)
    gold = [float(len(set(x.split()) & set(y.split()))) for x, y in zip(a, b, strict=True)]
    path = tmp_path / "pairs.parquet"
    pq.write_table(pa.table({"a": a, "b": b, "gold": gold}), path)
    results = _compare(
        tmp_path,
        tiny_dir,
        str(path),
        "--task",
        "similarity",
        "--pair-columns",
        "a",
        "b",
        "--label-column",
        "gold",
        "--strategies",
        "mean",
        "cls",
    )
    assert results["primary_metric"] == "spearman"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("text,score\nfine film,1\nbad film,\n", ["--label-column", "score"], r"row 2.*score"),
        ("text,score\nfine film,1\nbad film,lots\n", ["--label-column", "score"], r"'lots'"),
        ("text,score\n", ["--label-column", "score"], r"no data rows|empty"),
        (
            "text,label\na,x\nb,x\nc,x\n",
            ["--label-column", "label", "--task", "classification"],
            r"at least 2 classes in column .label., found only .x.",
        ),
        (
            "text,score\na,1\nb,2\n",
            ["--label-column", "score", "--folds", "3"],
            r"2 rows.*3 folds|fewer rows than folds|3 folds",
        ),
        ("text,score\na,1\n", ["--label-column", "nope"], r"nope.*text, score"),
    ],
)
def test_bad_input_is_one_line(tmp_path, content, args, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    argv = [sys.executable, "-m", "hiddenpool", "compare", str(path), "--out", str(tmp_path / "o")]
    if "--task" not in args:
        argv += ["--task", "regression"]
    result = subprocess.run(argv + args, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hiddenpool compare: error: "), lines
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "o").exists()


def test_unknown_dataset_lists_the_registered_ones(capsys):
    assert main(["compare", "--dataset", "imdb"]) == 2
    assert "unknown dataset 'imdb'; expected one of vader-movies" in capsys.readouterr().err


def test_datasets_lists_the_registry(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("vader-movies", "vader-tweets", "rotten-tomatoes"):
        assert name in out
