"""Exporting hiddenpool strategies to other tools."""

from hiddenpool.export.sentence_transformers import (
    export_sentence_transformers,
    native_pooling_mode,
)

__all__ = ["export_sentence_transformers", "native_pooling_mode"]
