"""Embedding on Ray Data: the strategies and vectors of :class:`hiddenpool.Encoder`, scaled out.

Ray is an optional extra (``pip install hiddenpool[ray]``); nothing else in hiddenpool imports it.
Ray Data reads the input, ``map_batches`` runs a pool of actors that each load the model once, and
Ray Data writes parquet. Each input file is a shard with its own output folder, written beside its
final name and renamed into place when complete: a re-run skips shards already written, so a lost
worker or a crashed run costs one shard, not the run.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RayEmbedSettings", "embed_dataset", "embed_files", "list_shards", "shard_output"]

READERS = {
    ".parquet": "read_parquet",
    ".csv": "read_csv",
    ".tsv": "read_csv",
    ".jsonl": "read_json",
    ".json": "read_json",
    ".txt": "read_text",
}


@dataclass(frozen=True)
class RayEmbedSettings:
    """What every actor needs to build its Encoder, and how to size the pool.

    Attributes:
        specs: pooling specs; each becomes an output column named by the spec as written.
            Empty: the model's own default strategy.
        model: model folder or hub name, None for the default MiniLM-L6.
        text_column: column holding the texts (``text`` for .txt files).
        id_column: column copied to the output to identify rows; None keeps the text column.
        normalize, max_length, device, dtype: as for :class:`hiddenpool.Encoder`.
        batch_size: texts per ``map_batches`` call (the Encoder sorts them by length inside).
        actors: size of the actor pool; None uses one per CPU Ray sees, less one for reading and
            writing. Each actor reserves one CPU (and ``gpus_per_actor`` GPUs).
        gpus_per_actor: GPUs each actor reserves (0 on CPU clusters).
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
        texts = [str(t) if t is not None else "" for t in batch[settings.text_column]]
        specs = list(settings.specs) or [str(self.encoder.strategy)]
        vectors = self.encoder.encode_many(texts, specs, show_progress=False)
        keep = settings.id_column or settings.text_column
        if keep not in batch:
            raise ValueError(f"no column {keep!r}; columns are {', '.join(batch)}")
        out: dict[str, Any] = {keep: batch[keep]}
        for spec, matrix in vectors.items():
            out[spec] = list(matrix)  # one float32 vector per row: a list column in parquet
        return out


def embed_dataset(dataset: Any, settings: RayEmbedSettings) -> Any:
    """Add one embedding column per spec to a ``ray.data.Dataset``.

    Args:
        dataset: a Ray Data dataset with ``settings.text_column``.
        settings: specs, model and pool size.

    Returns:
        A lazy dataset with the id (or text) column and one list<float32> column per spec. Rows
        are identified by that column: Ray Data may reorder them.
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
    """The input files: a folder's supported files, a glob, or explicit paths, sorted."""
    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    found: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found += [p for p in sorted(path.iterdir()) if p.suffix.lower() in READERS]
        elif path.is_file():
            found.append(path)
        else:
            matches = sorted(Path(p) for p in glob.glob(str(item)))
            if not matches:
                raise FileNotFoundError(f"{item}: no such file, folder or matching files")
            found += matches
    unsupported = [p for p in found if p.suffix.lower() not in READERS]
    if unsupported:
        raise ValueError(
            f"{unsupported[0]}: unsupported input type; expected one of {', '.join(READERS)}"
        )
    if not found:
        raise FileNotFoundError(f"{inputs}: no input files ({', '.join(READERS)})")
    return found


def shard_output(output_dir: Path, shard: Path) -> Path:
    """Where a shard's vectors go: a parquet folder named after the input file."""
    return output_dir / f"{shard.name}.parquet"


def _read(shard: Path) -> Any:
    import ray

    reader = READERS[shard.suffix.lower()]
    kwargs: dict[str, Any] = {}
    if shard.suffix.lower() == ".tsv":
        import pyarrow.csv

        kwargs["parse_options"] = pyarrow.csv.ParseOptions(delimiter="\t")
    if reader == "read_json":
        kwargs["lines"] = True
    return getattr(ray.data, reader)(str(shard), **kwargs)


def embed_files(
    inputs: str | Path | Sequence[str | Path],
    output_dir: str | Path,
    settings: RayEmbedSettings,
    ray_address: str | None = None,
) -> list[Path]:
    """Embed every input file into ``output_dir/<file name>.parquet/`` with Ray Data.

    Each shard's vectors are written as one parquet file, so a shard must fit in one worker's
    memory: split big corpora into many files. Rows carry their id (or text) column; Ray may
    reorder rows within a shard, so join on that column rather than relying on row order.

    Without ``ray_address`` a local Ray runtime sized to this machine is started; with one, the
    call joins that cluster (``"auto"`` for the one this machine belongs to). Shards whose output
    folder exists are skipped; the others are written to a hidden folder and renamed when done.

    Returns:
        The output folder of every shard, in input order.
    """
    import ray

    shards = list_shards(inputs)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not ray.is_initialized():
        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False)
    # Before the read: a dataset takes the context it is created in.
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    written: list[Path] = []
    for shard in shards:
        final = shard_output(out, shard)
        if not final.exists():
            staging = out / f".{final.name}.{uuid.uuid4().hex}.partial"
            try:
                # One block, so one file per shard.
                vectors = embed_dataset(_read(shard), settings).repartition(1)
                vectors.write_parquet(str(staging))
                os.replace(staging, final)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        written.append(final)
    return written
