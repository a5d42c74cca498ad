"""Fine-tuning pooled heads: the Feedback Prize 3 workflow on the Hugging Face Trainer.

A :class:`PooledModel` is a backbone, any pooling strategy of the registry and a head; its
``forward`` returns ``loss`` and ``logits``, so ``transformers.Trainer`` (and Accelerate, torchrun)
drives it unchanged. :func:`train` adds the tricks (layer-wise lr decay, re-initialised top
blocks, frozen bottom blocks, multi-sample dropout, gradient checkpointing, K-fold with
out-of-fold predictions, early stopping); :class:`Predictor` reads a saved model back.

>>> from hiddenpool.train import TrainConfig, train, Predictor
>>> result = train(TrainConfig(data="vader-movies", pooling="cls@weighted(4:)", folds=5,
...                            llrd=0.9, msd=5, epochs=3, out="runs/vader"))  # doctest: +SKIP
>>> Predictor("runs/vader").predict(["a fine film"])  # doctest: +SKIP

Needs ``accelerate`` (the ``train`` extra).
"""

from __future__ import annotations

from hiddenpool.train.config import PooledModelConfig, TrainConfig
from hiddenpool.train.heads import Head
from hiddenpool.train.model import PooledModel, PooledOutput
from hiddenpool.train.optim import (
    embedding_parameters,
    freeze_layers,
    parameter_groups,
    reinit_layers,
)
from hiddenpool.train.predict import Predictor, PredictReport, predict_file
from hiddenpool.train.trainer import FoldResult, TrainResult, build_model, train

__all__ = [
    "FoldResult",
    "Head",
    "PooledModel",
    "PooledModelConfig",
    "PooledOutput",
    "PredictReport",
    "Predictor",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "embedding_parameters",
    "freeze_layers",
    "parameter_groups",
    "predict_file",
    "reinit_layers",
    "train",
]
