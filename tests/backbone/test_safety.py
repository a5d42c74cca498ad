"""Loading refuses remote code and pickled weights unless asked, with one clear line."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from hiddenpool import load_backbone
from hiddenpool.cli.main import main


@pytest.fixture
def pickle_only(tmp_path, tiny_dir):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_dir("bert"), folder)
    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(weights, folder / "pytorch_model.bin")
    return folder


def test_pickle_only_weights_are_refused_with_the_way_to_opt_in(pickle_only):
    with pytest.raises(
        ValueError, match=r"only pickled weights \(pytorch_model\.bin\).*allow_pickle"
    ):
        load_backbone(pickle_only)


def test_pickle_only_weights_load_when_allowed_and_match(pickle_only, tiny_backbone):
    allowed = load_backbone(pickle_only, allow_pickle=True)
    reference = tiny_backbone("bert")
    for name, tensor in reference.model.state_dict().items():
        torch.testing.assert_close(allowed.model.state_dict()[name], tensor)


def test_remote_code_is_refused_unless_trusted(tmp_path, tiny_dir, capsys):
    folder = tmp_path / "remote"
    shutil.copytree(tiny_dir("bert"), folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    assert main(["inspect", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "ships its own model code" in err[0] and "--trust-remote-code" in err[0]


def test_a_folder_without_weights_is_named(tmp_path, tiny_dir):
    folder = tmp_path / "empty"
    folder.mkdir()
    shutil.copy(tiny_dir("bert") / "config.json", folder)
    with pytest.raises(FileNotFoundError, match=r"no weights \(\*\.safetensors\)"):
        load_backbone(folder)


def test_a_hub_name_while_offline_is_one_line_naming_it(monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import
    assert main(["inspect", "someone/not-cached-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("hiddenpool inspect: error: someone/not-cached-model: could not load")
    assert "not a local folder" in err[0]
