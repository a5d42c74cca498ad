"""Predictions from a saved pooled model (or the fold models of a cross-validated run, averaged).

Input is read in chunks and written chunk by chunk, so files larger than memory stream through.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from hiddenpool._runtime import resolve_device
from hiddenpool.encode.batching import padded_batches
from hiddenpool.encode.windows import tokenize_windows
from hiddenpool.io import TEXT, Column, TableWriter, input_format, open_table
from hiddenpool.train.config import CONFIG_NAME, PooledModelConfig, is_pooled_model_dir
from hiddenpool.train.metrics import predictions_from_logits, score
from hiddenpool.train.model import PooledModel

__all__ = ["PredictReport", "Predictor", "model_dirs", "predict_file", "predict_logits"]


def model_dirs(path: str | Path) -> list[Path]:
    """The model folders at ``path``: itself, or its ``fold*`` folders for a K-fold run."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such model folder")
    if is_pooled_model_dir(path):
        return [path]
    folds = sorted(p for p in path.glob("fold*") if is_pooled_model_dir(p))
    if not folds:
        raise ValueError(
            f"{path} is not a hiddenpool model: no {CONFIG_NAME} in it or in fold*/ "
            "(point at the --out folder of `hiddenpool train`)"
        )
    return folds


def predict_logits(
    model: PooledModel,
    texts: Sequence[str],
    batch_size: int | None = None,
    batch_tokens: int | None = None,
) -> np.ndarray:
    """(n, K) float32 logits of ``model`` on ``texts``, batched as the Encoder batches.

    Tokenised as in training (the model's max_length, one window per text, placed in its
    prompt template if it has one), length-sorted and cut by a budget of padded tokens (with
    neither limit given, the budget that suits the device); rows in input order. A text with no
    token at all pools to zeros.
    """
    if batch_size is None and batch_tokens is None:
        batch_tokens = 4096 if model.backbone.device.type == "cpu" else 65_536
    windows = tokenize_windows(
        model.tokenizer, list(texts), model.max_length, template=model.template
    )
    logits = np.zeros((len(texts), model.pooled_config.num_outputs), dtype=np.float32)
    device = model.backbone.device
    with torch.inference_mode():
        for rows, padded in padded_batches(model.tokenizer, windows, batch_size, batch_tokens):
            padded.pop("pool_mask")  # one window per text: it pools every real token
            batch = {k: torch.from_numpy(v).to(device) for k, v in padded.items()}
            logits[windows.doc[rows]] = model(**batch).logits.float().cpu().numpy()
        empty = windows.lengths[windows.doc] == 0
        if empty.any():
            zeros = torch.zeros(1, model.pooling.width, device=device)
            logits[empty] = model.forward_head(zeros)[0].float().cpu().numpy()
    return logits


