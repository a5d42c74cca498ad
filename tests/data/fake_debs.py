"""Small Debian packages laid out as ``manpages`` / ``manpages-dev`` are, and a fake apt-get.

A helper module (not a conftest.py), as fake_dists.py is. The pages exercise every rule of
hiddenpool.data.manpages: symbolic links and ``.so`` redirects (other names, not documents),
a SEE ALSO naming another name of a page, a page outside the packages (``bash(1)``), two pages
sharing one summary in different case, a page without DESCRIPTION and one without a summary.
"""

from __future__ import annotations

import gzip
import io
import lzma
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from hiddenpool._fetch import sha256_of
from hiddenpool.data import registry
from hiddenpool.data.registry import DatasetInfo

MAN = "usr/share/man"


def page(name: str, summary: str, description: str, see_also: Sequence[str] = ()) -> bytes:
    """A man page's roff source, as the man-pages project writes them."""
    refs = ",\n".join(f".BR {ref.replace('(', ' (')}" for ref in see_also)
    return (
        f'.\\" Copyright notice\n.TH {name.upper()} 2 2023-02-05 "Linux man-pages 6.03"\n'
        f".SH NAME\n{name} \\- {summary}\n.SH SYNOPSIS\n.nf\n.B #include <x.h>\n.fi\n"
        f".SH DESCRIPTION\n{description}\n.SH SEE ALSO\n{refs}\n"
    ).encode()


OPEN = page(
    "open, openat, creat",
    "open and possibly create a file",
    ".BR open ()\nopens the file \\fIpathname\\fP.\n.TP\n.B O_APPEND\nAppend mode.",
    ["close(2)", "creat(2)", "bash(1)", "fopen(3)"],
)
CLOSE = page(
    "close",
    "close a file descriptor",
    "Closes a descriptor.",
    ["open(2)", "openat(2)"],
)
FOPEN = page("fopen, fdopen", "stream open functions", "Opens a stream.", ["open(2)", "fdopen(3)"])
FCLOSE = page("fclose", "close a stream", "Flushes and closes.", ["fdopen(3)"])
FCLOSEALL = page("fcloseall", "Close  a Stream", "Closes all streams.", ["creat(2)"])
NO_DESCRIPTION = b".TH NODESC 7\n.SH NAME\nnodesc \\- a page with no description\n"
NO_SUMMARY = b".TH NONAME 5\n.SH NAME\nnoname\n.SH DESCRIPTION\nText.\n"

MANPAGES: dict[str, bytes | str] = {  # str: a symbolic link's target
    f"{MAN}/man2/open.2.gz": OPEN,
    f"{MAN}/man2/close.2.gz": CLOSE,
    f"{MAN}/man2/creat.2.gz": "open.2.gz",
    f"{MAN}/man2/openat.2.gz": "open.2.gz",
    f"{MAN}/man7/nodesc.7.gz": NO_DESCRIPTION,
    f"{MAN}/man5/noname.5.gz": NO_SUMMARY,
    "usr/share/doc/manpages/copyright": b"License: GPL-2+\n",
}
MANPAGES_DEV: dict[str, bytes | str] = {
    f"{MAN}/man3/fopen.3.gz": FOPEN,
    f"{MAN}/man3/fdopen.3.gz": b".so man3/fopen.3\n",
    f"{MAN}/man3/fclose.3.gz": FCLOSE,
    f"{MAN}/man3/fcloseall.3.gz": FCLOSEALL,
}
# What the rules of hiddenpool.data.manpages give for these pages, worked out by hand.
EXPECTED_DOCS = ("close.2", "fclose.3", "fcloseall.3", "fopen.3", "open.2")
EXPECTED_QUERIES = {
    "q:close.2": "close a file descriptor",
    "q:fclose.3": "close a stream",
    "q:fopen.3": "stream open functions",
    "q:open.2": "open and possibly create a file",
}
EXPECTED_QRELS = {
    "q:close.2": {"close.2": 2, "open.2": 1},  # open(2) and openat(2) are one page
    # fdopen(3) is a .so redirect to fopen.3, creat(2) a symbolic link to open.2
    "q:fclose.3": {"fclose.3": 2, "fcloseall.3": 2, "fopen.3": 1, "open.2": 1},
    "q:fopen.3": {"fopen.3": 2, "open.2": 1},  # fdopen(3) redirects to fopen.3 itself
    "q:open.2": {"open.2": 2, "close.2": 1, "fopen.3": 1},  # creat(2) itself, bash(1) absent
}


def _ar(members: dict[str, bytes]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode("ascii")
        out += [header, data, b"\n" if len(data) % 2 else b""]
    return b"".join(out)


def _tar_xz(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in files.items():
            info = tarfile.TarInfo(f"./{path}")
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                archive.addfile(info)
            else:
                data = content if not path.endswith(".gz") else gzip.compress(content, mtime=0)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return lzma.compress(buffer.getvalue())


def make_deb(folder: Path, filename: str, files: dict[str, bytes | str]) -> Path:
    """Write a .deb (ar: debian-binary, control.tar.xz, data.tar.xz) holding ``files``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    control = _tar_xz({"control": b"Package: fake\n"})
    path.write_bytes(
        _ar({"debian-binary": b"2.0\n", "control.tar.xz": control, "data.tar.xz": _tar_xz(files)})
    )
    return path


def make_manpages_debs(folder: Path) -> list[Path]:
    """The two fake packages, under the real packages' file names."""
    return [
        make_deb(folder, "manpages_6.03-2_all.deb", MANPAGES),
        make_deb(folder, "manpages-dev_6.03-2_all.deb", MANPAGES_DEV),
    ]


def install_fake_apt(
    monkeypatch: pytest.MonkeyPatch, debs: Sequence[Path] | None
) -> list[list[str]]:
    """Make ``subprocess.run`` an apt-get that "downloads" ``debs`` (None: apt fails).

    Returns:
        The list recording every command run.
    """
    by_package = {path.name.split("_")[0]: path for path in debs or ()}
    calls: list[list[str]] = []

    def run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(cmd))
        package = cmd[-1].split("=")[0]
        if cmd[:2] != ["apt-get", "download"] or package not in by_package:
            return subprocess.CompletedProcess(cmd, 100, "", f"E: Unable to locate {package}\n")
        source = by_package[package]
        (Path(str(kwargs["cwd"])) / source.name).write_bytes(source.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    return calls


def register_fake_manpages(
    monkeypatch: pytest.MonkeyPatch, folder: Path, size: int = len(EXPECTED_DOCS)
) -> tuple[DatasetInfo, list[list[str]]]:
    """Build the fake packages, pin the registry's ``manpages`` to them, fake apt-get.

    Returns:
        The pinned entry and the list of apt-get commands run.
    """
    main, dev = make_manpages_debs(folder / "debs")
    real = registry.get_dataset_info("manpages")
    info = replace(
        real,
        sha256=sha256_of(main),
        size=size,
        more_files=(replace(real.more_files[0], sha256=sha256_of(dev)),),
    )
    entries = tuple(info if d.name == "manpages" else d for d in registry.DATASETS)
    monkeypatch.setattr(registry, "DATASETS", entries)
    return info, install_fake_apt(monkeypatch, [main, dev])
