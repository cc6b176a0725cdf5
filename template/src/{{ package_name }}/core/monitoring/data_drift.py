"""Data drift per feature and for the whole batch, with bad inputs flagged instead of crashing.

Each numeric feature gets a KS test (p-value), PSI on reference quantile bins and the Wasserstein
distance scaled by the reference standard deviation; each categorical feature a chi-square test
and the Jensen-Shannon distance. The p-values of all features are corrected together, then a
feature drifts according to `decision_rule`, and the batch drifts by the share of drifted
features. docs/monitoring.md explains each choice.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from ..parameters import DataDriftSettings
from .drift_statistics import adjust_p_values, compare_categorical, compare_numeric
from .results import DataDrift
from .severity import format_against, issue, worst_level

# ----- input checks ------------------------------------------------------------------------------


def structural_issues(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> tuple[list[dict], dict[str, str]]:
    """Return findings about the batch's shape and the features that cannot be compared.

    The second value maps each unusable feature to the reason, so its drift row says why.
    """
    features = [*numeric, *categorical]
    absent_in_reference = [c for c in features if c not in reference.columns]
    if absent_in_reference:
        raise KeyError(
            f"the reference data lacks feature column(s) {absent_in_reference}: check "
            "params:features against the training set's columns"
        )
    if reference.empty:
        raise ValueError("the reference data is empty: there is nothing to compare the batch to")

    found: list[dict] = []
    unusable: dict[str, str] = {}
    if current.empty:
        found.append(
            issue(
                "fail",
                "empty_batch",
                f"the current batch is empty (0 rows, {current.shape[1]} columns): "
                "no drift statistic can be computed",
            )
        )
    for column in features:
        if column not in current.columns:
            message = f"column '{column}' is missing from the current batch"
            found.append(issue("fail", "missing_column", message, column))
            unusable[column] = message
    for column in current.columns:
        if column not in reference.columns:
            found.append(
                issue(
                    "warn",
                    "extra_column",
                    f"column '{column}' is in the current batch but not in the "
                    "reference: it is not monitored",
                    str(column),
                )
            )
    for column in features:
        if column not in current.columns:
            continue
        ref_dtype, cur_dtype = reference[column].dtype, current[column].dtype
        if column in numeric and not _is_numeric(cur_dtype):
            coerced = pd.to_numeric(current[column], errors="coerce")
            not_numeric = int((current[column].notna() & coerced.isna()).sum())
            message = (
                f"column '{column}' changed dtype: numeric ({ref_dtype}) in the reference, "
                f"{cur_dtype} in the current batch; {not_numeric} value(s) are not numbers"
            )
            found.append(
                issue(
                    "fail",
                    "dtype_changed",
                    message,
                    column,
                    reference_dtype=str(ref_dtype),
                    current_dtype=str(cur_dtype),
                )
            )
        elif column in categorical and _is_numeric(cur_dtype) and not _is_numeric(ref_dtype):
            found.append(
                issue(
                    "warn",
                    "dtype_changed",
                    f"column '{column}' changed dtype: {ref_dtype} in the reference, "
                    f"{cur_dtype} in the current batch; values are compared as text",
                    column,
                    reference_dtype=str(ref_dtype),
                    current_dtype=str(cur_dtype),
                )
            )
        if not current.empty and current[column].isna().all():
            message = (
                f"column '{column}' has no values in the current batch "
                f"(all {len(current)} are missing)"
            )
            found.append(issue("fail", "all_missing", message, column))
            unusable[column] = message
    return found, unusable


def _is_numeric(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _numeric_values(series: pd.Series) -> np.ndarray:
    if isinstance(series.dtype, np.dtype) and _is_numeric(series.dtype):
        # A numpy column as it is (a view): sorted_finite makes the one float64 copy it sorts.
        return series.to_numpy()
    if _is_numeric(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


# ----- per feature -------------------------------------------------------------------------------


def _compare_feature(
    column: str, kind: str, reference: pd.DataFrame, current: pd.DataFrame, t: DataDriftSettings
) -> dict[str, Any]:
    if kind == "numeric":
        result = compare_numeric(
            _numeric_values(reference[column]),
            _numeric_values(current[column]),
            psi_bins=t.numeric.psi_bins,
            plot_bins=t.report.plot_bins,
            epsilon=t.psi_epsilon,
        )
        result["test"] = "kolmogorov_smirnov"
        result["statistic"] = result.pop("ks_statistic")
    else:
        result = compare_categorical(
            reference[column],
            current[column],
            epsilon=t.psi_epsilon,
            plot_categories=t.report.plot_categories,
        )
        result["test"] = "chi_square"
        result["statistic"] = result.pop("chi_square")
    return {"feature": column, "kind": kind, **result}


def _effect_levels(row: dict[str, Any], t: DataDriftSettings) -> tuple[float, str, list[str]]:
    """Return the drift score (1.0 = at the warn threshold), the effect's level and why."""
    if row["kind"] == "numeric":
        numeric = t.numeric
        measures = [
            ("PSI", row["psi"], numeric.psi_warn, numeric.psi_fail),
            (
                "normed Wasserstein",
                row["wasserstein_normed"],
                numeric.wasserstein_warn,
                numeric.wasserstein_fail,
            ),
        ]
    else:
        categorical = t.categorical
        measures = [
            (
                "Jensen-Shannon",
                row["jensen_shannon"],
                categorical.jensen_shannon_warn,
                categorical.jensen_shannon_fail,
            )
        ]
    score, level, reasons = 0.0, "ok", []
    for name, value, warn, fail in measures:
        score = max(score, value / warn if warn > 0 else float(value > 0) * 1e9)
        if value >= fail:
            level = "fail"
            reasons.append(f"{name} {format_against(value, fail)} >= {fail}")
        elif value >= warn:
            level = worst_level([level, "warn"])
            reasons.append(f"{name} {format_against(value, warn)} >= {warn}")
    return score, level, reasons


