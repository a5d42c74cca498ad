"""One reader for every input format: the same texts from each, in chunks, columns by name, one
rule for empty and missing texts, and errors that name the file, row, line and column."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool.io import Column, InputError, open_table, open_texts

TEXTS = [
    "A gripping, beautifully shot film.",
    "",
    'quotes " and, commas',
    "tab\there",
    "Größe 🎬",
    "multi\nline",
]
IDS = ["r1", "r2", "r3", "r4", "r5", "r6"]


def _write(folder: Path, fmt: str, texts=TEXTS, ids=IDS) -> Path:
    path = folder / f"input{fmt}"
    if fmt == ".txt":
        path.write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
    elif fmt in (".csv", ".tsv"):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t" if fmt == ".tsv" else ",")
            writer.writerow(["id", "body"])
            writer.writerows(zip(ids, texts, strict=True))
    elif fmt == ".jsonl":
        rows = zip(ids, texts, strict=True)
        lines = [json.dumps({"id": i, "body": t, "other": 1}) for i, t in rows]
        path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # a trailing blank line
    else:
        pq.write_table(pa.table({"id": ids, "body": texts}), path, row_group_size=2)
    return path


def _read_all(reader, size: int):
    texts, ids, starts = [], [], []
    for chunk in reader.chunks(size):
        starts.append(chunk.start)
        texts += chunk.texts
        ids += chunk.ids or []
        assert chunk.progress is None or 0 < chunk.progress <= 1
    return texts, ids, starts


@pytest.mark.parametrize("fmt", [".csv", ".tsv", ".jsonl", ".parquet"])
@pytest.mark.parametrize("size", [1, 4, 100])
def test_every_table_format_gives_the_same_texts_and_ids(fmt, size, tmp_path):
    reader = open_texts(_write(tmp_path, fmt), text_column="body", id_column="id")
    texts, ids, starts = _read_all(reader, size)
    assert texts == TEXTS and ids == IDS
    assert starts == list(range(0, len(TEXTS), size))


def test_plain_text_is_one_text_per_line_and_empty_lines_count(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"\xef\xbb\xbffirst\r\n\nthird  \nlast without newline")
    texts, ids, _ = _read_all(open_texts(path), 2)
    assert texts == ["first", "", "third  ", "last without newline"]
    assert ids == []


def test_fingerprint_changes_with_the_content(tmp_path):
    path = _write(tmp_path, ".txt")
    before = open_texts(path).fingerprint()
    assert before == open_texts(path).fingerprint()
    path.write_text(path.read_text().replace("film", "fiLm"), encoding="utf-8")
    assert open_texts(path).fingerprint() != before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bad.txt",
            b"fine\ncaf\xe9 au lait\n",
            r"bad\.txt: line 2: not valid UTF-8 at byte offset 8 \(invalid continuation byte\)",
        ),
        ("bad.csv", b"text\nok\n\xff\n", r"line 3: not valid UTF-8 at byte offset 8"),
        (
            "bad.jsonl",
            b'{"text": "a"}\n{"text": 5}\n',
            r"row 2 \(line 2\), column 'text': expected a string, got int \(5\)",
        ),
        (
            "null.jsonl",
            b'{"text": "a"}\n\n{"text": null}\n',
            r"row 2 \(line 3\), column 'text': expected a string, got null",
        ),
        (
            "gap.jsonl",
            b'{"text": "a"}\n{"body": "b"}\n',
            r"row 2 \(line 2\), column 'text': expected a string, got nothing \(no such key\)",
        ),
        ("list.jsonl", b'["text"]\n', r"row 1 \(line 1\): expected a JSON object, got list"),
        ("broken.jsonl", b'{"text": "a"\n', r"row 1 \(line 1\): not valid JSON"),
        (
            "key.jsonl",
            b'{"body": "a"}\n',
            r"key\.jsonl: column 'text' not found \(columns: body\); choose one with `text_column`",
        ),
        (
            "fields.csv",
            b"text,id\na,1\n\nb\n",
            r"row 2 \(line 4\): expected 2 fields as in the header, got 1",
        ),
        (  # lenient csv would read rows 2-4 as one text running to the end of the file
            "unclosed.csv",
            b'id,text\n1,hello\n2,"unclosed\n3,world\n4,again\n',
            r"row 2 \(line 3\): not valid CSV: a quoted field in this record is never closed",
        ),
        (
            "after.csv",
            b'id,text\n1,"quoted"then more\n',
            r"row 1 \(line 2\): not valid CSV: ',' expected after '\"'",
        ),
        ("header.csv", b'"text\na\n', r"header\.csv: line 1: not valid CSV: a quoted field"),
    ],
)
def test_bad_content_is_named_by_row_line_and_column(name, content, message, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        _read_all(open_texts(path), 10)
    assert str(error.value).startswith(f"{path}: ")
    assert error.value.file == str(path)


def test_parquet_cells_that_are_not_strings_are_named(tmp_path):
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"text": ["a", "b", None], "n": [1, 2, 3]}), path)
    with pytest.raises(InputError, match="row 3, column 'text': expected a string, got null"):
        _read_all(open_texts(path), 2)
    with pytest.raises(InputError, match="column 'n': expected strings, got int64"):
        open_texts(path, text_column="n")
    floats = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "id": [1.5, 2.5]}), floats)
    with pytest.raises(ValueError, match="row 1, column 'id': expected a string or an integer"):
        _read_all(open_texts(floats, id_column="id"), 2)


def test_missing_columns_files_and_formats_are_refused_up_front(tmp_path):
    csv_path = _write(tmp_path, ".csv")
    with pytest.raises(
        InputError,
        match=r"column 'text' not found \(columns: id, body\); choose one with `text_column`",
    ):
        open_texts(csv_path)
    with pytest.raises(InputError, match=r"column 'key' not found.*`id_column`"):
        open_texts(csv_path, text_column="body", id_column="key")
    with pytest.raises(InputError, match="column 'x' not found"):
        open_texts(_write(tmp_path, ".parquet"), text_column="x")
    with pytest.raises(FileNotFoundError, match=r"missing\.txt: no such file"):
        open_texts(tmp_path / "missing.txt")
    with pytest.raises(InputError, match=r"unknown input format '\.docx'"):
        open_texts(tmp_path / "a.docx")
    with pytest.raises(InputError, match="plain text has no columns"):
        open_texts(_write(tmp_path, ".txt"), text_column="body")
    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_text("hello")
    with pytest.raises(InputError, match="not a readable parquet file"):
        open_texts(not_parquet)


def test_a_csv_cell_may_hold_a_whole_book(tmp_path):
    book = "word " * 100_000  # 500,000 characters, over csv's default field limit
    path = tmp_path / "books.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text"], [book], ["short"]])
    texts, _, _ = _read_all(open_texts(path), 10)
    assert texts == [book, "short"]
    assert csv.field_size_limit() >= 2**31 - 1  # as large as the platform allows


@pytest.mark.parametrize("fmt", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_columns_are_chosen_by_name_with_values_as_read(fmt, tmp_path):
    path = tmp_path / f"pairs{fmt}"
    rows = [("a cat", "a dog", 3.5), ("", "sun", 0.5), ("rain", "snow", 1.0)]
    if fmt == ".jsonl":
        path.write_text("".join(json.dumps({"s1": a, "s2": b, "y": y}) + "\n" for a, b, y in rows))
    elif fmt == ".parquet":
        a, b, y = zip(*rows, strict=True)
        pq.write_table(pa.table({"s1": a, "s2": b, "y": y}), path)
    else:
        sep = "\t" if fmt == ".tsv" else ","
        lines = [f"{y}{sep}{b}{sep}{a}\n" for a, b, y in rows]
        path.write_text(f"y{sep}s2{sep}s1\n" + "".join(lines))
    reader = open_table(
        path,
        [Column("s1"), Column("s2"), Column("y", "value"), Column("gold", "value", required=False)],
    )
    assert [c.name for c in reader.selected] == ["s1", "s2", "y"]
    assert reader.has("y") and not reader.has("gold")
    chunks = list(reader.chunks(2))
    assert [len(c) for c in chunks] == [2, 1] and [c.start for c in chunks] == [0, 2]
    assert [t for c in chunks for t in c["s1"]] == ["a cat", "", "rain"]  # "" is a text
    assert chunks[0].texts == ["a cat", ""] and chunks[0].ids is None
    labels = [y for c in chunks for y in c["y"]]
    assert labels == (["3.5", "0.5", "1.0"] if fmt in (".csv", ".tsv") else [3.5, 0.5, 1.0])


@pytest.mark.parametrize("fmt", [".jsonl", ".parquet"])
def test_a_missing_text_is_an_error_in_every_column_and_format(fmt, tmp_path):
    path = tmp_path / f"pairs{fmt}"
    rows = [{"s1": "a", "s2": "b", "y": None}, {"s1": "c", "s2": None, "y": 1}]
    if fmt == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        where = r"row 2 \(line 2\)"
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
        where = "row 2"
    reader = open_table(path, [Column("s1"), Column("s2"), Column("y", "value")])
    with pytest.raises(InputError, match=where + ", column 's2': expected a string, got null"):
        list(reader.chunks(10))
    values = open_table(path, [Column("s1"), Column("y", "value")])
    assert next(values.chunks(10))["y"] == [None, 1]  # values are the caller's to judge


def test_empty_files_have_no_rows_and_stdin_is_lines(tmp_path, monkeypatch):
    for name in ("empty.csv", "empty.jsonl", "empty.txt"):
        (tmp_path / name).write_bytes(b"")
        assert list(open_texts(tmp_path / name).chunks(5)) == []
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"one\r\n\nthree\n")))
    reader = open_texts("-")
    assert reader.name == "<stdin>" and reader.fingerprint() is None
    assert _read_all(reader, 2)[0] == ["one", "", "three"]


def test_input_error_names_its_parts():
    error = InputError("d.csv", "expected a string, got null", row=3, line=4, column="text")
    assert str(error) == "d.csv: row 3 (line 4), column 'text': expected a string, got null"
    assert isinstance(error, ValueError) and (error.row, error.line) == (3, 4)
    assert str(InputError("d.txt", "bad", line=2)) == "d.txt: line 2: bad"
    assert str(InputError("d.parquet", "bad", column="x")) == "d.parquet: column 'x': bad"


def test_quotes_inside_a_cell_and_quoted_line_breaks_still_read(tmp_path):
    path = tmp_path / "quotes.csv"
    rows = [["5'10\" tall, they said"], ['he said "hi" twice'], ["two\nlines"]]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text"], *rows])
    path.write_text(path.read_text() + "a 5'10\" man\n")  # a bare quote inside an unquoted cell
    texts = [text for chunk in open_texts(path).chunks(10) for text in chunk.texts]
    assert texts == [row[0] for row in rows] + ["a 5'10\" man"]
