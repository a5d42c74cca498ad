"""Embedding on Ray Data: the strategies and vectors of :class:`hiddenpool.Encoder`, scaled out.

Ray is an optional extra (``pip install hiddenpool[ray]``); nothing else in hiddenpool imports it.
Each input file (a shard) is read by :func:`hiddenpool.io.open_table`, the reader of every other
command (same formats, same rules, same errors), into Ray's object store; ``map_batches`` runs a
pool of actors that each load the model once, and Ray Data writes parquet. Each shard has its own
output folder, written beside its final name and renamed into place when complete: a re-run skips
shards already written, so a lost worker or a crashed run costs one shard, not the run.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hiddenpool.io import (
    INPUT_FORMATS,
    OUT_DTYPES,
    TEXT,
    Column,
    InputError,
    input_format,
    open_table,
)
from hiddenpool.pooling import parse_strategy
from hiddenpool.pooling.stages import stages_to_fit

__all__ = ["RayEmbedSettings", "embed_dataset", "embed_files", "list_shards", "shard_output"]

_BATCHES_PER_BLOCK = 4  # batches per block handed to Ray: blocks spread a shard over the actors


@dataclass(frozen=True)
class RayEmbedSettings:
    """What every actor needs to build its Encoder, and how to size the pool.

    Attributes:
        specs: pooling specs; each becomes an output column named by the spec as written.
            Empty: the model's own default strategy. A spec may end in stages that need no
            fitting (``| truncate(k)``, ``| normalize``, ``| binary``, ``| ubinary``), applied
            by the workers' Encoder as on the local engine; stages fitted on texts (whiten, pca,
            center, int8, uint8) are refused, as the workers would share no fitted state.
        model: model folder or hub name, None for the default MiniLM-L6.
        text_column: column holding the texts (``text`` for .txt files).
        id_column: column copied to the output to identify rows; None keeps the text column.
        normalize, max_length, device, dtype: as for :class:`hiddenpool.Encoder`.
        batch_size: texts per ``map_batches`` call (the Encoder sorts them by length inside).
        actors: size of the actor pool; None uses one per CPU Ray sees, less one for reading and
            writing. Each actor reserves one CPU (and ``gpus_per_actor`` GPUs).
        gpus_per_actor: GPUs each actor reserves (0 on CPU clusters).
        out_dtype: ``"float32"`` or ``"float16"``, the stored dtype of float vectors (packed
            ``binary``/``ubinary`` bits keep theirs), as the local engine's ``--out-dtype``.
    """

    specs: tuple[str, ...] = ("mean",)
    model: str | None = None
    text_column: str = "text"
    id_column: str | None = None
    normalize: bool | None = None
    max_length: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 256
    actors: int | None = None
    gpus_per_actor: float = 0.0
    out_dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.out_dtype not in OUT_DTYPES:
            raise ValueError(f"out_dtype {self.out_dtype!r} is not one of {', '.join(OUT_DTYPES)}")
        for spec in self.specs:  # refused here, before Ray starts, not in every worker
            strategy = parse_strategy(spec)
            if strategy.needs_fitting:
                raise ValueError(
                    f"specs: {spec!r} has stages to fit ({stages_to_fit(strategy.stages)}), and "
                    "Ray workers share no fitted state: fit and embed them on the local engine "
                    "(Encoder.fit_stages); truncate, normalize, binary and ubinary run on Ray"
                )


class _EmbedActor:
    """A Ray Data actor: loads the model once, embeds every batch it is given."""

    def __init__(self, settings: RayEmbedSettings) -> None:
        import torch

        from hiddenpool.encode.encoder import Encoder

        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
        self.settings = settings
        self.encoder = Encoder(
            settings.model,
            normalize=settings.normalize,
            max_length=settings.max_length,
            device=settings.device,
            dtype=settings.dtype,
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        settings = self.settings
        if settings.text_column not in batch:
            raise ValueError(f"no column {settings.text_column!r}; columns are {', '.join(batch)}")
        texts = [str(t) for t in batch[settings.text_column]]
        specs = list(settings.specs) or [str(self.encoder.strategy)]
        vectors = self.encoder.encode_many(texts, specs, show_progress=False)
        keep = settings.id_column or settings.text_column
        if keep not in batch:
            raise ValueError(f"no column {keep!r}; columns are {', '.join(batch)}")
        out: dict[str, Any] = {keep: batch[keep]}
        for spec, matrix in vectors.items():
            if np.issubdtype(matrix.dtype, np.floating):
                matrix = matrix.astype(settings.out_dtype)
            out[spec] = list(matrix)  # one vector per row (the spec's dtype): a list column
        return out


def embed_dataset(dataset: Any, settings: RayEmbedSettings) -> Any:
    """Add one embedding column per spec to a ``ray.data.Dataset``.

    Args:
        dataset: a Ray Data dataset with ``settings.text_column``.
        settings: specs, model and pool size.

    Returns:
        A lazy dataset with the id (or text) column and one list column per spec: float32 (or
        ``settings.out_dtype``), or int8/uint8 for a spec ending in ``binary``/``ubinary``
        (packed bits, as the local engine writes them). Rows are identified by that column: Ray
        Data may reorder them.
    """
    import ray

    ray.data.DataContext.get_current().execution_options.preserve_order = True
    # Leave one CPU to Ray Data's read and write tasks: a pool holding every CPU starves them.
    actors = settings.actors or max(1, int(ray.cluster_resources().get("CPU", 2)) - 1)
    return dataset.map_batches(
        _EmbedActor,
        fn_constructor_kwargs={"settings": settings},
        batch_size=settings.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=settings.gpus_per_actor or None,
        num_cpus=1,
    )


def list_shards(inputs: str | Path | Sequence[str | Path]) -> list[Path]:
    """The input files: a folder's readable files, a glob, or explicit paths, sorted."""
    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found += [p for p in sorted(path.iterdir()) if p.suffix.lower() in INPUT_FORMATS]
        elif path.is_file():
            found.append(path)
        else:
            matches = sorted(Path(p) for p in glob.glob(str(item)))
            if not matches:
                raise FileNotFoundError(f"{item}: no such file, folder or matching files")
            found += matches
    unsupported = [p for p in found if p.suffix.lower() not in INPUT_FORMATS]
    if unsupported:
        raise ValueError(
            f"{unsupported[0]}: unsupported input type; expected one of {', '.join(INPUT_FORMATS)}"
        )
    if not found:
        raise FileNotFoundError(f"{inputs}: no input files ({', '.join(INPUT_FORMATS)})")
    return found


