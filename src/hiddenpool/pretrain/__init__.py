"""Masked-language-model pretraining on your own corpus, from scratch or continued.

>>> from hiddenpool.pretrain import PretrainConfig, pretrain
>>> result = pretrain(PretrainConfig("docs/", "runs/mlm", size="small"))  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
"""

from __future__ import annotations

from hiddenpool.pretrain.config import SIZES, ModelSize, PretrainConfig
from hiddenpool.pretrain.corpus import CORPUS_FORMATS, corpus_files, is_held_out, iter_documents
from hiddenpool.pretrain.run import RECORD, WORK, PretrainResult, pretrain

__all__ = [
    "CORPUS_FORMATS",
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
