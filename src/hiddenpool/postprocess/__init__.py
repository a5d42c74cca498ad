"""After pooling: fit and apply the ``| STAGE`` part of a spec (whitening, PCA, truncation,
quantisation), and save what was fitted.

- :mod:`.fit`: float64 moments chunk by chunk, the SVD, the quantisation ranges;
- :mod:`.state`: the fitted state as one safetensors file whose header names model and specs.
"""

from hiddenpool.postprocess.fit import (
    FittedStage,
    FittedStages,
    Moments,
    feature_width,
    fit_stages,
    stateless_stages,
)

__all__ = [
    "FittedStage",
    "FittedStages",
    "Moments",
    "feature_width",
    "fit_stages",
    "stateless_stages",
]
