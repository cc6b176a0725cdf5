"""Nodes that score the held-out test set and summarise the model's quality."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core.features import Features, feature_spec
from ...core.metrics import classification_metrics
from ...core.parameters import EvaluationSettings, section
from ...core.scoring import predict_scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from sklearn.pipeline import Pipeline as SklearnPipeline
else:
    # Kedro reads node annotations at run time; these names stand in so that importing this
    # module does not import matplotlib (the plotting nodes import it when they draw).
    Figure = SklearnPipeline = Any


def predict_test_set(
    model: SklearnPipeline, test_set: pd.DataFrame, features: Features
) -> pd.DataFrame:
    """Return one row per test example: id, true label, predicted probability, sensitive group.

    Without an id column (`features.id_column: null`) the id is the row's position in the test set.
    """
    spec = feature_spec(features)
    id_column = spec.id_column
    predictions = pd.DataFrame(
        {
            "id": test_set[id_column].to_numpy() if id_column else np.arange(len(test_set)),
            "y_true": test_set[spec.target].to_numpy(),
            "y_score": predict_scores(model, test_set, list(spec.model_columns)),
        }
    )
    sensitive = spec.sensitive_attribute
    if sensitive and sensitive in test_set.columns:
        predictions["group"] = test_set[sensitive].to_numpy()
    return predictions


def evaluate_model(predictions: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """Return the evaluation metrics of the test-set predictions."""
    if predictions["y_true"].nunique() < 2:
        raise ValueError("the test set holds one class only: ROC AUC and PR AUC are undefined")
    threshold = section(EvaluationSettings, params, "evaluation").threshold
    return classification_metrics(
        predictions["y_true"].to_numpy(), predictions["y_score"].to_numpy(), threshold
    )


def plot_roc_curve(predictions: pd.DataFrame) -> Figure:
    """Return a figure of the ROC curve with its AUC and the chance diagonal."""
    import matplotlib.pyplot as plt
    from sklearn import metrics as skm

    fpr, tpr, _ = skm.roc_curve(predictions["y_true"], predictions["y_score"])
    auc = skm.auc(fpr, tpr)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"model (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_calibration_curve(predictions: pd.DataFrame, params: dict[str, Any]) -> Figure:
    """Return a reliability diagram: observed churn rate against predicted probability."""
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(
        predictions["y_true"],
        predictions["y_score"],
        n_bins=section(EvaluationSettings, params, "evaluation").calibration_bins,
        strategy="quantile",
    )
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set(
        xlabel="Mean predicted probability", ylabel="Observed positive rate", title="Calibration"
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig
