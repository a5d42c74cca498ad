"""Read the files of a Debian package (.deb) in memory: an ar archive holding data.tar.*.

Nothing is extracted to disk, so member paths can never escape the cache.
"""

from __future__ import annotations

import io
import lzma
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DebMember", "ar_member", "deb_members"]


@dataclass(frozen=True)
class DebMember:
    """One file or symbolic link of a package's data archive.

    Attributes:
        path: its path without the leading ``./`` (``usr/share/man/man2/open.2.gz``).
        data: its bytes (empty for a link).
        link: for a symbolic link, its target as written (``open.2.gz``); else None.
    """

    path: str
    data: bytes
    link: str | None = None


def ar_member(deb: Path, prefix: str) -> tuple[str, bytes]:
    """The first member of the ar archive ``deb`` whose name starts with ``prefix``.

    Raises:
        ValueError: ``deb`` is not an ar archive, or has no such member.
    """
    with deb.open("rb") as handle:
        if handle.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb}: not a Debian package (no ar header)")
        while header := handle.read(60):
            if len(header) < 60:
                break
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            data = handle.read(size)
            if size % 2:
                handle.read(1)  # members are 2-byte aligned
            if name.startswith(prefix):
                return name, data
    raise ValueError(f"{deb}: no {prefix}* member")


def deb_members(deb: Path, under: str = "") -> Iterator[DebMember]:
    """The regular files and symbolic links of a package's ``data.tar`` (.xz, .gz or plain).

    Args:
        deb: the .deb file.
        under: keep only paths starting with this prefix (``usr/share/man/``).

    Yields:
        :class:`DebMember` in archive order.

    Raises:
        ValueError: not a .deb, or its data archive is compressed another way.
    """
    name, data = ar_member(deb, "data.tar")
    if name.endswith(".xz"):
        data = lzma.decompress(data)
    elif not name.endswith((".tar", ".gz")):
        raise ValueError(f"{deb}: data archive {name} is not .tar, .tar.gz or .tar.xz")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive:
            path = member.name.removeprefix("./")
            if not path.startswith(under) or ".." in path.split("/"):
                continue
            if member.issym():
                yield DebMember(path, b"", member.linkname)
            elif member.isfile():
                handle = archive.extractfile(member)
                if handle is not None:
                    yield DebMember(path, handle.read())
