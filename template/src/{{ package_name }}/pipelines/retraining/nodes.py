"""Nodes that pick the labelled batches a retrain learns from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd

from ...core.features import Features, feature_spec
from ...core.parameters import TrainingSetSettings, section
from ...registry.retraining import training_frame

logger = logging.getLogger(__name__)


def build_training_data(
    customers: pd.DataFrame,
    labelled_batches: dict[str, Callable[[], pd.DataFrame]],
    training_set: dict[str, Any],
    features: Features,
) -> pd.DataFrame:
    """Return the raw rows that train the challenger: the reference plus batches, by policy."""
    settings = section(TrainingSetSettings, training_set, "retraining.training_set")
    batches = [(name, labelled_batches[name]()) for name in sorted(labelled_batches)]
    frame, summary = training_frame(customers, batches, settings, feature_spec(features).target)
    logger.info(
        "training set (%s): %d rows from %s%s",
        summary.policy,
        summary.rows,
        ", ".join(summary.parts),
        f"; {summary.held_out_batch} held out for the promotion gate"
        if summary.held_out_batch
        else "",
    )
    return frame
