"""The table readers on random files: every input reads, or is refused with our one-line error.

Files are random bytes, random text, and near-valid csv/tsv/jsonl/parquet (quotes, line breaks,
NULs, byte-order marks, nested and escaped JSON, corrupted parquet pages), read through the public
reader with the columns a user may ask for. A file either reads completely (texts are strings
UTF-8 can hold, ids strings or integers) or raises :class:`InputError` (a ValueError naming the
file, row, line and column) or FileNotFoundError, on one line; never another exception. And
``hiddenpool embed`` on such a file leaves a complete output under its name, or nothing there.

Bugs this found, fixed in io/readers.py (each kept below as an explicit example): a JSON line
nested too deeply (RecursionError), a JSON escape giving a lone surrogate that no tokenizer or
output file can take (a TypeError in the tokenizer), an id over 64 bits (OverflowError writing
parquet), blank lines before a csv header (ValueError from list.index), a parquet file corrupt
after its footer (OSError / UnicodeDecodeError from Arrow while reading), and column names or
Arrow messages with line breaks in the one-line error.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hiddenpool.cli.main import main
from hiddenpool.io import InputError, open_texts

COUNTS: Counter[str] = Counter()
_DIR = Path(tempfile.mkdtemp(prefix="fuzz-tables-"))
_CHOICES = [(None, None), ("t", "id"), (None, "id")]  # text_column, id_column

_cell = st.one_of(
    st.text(max_size=6),
    st.sampled_from(['"', '""', "\n", "\r\n", ",", "\t", "\x00", "\ufeff", "text", "id", "t"]),
)
_csv = st.lists(
    st.tuples(st.lists(_cell, max_size=4), st.sampled_from([",", "\t"])).map(
        lambda row: row[1].join(row[0])
    ),
    max_size=6,
).map("\n".join)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
_jsonl_line = st.one_of(
    st.dictionaries(st.sampled_from(["text", "id", "t", ""]), _json, max_size=3).map(json.dumps),
    _json.map(json.dumps),
    st.text(max_size=10),
    st.sampled_from(['{"text": "a\\ud800b"}', '{"id": "\\udc80", "text": "x"}', "[" * 3000]),
)
_jsonl = st.lists(_jsonl_line, max_size=5).map("\n".join)
_bytes = st.one_of(
    _csv.map(lambda s: s.encode("utf-8")),
    _jsonl.map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=60),
    st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


def read_or_refuse(path: Path) -> None:
    """The property: every column choice reads completely or raises our one-line error."""
    choices = [(None, None)] if path.suffix == ".txt" else _CHOICES
    for text_column, id_column in choices:
        try:
            reader = open_texts(path, text_column, id_column)
            for chunk in reader.chunks(3):
                for text in chunk.texts:
                    assert isinstance(text, str)
                    text.encode("utf-8")  # a tokenizer and every output format can take it
                for i in chunk.ids or []:
                    assert isinstance(i, str | int) and not isinstance(i, bool)
                    assert isinstance(i, str) or -(2**63) <= i < 2**63  # parquet's int64
            COUNTS["read"] += 1
        except (InputError, FileNotFoundError) as error:
            message = str(error)
            assert "\n" not in message and "\r" not in message, message
            assert message.startswith(str(path)), message
            COUNTS["refused"] += 1


@settings(settings.get_profile("fuzz"), max_examples=300)
@given(st.sampled_from([".csv", ".tsv", ".jsonl", ".txt"]), _bytes)
@example(".jsonl", b"[" * 5000)  # RecursionError
@example(".jsonl", b'{"text": "a\\ud800b"}\n')  # a lone surrogate
@example(".csv", b"\n\n\ntext,id\na,1\n")  # blank lines before the header
@example(".csv", b'"a\nb",c\nx,y\n')  # a column name with a line break
@example(".jsonl", b'{"text": "a", "id": 1000000000000000000000000}')  # over int64
def check_text_formats(ext: str, data: bytes) -> None:
    COUNTS["text formats"] += 1
    path = _DIR / f"input{ext}"
    path.write_bytes(data)
    read_or_refuse(path)


def test_text_formats_read_or_refuse():
    check_text_formats()
    # 300 drawn + 5 explicit inputs, each read with up to three column choices
    assert COUNTS["text formats"] >= 300
    assert COUNTS["read"] > 50 and COUNTS["refused"] > 50  # both paths are exercised


def _parquet(rows: int) -> bytes:
    table = pa.table({"text": ["a", "bb", None][:rows], "id": [1, 2, 3][:rows]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@settings(settings.get_profile("fuzz"), max_examples=150)
@given(st.binary(max_size=200), st.integers(0, 3))
@example(b"", 0)
def check_parquet(noise: bytes, rows: int) -> None:
    """Random bytes (rows == 0), or a real file of ``rows`` rows with bytes overwritten."""
    COUNTS["parquet"] += 1
    data = bytearray(noise if rows == 0 else _parquet(rows))
    if rows:
        for i, byte in enumerate(noise[:20]):
            data[(byte * 7 + i * 13) % len(data)] = noise[-1 - i]
    path = _DIR / "input.parquet"
    path.write_bytes(bytes(data))
    read_or_refuse(path)


def test_parquet_reads_or_refuses():
    check_parquet()
    assert COUNTS["parquet"] >= 150  # 150 drawn + 1 explicit


@pytest.mark.parametrize(
    "column",
    [
        pa.array(["a", "b"]).dictionary_encode(),
        pa.array(["a", "b"], pa.large_string()),
        pa.array([b"a", b"b"]),
        pa.array([["a"], ["b"]]),
        pa.array([None, None]),
    ],
    ids=["dictionary", "large_string", "binary", "list", "null"],
)
def test_parquet_column_types(column, tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": column, "id": pa.array([1.5, 2.0])}), path)
    read_or_refuse(path)


@pytest.fixture(scope="module")
def model(tiny_dir):
    return str(tiny_dir("bert"))


@pytest.mark.usefixtures("one_thread")
def test_embed_writes_all_or_nothing(model, capsys):
    """``hiddenpool embed`` on a random input: a complete output under its name, one row per
    input row, or exit 2 with one line and nothing under the output's name."""

    @settings(settings.get_profile("fuzz"), max_examples=40)
    @given(
        st.sampled_from([".csv", ".jsonl", ".txt"]), _bytes, st.sampled_from([".npy", ".parquet"])
    )
    @example(".jsonl", b'{"text": "fine"}\n{"text": "a\\ud800b"}\n', ".npy")  # refused at row 2
    @example(".jsonl", b'{"text": "a", "id": 1}\n{"text": "b", "id": 1e400}\n', ".parquet")
    @example(".jsonl", b'{"text": "a", "id": 100000000000000000000000}\n', ".parquet")
    def check(ext: str, data: bytes, out_ext: str) -> None:
        COUNTS["embed"] += 1
        folder = Path(tempfile.mkdtemp(dir=_DIR))
        source, out = folder / f"in{ext}", folder / f"out{out_ext}"
        source.write_bytes(data)
        ids = ["--id-column", "id"] if out_ext == ".parquet" and ext != ".txt" else []
        code = main(["embed", str(source), "-o", str(out), "--model", model, "--quiet", *ids])
        err = capsys.readouterr().err
        if code == 0:
            rows = sum(len(c) for c in open_texts(source, None, "id" if ids else None).chunks(99))
            got = np.load(out).shape[0] if out_ext == ".npy" else pq.read_table(out).num_rows
            assert got == rows
        else:
            assert code == 2 and not out.exists(), err
            assert len(err.strip().splitlines()) == 1, err

    check()
    assert COUNTS["embed"] >= 40  # 40 drawn + 3 explicit