def shard_output(output_dir: Path, shard: Path) -> Path:
    """Where a shard's vectors go: ``<output_dir>/<input name without its extension>.parquet/``,
    a parquet folder (``part-0.csv`` and ``part-0.parquet`` both give ``part-0.parquet/``)."""
    return output_dir / f"{shard.stem}.parquet"


def _outputs(shards: Sequence[Path], out: Path) -> list[Path]:
    """Each shard's output; ValueError if two shards would share one, or one is its input."""
    finals = [shard_output(out, shard) for shard in shards]
    seen: dict[Path, Path] = {}
    for shard, final in zip(shards, finals, strict=True):
        if final.resolve() == shard.resolve():
            raise ValueError(
                f"{shard}: its vectors would be written over it ({final}); choose an output "
                "folder other than the input folder"
            )
        if final in seen:
            raise ValueError(
                f"{seen[final]} and {shard} would both be written to {final}; rename one of them"
            )
        seen[final] = shard
    return finals


def _read(shard: Path, settings: RayEmbedSettings) -> Any:
    """A Ray dataset of the shard's text (and id) column, read by hiddenpool's reader.

    The driver reads the file a chunk at a time and puts each chunk into Ray's object store, so
    the driver holds one chunk, and every problem is an InputError naming file, row and column.
    The text column is called ``settings.text_column`` (for .txt files too, whose lines are the
    texts).
    """
    import pyarrow as pa
    import ray

    text = TEXT if input_format(shard) == ".txt" else settings.text_column
    columns = [Column(text, "text", "--text-column")]
    if settings.id_column:
        columns.append(Column(settings.id_column, "id", "--id-column"))
    reader = open_table(shard, columns)
    id_type = None
    refs: list[Any] = []
    for chunk in reader.chunks(settings.batch_size * _BATCHES_PER_BLOCK):
        table = {settings.text_column: pa.array(chunk.texts, type=pa.string())}
        if settings.id_column:
            try:
                ids = pa.array(chunk.ids)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                ids = None
            if ids is None or (id_type is not None and ids.type != id_type):
                raise InputError(
                    str(shard),
                    f"ids mix integers and strings (by row {chunk.start + len(chunk)}); "
                    "use one type",
                    column=settings.id_column,
                )
            id_type = ids.type
            table[settings.id_column] = ids
        refs.append(ray.put(pa.table(table)))
    if not refs:  # an empty shard: no rows, the columns still there
        empty = {settings.text_column: pa.array([], type=pa.string())}
        if settings.id_column:
            empty[settings.id_column] = pa.array([], type=pa.string())
        refs.append(ray.put(pa.table(empty)))
    return ray.data.from_arrow_refs(refs)


