"""Reading texts and writing vectors: every input format in one reader, every output in one writer.

>>> from hiddenpool.io import open_texts, PartialOutput  # doctest: +SKIP
"""

from hiddenpool.io.readers import INPUT_FORMATS, TextChunk, TextReader, open_texts
from hiddenpool.io.writers import (
    OUT_DTYPES,
    OUTPUT_FORMATS,
    ChunkRecord,
    PartialOutput,
    check_output,
    settings_diff,
)

__all__ = [
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "OUT_DTYPES",
    "ChunkRecord",
    "PartialOutput",
    "TextChunk",
    "TextReader",
    "check_output",
    "open_texts",
    "settings_diff",
]
