"""Language-model pretraining on your own corpus, from scratch or continued: masked (MLM,
encoders) or causal (CLM, GPT-2- and Llama-style decoders), on one process or under torchrun.

>>> from hiddenpool.pretrain import PretrainConfig, pretrain
>>> result = pretrain(PretrainConfig("docs/", "runs/mlm", size="small"))  # doctest: +SKIP
>>> decoder = pretrain(PretrainConfig("docs/", "runs/gpt2", objective="clm"))  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

from hiddenpool.pretrain.config import (
    ARCHITECTURES,
    OBJECTIVES,
    SIZES,
    ModelSize,
    PretrainConfig,
)
from hiddenpool.pretrain.corpus import CORPUS_FORMATS, corpus_files, is_held_out, iter_documents
from hiddenpool.pretrain.run import RECORD, WORK, PretrainResult, pretrain

__all__ = [
    "ARCHITECTURES",
    "CORPUS_FORMATS",
    "OBJECTIVES",
    "RECORD",
    "SIZES",
    "WORK",
    "ModelSize",
    "PretrainConfig",
    "PretrainResult",
    "corpus_files",
    "is_held_out",
    "iter_documents",
    "pretrain",
]
