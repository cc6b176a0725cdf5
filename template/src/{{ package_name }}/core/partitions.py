"""Partitioned datasets (a folder of batches, loaded lazily): which batch is the newest."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

logger = logging.getLogger(__name__)


def newest_partition(partitions: dict[str, Callable[[], pd.DataFrame]]) -> pd.DataFrame:
    """Return the newest labelled batch (partition names sort oldest to newest)."""
    if not partitions:
        raise ValueError(
            "labelled_batches holds no batch: add labelled CSVs to its folder (catalog.yml) "
            "before monitoring or retraining on them"
        )
    name = max(partitions)
    logger.info("newest labelled batch: %s", name)
    return partitions[name]()
