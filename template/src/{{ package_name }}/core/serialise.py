"""One conversion of results into what JSON holds: JSON datasets, reports and MLflow records."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def json_ready(value: Any) -> Any:
    """Return `value` as JSON holds it: numpy values as Python ones, NaN and infinity as None.

    Mappings get text keys and sequences (lists, tuples, numpy arrays) become lists, item by item;
    anything else JSON cannot hold (a timestamp, a path) becomes its text, so a report never
    fails to save for one odd value.
    """
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int)):
        return value
    return str(value)
