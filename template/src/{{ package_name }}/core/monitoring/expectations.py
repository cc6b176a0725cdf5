"""Great Expectations suite derived from the reference data, and validation of each new batch.

The suite is written in Great Expectations' own JSON form (`ExpectationSuite.to_json_dict()`),
so it is a versioned artefact any GX 1.x tool can load. Deriving it needs only pandas; validating
imports great_expectations lazily and runs in an ephemeral context (nothing written to disk).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..parameters import DataValidationSettings
from ..serialise import json_ready
from .results import ValidationResult
from .severity import worst_level

logger = logging.getLogger(__name__)

# Dtype families: a batch passes the type check when its column is in the reference's family.
# Text columns are compared as `object`: validation casts every text-like dtype (str, string,
# category) to object first, because GX's type check cannot name pandas 3's `str` dtype.
TYPE_FAMILIES = {
    "integer": [
        "int64",
        "int32",
        "int16",
        "int8",
        "uint64",
        "uint32",
        "uint16",
        "uint8",
        "Int64",
        "Int32",
        "Int16",
        "Int8",
    ],
    "float": ["float64", "float32", "Float64", "Float32"],
    "boolean": ["bool", "boolean"],
    "datetime": ["datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
    # On an object column GX checks each value's Python type, hence "str" next to "object".
    "text": ["object", "str"],
}
# GX severity of a failed expectation -> monitoring level.
SEVERITY_LEVELS = {"critical": "fail", "warning": "warn", "info": "ok"}
# Expectations about the batch's shape rather than its values: the only ones evaluated on a batch
# with fewer than `min_rows` rows, whose values are too few to judge (a one-row batch would pass or
# fail depending on which row it is).
STRUCTURAL_EXPECTATIONS = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_to_exist",
        "expect_column_values_to_be_in_type_list",
    }
)


def dtype_family(dtype: Any) -> str:
    """Return integer, float, boolean, datetime or text for a pandas dtype."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "text"


def _expectation(kind: str, severity: str, meta: dict | None = None, **kwargs: Any) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": meta or {}, "severity": severity}


def derive_expectation_suite(
    reference: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    settings: DataValidationSettings,
    *,
    unique_columns: list[str] | None = None,
    optional_columns: list[str] | None = None,
    name: str = "reference_batch",
) -> dict[str, Any]:
    """Return a GX expectation suite (JSON dict) that the reference data itself passes.

    Columns present (exact set), dtype family, a null-rate ceiling per column, numeric ranges
    widened by `range_tolerance`, categorical value sets, non-constant features and unique ids.
    `optional_columns` (the label) are checked when a batch has them and not required otherwise:
    an unlabelled batch is valid.
    """
    s = settings
    if reference.empty:
        raise ValueError("cannot derive expectations from an empty reference data set")
    n_rows = len(reference)
    expectations = [
        _expectation(
            "expect_table_columns_to_match_set",
            "critical",
            column_set=[str(c) for c in reference.columns],
            exact_match=True,
        ),
        _expectation("expect_table_row_count_to_be_between", "critical", min_value=s.min_rows),
    ]
    for column in reference.columns:
        values = reference[column]
        family = dtype_family(values.dtype)
        null_rate = float(values.isna().mean())
        ceiling = min(1.0, null_rate * s.null_rate_multiplier + s.null_rate_slack)
        expectations += [
            _expectation("expect_column_to_exist", "critical", column=str(column)),
            _expectation(
                "expect_column_values_to_be_in_type_list",
                "critical",
                {"reference_dtype": str(values.dtype), "family": family},
                column=str(column),
                type_list=TYPE_FAMILIES[family],
            ),
        ]
        if ceiling < 1.0:
            expectations.append(
                _expectation(
                    "expect_column_values_to_not_be_null",
                    "critical",
                    {
                        "reference_null_rate": round(null_rate, 6),
                        "null_rate_ceiling": round(ceiling, 6),
                    },
                    column=str(column),
                    mostly=round(1.0 - ceiling, 6),
                )
            )
        distinct = int(values.nunique(dropna=True))
        if column in numeric or column in categorical:
            if distinct >= 2:
                expectations.append(
                    _expectation(
                        "expect_column_unique_value_count_to_be_between",
                        "warning",
                        {"reference_distinct": distinct},
                        column=str(column),
                        min_value=2,
                    )
                )
        if column in numeric and family in ("integer", "float") and values.notna().any():
            low, high = float(values.min()), float(values.max())
            slack = (
                s.range_tolerance * (high - low)
                if high > low
                else s.range_tolerance * max(abs(low), 1.0)
            )
            expectations.append(
                _expectation(
                    "expect_column_values_to_be_between",
                    "warning",
                    {"reference_min": low, "reference_max": high},
                    column=str(column),
                    min_value=low - slack,
                    max_value=high + slack,
                    mostly=s.range_mostly,
                )
            )
        elif (
            family in ("text", "boolean", "integer")
            and 0 < distinct <= s.max_categories
            and (column in categorical or column not in numeric)
            and column not in (unique_columns or [])
        ):
            value_set = sorted((json_ready(v) for v in values.dropna().unique()), key=str)
            expectations.append(
                _expectation(
                    "expect_column_values_to_be_in_set",
                    "warning",
                    {"reference_distinct": distinct},
                    column=str(column),
                    value_set=value_set,
                )
            )
        if column in (unique_columns or []):
            expectations.append(
                _expectation("expect_column_values_to_be_unique", "critical", column=str(column))
            )
    return {
        "name": name,
        "expectations": expectations,
        "meta": {
            "derived_from_rows": n_rows,
            "settings": s.model_dump(),
            "optional_columns": [str(c) for c in optional_columns or []],
        },
        "notes": "Derived automatically from the reference (training) data by the monitoring "
        "pipeline; regenerate it rather than editing it by hand.",
    }


