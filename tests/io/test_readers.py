"""One reader for every input format: the same texts from each, in chunks, with errors that
name the file and the line, byte offset, row or column."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool.io import open_texts

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
        ("bad.txt", b"fine\ncaf\xe9 au lait\n", r"line 2 \(byte offset 8\) is not valid UTF-8"),
        ("bad.csv", b"text\nok\n\xff\n", r"line 3 \(byte offset 8\) is not valid UTF-8"),
        (
            "bad.jsonl",
            b'{"text": "a"}\n{"text": 5}\n',
            r"line 2, column 'text': expected a "
            r"string, got int \(5\)",
        ),
        ("null.jsonl", b'{"text": null}\n', "line 1, column 'text': expected a string, got null"),
        ("list.jsonl", b'["text"]\n', "line 1: expected a JSON object, got list"),
        ("broken.jsonl", b'{"text": "a"\n', "line 1: not valid JSON"),
        ("key.jsonl", b'{"body": "a"}\n', "line 1: no 'text' key \\(keys: 'body'\\)"),
        ("fields.csv", b"text,id\na,1\nb\n", "row 2 \\(line 3\\) has 1 fields, the header has 2"),
    ],
)
def test_bad_content_is_named_by_line_offset_and_column(name, content, message, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        _read_all(open_texts(path), 10)
    assert str(error.value).startswith(str(path))


def test_parquet_cells_that_are_not_strings_are_named(tmp_path):
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"text": ["a", "b", None], "n": [1, 2, 3]}), path)
    with pytest.raises(ValueError, match="row 3, column 'text': expected a string, got null"):
        _read_all(open_texts(path), 2)
    with pytest.raises(ValueError, match="column 'n' holds int64, expected strings"):
        open_texts(path, text_column="n")
    floats = tmp_path / "floats.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "id": [1.5, 2.5]}), floats)
    with pytest.raises(ValueError, match="row 1, column 'id': expected a string or an integer"):
        _read_all(open_texts(floats, id_column="id"), 2)


def test_missing_columns_files_and_formats_are_refused_up_front(tmp_path):
    csv_path = _write(tmp_path, ".csv")
    with pytest.raises(
        ValueError,
        match="no column 'text' \\(columns: 'id', 'body'\\); choose one with --text-column",
    ):
        open_texts(csv_path)
    with pytest.raises(ValueError, match=r"no column 'key'.*--id-column"):
        open_texts(csv_path, text_column="body", id_column="key")
    with pytest.raises(ValueError, match="no column 'x'"):
        open_texts(_write(tmp_path, ".parquet"), text_column="x")
    with pytest.raises(FileNotFoundError, match=r"missing\.txt: no such file"):
        open_texts(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match=r"unknown input format '\.docx'"):
        open_texts(tmp_path / "a.docx")
    with pytest.raises(ValueError, match="plain text has no columns"):
        open_texts(_write(tmp_path, ".txt"), text_column="body")
    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_text("hello")
    with pytest.raises(ValueError, match="not a readable parquet file"):
        open_texts(not_parquet)


def test_a_csv_cell_may_hold_a_whole_book(tmp_path):
    book = "word " * 100_000  # 500,000 characters, over csv's default field limit
    path = tmp_path / "books.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text"], [book], ["short"]])
    texts, _, _ = _read_all(open_texts(path), 10)
    assert texts == [book, "short"]
