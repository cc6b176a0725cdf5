"""Nodes that split the prepared reference batch (its checks and preparation: core.features)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from ...core.features import Features, SchemaError, feature_spec
from ...core.parameters import DataProcessingSettings, section

logger = logging.getLogger(__name__)


def split_data(
    frame: pd.DataFrame, features: Features, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return a stratified, seeded (train, test) split of the prepared frame."""
    from sklearn.model_selection import train_test_split

    target = feature_spec(features).target
    settings = section(DataProcessingSettings, params, "data_processing")
    counts = frame[target].value_counts()
    n_test = int(np.ceil(settings.test_size * len(frame)))
    if len(counts) < 2 or counts.min() < 2 or n_test < 2 or len(frame) - n_test < 2:
        raise SchemaError(
            f"too few labelled rows to split: target {target!r} has class counts "
            f"{ {int(k): int(v) for k, v in counts.items()} } in {len(frame)} row(s); a stratified "
            f"split with test_size={settings.test_size} needs at least 2 rows of each class on "
            "each side"
        )
    train, test = train_test_split(
        frame,
        test_size=settings.test_size,
        random_state=settings.random_state,
        stratify=frame[target],
    )
    logger.info("split %d rows into %d train / %d test", len(frame), len(train), len(test))
    return train.reset_index(drop=True), test.reset_index(drop=True)
