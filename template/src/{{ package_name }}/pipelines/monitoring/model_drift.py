"""Model (performance) drift: metrics on the labelled current batch against the baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core.features import model_columns
from ...core.metrics import classification_metrics
from .severity import issue, worst_level

if TYPE_CHECKING:
    from .prediction_drift import PredictionDrift

# Why performance was not measured, when the scores' distribution stands in for it.
PREDICTION_DRIFT_STANDS_IN_FOR = frozenset({"no_labels", "too_few_labels", "one_class"})

# Metrics where a smaller value is better: their "drop" is an increase.
LOWER_IS_BETTER = frozenset({"log_loss", "brier_score"})
DEFAULT_TOLERANCES = {
    "roc_auc": {"tolerated_drop": 0.03, "failing_drop": 0.08},
    "pr_auc": {"tolerated_drop": 0.05, "failing_drop": 0.10},
    "accuracy": {"tolerated_drop": 0.03, "failing_drop": 0.08},
    "f1": {"tolerated_drop": 0.05, "failing_drop": 0.10},
    "log_loss": {"tolerated_drop": 0.05, "failing_drop": 0.15},
}


def metric_drop(metric: str, baseline: float, current: float) -> float:
    """Return how much worse `current` is than `baseline` (positive = worse)."""
    return current - baseline if metric in LOWER_IS_BETTER else baseline - current


def compare_metrics(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    tolerances: Mapping[str, Mapping[str, float]],
) -> list[dict[str, Any]]:
    """Return one row per monitored metric: baseline, current, drop, tolerance and level."""
    rows = []
    for metric, tolerance in tolerances.items():
        tolerated = float(tolerance.get("tolerated_drop", 0.0))
        failing = float(tolerance.get("failing_drop", tolerated))
        if failing < tolerated:
            raise ValueError(
                f"monitoring.model_drift.metrics.{metric}: failing_drop ({failing}) "
                f"must not be smaller than tolerated_drop ({tolerated})"
            )
        base, now = baseline.get(metric), current.get(metric)
        if not _is_number(base) or not _is_number(now):
            rows.append(
                {
                    "metric": metric,
                    "baseline": base,
                    "current": now,
                    "drop": None,
                    "tolerated_drop": tolerated,
                    "failing_drop": failing,
                    "level": "warn",
                    "message": f"{metric} is missing from the "
                    f"{'baseline' if not _is_number(base) else 'current'} metrics",
                }
            )
            continue
        drop = metric_drop(metric, float(base), float(now))
        level = "fail" if drop > failing else "warn" if drop > tolerated else "ok"
        direction = "rose" if metric in LOWER_IS_BETTER else "fell"
        rows.append(
            {
                "metric": metric,
                "baseline": float(base),
                "current": float(now),
                "drop": drop,
                "tolerated_drop": tolerated,
                "failing_drop": failing,
                "level": level,
                "message": (
                    f"{metric} {direction} from {float(base):.4f} to {float(now):.4f} "
                    f"(worse by {drop:.4f}; tolerated {tolerated}, failing {failing})"
                ),
            }
        )
    return rows


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float, np.number))
        and not isinstance(value, bool)
        and np.isfinite(value)
    )


def detect_model_drift(
    model: Any,
    current: pd.DataFrame,
    baseline: Mapping[str, Any],
    features: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the model's metrics on the labelled current batch compared with the baseline."""
    from ...scoring import predict_scores

    params = dict(params or {})
    tolerances = params.get("metrics") or DEFAULT_TOLERANCES
    min_rows = int(params.get("min_labelled_rows", 200))
    target = features["target"]
    columns = model_columns(features)
    result: dict[str, Any] = {
        "level": "ok",
        "status": "skipped",
        "metrics": [],
        "issues": [],
        "current_metrics": {},
        "baseline_metrics": _scalars(baseline),
    }

    def stop(level: str, check: str, message: str) -> dict[str, Any]:
        result["issues"].append(issue(level, check, message))
        result.update(level=level, summary=message)
        return result

    if target not in current.columns or current[target].notna().sum() == 0:
        return stop(
            "ok", "no_labels", "the current batch has no labels: model performance was not measured"
        )
    labelled = current.loc[current[target].notna()]
    if len(labelled) < min_rows:
        return stop(
            "warn",
            "too_few_labels",
            f"only {len(labelled)} labelled rows in the current batch (at least {min_rows} "
            "needed, monitoring.model_drift.min_labelled_rows): performance not measured",
        )
    labels = labelled[target].astype(int).to_numpy()
    if np.unique(labels).size < 2:
        return stop(
            "warn",
            "one_class",
            "the labelled current batch holds one class only: ROC AUC and PR AUC are undefined",
        )
    missing = [c for c in columns if c not in labelled.columns]
    if missing:
        return stop(
            "fail",
            "cannot_score",
            f"the model cannot score the current batch: feature column(s) {missing} are missing",
        )
    try:
        scores = predict_scores(model, labelled, columns)
    except Exception as error:
        return stop(
            "fail",
            "cannot_score",
            f"the model could not score the current batch: {type(error).__name__}: {error}",
        )
    threshold = float(baseline.get("threshold", params.get("threshold", 0.5)))
    current_metrics = classification_metrics(labels, scores, threshold)
    rows = compare_metrics(baseline, current_metrics, tolerances)
    level = worst_level(r["level"] for r in rows)
    worse = [r["message"] for r in rows if r["level"] != "ok"]
    result.update(
        status="measured",
        level=level,
        metrics=rows,
        current_metrics=_scalars(current_metrics),
        n_labelled=len(labelled),
        summary=(
            "; ".join(worse)
            if worse
            else f"all {len(rows)} metrics within tolerance on {len(labelled)} labelled rows"
        ),
    )
    return result


def _scalars(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if _is_number(v)}


def with_prediction_drift(
    result: Mapping[str, Any], drift: PredictionDrift, model_source: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the model drift section with the prediction drift and the monitored model added.

    When performance could not be measured for want of labels, the score distribution's drift
    takes its place: its rows fill the metrics table and its level counts in the verdict. With
    labels it is reported under `prediction_drift`, for information.
    """
    section = dict(result)
    section["prediction_drift"] = drift.to_dict()
    section["model"] = dict(model_source)
    reasons = {finding["check"] for finding in section["issues"]}
    if section["status"] == "skipped" and reasons & PREDICTION_DRIFT_STANDS_IN_FOR:
        section["status"] = "prediction_drift"
        section["metrics"] = drift.metric_rows()
        section["level"] = worst_level([section["level"], drift.level])
        section["summary"] = f"{section['summary']}; prediction drift: {drift.summary}"
        if drift.level != "ok":
            section["issues"] = [
                *section["issues"],
                issue(drift.level, "prediction_drift", drift.summary),
            ]
    if model_source["source"] != "champion":
        section["summary"] = f"{section.get('summary', '')} [{model_source['note']}]"
    return section
