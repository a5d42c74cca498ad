"""Inference: texts in, pooled vectors out, from a list in memory, a file, or a Ray cluster.

- :mod:`.windows`: texts -> token windows (truncate, or overlapping windows for long texts);
  :mod:`.unicode` names a text the tokenizer refused (a lone surrogate);
- :mod:`.batching`: length-sorted batches under a token budget, padding;
- :mod:`.torch_backend`, :mod:`.onnx`: one batch -> pooled vectors in PyTorch or ONNX Runtime,
  :mod:`.backends` picks one by name;
- :mod:`.merge`: a long text's windows -> one vector per strategy;
- :mod:`.encoder`: :class:`Encoder` ties the four together;
- :mod:`.files`: a file -> an output file, in chunks, resumable, atomic;
- :mod:`.ray`: the same over Ray Data (needs the ``ray`` extra; imported only when used);
- :mod:`.progress`: the status line.
"""

from hiddenpool.encode.backends import BACKENDS, Backend, TorchBackend, create_backend
from hiddenpool.encode.batching import length_sorted_batches, pad_windows
from hiddenpool.encode.encoder import Embedding, Encoder
from hiddenpool.encode.files import DEFAULT_CHUNK_SIZE, EmbedSummary, embed_file
from hiddenpool.encode.merge import Segment, WindowMerger, plan_segments
from hiddenpool.encode.windows import LONG_MODES, Windows, default_stride, tokenize_windows

__all__ = [
    "BACKENDS",
    "DEFAULT_CHUNK_SIZE",
    "LONG_MODES",
    "Backend",
    "EmbedSummary",
    "Embedding",
    "Encoder",
    "Segment",
    "TorchBackend",
    "WindowMerger",
    "Windows",
    "create_backend",
    "default_stride",
    "embed_file",
    "length_sorted_batches",
    "pad_windows",
    "plan_segments",
    "tokenize_windows",
]