def _text_as_object(batch: pd.DataFrame) -> pd.DataFrame:
    text = [
        c
        for c in batch.columns
        if dtype_family(batch[c].dtype) == "text" and batch[c].dtype != object
    ]
    if not text:
        return batch
    converted = batch.copy()
    for column in text:
        converted[column] = batch[column].astype(object).where(batch[column].notna(), None)
    return converted


def validate_batch(batch: pd.DataFrame, suite: Mapping[str, Any]) -> ValidationResult:
    """Return the validation of `batch` against the suite: level and every failed expectation."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    expected, skipped = applicable_expectations(batch, suite)
    try:
        gx_suite = gx.ExpectationSuite(
            name=suite["name"],
            expectations=[dict(e) for e in expected],
            meta=suite["meta"],
        )
    except Exception as error:
        raise ValueError(
            f"Great Expectations cannot read the expectation suite ({type(error).__name__}: "
            f"{error}): regenerate the suite"
        ) from error
    if len(gx_suite.expectations) != len(expected):
        # GX drops invalid expectations with a log line only: refuse to validate half a suite.
        raise ValueError(
            f"the expectation suite holds {len(expected)} expectations but Great Expectations "
            f"accepted only {len(gx_suite.expectations)}: regenerate the suite"
        )
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas("monitoring")
        .add_dataframe_asset("current_batch")
        .add_batch_definition_whole_dataframe("whole_batch")
    )
    frame = _text_as_object(batch)
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        gx_suite, result_format="SUMMARY"
    )
    failures = [
        _describe_failure(
            r.expectation_config.to_json_dict(), r.result or {}, r.exception_info, batch
        )
        for r in result.results
        if not r.success
    ]
    level = worst_level(f["level"] for f in failures)
    return ValidationResult(
        level=level,
        skipped=skipped,
        success=not failures,
        suite_name=gx_suite.name,
        evaluated_expectations=len(result.results),
        failed_expectations=len(failures),
        failed_columns=sorted({f["column"] for f in failures if f["column"]}),
        failures=failures,
        n_rows=len(batch),
        summary=(
            f"{len(failures)} of {len(result.results)} expectations failed: "
            + "; ".join(f["message"] for f in failures[:3])
            + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
            if failures
            else f"all {len(result.results)} expectations passed"
        ),
    )


def applicable_expectations(
    batch: pd.DataFrame, suite: Mapping[str, Any]
) -> tuple[list[dict], list[str]]:
    """Return the suite's expectations that apply to `batch`, and why the others were skipped.

    An optional column (the label) absent from the batch is left out of the column set and its
    expectations are skipped. A batch below the suite's `min_rows` keeps only the structural
    expectations: its row count fails with "too few rows to judge".
    """
    meta = suite_meta(suite)
    absent = [c for c in meta["optional_columns"] if c not in batch.columns]
    min_rows = int(meta["settings"]["min_rows"])
    too_few = len(batch) < min_rows
    skipped = []
    if absent:
        skipped.append(f"optional column(s) {absent} absent (unlabelled batch): not checked")
    if too_few:
        skipped.append(
            f"too few rows to judge the values: {len(batch)} < {min_rows} "
            "(monitoring.validation.min_rows); only the columns and dtypes were checked"
        )
    kept = []
    for expectation in suite["expectations"]:
        # GX's own form: an expectation may omit kwargs (GX then refuses it, naming why).
        kind, kwargs = expectation["type"], dict(expectation.get("kwargs") or {})
        if kwargs.get("column") in absent:
            continue
        if too_few and kind not in STRUCTURAL_EXPECTATIONS:
            continue
        if kind == "expect_table_columns_to_match_set":
            kwargs["column_set"] = [c for c in kwargs["column_set"] if c not in absent]
        kept.append({**expectation, "kwargs": kwargs})
    return kept, skipped


def suite_meta(suite: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the suite's `meta` written by derive_expectation_suite; a ValueError names a gap."""
    missing = [key for key in ("name", "expectations", "meta") if key not in suite]
    meta = suite.get("meta") if isinstance(suite.get("meta"), Mapping) else {}
    missing += [f"meta.{key}" for key in ("optional_columns", "settings") if key not in meta]
    if missing:
        raise ValueError(
            f"the expectation suite lacks {missing}: it was not derived by this pipeline's "
            "derive_reference_expectations (regenerate the suite)"
        )
    return meta