def _decide(row: dict[str, Any], t: DataDriftSettings) -> None:
    """Set `drifted`, `level`, `drift_score` and `reasons` of one compared feature in place."""
    score, effect_level, reasons = _effect_levels(row, t)
    significant = row["p_value_adjusted"] < t.alpha
    if significant:
        reasons.insert(0, f"{row['test']} adjusted p = {row['p_value_adjusted']:.3g} < {t.alpha}")
    material = effect_level != "ok"
    drifted = {
        "test_and_effect": significant and material,
        "test_only": significant,
        "effect_only": material,
    }[t.decision_rule]
    if not drifted:
        level = "ok"
    elif effect_level == "fail":
        level = "fail"
    else:
        level = "warn"
    row.update(
        drift_score=float(score),
        drifted=bool(drifted),
        level=level,
        reasons=reasons if drifted else [],
    )


def _untested_row(column: str, kind: str, reason: str, *, drifted: bool) -> dict[str, Any]:
    """Return the row of a feature no test compared: failed (unusable) or ok (too few rows)."""
    return {
        "feature": column,
        "kind": kind,
        "test": None,
        "statistic": None,
        "p_value": None,
        "p_value_adjusted": None,
        "drift_score": None,
        "drifted": drifted,
        "level": "fail" if drifted else "ok",
        "reasons": [reason],
        "flags": [],
        "histogram": None,
    }


