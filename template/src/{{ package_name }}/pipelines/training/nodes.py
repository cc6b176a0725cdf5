"""Nodes that build and fit the model."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...core.features import Features, feature_spec
from ...core.parameters import TrainingSettings, section

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline as SklearnPipeline
else:
    # Kedro reads node annotations at run time; this name stands in so that registering the
    # pipelines does not import scikit-learn (build_model imports it when it builds).
    SklearnPipeline = Any

logger = logging.getLogger(__name__)


def build_model(features: Features, hyperparameters: dict[str, Any]) -> SklearnPipeline:
    """Return an unfitted pipeline: ordinal-encode categoricals, then gradient boosting.

    Unknown and missing categories become NaN, which HistGradientBoosting routes as missing, so
    a new category in production degrades gracefully instead of failing. The encoded frame keeps
    the raw feature names, so SHAP values and drift reports speak the same names.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    spec = feature_spec(features)
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    preprocess = ColumnTransformer(
        [
            ("categorical", encoder, list(spec.categorical)),
            ("numeric", "passthrough", list(spec.numeric)),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    classifier = HistGradientBoostingClassifier(**hyperparameters)
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def train_model(
    train_set: pd.DataFrame, features: Features, params: dict[str, Any]
) -> SklearnPipeline:
    """Return the model fitted on the training set's feature columns and target."""
    spec = feature_spec(features)
    columns = list(spec.model_columns)
    settings = section(TrainingSettings, params, "training")
    model = build_model(spec, settings.hyperparameters)
    model.fit(train_set[columns], train_set[spec.target])
    classifier = model.named_steps["classifier"]
    logger.info(
        "trained %s on %d rows, %d features, %d iterations",
        type(classifier).__name__,
        len(train_set),
        len(columns),
        classifier.n_iter_,
    )
    return model
