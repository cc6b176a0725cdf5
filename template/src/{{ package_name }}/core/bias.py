"""Group-fairness metrics of binary predictions across the values of a sensitive attribute.

Definitions (the same as fairlearn's, so numbers can be cross-checked):

- selection rate: share of the group predicted positive;
- TPR (recall): predicted positive among the actual positives; FPR: among the actual negatives;
- precision: actual positives among the predicted positives;
- demographic-parity difference: largest minus smallest selection rate across groups;
- equalized-odds difference: the larger of the TPR range and the FPR range across groups.

Groups with fewer than ``min_group_size`` rows are reported with their counts and the status
"too small to judge", and left out of the differences: a handful of rows makes any rate noisy.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from .serialise import json_ready

logger = logging.getLogger(__name__)

MISSING_GROUP = "<missing>"
TOO_SMALL = "too small to judge"
JUDGED = "ok"


def _rate(numerator: int, denominator: int) -> float | None:
    """Return numerator / denominator, or None when the denominator is zero (undefined)."""
    return numerator / denominator if denominator else None


def _spread(values: list[float | None]) -> float | None:
    """Return max - min of the defined values, or None with fewer than two of them."""
    defined = [value for value in values if value is not None]
    return max(defined) - min(defined) if len(defined) >= 2 else None


def group_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Return counts, selection rate, TPR, FPR and precision of one group's predictions."""
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    tn = int(np.sum(~y_true & ~y_pred))
    n = tp + fp + fn + tn
    return {
        "count": n,
        "actual_positives": tp + fn,
        "predicted_positives": tp + fp,
        "true_positives": tp,
        "false_positives": fp,
        "selection_rate": _rate(tp + fp, n),
        "true_positive_rate": _rate(tp, tp + fn),
        "false_positive_rate": _rate(fp, fp + tn),
        "precision": _rate(tp, tp + fp),
    }


def fairness_report(
    y_true: np.ndarray | pd.Series,
    y_pred: np.ndarray | pd.Series,
    groups: np.ndarray | pd.Series,
    *,
    sensitive_attribute: str,
    min_group_size: int = 30,
    warn_thresholds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Return per-group metrics, parity differences and threshold warnings as a JSON-ready dict."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = pd.Series(np.asarray(groups, dtype=object)).astype(object)
    # A missing attribute value is a group of its own: dropping it would hide those people.
    labels = labels.where(labels.notna(), MISSING_GROUP).astype(str).to_numpy()
    if not len(y_true) == len(y_pred) == len(labels):
        raise ValueError(
            f"y_true, y_pred and groups must have the same length, got "
            f"{len(y_true)}, {len(y_pred)} and {len(labels)}"
        )

    codes, names = pd.factorize(labels, sort=True)
    per_group: dict[str, dict[str, Any]] = {}
    for code, group in enumerate(names):
        mask = codes == code
        metrics = group_metrics(y_true[mask], y_pred[mask])
        metrics["status"] = JUDGED if metrics["count"] >= min_group_size else TOO_SMALL
        per_group[group] = metrics

    judged = {name: m for name, m in per_group.items() if m["status"] == JUDGED}
    selection = [m["selection_rate"] for m in judged.values()]
    tpr_range = _spread([m["true_positive_rate"] for m in judged.values()])
    fpr_range = _spread([m["false_positive_rate"] for m in judged.values()])
    defined_ranges = [r for r in (tpr_range, fpr_range) if r is not None]
    defined_selection = [s for s in selection if s is not None]
    differences = {
        "demographic_parity_difference": _spread(selection),
        "demographic_parity_ratio": (
            min(defined_selection) / max(defined_selection)
            if len(defined_selection) >= 2 and max(defined_selection) > 0
            else None
        ),
        "true_positive_rate_difference": tpr_range,
        "false_positive_rate_difference": fpr_range,
        "equalized_odds_difference": max(defined_ranges) if defined_ranges else None,
    }

    thresholds = dict(warn_thresholds or {})
    warnings = []
    for metric, limit in thresholds.items():
        value = differences.get(metric)
        if value is not None and value > limit:
            message = (
                f"{metric} across '{sensitive_attribute}' groups is {value:.3f}, "
                f"above the warning threshold {limit:.3f}"
            )
            warnings.append(message)
            logger.warning("Bias check: %s", message)
    notes = []
    too_small = sorted(set(per_group) - set(judged))
    if too_small:
        notes.append(
            f"groups {too_small} have fewer than {min_group_size} rows: reported, "
            "but too small to judge and left out of the differences"
        )
    if len(judged) < 2:
        notes.append("fewer than two groups are large enough to compare: no differences computed")
    for note in notes:
        logger.info("Bias check: %s", note)

    return json_ready(
        {
            "sensitive_attribute": sensitive_attribute,
            "n_rows": len(y_true),
            "min_group_size": int(min_group_size),
            "groups": per_group,
            "differences": differences,
            "warn_thresholds": thresholds,
            "warnings": warnings,
            "notes": notes,
        }
    )
