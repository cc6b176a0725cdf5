"""Batch scoring: check a batch against the model's features, score it, label the predictions.

The batch may arrive whole (a DataFrame), in chunks (a CSV or Parquet reader with `chunksize`,
any iterable of DataFrames) or as partitions (a PartitionedDataset's {name: load function}):
one chunk is in memory at a time, and only the narrow prediction columns are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from ...core.features import Features, feature_spec, trained_columns
from ...core.parameters import FeatureSpec, InferenceSettings, section
from ...core.scoring import predict_scores

logger = logging.getLogger(__name__)

# The columns every prediction row carries; a batch column with one of these names is refused.
PREDICTION_COLUMNS = (
    "id",
    "score",
    "predicted_label",
    "model_name",
    "model_version",
    "scored_at",
)


class BatchSchemaError(ValueError):
    """Raised when a batch cannot be scored by the model: a feature column is missing or invalid."""


def model_features(model: Any, features: Features) -> list[str]:
    """Return the columns the model was fitted on (its `feature_names_in_`, else the parameters)."""
    names = trained_columns(model)
    return names if names is not None else list(feature_spec(features).model_columns)


def iter_chunks(batch: Any) -> Iterator[pd.DataFrame]:
    """Yield the batch's DataFrames: itself, each chunk of a reader, or each loaded partition."""
    if isinstance(batch, pd.DataFrame):
        yield batch
    elif isinstance(batch, Mapping):
        for name in sorted(batch):
            part = batch[name]
            yield part() if callable(part) else part
    elif isinstance(batch, Iterable):
        yield from batch
    else:
        raise TypeError(f"cannot score a batch of type {type(batch).__name__}")


def check_batch(chunk: pd.DataFrame, columns: list[str], spec: FeatureSpec) -> pd.DataFrame:
    """Return the chunk's feature columns with model dtypes; a missing or bad one is named."""
    missing = [column for column in columns if column not in chunk.columns]
    if missing:
        raise BatchSchemaError(
            f"the batch lacks the model's feature column(s) {missing}; it has {list(chunk.columns)}"
        )
    id_column = spec.id_column
    if id_column is not None and id_column not in chunk.columns:
        raise BatchSchemaError(f"the batch lacks its id column {id_column!r}")
    prepared = pd.DataFrame(index=chunk.index)
    numeric = set(spec.numeric)
    for column in columns:
        values = chunk[column]
        if column in numeric:
            coerced = pd.to_numeric(values, errors="coerce")
            bad = values.notna() & coerced.isna()
            if bad.any():
                examples = values[bad].astype(str).unique()[:3].tolist()
                raise BatchSchemaError(
                    f"feature column {column!r} must be numeric, found {examples}"
                )
            prepared[column] = coerced.astype("float64")
        else:
            prepared[column] = values.where(values.isna(), values.astype(str))
    return prepared


def score_chunk(  # noqa: PLR0917 - one chunk and its context, by position
    chunk: pd.DataFrame,
    served: Any,
    spec: FeatureSpec,
    threshold: float,
    settings: InferenceSettings,
    first_row: int,
    scored_at: str,
) -> pd.DataFrame:
    """Return the predictions of one chunk: id, score, label, model name and version, time."""
    model = served.model
    columns = model_features(model, spec)
    prepared = check_batch(chunk, columns, spec)
    scores = predict_scores(model, prepared, columns, chunk_rows=settings.chunk_rows)
    id_column = spec.id_column
    ids = (
        chunk[id_column].to_numpy()
        if id_column is not None
        else np.arange(first_row, first_row + len(chunk))
    )
    predictions = pd.DataFrame(
        {
            "id": ids,
            "score": scores,
            "predicted_label": (scores >= threshold).astype("int64"),
            "model_name": served.name,
            "model_version": str(served.version),
            "scored_at": scored_at,
        }
    )
    if settings.carry_extra_columns:
        skipped = {*columns, id_column}
        extra = [c for c in chunk.columns if c not in skipped]
        clashes = [c for c in extra if c in PREDICTION_COLUMNS]
        if clashes:
            raise BatchSchemaError(
                f"the batch's column(s) {clashes} clash with prediction columns; rename them"
            )
        for column in extra:
            predictions[column] = chunk[column].to_numpy()
    return predictions


def score_batch(
    batch: Any,
    champion_model: Any,
    features: Features,
    evaluation: dict[str, Any],
    inference: dict[str, Any],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> pd.DataFrame:
    """Return one prediction row per batch row, scored by the champion, chunk by chunk."""
    spec = feature_spec(features)
    settings = section(InferenceSettings, inference, "inference")
    threshold = float(evaluation["threshold"])
    scored_at = now().isoformat(timespec="seconds")
    parts, first_row = [], 0
    for chunk in iter_chunks(batch):
        parts.append(
            score_chunk(chunk, champion_model, spec, threshold, settings, first_row, scored_at)
        )
        first_row += len(chunk)
    if not parts or first_row == 0:
        raise BatchSchemaError("the batch to score is empty: it has no rows")
    predictions = pd.concat(parts, ignore_index=True)
    if spec.id_column is not None and predictions["id"].duplicated().any():
        duplicated = predictions.loc[predictions["id"].duplicated(), "id"].head(3).tolist()
        raise BatchSchemaError(f"the batch repeats id value(s) {duplicated}")
    logger.info(
        "Scored %d rows with %s version %s: %d predicted positive at threshold %s",
        len(predictions),
        champion_model.name,
        champion_model.version,
        int(predictions["predicted_label"].sum()),
        threshold,
    )
    return predictions
