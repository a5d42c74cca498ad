"""Pick a backend by name: PyTorch (:mod:`.torch_backend`) or ONNX Runtime (:mod:`.onnx`).

Imports run one way, ``backends -> onnx -> torch_backend`` (``.importlinter`` checks it): the
ONNX backend verifies its export against the PyTorch one, so neither may import this module.
"""

from __future__ import annotations

from hiddenpool.backbone import Backbone
from hiddenpool.encode.torch_backend import Backend, TorchBackend

__all__ = ["BACKENDS", "Backend", "TorchBackend", "create_backend"]

BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")


def create_backend(name: str, backbone: Backbone) -> Backend:
    """The backend called ``name`` for ``backbone``.

    ``"onnx"`` exports the backbone with the requested poolers inside the graph (once per model
    and set of strategies, cached) and runs it in ONNX Runtime on the CPU; ``"onnx-int8"`` does
    the same with dynamically quantised int8 weights. Both need ``pip install hiddenpool[onnx]``.

    >>> create_backend("torch", load_backbone()).name  # doctest: +SKIP
    'torch'
    """
    if name == "torch":
        return TorchBackend(backbone)
    if name in ("onnx", "onnx-int8"):
        from hiddenpool.encode.onnx import OnnxBackend

        return OnnxBackend(backbone, quantize=name == "onnx-int8")
    raise ValueError(f"backend {name!r} is not one of {', '.join(BACKENDS)}")
