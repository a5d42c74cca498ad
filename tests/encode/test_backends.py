"""Choosing a backend: the names on offer, and a clear way out when ONNX Runtime is missing."""

from __future__ import annotations

import sys

import pytest

from hiddenpool import Encoder
from hiddenpool.encode import BACKENDS, create_backend


def test_unknown_backend_lists_the_choices(tiny_backbone):
    with pytest.raises(ValueError, match="backend 'tensorrt' is not one of torch, onnx, onnx-int8"):
        create_backend("tensorrt", tiny_backbone("bert"))
    assert BACKENDS == ("torch", "onnx", "onnx-int8")


@pytest.mark.parametrize("missing", ["onnxruntime", "onnx"])
def test_onnx_backend_without_its_packages_says_what_to_install(
    missing, tiny_backbone, monkeypatch
):
    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if not installed
    with pytest.raises(ValueError, match=r"pip install 'hiddenpool\[onnx\]'.*backend='torch'"):
        Encoder(tiny_backbone("bert"), backend="onnx")


def test_default_batch_budget_follows_the_backend(tiny_backbone):
    assert Encoder(tiny_backbone("bert")).batch_tokens == 4096
    pytest.importorskip("onnxruntime")
    assert Encoder(tiny_backbone("bert"), backend="onnx").batch_tokens == 2048
