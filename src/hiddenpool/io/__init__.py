"""Every file hiddenpool reads or writes: one table reader, one atomic writer, one error.

- :func:`open_table` / :func:`open_texts`: .txt, .csv, .tsv, .jsonl, .parquet or stdin, read in
  chunks, columns chosen by name, one rule for empty and missing cells (see
  :mod:`hiddenpool.io.readers`);
- :class:`InputError`: every problem with an input, naming file, row, line and column;
- :class:`AtomicFile`, :func:`atomic_write`, :func:`atomic_write_text`: a file appears under its
  name only once complete;
- :class:`TableWriter`: rows to .csv, .jsonl, .parquet or .npy (predictions);
- :class:`PartialOutput`: vectors to .npy, .npz or .parquet, resumably (``embed``).

>>> from hiddenpool.io import Column, open_table
>>> wanted = [Column("s1"), Column("s2"), Column("score", "value")]
>>> for chunk in open_table("sts.csv", wanted).chunks(10_000):  # doctest: +SKIP
...     print(chunk.start, chunk["s1"][:1], chunk["score"][:1])
0 ['A cat sits.'] ['3.5']
"""

from hiddenpool.io.atomic import AtomicFile, atomic_write, atomic_write_text
from hiddenpool.io.errors import InputError
from hiddenpool.io.readers import (
    INPUT_FORMATS,
    TABLE_FORMATS,
    TEXT,
    Chunk,
    Column,
    TableReader,
    input_format,
    open_table,
    open_texts,
)
from hiddenpool.io.tables import TABLE_OUTPUT_FORMATS, TableWriter
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
    "TABLE_FORMATS",
    "TABLE_OUTPUT_FORMATS",
    "TEXT",
    "AtomicFile",
    "Chunk",
    "ChunkRecord",
    "Column",
    "InputError",
    "PartialOutput",
    "TableReader",
    "TableWriter",
    "atomic_write",
    "atomic_write_text",
    "check_output",
    "input_format",
    "open_table",
    "open_texts",
    "settings_diff",
]
