"""Ray Data engine on a local 2-CPU runtime: the local vectors (stages that need no fitting too,
byte for byte; stages to fit are refused); finished shards are skipped; shards are read by
hiddenpool's reader; outputs are named after their inputs; --quiet is quiet."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool import Encoder, load_backbone
from hiddenpool.cli.main import main
from hiddenpool.io import InputError

ray = pytest.importorskip("ray")

from hiddenpool.encode.ray import RayEmbedSettings, embed_files, list_shards  # noqa: E402

pytestmark = pytest.mark.slow
WORDS = ("the movie was good bad great boring fun story plot actors love not very long").split()


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 12))) for _ in range(n)]


@pytest.fixture(scope="module")
def runtime():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def shards(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    a, b, c = _texts(70, 1), _texts(50, 2), _texts(40, 3)
    pq.write_table(pa.table({"doc": [f"a{i}" for i in range(70)], "text": a}), folder / "a.parquet")
    (folder / "b.jsonl").write_text(
        "".join(json.dumps({"doc": f"b{i}", "text": t}) + "\n" for i, t in enumerate(b))
    )
    (folder / "c.csv").write_text("doc,text\n" + "".join(f"c{i},{t}\n" for i, t in enumerate(c)))
    return folder, {"a.parquet": a, "b.jsonl": b, "c.csv": c}


def test_ray_vectors_equal_the_local_engine_and_keep_ids(runtime, shards, tmp_path, tiny_dir):
    folder, texts = shards
    model = str(tiny_dir("bert"))
    specs = ("mean", "cls@concat(-2:)", "max@1")
    settings = RayEmbedSettings(specs=specs, model=model, id_column="doc", batch_size=16)
    outputs = embed_files(folder, tmp_path / "out", settings)
    # One parquet folder per shard, named after the input less its extension.
    assert [p.name for p in outputs] == ["a.parquet", "b.parquet", "c.parquet"]
    local = Encoder(load_backbone(model))
    for output, name in zip(outputs, ("a.parquet", "b.jsonl", "c.csv"), strict=True):
        table = pq.read_table(output)
        ids = table.column("doc").to_pylist()
        # Every row keeps its id; Ray may reorder rows, so match them by id.
        assert sorted(ids) == sorted(f"{name[0]}{i}" for i in range(len(texts[name])))
        rows = [int(i[1:]) for i in ids]
        expected = local.encode_many([texts[name][r] for r in rows], list(specs))
        for spec in specs:
            got = np.stack(table.column(spec).to_numpy(zero_copy_only=False))
            np.testing.assert_allclose(got, expected[spec], atol=1e-5)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def _both_engines(tmp_path, texts: list[str], options: list[str]):
    """``hiddenpool embed`` of one jsonl file by the local engine and by Ray with the same
    options: (the local .npz, the Ray parquet table, the Ray rows' original indices)."""
    data = tmp_path / "in" / "t.jsonl"
    data.parent.mkdir()
    data.write_text(
        "".join(json.dumps({"doc": f"t{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    local_out, ray_out = tmp_path / "local.npz", tmp_path / "ray"
    assert main(["embed", str(data), "-o", str(local_out), *options]) == 0
    argv = ["embed", str(data.parent), "-o", str(ray_out), "--engine", "ray", "--actors", "1"]
    assert main([*argv, "--id-column", "doc", *options]) == 0
    table = pq.read_table(ray_out / "t.parquet")
    rows = [int(i[1:]) for i in table.column("doc").to_pylist()]
    return np.load(local_out), table, rows


STAGE_FREE = ("mean | truncate(8)", "mean | normalize", "mean | binary", "mean | ubinary")


def test_stages_that_need_no_fitting_give_the_local_engines_bytes(
    runtime, tmp_path, tiny_dir, one_thread
):
    texts = _texts(12, 4)
    specs = ("mean", *STAGE_FREE)
    common = ["--model", str(tiny_dir("bert")), "--quiet"]
    common += [a for s in specs for a in ("--pooling", s)]
    local, table, rows = _both_engines(tmp_path, texts, common)
    assert sorted(rows) == list(range(len(texts)))
    for spec in STAGE_FREE:
        got = np.stack(table.column(spec).to_numpy(zero_copy_only=False))
        expected = local[spec][rows]
        assert (got.dtype, got.shape) == (expected.dtype, expected.shape), spec
        assert got.tobytes() == expected.tobytes(), spec  # byte for byte, packing included
    mean = local["mean"]  # and the local engine's stages are what they say
    np.testing.assert_array_equal(local["mean | truncate(8)"], mean[:, :8])
    np.testing.assert_array_equal(local["mean | ubinary"], np.packbits(mean > 0, axis=1))
    np.testing.assert_array_equal(
        local["mean | binary"].astype(np.int16) + 128, np.packbits(mean > 0, axis=1)
    )


def test_out_dtype_reaches_the_ray_workers_as_on_the_local_engine(
    runtime, tmp_path, tiny_dir, one_thread
):
    specs = ("mean", "mean | binary")
    common = ["--model", str(tiny_dir("bert")), "--quiet", "--out-dtype", "float16"]
    common += [a for s in specs for a in ("--pooling", s)]
    local, table, rows = _both_engines(tmp_path, _texts(10, 5), common)
    assert (local["mean"].dtype, local["mean | binary"].dtype) == (np.float16, np.int8)
    for spec in specs:
        got = np.stack(table.column(spec).to_numpy(zero_copy_only=False))
        assert got.dtype == local[spec].dtype, spec
        assert got.tobytes() == local[spec][rows].tobytes(), spec
    with pytest.raises(ValueError, match="out_dtype 'int4' is not one of float32, float16"):
        RayEmbedSettings(out_dtype="int4")


def test_stages_that_need_fitting_are_still_refused_on_ray_in_one_line(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("a film\nanother\n")
    out = tmp_path / "out"
    argv = ["embed", str(tmp_path / "t.txt"), "-o", str(out), "--engine", "ray"]
    assert main([*argv, "--pooling", "mean | binary", "--pooling", "mean | whiten(4)"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "hiddenpool embed: error: --pooling 'mean | whiten(4)': whiten(4) must be fitted, which "
        "runs on the local engine; drop --engine ray (truncate, normalize, binary and ubinary "
        "run on Ray)"
    ]
    assert not out.exists()
    with pytest.raises(
        ValueError, match=r"'mean \| whiten\(4\)' has stages to fit \(whiten\(4\)\)"
    ):
        RayEmbedSettings(specs=("mean | binary", "mean | whiten(4)"))


def test_rerun_skips_written_shards_and_redoes_a_lost_one(runtime, shards, tmp_path, tiny_dir):
    folder, _ = shards
    settings = RayEmbedSettings(specs=("mean",), model=str(tiny_dir("bert")), id_column="doc")
    out = tmp_path / "out"
    first = embed_files(folder, out, settings)
    stamps = {p: sorted(f.stat().st_mtime_ns for f in p.iterdir()) for p in first}
    lost = first[1]
    for file in lost.iterdir():
        file.unlink()
    lost.rmdir()  # as if the worker writing it had died before the rename
    second = embed_files(folder, out, settings)
    assert second == first
    assert sorted(f.stat().st_mtime_ns for f in first[0].iterdir()) == stamps[first[0]]
    assert sorted(f.stat().st_mtime_ns for f in first[2].iterdir()) == stamps[first[2]]
    assert pq.read_table(lost).num_rows == 50


def test_inputs_are_found_by_folder_glob_or_path_with_clear_errors(shards, tmp_path):
    folder, _ = shards
    assert [p.name for p in list_shards(folder)] == ["a.parquet", "b.jsonl", "c.csv"]
    assert [p.name for p in list_shards(str(folder / "*.csv"))] == ["c.csv"]
    with pytest.raises(FileNotFoundError, match="no such file, folder or matching files"):
        list_shards(str(tmp_path / "nothing-*.txt"))
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(ValueError, match=r"x\.docx: unsupported input type"):
        list_shards(tmp_path / "x.docx")


def test_shards_sharing_an_output_or_overwriting_their_input_are_refused(shards, tmp_path):
    folder, _ = shards
    (folder / "a.csv").write_text("doc,text\na0,hello\n")
    settings = RayEmbedSettings(id_column="doc")
    with pytest.raises(ValueError, match=r"a\.csv and .*a\.parquet would both be written to"):
        embed_files(folder, tmp_path / "out", settings)
    (folder / "a.csv").unlink()
    with pytest.raises(ValueError, match=r"a\.parquet: its vectors would be written over it"):
        embed_files(folder, folder, settings)


def test_shards_are_read_by_hiddenpools_reader(runtime, tmp_path, tiny_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [{"doc": "x1", "text": "fine"}, {"doc": "x2", "text": None}]
    (folder / "nulls.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = RayEmbedSettings(model=str(tiny_dir("bert")), id_column="doc")
    with pytest.raises(InputError, match=r"row 2 \(line 2\), column 'text': expected a string"):
        embed_files(folder, tmp_path / "out", settings)
    assert not (tmp_path / "out" / "nulls.parquet").exists()


def test_quiet_cli_prints_nothing_and_reads_long_cells(runtime, tmp_path, tiny_dir, capfd):
    folder = tmp_path / "in"
    folder.mkdir()
    book = "the movie was good " * 10_000  # 190,000 characters: over csv's default field limit
    (folder / "long.csv").write_text(f"doc,text\nl0,{book}\nl1,short\n")
    (folder / "lines.txt").write_text("the film\n\nfun\n")
    capfd.readouterr()
    argv = ["embed", str(folder), "-o", str(tmp_path / "out"), "--engine", "ray", "--quiet"]
    assert main([*argv, "--model", str(tiny_dir("bert")), "--actors", "1"]) == 0
    err = capfd.readouterr().err
    assert not [line for line in err.splitlines() if "INFO" in line or "Running" in line], err
    assert pq.read_table(tmp_path / "out" / "long.parquet").num_rows == 2
    lines = pq.read_table(tmp_path / "out" / "lines.parquet").column("text").to_pylist()
    assert sorted(lines) == ["", "fun", "the film"]  # an empty line is an empty text


def test_the_base_package_never_imports_ray():
    import subprocess
    import sys

    code = (
        "import sys, hiddenpool, hiddenpool.cli.main, hiddenpool.encode;"
        "hiddenpool.cli.main.build_parser();"
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
