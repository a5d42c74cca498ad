"""The one atomic writer, and the table writer built on it: a file appears whole or not at all."""

from __future__ import annotations

import csv
import json
import stat

import numpy as np
import pyarrow.parquet as pq
import pytest

from hiddenpool.io import AtomicFile, TableWriter, atomic_write_text

ROWS = {"id": ["a", "b", "c"], "score": np.array([0.5, 1.5, -2.0]), "label": ["x", "y", "x"]}


def test_atomic_file_appears_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), AtomicFile(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no temporary left
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # shared, not mkstemp's 0600
    atomic_write_text(tmp_path / "made" / "x.json", "{}")  # the folder is made
    with pytest.raises(FileNotFoundError, match=r"no such folder for x\.csv"):
        AtomicFile(tmp_path / "nowhere" / "x.csv")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".npy"])
def test_table_writer_writes_chunks_in_every_format(suffix, tmp_path):
    out = tmp_path / f"pred{suffix}"
    with TableWriter(out, ["id", "label", "score"], ["score"]) as table:
        table.write({k: v[:2] for k, v in ROWS.items()})
        assert not out.exists()  # nothing under the final name until closed
        table.write({k: v[2:] for k, v in ROWS.items()})
    if suffix == ".npy":
        np.testing.assert_array_equal(np.load(out), ROWS["score"].astype(np.float32)[:, None])
        return
    if suffix == ".csv":
        rows = list(csv.DictReader(out.open()))
        got = {k: [r[k] for r in rows] for k in ("id", "label", "score")}
        got["score"] = [float(x) for x in got["score"]]
    elif suffix == ".jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        got = {k: [r[k] for r in rows] for k in ("id", "label", "score")}
    else:
        got = pq.read_table(out).to_pydict()
    assert got == {"id": ROWS["id"], "label": ROWS["label"], "score": ROWS["score"].tolist()}
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_table_writer_leaves_nothing_on_error_and_an_empty_parquet_has_columns(tmp_path):
    out = tmp_path / "pred.csv"
    with pytest.raises(ValueError, match="bad label"), TableWriter(out, ["id"], []) as table:
        table.write({"id": ["a"]})
        raise ValueError("bad label")
    assert list(tmp_path.iterdir()) == []
    with TableWriter(tmp_path / "none.parquet", ["id", "score"], ["score"]):
        pass
    assert pq.read_table(tmp_path / "none.parquet").column_names == ["id", "score"]
    with pytest.raises(ValueError, match=r"unsupported output format '\.xlsx'"):
        TableWriter(tmp_path / "p.xlsx", ["id"], [])
