"""Model (performance) drift: metrics on the labelled current batch against the baseline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..features import Features, feature_spec
from ..metrics import classification_metrics
from ..parameters import MetricTolerance, ModelDriftSettings, section
from .results import ModelDrift, PredictionDrift
from .severity import issue, worst_level

# Why performance was not measured, when the scores' distribution stands in for it.
PREDICTION_DRIFT_STANDS_IN_FOR = frozenset({"no_labels", "too_few_labels", "one_class"})

# Metrics where a smaller value is better: their "drop" is an increase.
LOWER_IS_BETTER = frozenset({"log_loss", "brier_score"})


def metric_drop(metric: str, baseline: float, current: float) -> float:
    """Return how much worse `current` is than `baseline` (positive = worse)."""
    return current - baseline if metric in LOWER_IS_BETTER else baseline - current


def compare_metrics(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    tolerances: Mapping[str, MetricTolerance | Mapping[str, float]],
) -> list[dict[str, Any]]:
    """Return one row per monitored metric: baseline, current, drop, tolerance and level.

    A metric missing from either side is a warning row that says so, not an error.
    """
    rows = []
    for metric, given in tolerances.items():
        tolerance = section(MetricTolerance, given, f"monitoring.model_drift.metrics.{metric}")
        tolerated, failing = float(tolerance.tolerated_drop), float(tolerance.failing_drop)
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


def compute_model_drift(
    model: Any,
    current: pd.DataFrame,
    baseline: Mapping[str, Any],
    features: Features,
    settings: ModelDriftSettings,
) -> ModelDrift:
    """Return the model's metrics on the labelled current batch compared with the baseline.

    `baseline` is the evaluation pipeline's `evaluation_metrics` (its `threshold` included).
    """
    from ..scoring import predict_scores

    settings = section(ModelDriftSettings, settings, "monitoring.model_drift")
    min_rows = settings.min_labelled_rows
    spec = feature_spec(features)
    target = spec.target
    columns = list(spec.model_columns)

    def stop(level: str, check: str, message: str) -> ModelDrift:
        return ModelDrift(
            level=level,
            status="skipped",
            summary=message,
            metrics=[],
            issues=[issue(level, check, message)],
            current_metrics={},
            baseline_metrics=_scalars(baseline),
            n_labelled=None,
            prediction_drift=None,
            model=None,
        )

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
    if "threshold" not in baseline:
        raise ValueError(
            "evaluation_metrics has no `threshold`: rerun the evaluation pipeline, whose metrics "
            "record the decision threshold the model is judged at"
        )
    current_metrics = classification_metrics(labels, scores, float(baseline["threshold"]))
    rows = compare_metrics(baseline, current_metrics, settings.metrics)
    level = worst_level(r["level"] for r in rows)
    worse = [r["message"] for r in rows if r["level"] != "ok"]
    return ModelDrift(
        level=level,
        status="measured",
        summary=(
            "; ".join(worse)
            if worse
            else f"all {len(rows)} metrics within tolerance on {len(labelled)} labelled rows"
        ),
        metrics=rows,
        issues=[],
        current_metrics=_scalars(current_metrics),
        baseline_metrics=_scalars(baseline),
        n_labelled=len(labelled),
        prediction_drift=None,
        model=None,
    )


def _scalars(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if _is_number(v)}


def with_prediction_drift(
    result: ModelDrift, drift: PredictionDrift, model_source: Mapping[str, Any]
) -> ModelDrift:
    """Return the model drift section with the prediction drift and the monitored model added.

    When performance could not be measured for want of labels, the score distribution's drift
    takes its place: its rows fill the metrics table and its level counts in the verdict. With
    labels it is reported under `prediction_drift`, for information.
    """
    section = replace(result, prediction_drift=drift, model=dict(model_source))
    reasons = {finding["check"] for finding in section.issues}
    if section.status == "skipped" and reasons & PREDICTION_DRIFT_STANDS_IN_FOR:
        section = replace(
            section,
            status="prediction_drift",
            metrics=drift.metric_rows(),
            level=worst_level([section.level, drift.level]),
            summary=f"{section.summary}; prediction drift: {drift.summary}",
            issues=[*section.issues, issue(drift.level, "prediction_drift", drift.summary)]
            if drift.level != "ok"
            else section.issues,
        )
    if model_source["source"] != "champion":
        section = replace(section, summary=f"{section.summary} [{model_source['note']}]")
    return section
