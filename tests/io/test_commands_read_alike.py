"""Every command reads files through hiddenpool.io: the same file is read (or refused, in the same
words) by ``embed``, ``compare``, ``train`` and ``predict``.

The bug this guards: a CSV cell over csv's default 131,072-character limit was read by ``embed``
but made ``compare``, ``train`` and ``predict`` die with a ``_csv.Error`` traceback.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from hiddenpool.cli.main import main
from tiny_models import WORDS

BOOK = " ".join(WORDS) * 1_000  # about 200,000 characters in one cell


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def long_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = [{"text": BOOK, "score": 1.0}]
    for i in range(23):
        words = rng.choice(WORDS, size=rng.integers(2, 9))
        rows.append({"text": " ".join(words), "score": float(i % 5)})
    path = tmp_path_factory.mktemp("long") / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "score"])
        writer.writeheader()
        writer.writerows(rows)
    assert len(BOOK) > 131_072
    return path


def _commands(data, tiny, out, model_dir):
    return {
        "embed": ["embed", str(data), "-o", str(out / "vectors.npy"), "--model", tiny, "--quiet"],
        "compare": [
            "compare",
            str(data),
            "--task",
            "regression",
            "--label-column",
            "score",
            "--model",
            tiny,
            "--strategies",
            "mean",
            "--folds",
            "2",
            "--out",
            str(out / "report"),
            "--quiet",
        ],
        "train": [
            "train",
            str(data),
            "--task",
            "regression",
            "--label-column",
            "score",
            "--model",
            tiny,
            "--out",
            str(out / "run"),
            "--max-steps",
            "1",
            "--batch-size",
            "8",
            "--logging-steps",
            "100",
            "--quiet",
        ],
        "predict": ["predict", str(model_dir), str(data), "-o", str(out / "predictions.csv")],
    }


def test_every_command_reads_a_cell_over_the_csv_default_limit(long_csv, tiny_dir, tmp_path):
    tiny = str(tiny_dir("bert"))
    commands = _commands(long_csv, tiny, tmp_path, tmp_path / "run")
    for name in ("compare", "train", "predict", "embed"):  # predict uses what train wrote
        csv.field_size_limit(131_072)  # each command as in a fresh process: csv's default
        assert main(commands[name]) == 0, name
    assert np.load(tmp_path / "vectors.npy").shape[0] == 24
    assert json.loads((tmp_path / "report" / "results.json").read_text())["strategies"]
    assert len(list(csv.DictReader((tmp_path / "predictions.csv").open()))) == 24


def test_every_command_refuses_a_null_text_in_the_same_words(long_csv, tiny_dir, tmp_path, capsys):
    tiny = str(tiny_dir("bert"))
    assert main(_commands(long_csv, tiny, tmp_path, tmp_path / "run")["train"]) == 0
    data = tmp_path / "nulls.jsonl"
    rows = [{"text": "fine", "score": 1}, {"text": "good", "score": 2}, {"text": None, "score": 3}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    expected = f"{data}: row 3 (line 3), column 'text': expected a string, got null"
    for name, argv in _commands(data, tiny, tmp_path / "o", tmp_path / "run").items():
        (tmp_path / "o").mkdir(exist_ok=True)
        assert main(argv) == 2, name
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1] == f"hiddenpool {name}: error: {expected}", name
