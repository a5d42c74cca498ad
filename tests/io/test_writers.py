"""The resumable writer: chunks in a work folder, one atomic rename, refusal on changed work."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from hiddenpool.io import ChunkRecord, PartialOutput, check_output

SPECS = ["mean", "cls@concat(-2:)"]
WIDTHS = {"mean": 4, "cls@concat(-2:)": 8}
SETTINGS = {"model": "tiny", "pooling": SPECS}
INPUT = {"path": "/data/in.txt", "size": 10, "mtime_ns": 1, "sha256_ends": "ab"}


def _chunks(rows=(3, 3, 2), seed=0):
    rng = np.random.default_rng(seed)
    return [
        {s: rng.standard_normal((n, WIDTHS[s])).astype(np.float32) for s in SPECS} for n in rows
    ]


def _fill(writer: PartialOutput, chunks, start=0, ids=None) -> None:
    for index in range(start, len(chunks)):
        n = len(chunks[index]["mean"])
        writer.add(
            index,
            chunks[index],
            None if ids is None else ids[index],
            ChunkRecord(rows=n, tokens=10 * n, truncated=index),
        )


def test_npz_is_the_concatenation_and_appears_only_when_finished(tmp_path):
    out = tmp_path / "vectors.npz"
    chunks = _chunks()
    writer = PartialOutput(out, SPECS)
    assert writer.open(SETTINGS, INPUT) == 0
    _fill(writer, chunks)
    assert not out.exists() and writer.folder.is_dir()
    writer.finish(WIDTHS)
    assert not writer.folder.exists()
    with np.load(out) as data:
        assert sorted(data.files) == sorted(SPECS)
        for spec in SPECS:
            np.testing.assert_array_equal(data[spec], np.concatenate([c[spec] for c in chunks]))
    assert [p.name for p in tmp_path.iterdir()] == ["vectors.npz"]  # no temporary files left


def test_npy_in_float16_and_an_empty_output(tmp_path):
    chunks = _chunks()
    writer = PartialOutput(tmp_path / "one.npy", ["mean"], out_dtype="float16")
    writer.open(SETTINGS, INPUT)
    for i, chunk in enumerate(chunks):
        writer.add(i, {"mean": chunk["mean"]}, None, ChunkRecord(len(chunk["mean"]), 0, 0))
    writer.finish({"mean": 4})
    got = np.load(tmp_path / "one.npy")
    assert got.dtype == np.float16 and got.shape == (8, 4)
    np.testing.assert_array_equal(
        got, np.concatenate([c["mean"] for c in chunks]).astype(np.float16)
    )
    empty = PartialOutput(tmp_path / "empty.npy", ["mean"])
    empty.open(SETTINGS, INPUT)
    empty.finish({"mean": 4})
    assert np.load(tmp_path / "empty.npy").shape == (0, 4)


@pytest.mark.parametrize(
    "ids",
    [None, [["a", "b", "c"], ["d", "e", "f"], ["g", "h"]], [[10, 11, 12], [13, 14, 15], [16, 17]]],
)
def test_parquet_has_ids_and_one_list_column_per_spec(ids, tmp_path):
    chunks = _chunks()
    writer = PartialOutput(tmp_path / "v.parquet", SPECS, id_column="doc" if ids else None)
    writer.open(SETTINGS, INPUT)
    _fill(writer, chunks, ids=ids)
    writer.finish(WIDTHS)
    table = pq.read_table(tmp_path / "v.parquet")
    key = "doc" if ids else "id"
    assert table.column_names == [key, *SPECS]
    expected_ids = [i for chunk in ids for i in chunk] if ids else list(range(8))
    assert table.column(key).to_pylist() == expected_ids
    for spec in SPECS:
        got = np.asarray(table.column(spec).to_pylist(), dtype=np.float32)
        np.testing.assert_array_equal(got, np.concatenate([c[spec] for c in chunks]))


def test_resume_keeps_finished_chunks_and_gives_the_same_file(tmp_path):
    chunks = _chunks()
    whole = PartialOutput(tmp_path / "whole.npz", SPECS)
    whole.open(SETTINGS, INPUT)
    _fill(whole, chunks)
    whole.finish(WIDTHS)

    out = tmp_path / "resumed.npz"
    first = PartialOutput(out, SPECS)
    first.open(SETTINGS, INPUT)
    _fill(first, chunks[:2])
    first.release()  # the process dies: the system drops its lock
    second = PartialOutput(out, SPECS)
    assert second.open(SETTINGS, INPUT) == 2
    assert [c.truncated for c in second.chunks] == [0, 1]
    _fill(second, chunks, start=2)
    second.finish(WIDTHS)
    second.release()
    assert out.read_bytes() == (tmp_path / "whole.npz").read_bytes()


def _reopen(out, settings, fingerprint, restart=False) -> int:
    writer = PartialOutput(out, SPECS)
    try:
        return writer.open(settings, fingerprint, restart)
    finally:
        writer.release()


def test_changed_settings_or_input_are_refused_and_restart_discards(tmp_path):
    out = tmp_path / "v.npz"
    writer = PartialOutput(out, SPECS)
    writer.open(SETTINGS, INPUT)
    _fill(writer, _chunks()[:1])
    writer.release()
    with pytest.raises(
        ValueError,
        match=r"different settings \(pooling: \['mean', "
        r"'cls@concat\(-2:\)'\] -> \['mean'\]\).*restart=True",
    ):
        _reopen(out, {**SETTINGS, "pooling": ["mean"]}, INPUT)
    with pytest.raises(ValueError, match="the input file changed"):
        _reopen(out, SETTINGS, {**INPUT, "size": 11})
    assert _reopen(out, SETTINGS, INPUT) == 1  # the work is still there
    assert _reopen(out, {"other": 1}, INPUT, restart=True) == 0
    assert list(writer.folder.glob("chunk-*")) == []


def test_stdin_is_never_resumed_and_a_lost_chunk_is_recomputed(tmp_path):
    out = tmp_path / "v.npz"
    writer = PartialOutput(out, SPECS)
    writer.open(SETTINGS, INPUT)
    _fill(writer, _chunks())
    writer.release()
    writer.chunk_path(1).unlink()
    assert _reopen(out, SETTINGS, INPUT) == 1
    assert _reopen(out, SETTINGS, None) == 0


def test_two_writers_of_one_output_are_refused_until_the_first_lets_go(tmp_path):
    out = tmp_path / "v.npz"
    first = PartialOutput(out, SPECS)
    first.open(SETTINGS, INPUT)
    second = PartialOutput(out, SPECS)
    with pytest.raises(ValueError, match="another hiddenpool embed is writing it"):
        second.open(SETTINGS, INPUT)
    first.release()
    assert not first.lock_path.exists()
    assert second.open(SETTINGS, INPUT) == 0
    second.release()


@pytest.mark.parametrize(
    ("name", "specs", "message"),
    [
        ("v.h5", ["mean"], "unknown output format '.h5'"),
        ("v", ["mean"], "unknown output format '\\(no extension\\)'"),
        ("v.npy", ["mean", "cls"], ".npy holds one strategy, got 2"),
        ("v.npz", ["mean", "mean"], "the same `pooling` is given twice"),
        ("missing/v.npz", ["mean"], "no such folder"),
    ],
)
def test_outputs_that_cannot_be_written_are_refused(name, specs, message, tmp_path):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        check_output(tmp_path / name, specs)
