"""Write vectors to .npy, .npz or .parquet atomically, chunk by chunk, resumably.

Nothing is ever written under the output's own name until the whole result is there. Work in
progress lives in a folder next to it, ``.<name>.partial/``:

- ``manifest.json``: the settings and input fingerprint the work belongs to, and the chunks
  finished so far (rows, tokens, truncated texts); replaced atomically after every chunk;
- ``chunk-000000.npz``...: each finished chunk's vectors (and ids), written to a temporary name
  and renamed, so a chunk file is either complete or absent.

When every chunk is done, the output is streamed from the chunk files into a temporary file next
to the output (memory stays at one chunk), renamed over the output in one step, and the folder is
removed. A killed run leaves the folder; the next run with the same settings and input skips the
finished chunks.

Output formats:

- ``.npy``: one strategy, an (n, width) array.
- ``.npz``: several strategies, one (n, width) array per spec, named by the spec as given
  (``np.load(path)["cls@concat(-4:)"]``).
- ``.parquet``: an id column (the id column's values, else the 0-based row number, named
  ``id``) and one fixed-size list column per spec.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from hiddenpool.io.atomic import AtomicFile, atomic_write_text

__all__ = [
    "OUTPUT_FORMATS",
    "OUT_DTYPES",
    "ChunkRecord",
    "PartialOutput",
    "check_output",
    "settings_diff",
]

OUTPUT_FORMATS: tuple[str, ...] = (".npy", ".npz", ".parquet")
OUT_DTYPES: tuple[str, ...] = ("float32", "float16")
_MANIFEST_VERSION = 1


def check_output(path: str | Path, specs: Sequence[str]) -> str:
    """The output format of ``path`` for ``specs``; ValueError if they do not fit.

    >>> check_output("vectors.npz", ["mean", "cls"])
    '.npz'
    """
    out = Path(path)
    fmt = out.suffix.lower()
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(
            f"{out}: unknown output format {fmt or '(no extension)'!r}; use .npy (one "
            "strategy), .npz (several) or .parquet (ids and one column per strategy)"
        )
    if fmt == ".npy" and len(specs) != 1:
        raise ValueError(f"{out}: .npy holds one strategy, got {len(specs)}; use .npz or .parquet")
    if len(set(specs)) != len(specs):
        raise ValueError(f"the same `pooling` is given twice: {', '.join(specs)}")
    if out.is_dir():
        raise IsADirectoryError(f"{out}: is a folder, expected a file name")
    if not out.parent.exists():
        raise FileNotFoundError(f"{out.parent}: no such folder for the output")
    if not os.access(out.parent, os.W_OK):
        raise PermissionError(f"{out.parent}: not writable (permission denied)")
    return fmt


def settings_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Human-readable differences ``key: old -> new`` between two settings dicts."""
    keys = sorted(set(old) | set(new))
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


@dataclass(frozen=True)
class ChunkRecord:
    """One finished chunk: its rows, the tokens it ran and the texts it truncated."""

    rows: int
    tokens: int
    truncated: int


def _npy_header(handle: IO[bytes], rows: int, width: int, dtype: np.dtype) -> None:
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": (rows, width),
    }
    np.lib.format.write_array_header_2_0(handle, header)


