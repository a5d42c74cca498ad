"""Runtime facts every command shares: device, dtype, mixed precision, cache folder."""

from __future__ import annotations

import pytest
import torch

from hiddenpool._runtime import mixed_precision, resolve_device, resolve_dtype


def test_mixed_precision_only_with_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert mixed_precision("auto", "auto") == {} and mixed_precision("fp16", "auto") == {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert mixed_precision("auto", "auto") == {"bf16": True}
    assert mixed_precision("fp16", "auto") == {"fp16": True}
    assert mixed_precision("fp32", "auto") == {}
    assert mixed_precision("auto", "cpu") == {}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert mixed_precision("auto", "cuda") == {"fp16": True}
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, fp16, bf16"):
        mixed_precision("fp8", "cuda")


def test_auto_device_and_dtype(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError, match="dtype 'half' is not one of auto"):
        resolve_dtype("half", torch.device("cpu"))
