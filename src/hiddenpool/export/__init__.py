"""Exporting hiddenpool strategies to other tools."""

from hiddenpool.export.native import NativePlan, exports_natively, native_plan
from hiddenpool.export.sentence_transformers import (
    export_sentence_transformers,
    load_instruction,
)

__all__ = [
    "NativePlan",
    "export_sentence_transformers",
    "exports_natively",
    "load_instruction",
    "native_plan",
]
