"""``hiddenpool embed`` end to end: formats, stdin, long texts, bad input, kill and resume."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool import Encoder
from hiddenpool.cli.main import main
from hiddenpool.io import PartialOutput
from tiny_models import WORDS

TEXTS = [
    "the movie was good",
    "",
    "a very long and boring film with bad acting and a terrible plot that is not fun " * 3,
    "great",
    "Größe 🎬 émoji",
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(tiny_dir) -> str:
    return str(tiny_dir("bert"))


def _input(folder: Path, fmt: str, texts=TEXTS) -> Path:
    path = folder / f"in{fmt}"
    if fmt == ".txt":
        path.write_text("".join(f"{t}\n" for t in texts), encoding="utf-8")
    elif fmt in (".csv", ".tsv"):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t" if fmt == ".tsv" else ",")
            writer.writerow(["key", "text"])
            writer.writerows([f"k{i}", t] for i, t in enumerate(texts))
    elif fmt == ".jsonl":
        path.write_text(
            "".join(json.dumps({"key": f"k{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
            encoding="utf-8",
        )
    else:
        pq.write_table(pa.table({"key": [f"k{i}" for i in range(len(texts))], "text": texts}), path)
    return path


def _embed(*args: object) -> int:
    return main(["embed", *map(str, args)])


@pytest.mark.parametrize("fmt", [".txt", ".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_input_format_gives_the_encoder_vectors_in_input_order(fmt, model, tmp_path):
    out = tmp_path / "out.npy"
    assert (
        _embed(
            _input(tmp_path, fmt),
            "-o",
            out,
            "--model",
            model,
            "--quiet",
            "--chunk-size",
            "2",
            "--batch-tokens",
            "16",
        )
        == 0
    )
    expected = Encoder(model).encode(TEXTS, batch_size=1)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)


def test_several_strategies_to_npz_and_parquet_with_ids(model, tmp_path, capsys):
    source = _input(tmp_path, ".csv")
    specs = ["mean", "cls@concat(-2:)", "max@1,-1"]
    pooling = [a for s in specs for a in ("--pooling", s)]
    assert _embed(source, "-o", tmp_path / "v.npz", "--model", model, *pooling) == 0
    assert (
        _embed(
            source,
            "-o",
            tmp_path / "v.parquet",
            "--model",
            model,
            *pooling,
            "--id-column",
            "key",
            "--out-dtype",
            "float16",
        )
        == 0
    )
    expected = Encoder(model).encode_many(TEXTS, specs, batch_size=1)
    table = pq.read_table(tmp_path / "v.parquet")
    assert table.column("key").to_pylist() == [f"k{i}" for i in range(len(TEXTS))]
    with np.load(tmp_path / "v.npz") as npz:
        for spec in specs:
            np.testing.assert_allclose(npz[spec], expected[spec], atol=1e-5)
            column = np.asarray(table.column(spec).to_pylist(), dtype=np.float32)
            np.testing.assert_allclose(column, expected[spec], atol=2e-3, rtol=1e-3)
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("embedded 5 texts (") and "0 truncated" in summary


def test_stdin_lines(model, tmp_path, monkeypatch):
    data = "".join(f"{t}\n" for t in TEXTS[:2] + TEXTS[3:]).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    out = tmp_path / "stdin.npy"
    assert _embed("-", "-o", out, "--model", model, "--quiet") == 0
    expected = Encoder(model).encode(TEXTS[:2] + TEXTS[3:])
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)


def test_long_texts_are_counted_or_chunked(model, tmp_path, capsys):
    source = _input(tmp_path, ".txt")
    assert _embed(source, "-o", tmp_path / "t.npy", "--model", model, "--max-length", "8") == 0
    assert "(24 tokens, 1 truncated)" in capsys.readouterr().err  # 6 + 2 + 8 (cut) + 3 + 5
    assert (
        _embed(
            source,
            "-o",
            tmp_path / "c.npy",
            "--model",
            model,
            "--max-length",
            "8",
            "--long",
            "chunk",
            "--stride",
            "2",
            "--quiet",
        )
        == 0
    )
    encoder = Encoder(model, max_length=8, long="chunk", stride=2)
    np.testing.assert_allclose(np.load(tmp_path / "c.npy"), encoder.encode(TEXTS), atol=1e-5)


def _bad(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "extra", "message"),
    [
        (
            "in.txt",
            "caf\xe9\n".encode("latin-1"),
            [],
            r"in.txt: line 1: not valid UTF-8 at byte offset 3",
        ),
        (
            "in.jsonl",
            b'{"text": "a"}\n{"text": 3}\n',
            [],
            r"in.jsonl: row 2 \(line 2\), column 'text': expected a string, got int",
        ),
        (  # a JSON escape decodes to a lone surrogate: refused at its row by the reader
            "in.jsonl",
            b'{"text": "a"}\n{"text": "bad \\ud800 text"}\n',
            [],
            r"in.jsonl: row 2 \(line 2\), column 'text': expected text UTF-8 can hold, got a "
            "lone surrogate",
        ),
        (  # a surrogate code point in UTF-8's byte pattern (as CESU-8 writes it) is not UTF-8
            "in.txt",
            b"fine\nbad \xed\xa0\x80 text\n",
            [],
            r"in.txt: line 2: not valid UTF-8 at byte offset 9",
        ),
        (  # argv's undecodable bytes arrive as lone surrogates (surrogateescape)
            "in.txt",
            b"a\n",
            ["--template", "odd=\udcff {text}", "--pooling", "odd:mean"],
            r"template 'odd' is not valid Unicode: a lone surrogate '\\udcff' at character 0",
        ),
        ("in.csv", b"body\na\n", [], "in.csv: column 'text' not found .*--text-column"),
        ("in.csv", b"text\na\n", ["--id-column", "key"], "column 'key' not found"),
        ("in.txt", b"a\n", ["--pooling", "mean", "--pooling", "cls"], "holds one strategy"),
        ("in.txt", b"a\n", ["--pooling", "nope"], "unknown pooler 'nope'"),
        ("in.txt", b"a\n", ["--long", "chunk", "--pooling", "attn"], "truncate long texts instead"),
        ("missing.txt", None, [], "missing.txt: no such file"),
        ("in.docx", b"a", [], "unknown input format '.docx'"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(
    name, content, extra, message, model, tmp_path, capsys
):
    source = _bad(tmp_path, name, content) if content is not None else tmp_path / name
    out = tmp_path / "out.npy"
    assert _embed(source, "-o", out, "--model", model, *extra) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("hiddenpool embed: error: ")
    assert __import__("re").search(message, err), err
    assert not out.exists() and not list(tmp_path.glob(".out.npy*"))


def test_unknown_output_extension(model, tmp_path, capsys):
    assert _embed(_input(tmp_path, ".txt"), "-o", tmp_path / "out.h5", "--model", model) == 2
    assert "unknown output format '.h5'" in capsys.readouterr().err
    assert not list(tmp_path.glob("*out.h5*"))


def test_interrupted_run_refuses_changed_arguments_or_input(model, tmp_path, capsys, monkeypatch):
    source = _input(tmp_path, ".txt", TEXTS * 4)
    out = tmp_path / "v.npy"
    real_add = PartialOutput.add

    def add_then_interrupt(self, index, *args, **kwargs):
        real_add(self, index, *args, **kwargs)
        if index == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(PartialOutput, "add", add_then_interrupt)
    common = ["--model", model, "--chunk-size", "4", "--quiet"]
    assert _embed(source, "-o", out, *common) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    monkeypatch.setattr(PartialOutput, "add", real_add)
    assert not out.exists()

    assert _embed(source, "-o", out, *common, "--pooling", "max") == 2
    err = capsys.readouterr().err
    assert "different settings (pooling: ['mean'] -> ['max'])" in err and "--restart" in err
    with source.open("a", encoding="utf-8") as handle:
        handle.write("one more line\n")
    assert _embed(source, "-o", out, *common) == 2
    assert "the input file changed" in capsys.readouterr().err
    assert not out.exists()
    assert _embed(source, "-o", out, *common, "--restart") == 0
    assert np.load(out).shape == (21, 32)


def _cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "hiddenpool", "embed", *map(str, args)]


@pytest.mark.slow
def test_sigkill_then_rerun_gives_the_uninterrupted_file(model, tmp_path):
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, rng.integers(1, 12))) for _ in range(1200)]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # One text per forward pass keeps the run long enough to kill it between chunks.
    args = ["--model", model, "--chunk-size", "60", "--batch-tokens", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed.npy"
    manifest = tmp_path / ".killed.npy.partial" / "manifest.json"
    process = subprocess.Popen(_cli(source, "-o", killed, *args), env=env)
    deadline = time.monotonic() + 120
    chunks = 0
    while chunks < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        assert not killed.exists()  # never a partial file under the final name
        with contextlib.suppress(OSError, ValueError, KeyError):
            chunks = len(json.loads(manifest.read_text())["chunks"])
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert chunks >= 1 and not killed.exists()
    done = len(json.loads(manifest.read_text())["chunks"])
    assert 1 <= done < 20  # killed mid-run, after a chunk was saved

    subprocess.run(_cli(source, "-o", killed, *args), env=env, check=True)
    whole = tmp_path / "whole.npy"
    subprocess.run(_cli(source, "-o", whole, *args), env=env, check=True)
    assert killed.read_bytes() == whole.read_bytes()
    assert not manifest.parent.exists()
    assert np.load(whole).shape == (1200, 32)
