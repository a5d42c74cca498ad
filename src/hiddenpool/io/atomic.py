"""Atomic file writes: write a hidden temporary file beside the target, then rename it over it.

Every file hiddenpool writes goes through :class:`AtomicFile`, so a reader never sees a
half-written file under its final name, and a failed or killed write leaves the old file (or no
file) there.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ["AtomicFile", "atomic_write", "atomic_write_text"]


class AtomicFile:
    """A file written under a temporary name in the target's folder and renamed into place.

    Use it as a context manager (renamed into place when the block ends without an error,
    removed otherwise), or call :meth:`commit` / :meth:`discard` yourself.

    Args:
        path: the final name. Its folder must exist.
        mode: permissions of the final file (``mkstemp`` makes 0600; what hiddenpool writes is
            meant to be shared).

    Raises:
        FileNotFoundError: the folder does not exist.

    >>> with AtomicFile("scores.csv") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("a,b\\n1,2\\n")
    """

    def __init__(self, path: str | Path, mode: int = 0o644) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path.parent}: no such folder for {self.path.name}")
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        self.tmp = Path(name)
        self.mode = mode

    def commit(self) -> Path:
        """Flush the temporary file to disk and rename it over the final name."""
        with self.tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(self.tmp, self.mode)
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the temporary file; the final name is left as it was."""
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it over ``path``.

    Args:
        path: destination; its folder is made if missing.
        write: writes the complete file to the path it is given.

    Returns:
        ``path``.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    target = AtomicFile(path)
    with target as tmp:
        write(tmp)
    return target.path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Atomically write UTF-8 text to ``path`` (its folder made if missing); returns ``path``."""

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return atomic_write(path, write)