class Predictor:
    """One saved model, or several fold models whose predictions are averaged.

    Args:
        path: a model folder, or the output folder of a K-fold run.
        device: ``auto``, ``cpu``, ``cuda``...
        dtype: weights dtype (None: float32); ``trust_remote_code`` and ``allow_pickle`` are
            :func:`~hiddenpool.backbone.load_backbone`'s opt-ins.

    >>> predictor = Predictor("runs/vader-mean")  # doctest: +SKIP
    >>> predictor.predict(["a fine film", "dull"]).shape  # doctest: +SKIP
    (2, 1)
    """

    def __init__(
        self,
        path: str | Path,
        device: str | torch.device = "auto",
        dtype: torch.dtype | None = None,
        trust_remote_code: bool = False,
        allow_pickle: bool = False,
    ) -> None:
        where = resolve_device(device)
        self.models = [
            PooledModel.from_pretrained(d, where, dtype, trust_remote_code, allow_pickle)
            for d in model_dirs(path)
        ]
        self.config: PooledModelConfig = self.models[0].pooled_config
        for model in self.models[1:]:
            other = model.pooled_config
            if (other.task, other.labels) != (self.config.task, self.config.labels):
                raise ValueError(f"{path}: the fold models disagree on the task or the labels")

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    @torch.inference_mode()
    def predict(
        self,
        texts: Sequence[str],
        batch_size: int | None = None,
        *,
        batch_tokens: int | None = None,
    ) -> np.ndarray:
        """(n, K) predictions: values (regression), class probabilities, or label probabilities.

        Texts are tokenised and batched as the Encoder batches them (length-sorted, at most
        ``batch_tokens`` padded tokens per pass; with neither limit given, the budget that
        suits the device); rows come back in input order.
        """
        texts = list(texts)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        if not texts:
            return out
        for model in self.models:
            logits = predict_logits(model, texts, batch_size, batch_tokens)
            out += predictions_from_logits(self.task, logits)
        return out / len(self.models)

    def columns(self) -> tuple[list[str], list[str]]:
        """(all output columns, the numeric ones) for this task."""
        if self.task == "regression":
            return list(self.labels), list(self.labels)
        probs = [f"prob_{label}" for label in self.labels]
        first = "label" if self.task == "classification" else "predicted"
        return [first, *probs], probs

    def table(self, predictions: np.ndarray) -> dict[str, Any]:
        """Output columns of ``predictions``, by name."""
        _, numeric = self.columns()
        table: dict[str, Any] = {name: predictions[:, j] for j, name in enumerate(numeric)}
        if self.task == "classification":
            table["label"] = [self.labels[i] for i in predictions.argmax(axis=1)]
        elif self.task == "multilabel":
            table["predicted"] = [
                ";".join(label for label, p in zip(self.labels, row, strict=True) if p >= 0.5)
                for row in predictions
            ]
        return table

    def encode_labels(self, values: dict[str, list[Any]], first_row: int) -> np.ndarray:
        """Gold labels found in the input, checked against what the model was trained on."""
        config = self.config
        if config.task == "classification":
            column = config.targets[0]
            index = {label: i for i, label in enumerate(config.labels)}
            encoded = []
            for offset, value in enumerate(values[column]):
                key = _label_text(value)
                if key not in index:
                    raise ValueError(
                        f"row {first_row + offset}, column {column!r}: label {key!r} was not "
                        f"seen in training; the model knows {', '.join(config.labels)}"
                    )
                encoded.append(index[key])
            return np.asarray(encoded, dtype=np.int64)
        matrix = np.empty((len(values[config.targets[0]]), len(config.targets)))
        for j, column in enumerate(config.targets):
            for offset, value in enumerate(values[column]):
                number = _number(value)
                if number is None or (config.task == "multilabel" and number not in (0.0, 1.0)):
                    kind = "0 or 1" if config.task == "multilabel" else "a finite number"
                    raise ValueError(
                        f"row {first_row + offset}, label column {column!r}: expected {kind}, "
                        f"got {value!r}"
                    )
                matrix[offset, j] = number
        return matrix


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class PredictReport:
    """What ``predict_file`` did: rows written, and metrics when the input had gold labels."""

    output: Path
    rows: int
    metrics: dict[str, float] | None


def predict_file(
    model: str | Path | Predictor,
    input_path: str | Path,
    output_path: str | Path,
    text_column: str | None = None,
    id_column: str | None = None,
    batch_size: int = 32,
    chunk_size: int = 2048,
    device: str = "auto",
    show_progress: bool | None = None,
) -> PredictReport:
    """Predict every row of ``input_path`` and write ``output_path``, streaming.

    Args:
        model: a model folder, a K-fold output folder, or a loaded Predictor.
        input_path: .txt (one text per line), .csv, .tsv, .jsonl or .parquet.
        output_path: .csv, .jsonl, .parquet, or .npy (the numeric predictions only).
        text_column: the text column; None takes the one the model was trained on.
        id_column: a column copied to the output first (FB3's ``text_id``).
        batch_size: texts per forward pass.
        chunk_size: rows read and written at a time.

    Returns:
        Rows written, and metrics when the input holds the model's label columns (a
        classification label unseen in training is an error).
    """
    predictor = model if isinstance(model, Predictor) else Predictor(model, device=device)
    config = predictor.config
    text = TEXT if input_format(input_path) == ".txt" else text_column or config.text_column
    wanted = [Column(text, "text", "`text_column`")]
    if id_column is not None:
        wanted.append(Column(id_column, "id", "`id_column`"))
    # Gold labels are scored when the input has every label column the model was trained on.
    wanted += [Column(c, "value", required=False) for c in config.targets]
    reader = open_table(input_path, wanted)
    has_labels = all(reader.has(c) for c in config.targets)
    names, numeric = predictor.columns()
    columns = [id_column, *names] if id_column else names
    gold: list[np.ndarray] = []
    predicted: list[np.ndarray] = []
    progress = sys.stderr.isatty() if show_progress is None else show_progress
    rows = 0
    with (
        TableWriter(output_path, columns, numeric) as writer,
        tqdm(disable=not progress, unit="text", desc="predicting") as bar,
    ):
        for chunk in reader.chunks(chunk_size):
            if has_labels:
                try:
                    gold.append(predictor.encode_labels(chunk.values, chunk.start + 1))
                except ValueError as error:
                    raise ValueError(f"{reader.name}: {error}") from None
            predictions = predictor.predict(chunk.texts, batch_size)
            table = predictor.table(predictions)
            if id_column:
                table[id_column] = chunk.ids
            writer.write({c: table[c] for c in columns})
            if has_labels:
                predicted.append(predictions)
            rows += len(chunk)
            bar.update(len(chunk))
    metrics = None
    if has_labels and rows:
        metrics = score(config.task, np.concatenate(gold), np.concatenate(predicted))
    return PredictReport(Path(output_path), rows, metrics)
