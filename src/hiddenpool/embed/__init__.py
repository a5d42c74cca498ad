"""The embedding engine: windows and token-budget batches, backends, long texts, whole files.

- :mod:`.windows`: texts -> token windows (truncate, or overlapping windows for long texts);
- :mod:`.batching`: length-sorted batches under a token budget, padding;
- :mod:`.backends`, :mod:`.onnx`: one batch -> pooled vectors in PyTorch or ONNX Runtime;
- :mod:`.merge`: a long text's windows -> one vector per strategy;
- :mod:`.engine`: a file -> an output file, in chunks, resumable, atomic;
- :mod:`.progress`: the status line.

:class:`hiddenpool.Encoder` ties the first four together; :func:`embed_file` drives it over files.
"""

from hiddenpool.embed.backends import BACKENDS, Backend, TorchBackend, create_backend
from hiddenpool.embed.batching import length_sorted_batches, pad_windows
from hiddenpool.embed.merge import Segment, WindowMerger, plan_segments
from hiddenpool.embed.windows import LONG_MODES, Windows, default_stride, tokenize_windows

__all__ = [
    "BACKENDS",
    "LONG_MODES",
    "Backend",
    "Segment",
    "TorchBackend",
    "WindowMerger",
    "Windows",
    "create_backend",
    "default_stride",
    "length_sorted_batches",
    "pad_windows",
    "plan_segments",
    "tokenize_windows",
]
