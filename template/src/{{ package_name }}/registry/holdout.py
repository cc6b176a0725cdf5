"""A model's metrics on a holdout: what the promotion gate compares, locally and on SageMaker.

`kedro retrain` and the SageMaker Pipeline's gate step both score the champion and the challenger
with this one function, so the rule in `promotion.py` judges the same numbers on both paths. It
reuses the evaluation's metrics (`core.metrics`) and the fairness report the explainability
pipeline writes (`core.bias`), so a holdout's numbers mean what the training run's numbers mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.features import Features


@dataclass(frozen=True)
class HoldoutMetrics:
    """Every numeric classification metric, and the fairness differences across groups."""

    classification: Mapping[str, float]
    fairness: Mapping[str, float]

    def to_dict(self) -> dict[str, float]:
        """Return both groups of metrics as one flat mapping (the gate's input)."""
        return {**self.classification, **self.fairness}


def holdout_metrics(
    model: Any,
    holdout: Any,
    features: Features,
    evaluation: Mapping[str, Any],
    bias: Mapping[str, Any],
) -> HoldoutMetrics:
    """Return `model`'s metrics on `holdout` (fairness only when the sensitive column is there)."""
    from ..core.bias import fairness_report
    from ..core.features import feature_spec
    from ..core.metrics import classification_metrics

    spec = feature_spec(features)
    columns = list(spec.model_columns)
    y_true = holdout[spec.target].to_numpy()
    y_score = model.predict_proba(holdout[columns])[:, 1]
    scores = classification_metrics(y_true, y_score, evaluation["threshold"])
    classification = {
        key: float(value)
        for key, value in scores.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    fairness: dict[str, float] = {}
    sensitive = spec.sensitive_attribute
    if sensitive and sensitive in holdout.columns:
        report = fairness_report(
            y_true,
            (y_score >= evaluation["threshold"]).astype(int),
            holdout[sensitive],
            sensitive_attribute=sensitive,
            min_group_size=bias["min_group_size"],
        )
        fairness = {
            key: float(value) for key, value in report["differences"].items() if value is not None
        }
    return HoldoutMetrics(classification, fairness)
