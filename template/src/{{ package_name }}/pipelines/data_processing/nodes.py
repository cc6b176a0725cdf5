"""Nodes that turn raw customer tables into model-ready frames."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

logger = logging.getLogger(__name__)


class SchemaError(ValueError):
    """Raised when an input table does not have the columns or values the pipeline needs."""


def model_columns(features: dict[str, Any]) -> list[str]:
    """Return the model's feature columns: numeric then categorical, in parameter order."""
    return [*features["numeric"], *features["categorical"]]


def required_columns(features: dict[str, Any], *, with_target: bool = True) -> list[str]:
    """Return every column a prepared table carries: id, features, sensitive attribute, target."""
    columns = [features["id_column"], *model_columns(features)]
    if features.get("sensitive_attribute"):
        columns.append(features["sensitive_attribute"])
    if with_target:
        columns.append(features["target"])
    return list(dict.fromkeys(columns))


def validate_schema(
    raw: pd.DataFrame,
    features: dict[str, Any],
    dataset_name: str = "input",
    require_target: bool = True,
) -> pd.DataFrame:
    """Return `raw` unchanged if it has every required column with usable values.

    Raises SchemaError naming the dataset, the missing columns and the offending values, so a
    malformed file fails before any model is fitted. A batch to score or monitor may come
    without labels (`require_target=False`); its labels are still checked when present.
    """
    if raw.empty:
        raise SchemaError(f"{dataset_name} is empty: it has no rows")
    expected = required_columns(features, with_target=require_target)
    missing = [col for col in expected if col not in raw.columns]
    if missing:
        raise SchemaError(
            f"{dataset_name} is missing column(s) {missing}; it has {list(raw.columns)}"
        )
    problems = []
    for col in features["numeric"]:
        coerced = pd.to_numeric(raw[col], errors="coerce")
        bad = raw[col].notna() & coerced.isna()
        if bad.any():
            examples = raw.loc[bad, col].astype(str).unique()[:3].tolist()
            problems.append(f"column {col!r} must be numeric, found {examples}")
    if features["target"] in raw.columns:
        target = pd.to_numeric(raw[features["target"]], errors="coerce")
        if not target.dropna().isin([0, 1]).all():
            values = raw[features["target"]].astype(str).unique()[:5].tolist()
            problems.append(f"target {features['target']!r} must hold 0/1 labels, found {values}")
    duplicated = raw[features["id_column"]].duplicated()
    if duplicated.any():
        problems.append(
            f"id column {features['id_column']!r} has {int(duplicated.sum())} duplicate value(s)"
        )
    if problems:
        raise SchemaError(f"{dataset_name} failed schema validation: " + "; ".join(problems))
    return raw


def validator_for(dataset_name: str, *, require_target: bool) -> Callable[..., pd.DataFrame]:
    """Return validate_schema bound to a dataset name, so its errors say which input failed."""
    bound = partial(validate_schema, dataset_name=dataset_name, require_target=require_target)
    return update_wrapper(bound, validate_schema)


def prepare_features(raw: pd.DataFrame, features: dict[str, Any]) -> pd.DataFrame:
    """Return the required columns with model dtypes: numerics as float, categoricals as str.

    Missing numerics and categoricals stay missing (the model handles them); rows without a
    label are dropped and counted in the log. An unlabelled batch keeps no target column.
    """
    target = features["target"]
    labelled = target in raw.columns
    frame = raw[required_columns(features, with_target=labelled)].copy()
    for col in features["numeric"]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in features["categorical"]:
        values = frame[col]
        frame[col] = values.where(values.isna(), values.astype(str))
    if not labelled:
        return frame.reset_index(drop=True)
    frame[target] = pd.to_numeric(frame[target], errors="coerce")
    unlabelled = frame[target].isna()
    if unlabelled.any():
        logger.warning("dropping %d row(s) without a %r label", int(unlabelled.sum()), target)
        frame = frame.loc[~unlabelled]
    frame[target] = frame[target].astype("int64")
    return frame.reset_index(drop=True)


def split_data(
    frame: pd.DataFrame, features: dict[str, Any], params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a stratified, seeded (train, test) split of the prepared frame."""
    train, test = train_test_split(
        frame,
        test_size=params["test_size"],
        random_state=params["random_state"],
        stratify=frame[features["target"]],
    )
    logger.info("split %d rows into %d train / %d test", len(frame), len(train), len(test))
    return train.reset_index(drop=True), test.reset_index(drop=True)
