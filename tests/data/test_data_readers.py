"""read_labelled: every format, and a one-line message for every user error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool.data import read_labelled


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    return _write(path, "".join(json.dumps(r) + "\n" for r in rows))


def test_csv_regression_one_and_several_targets(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", 'text,a,b\n"hello, world",1.5,2\nbye, -0.25 ,3e-1\n')
    one = read_labelled(path, "text", "a", "regression")
    assert one.texts == ["hello, world", "bye"]
    np.testing.assert_array_equal(one.labels, [1.5, -0.25])
    assert one.label_names == ("a",) and one.name == "d.csv"
    two = read_labelled(path, "text", ["a", "b"], "regression")
    np.testing.assert_array_equal(two.labels, [[1.5, 2.0], [-0.25, 0.3]])


def test_tsv_jsonl_parquet_classification(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    labels = rng.choice(["pos", "neg"], size=6).tolist()
    labels[:2] = ["pos", "neg"]
    texts = [f"text {i}" for i in range(6)]
    tsv = _write(
        tmp_path / "d.tsv",
        "t\ty\n" + "".join(f"{t}\t{y}\n" for t, y in zip(texts, labels, strict=True)),
    )
    jsonl = _jsonl(
        tmp_path / "d.jsonl", [{"t": t, "y": y} for t, y in zip(texts, labels, strict=True)]
    )
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"t": texts, "y": labels, "other": list(range(6))}), parquet)
    for path in (tsv, jsonl, parquet):
        data = read_labelled(path, "t", "y", "classification")
        assert data.texts == texts
        assert data.labels.tolist() == labels
        assert data.classes == ("neg", "pos")


def test_integer_classes_stay_integers(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"t": "a", "y": 0}, {"t": "b", "y": 2}])
    data = read_labelled(path, "t", "y", "classification")
    assert data.labels.dtype == np.int64 and data.labels.tolist() == [0, 2]


def test_similarity_pairs(tmp_path: Path) -> None:
    path = _write(tmp_path / "sts.csv", "s1,s2,score\na cat,a dog,3.5\nrain,sun,0.5\n")
    data = read_labelled(path, None, "score", "similarity", pair_columns=("s1", "s2"))
    assert data.pairs == [("a cat", "a dog"), ("rain", "sun")]
    assert data.texts == ["a cat", "rain", "a dog", "sun"]
    np.testing.assert_array_equal(data.labels, [3.5, 0.5])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^labelled data file not found: .*nope\.csv$"):
        read_labelled(tmp_path / "nope.csv", "t", "y", "regression")


def test_unknown_extension(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.xlsx", "x")
    with pytest.raises(
        ValueError,
        match=r"^unsupported file extension '\.xlsx' for .*; "
        r"expected one of \.csv, \.tsv, \.jsonl, \.parquet$",
    ):
        read_labelled(path, "t", "y", "regression")


@pytest.mark.parametrize("content", ["", "text,label\n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = _write(tmp_path / "d.csv", content)
    with pytest.raises(ValueError, match=r"d\.csv is empty: it has no data rows$"):
        read_labelled(path, "text", "label", "regression")


def test_missing_column_lists_available(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "sentence,score\nhi,1\n")
    with pytest.raises(
        ValueError,
        match=r"d\.csv: column 'text' not found \(columns: sentence, score\); "
        r"choose one with `text_column`$",
    ):
        read_labelled(path, "text", "score", "regression")
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"sentence": ["hi"], "score": [1.0]}), parquet)
    with pytest.raises(
        ValueError,
        match=r"column 'label' not found \(columns: sentence, score\); .*`label_columns`$",
    ):
        read_labelled(parquet, "sentence", "label", "regression")
    with pytest.raises(
        ValueError, match=r"column 'b' not found .*; choose one with `pair_columns`$"
    ):
        read_labelled(path, None, "score", "similarity", pair_columns=("sentence", "b"))


def test_missing_label_names_the_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "text,score\na,1\nb,2\nc,\n")
    with pytest.raises(ValueError, match=r"d\.csv: row 3, label column 'score' is empty$"):
        read_labelled(path, "text", "score", "regression")
    jsonl = _jsonl(tmp_path / "d.jsonl", [{"t": "a", "y": 1.0}, {"t": "b", "y": None}])
    with pytest.raises(ValueError, match=r"row 2, label column 'y' is empty$"):
        read_labelled(jsonl, "t", "y", "regression")
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"t": ["a", "b"], "y": [float("nan"), 1.0]}), parquet)
    with pytest.raises(ValueError, match=r"row 1, label column 'y' is empty$"):
        read_labelled(parquet, "t", "y", "regression")


def test_non_numeric_regression_label(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "text,score\na,1\nb,high\n")
    with pytest.raises(
        ValueError,
        match=r"d\.csv: row 2, column 'score': expected a number for regression, got 'high'$",
    ):
        read_labelled(path, "text", "score", "regression")


def test_single_class(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "text,label\na,pos\nb,pos\n")
    with pytest.raises(
        ValueError,
        match=r"classification needs at least 2 classes in column 'label', found only 'pos'$",
    ):
        read_labelled(path, "text", "label", "classification")


def test_a_text_must_be_a_string_and_an_empty_one_is_a_text(tmp_path: Path) -> None:
    # The rule of every reader (hiddenpool.io): null or not a string is an error, "" is a text.
    jsonl = _jsonl(tmp_path / "d.jsonl", [{"t": "fine", "y": 1}, {"t": 42, "y": 2}])
    with pytest.raises(
        ValueError,
        match=r"d\.jsonl: row 2 \(line 2\), column 't': expected a string, got int \(42\)$",
    ):
        read_labelled(jsonl, "t", "y", "regression")
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"t": ["a", None], "y": [1.0, 2.0]}), parquet)
    with pytest.raises(
        ValueError, match=r"p\.parquet: row 2, column 't': expected a string, got null$"
    ):
        read_labelled(parquet, "t", "y", "regression")
    csv_path = _write(tmp_path / "e.csv", "t,y\nfine,1\n   ,2\n,3\n")
    assert read_labelled(csv_path, "t", "y", "regression").texts == ["fine", "   ", ""]


def test_a_cell_longer_than_the_csv_default_limit(tmp_path: Path) -> None:
    book = "word " * 30_000  # 150,000 characters: over csv's default 131,072
    path = _write(tmp_path / "long.csv", f"text,score\n{book},1\nshort,2\n")
    data = read_labelled(path, "text", "score", "regression")
    assert data.texts == [book, "short"]


def test_bad_task_and_arguments(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.csv", "t,y\na,1\n")
    with pytest.raises(ValueError, match=r"^unknown task 'ranking'; expected one of regression"):
        read_labelled(path, "t", "y", "ranking")
    with pytest.raises(ValueError, match=r"needs pair_columns=\(first, second\)"):
        read_labelled(path, "t", "y", "similarity")
    with pytest.raises(ValueError, match=r"classification takes one label column, got 2: y, t"):
        read_labelled(path, "t", ["y", "t"], "classification")


def test_invalid_json_and_encoding(tmp_path: Path) -> None:
    bad_json = _write(tmp_path / "d.jsonl", '{"t": "a", "y": 1}\n{"t": \n')
    with pytest.raises(ValueError, match=r"d\.jsonl: row 2 \(line 2\): not valid JSON"):
        read_labelled(bad_json, "t", "y", "regression")
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"t,y\ncaf\xe9,1\n")
    with pytest.raises(
        ValueError, match=r"l\.csv: line 2: not valid UTF-8 at byte offset 7 .*convert the file"
    ):
        read_labelled(latin, "t", "y", "regression")