def _start(ray_address: str | None, quiet: bool) -> None:
    """Start (or join) Ray with its terminal output turned down to what a hiddenpool user needs.

    Ray logs every start and every dataset execution at INFO, and Ray Data logs its progress
    every few seconds when stderr is not a terminal. Here the ``ray`` logger and Ray Data's
    terminal handler say warnings and errors only (errors only when ``quiet``); Ray Data's log
    file keeps everything. Progress bars show on a terminal unless ``quiet``; workers' output
    stays in Ray's log files.
    """
    import ray
    import ray.data  # configures the "ray.data" logger: adjust it after

    level = logging.ERROR if quiet else logging.WARNING
    if not ray.is_initialized():
        ray.init(
            address=ray_address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=level,
        )
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.setLevel(level)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = not quiet
    # Before the read: a dataset takes the context it is created in.
    context.execution_options.preserve_order = True


def embed_files(
    inputs: str | Path | Sequence[str | Path],
    output_dir: str | Path,
    settings: RayEmbedSettings,
    ray_address: str | None = None,
    quiet: bool = False,
) -> list[Path]:
    """Embed every input file into ``output_dir/<file name less extension>.parquet/``.

    Each shard is read by :func:`hiddenpool.io.open_table` (so .txt, .csv, .tsv, .jsonl and
    .parquet, with the rules and errors of every other command) and its vectors are written as
    one parquet file, so a shard must fit in one worker's memory: split big corpora into many
    files. Rows carry their id (or text) column; Ray may reorder rows within a shard, so join on
    that column rather than relying on row order.

    Without ``ray_address`` a local Ray runtime sized to this machine is started; with one, the
    call joins that cluster (``"auto"`` for the one this machine belongs to). Shards whose output
    folder exists are skipped; the others are written to a hidden folder and renamed when done.
    Ray's own messages are warnings and errors only; ``quiet`` leaves errors only and no progress
    bars.

    Returns:
        The output folder of every shard, in input order.

    Raises:
        ValueError: two shards would share an output (``a.csv`` and ``a.jsonl``), a shard would
            be overwritten by its output, or a shard's content breaks the reading rules.
    """
    shards = list_shards(inputs)
    out = Path(output_dir)
    finals = _outputs(shards, out)
    out.mkdir(parents=True, exist_ok=True)
    _start(ray_address, quiet)
    for shard, final in zip(shards, finals, strict=True):
        if final.exists():
            continue
        staging = out / f".{final.name}.{uuid.uuid4().hex}.partial"
        try:
            # One block, so one file per shard.
            vectors = embed_dataset(_read(shard, settings), settings).repartition(1)
            vectors.write_parquet(str(staging))
            os.replace(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return finals
