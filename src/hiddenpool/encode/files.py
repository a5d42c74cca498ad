"""Embed a whole file: streamed in chunks, resumable, written atomically.

The input is read ``chunk_size`` texts at a time; each chunk is tokenised, sorted by length and
cut into token-budget batches by the Encoder (so sorting happens within a chunk), and its
vectors go to the output's work folder (:class:`hiddenpool.io.PartialOutput`). Memory therefore
depends on the chunk size, not on the corpus. A rerun with the same arguments and input skips
the chunks already there, so at most the chunk in flight is recomputed; chunk composition and
batches are the same as in an uninterrupted run, and so is the output, byte for byte.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hiddenpool.encode.encoder import Encoder
from hiddenpool.encode.fitting import state_digest
from hiddenpool.encode.progress import Progress
from hiddenpool.io import ChunkRecord, PartialOutput, open_texts
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.spec import Side
from hiddenpool.pooling.stages import stages_dtype
from hiddenpool.postprocess.state import StageState

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "EmbedSummary",
    "embed_file",
    "embed_settings",
]

DEFAULT_CHUNK_SIZE = 20_000  # texts sorted and written together; memory scales with it


@dataclass(frozen=True)
class EmbedSummary:
    """What a run of :func:`embed_file` did.

    Attributes:
        output: the file written.
        texts: rows in the output.
        tokens: tokens run through the model, earlier runs included.
        truncated: texts longer than ``max_length``, earlier runs included.
        seconds: wall time of this run.
        resumed_texts: texts an earlier, interrupted run had embedded.
    """

    output: Path
    texts: int
    tokens: int
    truncated: int
    seconds: float
    resumed_texts: int


def _model_files(source: str) -> str:
    """Sizes and times of a local model folder's files, hashed (a hub name hashes to '')."""
    folder = Path(source)
    if not folder.is_dir():
        return ""
    stats = sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()
    )
    return hashlib.sha256(repr(stats).encode()).hexdigest()[:16]


def embed_settings(encoder: Encoder, specs: Sequence[str], **extra: Any) -> dict[str, Any]:
    """Everything that changes the output's bytes, as JSON-able values."""
    from hiddenpool import __version__

    backbone = encoder.backbone
    config = backbone.model.config
    source = str(getattr(config, "_name_or_path", "") or backbone.name)
    return {
        "hiddenpool": __version__,
        "model": backbone.name,
        "model_config": hashlib.sha256(config.to_json_string().encode()).hexdigest()[:16],
        "model_files": _model_files(source),
        "pooling": list(specs),
        "normalize": bool(encoder.normalize),
        "max_length": int(encoder.max_length),
        "long": encoder.long,
        "stride": encoder.stride,
        "dtype": str(next(backbone.model.parameters()).dtype).removeprefix("torch."),
        "device": backbone.device.type,
        "backend": encoder.backend.name,
        **extra,
    }


