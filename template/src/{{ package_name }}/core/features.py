"""The feature spec's columns, the schema check of a raw table, and its model-ready frame.

`features` in conf/base/parameters.yml names the columns; `core.parameters.FeatureSpec` states
what a usable spec is (the parameters hook applies it before any node runs). Every function here
takes the parsed `FeatureSpec` or the raw `params:features` mapping, parsed once by
`feature_spec()`, so the rules and their messages live in the model alone. Every module that
needs the model's columns asks `model_columns()`. The data processing pipeline checks and
prepares the reference batch with these functions, monitoring the current batch, and
`kedro retrain` each labelled batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .parameters import FeatureSpec, section

logger = logging.getLogger(__name__)

# What a node receives as `params:features`, or the spec already parsed. Kedro reads node
# annotations at run time and warns that it cannot validate a union, so at run time the name
# stands for Any (type checkers still see the union).
if TYPE_CHECKING:
    Features = FeatureSpec | Mapping[str, Any]
else:
    Features = Any


class SchemaError(ValueError):
    """Raised when an input table does not have the columns or values the pipeline needs."""


def feature_spec(features: Features) -> FeatureSpec:
    """Return the `features` section as a FeatureSpec (itself when it is one already).

    A mapping that breaks FeatureSpec's rules raises core.parameters.ParameterError, one line per
    bad key (`features.<key>: <what is wrong>`).
    """
    return section(FeatureSpec, features, "features")


def trained_columns(model: Any) -> list[str] | None:
    """Return the columns the model was fitted on (None when the model does not say)."""
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(name) for name in names]


def model_columns(features: Features) -> list[str]:
    """Return the model's feature columns: numeric then categorical, in parameter order."""
    return list(feature_spec(features).model_columns)


def required_columns(features: Features, *, with_target: bool = True) -> list[str]:
    """Return every column a prepared table carries: id, features, sensitive attribute, target.

    The id column and the sensitive attribute are optional (`null` in parameters.yml).
    """
    spec = feature_spec(features)
    columns = [spec.id_column, *spec.model_columns, spec.sensitive_attribute]
    if with_target:
        columns.append(spec.target)
    return list(dict.fromkeys(col for col in columns if col))


def validate_schema(
    raw: pd.DataFrame,
    features: Features,
    dataset_name: str = "input",
    require_target: bool = True,
) -> pd.DataFrame:
    """Return `raw` unchanged if it has every required column with usable values.

    Raises SchemaError naming the dataset, the missing columns and the offending values, so a
    malformed file fails before any model is fitted. A batch to score or monitor may come
    without labels (`require_target=False`); its labels are still checked when present.
    """
    spec = feature_spec(features)
    if raw.empty:
        raise SchemaError(f"{dataset_name} is empty: it has no rows")
    expected = required_columns(spec, with_target=require_target)
    missing = [col for col in expected if col not in raw.columns]
    if missing:
        raise SchemaError(
            f"{dataset_name} is missing column(s) {missing}; it has {list(raw.columns)}"
        )
    problems = []
    for col in spec.numeric:
        coerced = pd.to_numeric(raw[col], errors="coerce")
        bad = raw[col].notna() & coerced.isna()
        if bad.any():
            examples = raw.loc[bad, col].astype(str).unique()[:3].tolist()
            problems.append(f"column {col!r} must be numeric, found {examples}")
    if require_target:
        # A feature without a single value cannot be learnt from (and breaks the model's binning).
        empty = [col for col in spec.model_columns if raw[col].isna().all()]
        if empty:
            problems.append(
                f"feature column(s) {empty} have no values (all {len(raw)} missing): fill them "
                "or remove them from features.numeric/categorical"
            )
    target_name = spec.target
    if target_name in raw.columns:
        target = pd.to_numeric(raw[target_name], errors="coerce")
        bad = raw[target_name].notna() & ~target.isin([0, 1])
        if bad.any():
            values = raw.loc[bad, target_name].astype(str).unique()[:5].tolist()
            problems.append(f"target {target_name!r} must hold 0/1 labels, found {values}")
        elif require_target and target.dropna().nunique() < 2:
            # A model cannot learn from one class, and ROC AUC is undefined: fail before training.
            found = target.dropna().unique().tolist()
            problems.append(
                f"target {target_name!r} must hold both classes 0 and 1 to train, "
                f"found only {[int(v) for v in found]}"
            )
    id_column = spec.id_column
    duplicated = raw[id_column].duplicated() if id_column else pd.Series(dtype=bool)
    if duplicated.any():
        problems.append(f"id column {id_column!r} has {int(duplicated.sum())} duplicate value(s)")
    if problems:
        raise SchemaError(f"{dataset_name} failed schema validation: " + "; ".join(problems))
    return raw


@dataclass(frozen=True)
class _BoundValidator:
    """validate_schema with its dataset name and target rule bound, named as it is in the run's
    log. Not a `functools.partial`: multiprocessing pickles a partial for ParallelRunner's workers
    without the name update_wrapper gives it, and Kedro then warns about every such node."""

    dataset_name: str
    require_target: bool
    __name__ = validate_schema.__name__

    def __call__(self, raw: pd.DataFrame, features: Features) -> pd.DataFrame:
        return validate_schema(
            raw, features, dataset_name=self.dataset_name, require_target=self.require_target
        )


def validator_for(dataset_name: str, *, require_target: bool) -> Callable[..., pd.DataFrame]:
    """Return validate_schema bound to a dataset name, so its errors say which input failed."""
    return _BoundValidator(dataset_name, require_target)


def prepare_features(raw: pd.DataFrame, features: Features) -> pd.DataFrame:
    """Return the required columns with model dtypes: numerics as float, categoricals as str.

    Missing numerics and categoricals stay missing (the model handles them); rows without a
    label are dropped and counted in the log. An unlabelled batch keeps no target column.
    """
    spec = feature_spec(features)
    target = spec.target
    labelled = target in raw.columns
    frame = raw[required_columns(spec, with_target=labelled)].copy()
    for col in spec.numeric:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in spec.categorical:
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
