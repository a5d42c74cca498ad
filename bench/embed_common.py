"""Shared helpers of the embedding benchmarks (bench/embed_*.py): texts, timing (the machine
record is bench/provenance.py's).

Not part of the package. Every benchmark measures its contenders side by side in one process
run, interleaved (A B C, A B C, ...), and reports medians, because the machine is shared.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from provenance import machine

__all__ = [
    "fp32_peak_gflops",
    "interleave",
    "machine",
    "median",
    "movie_texts",
    "ort_matmul_gflops",
    "spread",
]


def movie_texts(n: int) -> list[str]:
    """The first ``n`` VADER movie-review snippets (``hiddenpool.data``, vader-movies), repeated
    if ``n`` is larger than the 10,605 there are."""
    from hiddenpool.data import load_dataset

    texts = list(load_dataset("vader-movies").texts)
    return [texts[i % len(texts)] for i in range(n)]


def fp32_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """A practical fp32 peak: the best of ``repeats`` (size x size) @ (size x size) matmuls."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    a @ b  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def ort_matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The same peak estimate with ONNX Runtime's MatMul (its own kernels, not torch's BLAS)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [size, size])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [size, size])
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm", [a, b], [c])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    onnx.checker.check_model(model)
    feeds = {
        "a": np.random.rand(size, size).astype(np.float32),
        "b": np.random.rand(size, size).astype(np.float32),
    }
    session.run(None, feeds)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], digits: int = 3) -> dict[str, float]:
    """Median, smallest and largest of repeated measurements."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def interleave(
    contenders: dict[str, Callable[[], Any]], repeats: int, log: Callable[[str], None] = print
) -> dict[str, list[float]]:
    """Run every contender once per round, ``repeats`` rounds; seconds per contender.

    A contender that returns a float reports its own seconds (a worker in another process)."""
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(repeats):
        for name, run in contenders.items():
            start = time.perf_counter()
            value = run()
            took = time.perf_counter() - start
            seconds[name].append(value if isinstance(value, float) else took)
            log(f"  round {round_ + 1}/{repeats} {name}: {seconds[name][-1]:.2f} s")
    return seconds
