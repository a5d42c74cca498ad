"""``hiddenpool train`` and ``hiddenpool predict`` end to end on tiny models, and their errors."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hiddenpool.cli.main import main
from hiddenpool.train import Predictor

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from train_helpers import synthetic

FAST = ["--max-steps", "2", "--batch-size", "8", "--quiet", "--logging-steps", "100"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _regression_rows(n: int = 24) -> list[dict]:
    data = synthetic(n, task="multi")
    return [
        {"id": f"t{i}", "text": t, "score": float(y[0]), "positives": float(y[1])}
        for i, (t, y) in enumerate(zip(data.texts, data.labels, strict=True))
    ]


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line_error(code: int, err: str, command: str, fragment: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith(f"hiddenpool {command}: error:") and fragment in lines[-1], err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def trained(tiny_dir, tmp_path_factory):
    """A two-target regression model trained with 2 folds from a CSV, and its data file."""
    folder = tmp_path_factory.mktemp("cli")
    data = _write_csv(folder / "train.csv", _regression_rows())
    code = main(
        [
            "train",
            str(data),
            "--model",
            str(tiny_dir("bert")),
            "--task",
            "regression",
            "--label-column",
            "score,positives",
            "--pooling",
            "cls@weighted(1:)",
            "--folds",
            "2",
            "--llrd",
            "0.9",
            "--msd",
            "2",
            "--out",
            str(folder / "run"),
            *FAST,
        ]
    )
    assert code == 0
    return folder, data


def test_train_writes_fold_models_and_oof(trained):
    folder, _ = trained
    run = folder / "run"
    assert (run / "fold0" / "hiddenpool_model.json").is_file()
    assert (run / "fold1" / "hiddenpool_model.json").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["metric"] == "mcrmse" and "mcrmse" in metrics["overall"]
    assert len((run / "oof.csv").read_text().splitlines()) == 25


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".npy"])
def test_predict_writes_every_format_and_matches_the_python_api(trained, capsys, suffix):
    folder, data = trained
    out = folder / f"pred{suffix}"
    code, stdout, _ = _run(
        [
            "predict",
            str(folder / "run"),
            str(data),
            "-o",
            str(out),
            "--id-column",
            "id",
            "--chunk-size",
            "5",
        ],
        capsys,
    )
    assert code == 0 and "mcrmse" in stdout  # the input has the label columns: scored
    texts = [row["text"] for row in csv.DictReader(data.open())]
    expected = Predictor(folder / "run").predict(texts)
    if suffix == ".npy":
        got = np.load(out)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(out).to_pydict()
        assert table["id"][:2] == ["t0", "t1"]
        got = np.column_stack([table["score"], table["positives"]])
    elif suffix == ".jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        got = np.array([[r["score"], r["positives"]] for r in rows])
    else:
        rows = list(csv.DictReader(out.open()))
        assert list(rows[0]) == ["id", "score", "positives"]
        got = np.array([[float(r["score"]), float(r["positives"])] for r in rows])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_predict_reads_txt_and_jsonl(trained, capsys, tmp_path):
    folder, _ = trained
    texts = synthetic(7).texts
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    outputs = []
    for name in ("in.txt", "in.jsonl"):
        code, stdout, _ = _run(
            [
                "predict",
                str(folder / "run" / "fold0"),
                str(tmp_path / name),
                "-o",
                str(tmp_path / f"{name}.npy"),
                "--chunk-size",
                "3",
            ],
            capsys,
        )
        assert code == 0 and stdout == ""  # no labels in the input: nothing to score
        outputs.append(np.load(tmp_path / f"{name}.npy"))
    assert outputs[0].shape == (7, 2)
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_classification_with_an_unseen_label_at_predict_time(tiny_dir, tmp_path, capsys):
    data = synthetic(24, task="classification")
    rows = [{"text": t, "label": str(y)} for t, y in zip(data.texts, data.labels, strict=True)]
    train_file = tmp_path / "train.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, stdout, _ = _run(
        [
            "train",
            str(train_file),
            "--model",
            str(tiny_dir("roberta")),
            "--task",
            "classification",
            "--label-column",
            "label",
            "--pooling",
            "attention",
            "--out",
            str(tmp_path / "clf"),
            *FAST,
        ],
        capsys,
    )
    assert code == 0 and "accuracy" in stdout
    good = _write_csv(tmp_path / "good.csv", rows[:6])
    code, stdout, _ = _run(
        ["predict", str(tmp_path / "clf"), str(good), "-o", str(tmp_path / "p.csv")], capsys
    )
    assert code == 0 and "accuracy" in stdout
    header = (tmp_path / "p.csv").read_text().splitlines()[0].split(",")
    assert header == ["label", "prob_mixed", "prob_neg", "prob_pos"]
    bad = _write_csv(tmp_path / "bad.csv", [*rows[:3], {"text": "good movie", "label": "meh"}])
    code, _, err = _run(
        ["predict", str(tmp_path / "clf"), str(bad), "-o", str(tmp_path / "q.csv")], capsys
    )
    _one_line_error(
        code, err, "predict", "row 4, column 'label': label 'meh' was not seen in training"
    )
    assert not (tmp_path / "q.csv").exists()  # nothing half-written under the final name


@pytest.mark.parametrize(
    "edit,fragment",
    [
        (
            lambda rows: [{k: v for k, v in r.items() if k != "score"} for r in rows],
            "column 'score' not found",
        ),
        (
            lambda rows: [*rows[:2], {**rows[2], "score": "high"}, *rows[3:]],
            "row 3, column 'score': expected a number",
        ),
        (
            lambda rows: [*rows[:2], {**rows[2], "score": ""}, *rows[3:]],
            "row 3, label column 'score' is empty",
        ),
        (
            lambda rows: [*rows[:2], {**rows[2], "score": "nan"}, *rows[3:]],
            "row 3, column 'score': expected a number",
        ),
    ],
)
def test_bad_training_files_fail_in_one_line(tiny_dir, tmp_path, capsys, edit, fragment):
    data = _write_csv(tmp_path / "bad.csv", edit(_regression_rows(8)))
    code, _, err = _run(
        [
            "train",
            str(data),
            "--model",
            str(tiny_dir("bert")),
            "--task",
            "regression",
            "--label-column",
            "score",
            "--out",
            str(tmp_path / "o"),
            *FAST,
        ],
        capsys,
    )
    _one_line_error(code, err, "train", fragment)


def test_other_bad_inputs_fail_in_one_line(tiny_dir, tmp_path, capsys):
    data = _write_csv(tmp_path / "d.csv", _regression_rows(8))
    cases = [
        (
            ["predict", str(tiny_dir("bert")), str(data), "-o", str(tmp_path / "x.csv")],
            "predict",
            "is not a hiddenpool model",
        ),
        (
            ["predict", str(tmp_path), str(data), "-o", str(tmp_path / "x.csv")],
            "predict",
            "is not a hiddenpool model",
        ),
        (
            ["train", str(data), "--label-column", "score", "--out", str(tmp_path / "o")],
            "train",
            "needs --task",
        ),
        (
            ["train", "no-such-dataset", "--out", str(tmp_path / "o")],
            "train",
            "registered: vader-movies",
        ),
        (
            [
                "train",
                str(data),
                "--task",
                "regression",
                "--label-column",
                "score",
                "--pooling",
                "mean@",
                "--model",
                str(tiny_dir("bert")),
                "--out",
                str(tmp_path / "o"),
            ],
            "train",
            "invalid pooling spec",
        ),
    ]
    for argv, command, fragment in cases:
        code, _, err = _run(argv, capsys)
        _one_line_error(code, err, command, fragment)