def compute_data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    settings: DataDriftSettings,
    *,
    min_rows: int = 1,
) -> DataDrift:
    """Return per-feature drift, sorted most drifted first, and the batch-level verdict.

    A non-empty batch with fewer than `min_rows` rows is not compared: every feature is "too few
    rows to judge" and the batch level is warn, whichever rows it holds.
    """
    t = settings
    started = time.perf_counter()
    findings, unusable = structural_issues(reference, current, numeric, categorical)
    kinds = {**{c: "numeric" for c in numeric}, **{c: "categorical" for c in categorical}}
    too_few = 0 < len(current) < min_rows
    if too_few:
        # Whether a column is all missing in a handful of rows says nothing about the batch.
        findings = [f for f in findings if f["check"] != "all_missing"]
        unusable = {c: r for c, r in unusable.items() if c not in current.columns}
        too_few_reason = (
            f"too few rows to judge: {len(current)} row(s) in the current batch, at least "
            f"{min_rows} needed (monitoring.validation.min_rows)"
        )
        findings.append(issue("warn", "too_few_rows", too_few_reason))
    judged = not current.empty and not too_few
    comparable = [c for c in kinds if c not in unusable] if judged else []

    def compare(column: str) -> dict[str, Any]:
        return _compare_feature(column, kinds[column], reference, current, t)

    # numpy's sorts and searches release the GIL, so threads use more than one core.
    if t.n_jobs > 1 and len(comparable) > 1:
        with ThreadPoolExecutor(max_workers=t.n_jobs) as pool:
            rows = list(pool.map(compare, comparable))
    else:
        rows = [compare(column) for column in comparable]

    adjusted = adjust_p_values(
        [np.nan if r["p_value"] is None else r["p_value"] for r in rows], t.correction
    )
    for row, p_adjusted in zip(rows, adjusted, strict=True):
        row["p_value_adjusted"] = None if np.isnan(p_adjusted) else float(p_adjusted)
        row["flags"] = []
        if row["p_value"] is None:
            row.update(
                drift_score=None,
                drifted=True,
                level="fail",
                reasons=["no values to compare in one of the two samples"],
            )
        else:
            _decide(row, t)
        findings.extend(_value_findings(row))
    rows.extend(
        _untested_row(column, kinds[column], reason, drifted=True)
        for column, reason in unusable.items()
    )
    if too_few:
        rows.extend(
            _untested_row(column, kind, too_few_reason, drifted=False)
            for column, kind in kinds.items()
            if column not in unusable
        )
    for row in rows:
        row["flags"] = sorted({f["check"] for f in findings if f["column"] == row["feature"]})

    rows.sort(
        key=lambda r: (
            not r["drifted"],
            -(r["drift_score"] if r["drift_score"] is not None else float("inf")),
            r["feature"],
        )
    )
    drifted = [r["feature"] for r in rows if r["drifted"]]
    share = len(drifted) / len(kinds) if kinds else 0.0
    if current.empty:
        level, summary = "fail", "the current batch is empty"
    elif too_few:
        level = "fail" if drifted else "warn"
        summary = too_few_reason + (f"; {len(drifted)} feature(s) missing" if drifted else "")
    else:
        dataset = t.dataset
        level = (
            "fail"
            if share >= dataset.dataset_drift_share_fail
            else "warn"
            if drifted and share >= dataset.dataset_drift_share_warn
            else "ok"
        )
        summary = (
            f"{len(drifted)} of {len(kinds)} features drifted (share {share:.2f}; "
            f"warn at {dataset.dataset_drift_share_warn}, "
            f"fail at {dataset.dataset_drift_share_fail})"
        )
    return DataDrift(
        level=level,
        summary=summary,
        drift_share=share,
        drifted_features=drifted,
        n_features=len(kinds),
        n_rows_reference=len(reference),
        n_rows_current=len(current),
        features=rows,
        issues=findings,
        thresholds=t.flat(),
        elapsed_seconds=round(time.perf_counter() - started, 4),
    )


def _value_findings(row: dict[str, Any]) -> list[dict]:
    """Return the warnings that the compared values themselves raise (constant, unseen, ...)."""
    column, found = row["feature"], []
    ref, cur = row["reference"], row["current"]
    if row["kind"] == "numeric":
        ref_constant = ref["min"] is not None and ref["min"] == ref["max"]
        cur_constant = cur["min"] is not None and cur["min"] == cur["max"]
    else:
        ref_constant, cur_constant = ref["distinct"] == 1, cur["distinct"] == 1
    if ref_constant:
        found.append(
            issue(
                "warn",
                "constant_in_reference",
                f"column '{column}' is constant in the reference: its drift "
                "statistics are unscaled",
                column,
            )
        )
    if cur_constant and not ref_constant:
        found.append(
            issue(
                "warn",
                "constant_column",
                f"column '{column}' is constant in the current batch but varies in the reference",
                column,
            )
        )
    if row["kind"] == "categorical" and row["unseen_categories"]:
        unseen = row["unseen_categories"]
        found.append(
            issue(
                "warn",
                "unseen_categories",
                f"column '{column}' has {len(unseen)} categor"
                f"{'y' if len(unseen) == 1 else 'ies'} never seen in the reference: "
                f"{', '.join(map(repr, unseen[:10]))} ({row['unseen_share']:.1%} of rows)",
                column,
                categories=unseen[:50],
            )
        )
    return found
