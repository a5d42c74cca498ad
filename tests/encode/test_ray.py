"""Ray Data engine on a local 2-CPU runtime: the local vectors; finished shards are skipped."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hiddenpool import Encoder, load_backbone

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
    assert [p.name for p in outputs] == ["a.parquet.parquet", "b.jsonl.parquet", "c.csv.parquet"]
    local = Encoder(load_backbone(model))
    for output in outputs:
        table = pq.read_table(output)
        name = output.name.removesuffix(".parquet")
        ids = table.column("doc").to_pylist()
        # Every row keeps its id; Ray may reorder rows, so match them by id.
        assert sorted(ids) == sorted(f"{name[0]}{i}" for i in range(len(texts[name])))
        rows = [int(i[1:]) for i in ids]
        expected = local.encode_many([texts[name][r] for r in rows], list(specs))
        for spec in specs:
            got = np.stack(table.column(spec).to_numpy(zero_copy_only=False))
            np.testing.assert_allclose(got, expected[spec], atol=1e-5)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


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


def test_the_base_package_never_imports_ray():
    import subprocess
    import sys

    code = (
        "import sys, hiddenpool, hiddenpool.cli.main, hiddenpool.encode;"
        "hiddenpool.cli.main.build_parser();"
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