class PartialOutput:
    """The work folder of one output: open it, add chunks, then finish into the output.

    Args:
        output: the final output path (.npy, .npz or .parquet).
        specs: the strategies' specs, as keys of the vectors.
        id_column: name of the parquet id column (None: ``id``, the row numbers).
        out_dtype: ``"float32"`` or ``"float16"``.
        spec_dtypes: specs whose vectors keep another dtype (``int8``, ``uint8``: quantised).
    """

    def __init__(
        self,
        output: str | Path,
        specs: Sequence[str],
        id_column: str | None = None,
        out_dtype: str = "float32",
        spec_dtypes: Mapping[str, str] | None = None,
    ) -> None:
        if out_dtype not in OUT_DTYPES:
            raise ValueError(f"out dtype {out_dtype!r} is not one of {', '.join(OUT_DTYPES)}")
        self.output = Path(output)
        self.format = check_output(self.output, specs)
        self.specs = list(specs)
        self.id_column = id_column
        if self.format == ".parquet" and (id_column or "id") in self.specs:
            raise ValueError(f"the id column {id_column or 'id'!r} has the name of a `pooling`")
        self.dtype = np.dtype(out_dtype)
        self.dtypes = {s: np.dtype((spec_dtypes or {}).get(s, out_dtype)) for s in self.specs}
        self.folder = self.output.parent / f".{self.output.name}.partial"
        self.chunks: list[ChunkRecord] = []
        self._manifest: dict[str, Any] = {}
        self.lock_path = self.output.parent / f".{self.output.name}.lock"
        self._lock: int | None = None

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def chunk_path(self, index: int) -> Path:
        return self.folder / f"chunk-{index:06d}.npz"

    def open(
        self,
        settings: Mapping[str, Any],
        fingerprint: Mapping[str, Any] | None,
        restart: bool = False,
    ) -> int:
        """Start or resume; returns the number of chunks already finished.

        Args:
            settings: everything that changes the vectors (model, specs, lengths...).
            fingerprint: the input's fingerprint, or None for stdin (never resumed).
            restart: discard earlier work even if it matches.

        Raises:
            ValueError: earlier work exists for different settings or a different input, or
                another process is writing the same output.
        """
        self._acquire()
        try:
            return self._open(settings, fingerprint, restart)
        except BaseException:
            self.release()
            raise

    def _open(
        self, settings: Mapping[str, Any], fingerprint: Mapping[str, Any] | None, restart: bool
    ) -> int:
        manifest = self._read_manifest()
        if manifest is not None and not restart and fingerprint is not None:
            changes = settings_diff(manifest.get("settings", {}), settings)
            if manifest.get("input") != fingerprint:
                changes.insert(0, "the input file changed (size, time or content)")
            if changes:
                raise ValueError(
                    f"{self.output}: an interrupted run left its work in {self.folder} with "
                    f"different settings ({'; '.join(changes)}); rerun with the same "
                    "arguments to resume it, or add restart=True to discard it and start over"
                )
            self.chunks = [ChunkRecord(**c) for c in manifest.get("chunks", [])]
            # A chunk file lost since the manifest named it: resume from before it.
            for index in range(len(self.chunks)):
                if not self.chunk_path(index).is_file():
                    self.chunks = self.chunks[:index]
                    break
        else:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.chunks = []
        self.folder.mkdir(exist_ok=True)
        self._manifest = {
            "version": _MANIFEST_VERSION,
            "output": self.output.name,
            "settings": dict(settings),
            "input": fingerprint,
        }
        self._save_manifest()
        return len(self.chunks)

    def _acquire(self) -> None:
        """Hold an exclusive lock on ``.<name>.lock`` next to the output, so that two runs never
        write the same output; the system drops it when the process dies, however it dies."""
        if self._lock is not None:
            return
        fd = os.open(self.lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(
                f"{self.output}: another hiddenpool embed is writing it (it holds "
                f"{self.lock_path}); wait for it to finish or stop it"
            ) from None
        self._lock = fd

    def release(self) -> None:
        """Drop the lock (and its file); finished and resumable work stay as they are."""
        if self._lock is None:
            return
        self.lock_path.unlink(missing_ok=True)
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        os.close(self._lock)
        self._lock = None

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) and data.get("version") == _MANIFEST_VERSION else None

    def _save_manifest(self) -> None:
        self._manifest["chunks"] = [c.__dict__ for c in self.chunks]
        atomic_write_text(self.manifest_path, json.dumps(self._manifest, indent=1))

    def add(
        self,
        index: int,
        vectors: Mapping[str, np.ndarray],
        ids: Sequence[Any] | None,
        record: ChunkRecord,
    ) -> None:
        """Store finished chunk ``index`` (the next one) atomically, then record it."""
        if index != len(self.chunks):
            raise ValueError(f"chunk {index} given, chunk {len(self.chunks)} expected")
        arrays: dict[str, Any] = {
            f"v{i}": np.asarray(vectors[s], dtype=self.dtypes[s]) for i, s in enumerate(self.specs)
        }
        if ids is not None:
            arrays["ids"] = _ids_array(ids, self.id_column or "id")
        with AtomicFile(self.chunk_path(index)) as tmp, tmp.open("wb") as handle:
            np.savez(handle, **arrays)
        self.chunks.append(record)
        self._save_manifest()

    def discard_if_empty(self) -> None:
        """Remove the work folder if no chunk was finished (nothing worth resuming)."""
        if not self.chunks:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _load(self, index: int) -> Any:
        return np.load(self.chunk_path(index), allow_pickle=False)

    def _column(self, key: str) -> Iterator[np.ndarray]:
        for index in range(len(self.chunks)):
            with self._load(index) as data:
                yield data[key]

    def finish(self, widths: Mapping[str, int]) -> Path:
        """Assemble the output from the chunk files, atomically; remove the work folder and the
        lock."""
        rows = sum(c.rows for c in self.chunks)
        with AtomicFile(self.output) as tmp:
            if self.format == ".npy":
                with tmp.open("wb") as handle:
                    self._write_npy(handle, self.specs[0], 0, rows, widths[self.specs[0]])
            elif self.format == ".npz":
                with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                    for i, spec in enumerate(self.specs):
                        with archive.open(f"{spec}.npy", "w", force_zip64=True) as handle:
                            self._write_npy(handle, spec, i, rows, widths[spec])
            else:
                self._write_parquet(tmp, widths)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.release()
        return self.output

    def _write_npy(self, handle: IO[bytes], spec: str, i: int, rows: int, width: int) -> None:
        dtype = self.dtypes[spec]
        _npy_header(handle, rows, width, dtype)
        for block in self._column(f"v{i}"):
            handle.write(np.ascontiguousarray(block, dtype=dtype).tobytes())

    def _write_parquet(self, path: Path, widths: Mapping[str, int]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        value_types = {s: pa.from_numpy_dtype(self.dtypes[s]) for s in self.specs}
        writer = None
        start = 0
        try:
            for index, record in enumerate(self.chunks):
                with self._load(index) as data:
                    if "ids" in data:
                        ids = pa.array(data["ids"].tolist())
                    else:
                        ids = pa.array(np.arange(start, start + record.rows, dtype=np.int64))
                    columns = [ids]
                    for i, spec in enumerate(self.specs):
                        flat = pa.array(data[f"v{i}"].reshape(-1), type=value_types[spec])
                        columns.append(pa.FixedSizeListArray.from_arrays(flat, widths[spec]))
                table = pa.Table.from_arrays(columns, names=[self.id_column or "id", *self.specs])
                if writer is None:
                    writer = pq.ParquetWriter(str(path), table.schema)
                elif table.schema != writer.schema:
                    raise ValueError(
                        f"ids in column {self.id_column!r} change type at row {start + 1} "
                        f"({writer.schema.field(0).type} before, {table.schema.field(0).type} "
                        "here); use one type"
                    )
                writer.write_table(table)
                start += record.rows
            if writer is None:  # no rows at all: an empty table with the right columns
                empty = [pa.array([], type=pa.int64())] + [
                    pa.FixedSizeListArray.from_arrays(pa.array([], type=value_types[s]), widths[s])
                    for s in self.specs
                ]
                pq.write_table(
                    pa.Table.from_arrays(empty, names=[self.id_column or "id", *self.specs]),
                    str(path),
                )
        finally:
            if writer is not None:
                writer.close()


def _ids_array(ids: Sequence[Any], column: str) -> np.ndarray:
    kinds = {type(i) for i in ids}
    if kinds <= {int}:
        return np.asarray(ids, dtype=np.int64)
    if kinds <= {str}:
        return np.asarray(ids, dtype=np.str_)
    raise ValueError(f"ids in column {column!r} mix integers and strings; use one type")
