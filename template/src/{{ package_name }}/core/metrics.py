"""Classification metrics of scores against labels: one definition for every place that scores.

The evaluation pipeline, monitoring's model drift and the promotion gate's holdout all call
`classification_metrics`, so a metric means the same number on every path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# +1: higher is better, -1: lower is better. A metric the promotion gate may compare must be
# listed here.
METRIC_DIRECTIONS: dict[str, int] = {
    "roc_auc": 1,
    "pr_auc": 1,
    "accuracy": 1,
    "f1": 1,
    "log_loss": -1,
    "brier_score": -1,
    "demographic_parity_difference": -1,
    "equalized_odds_difference": -1,
}


def classification_metrics(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float
) -> dict[str, Any]:
    """Return ROC AUC, PR AUC, accuracy, F1, log loss and the confusion matrix at `threshold`."""
    # Imported here: scikit-learn costs seconds at import, and pipeline registration must not pay.
    from sklearn import metrics as skm

    y_pred = (y_score >= threshold).astype(int)
    matrix = skm.confusion_matrix(y_true, y_pred, labels=[0, 1])
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, y_score)),
        "pr_auc": float(skm.average_precision_score(y_true, y_score)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0)),
        "log_loss": float(skm.log_loss(y_true, np.clip(y_score, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "confusion_matrix": matrix.tolist(),
        "threshold": float(threshold),
        "n_test": len(y_true),
        "positive_rate": float(np.mean(y_true)),
    }