def _describe_failure(
    config: dict[str, Any], result: dict[str, Any], exception_info: Any, batch: pd.DataFrame
) -> dict[str, Any]:
    """Return one failed expectation: type, column, severity, level, message, observed value."""
    kind, kwargs, meta = config["type"], config.get("kwargs", {}), config.get("meta") or {}
    severity = str(config.get("severity") or "critical")
    column = kwargs.get("column")
    observed = result.get("observed_value")
    share = result.get("unexpected_percent")
    count = result.get("unexpected_count")
    examples = [json_ready(v) for v in (result.get("partial_unexpected_list") or [])[:5]]
    exception = _exception_message(exception_info)
    if column is not None and column not in batch.columns:
        message = f"column '{column}' is missing from the batch ({kind} not evaluated)"
    elif exception:
        message = f"column '{column}': could not be checked: {exception}"
    elif kind == "expect_table_columns_to_match_set":
        expected = list(kwargs["column_set"])
        missing = [c for c in expected if c not in batch.columns]
        extra = [str(c) for c in batch.columns if c not in expected]
        message = (
            "columns differ from the reference:"
            + (f" missing {missing}" if missing else "")
            + (f" unexpected {extra}" if extra else "")
        )
        observed = {"missing": missing, "unexpected": extra}
    elif kind == "expect_table_row_count_to_be_between":
        message = (
            f"too few rows to judge: the batch has {observed} row(s), at least "
            f"{kwargs.get('min_value')} needed (monitoring.validation.min_rows)"
        )
    elif kind == "expect_column_values_to_be_in_type_list":
        observed = str(batch[column].dtype)
        message = (
            f"column '{column}' has dtype {observed}; the reference had "
            f"{meta.get('reference_dtype', '?')} ({meta.get('family', '?')})"
        )
    elif kind == "expect_column_values_to_not_be_null":
        rate = float(batch[column].isna().mean()) if len(batch) else 0.0
        observed = rate
        message = (
            f"column '{column}' is {rate:.1%} missing; ceiling "
            f"{meta.get('null_rate_ceiling', 1 - kwargs.get('mostly', 1)):.1%} "
            f"(reference {meta.get('reference_null_rate', 0):.1%})"
        )
        if len(batch) and rate == 1.0:
            message = f"column '{column}' is entirely missing (all {len(batch)} values are null)"
    elif kind == "expect_column_values_to_be_between":
        message = (
            f"column '{column}': {count} value(s) ({(share or 0):.1f}%) outside "
            f"[{kwargs['min_value']:.4g}, {kwargs['max_value']:.4g}], e.g. {examples}"
        )
    elif kind == "expect_column_values_to_be_in_set":
        unseen = sorted({str(v) for v in (result.get("partial_unexpected_list") or [])})
        message = (
            f"column '{column}': {count} value(s) ({(share or 0):.1f}%) not seen in the "
            f"reference: {unseen[:10]}"
        )
        observed = unseen
    elif kind == "expect_column_unique_value_count_to_be_between":
        message = (
            f"column '{column}' has {observed} distinct value(s) (constant or empty); "
            f"the reference had {meta.get('reference_distinct', '?')}"
        )
    elif kind == "expect_column_values_to_be_unique":
        message = f"column '{column}' has {count} duplicated value(s), e.g. {examples}"
    else:
        message = f"{kind} failed on {column or 'the table'}: observed {observed!r}"
    return {
        "expectation": kind,
        "column": column,
        "severity": severity,
        "level": SEVERITY_LEVELS.get(severity, "fail"),
        "message": message,
        "observed": json_ready(observed),
    }


def _exception_message(exception_info: Any) -> str | None:
    if not exception_info:
        return None
    infos = (
        exception_info.values() if "raised_exception" not in exception_info else [exception_info]
    )
    for info in infos:
        if isinstance(info, Mapping) and info.get("raised_exception"):
            return str(info.get("exception_message") or "unknown error").splitlines()[0][:300]
    return None