def embed_file(
    input_path: str | Path,
    output: str | Path,
    encoder: Encoder,
    specs: Sequence[str] | None = None,
    *,
    text_column: str | None = None,
    id_column: str | None = None,
    batch_tokens: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    out_dtype: str = "float32",
    restart: bool = False,
    progress: Progress | None = None,
    stages: StageState | None = None,
    side: Side = "document",
) -> EmbedSummary:
    """Embed every text of ``input_path`` into ``output``, resuming an interrupted run.

    Args:
        input_path: .txt, .csv, .tsv, .jsonl, .parquet, or ``"-"`` for lines on stdin (stdin
            cannot be read twice, so its runs are never resumed).
        output: .npy (one spec), .npz or .parquet; replaced atomically when complete.
        encoder: the Encoder (model, normalisation, max length, long-text mode, backend).
        specs: pooling specs; None takes the encoder's strategy.
        text_column: column or JSON key of the texts (default ``text``).
        id_column: column or JSON key of ids written to a .parquet output.
        batch_tokens: padded tokens per forward pass; None takes ``encoder.batch_tokens``
            (what suits its backend and device).
        chunk_size: texts per chunk (the unit of sorting, writing and resuming).
        out_dtype: ``"float32"`` or ``"float16"``.
        restart: discard an interrupted run's work instead of resuming it.
        progress: where to report progress; None reports nothing.
        stages: the fitted state the encoder applies (see
            :func:`hiddenpool.encode.fitting.prepare_stages`); a run resumes only with the same.
        side: ``"document"`` or ``"query"``: the template of a two-sided spec
            (``query/passage:mean``) the texts are read in; a run resumes only on the same side.

    Returns:
        EmbedSummary.

    Raises:
        ValueError: a bad input, output, spec, or earlier work with different settings.

    >>> embed_file("reviews.txt", "reviews.npy", Encoder())  # doctest: +SKIP
    EmbedSummary(output=PosixPath('reviews.npy'), texts=10605, ...)
    """
    started = time.perf_counter()
    keys = list(specs) if specs else [str(encoder.strategy)]
    if chunk_size < 1:
        raise ValueError(f"chunk size must be >= 1, got {chunk_size}")
    if batch_tokens is None:
        batch_tokens = encoder.batch_tokens
    if batch_tokens < 1:
        raise ValueError(f"batch tokens must be >= 1, got {batch_tokens}")
    reader = open_texts(input_path, text_column, id_column)
    writer = PartialOutput(
        output,
        keys,
        id_column if reader.format != ".txt" else None,
        out_dtype,
        _quantised_dtypes(keys),
    )
    if id_column and writer.format != ".parquet":
        raise ValueError(
            f"{output}: ids are written to .parquet outputs only; drop `id_column` "
            "or write .parquet (rows keep the input order either way)"
        )
    widths = {key: encoder.width(key) for key in keys}
    encoder.embed([], keys, side=side)  # refuses specs the long-text mode or backend cannot run
    sided = any(parse_strategy(key).asymmetric for key in keys)
    settings = embed_settings(
        encoder,
        keys,
        text_column=text_column,
        id_column=id_column,
        batch_tokens=batch_tokens,
        chunk_size=chunk_size,
        out_dtype=out_dtype,
        output_format=writer.format,
        **({"stages": state_digest(stages)} if stages is not None else {}),
        **({"side": side} if sided else {}),  # a one-sided run's bytes do not depend on it
    )
    done = writer.open(settings, reader.fingerprint(), restart=restart)
    report = progress or Progress(enabled=False)
    resumed = 0
    try:
        for index, chunk in enumerate(reader.chunks(chunk_size)):
            if index < done:
                if len(chunk.texts) != writer.chunks[index].rows:
                    raise ValueError(
                        f"{reader.name}: chunk {index} has changed since the "
                        "interrupted run; add restart=True to start over"
                    )
                resumed += len(chunk.texts)
                report.skip(len(chunk.texts), chunk.progress)
                continue
            on_batch = report.for_chunk(len(chunk.texts), chunk.progress)
            result = encoder.embed(
                chunk.texts, keys, side=side, batch_tokens=batch_tokens, on_batch=on_batch
            )
            record = ChunkRecord(len(chunk.texts), result.num_tokens, result.num_truncated)
            writer.add(index, result.vectors, chunk.ids, record)
            report.update(0, 0, chunk.progress, force=True)
        writer.finish(widths)
    except BaseException:
        writer.discard_if_empty()
        raise
    finally:
        writer.release()
        report.close()
    return EmbedSummary(
        output=Path(output),
        texts=sum(c.rows for c in writer.chunks),
        tokens=sum(c.tokens for c in writer.chunks),
        truncated=sum(c.truncated for c in writer.chunks),
        seconds=time.perf_counter() - started,
        resumed_texts=resumed,
    )


def _quantised_dtypes(specs: Sequence[str]) -> dict[str, str]:
    """Specs whose stages end in a quantisation, and their integer dtype (kept as it is)."""
    dtypes = {spec: stages_dtype(parse_strategy(spec).stages) for spec in specs}
    return {spec: dtype for spec, dtype in dtypes.items() if dtype != "float32"}
