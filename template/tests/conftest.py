"""Shared fixtures: the project's feature spec and a small synthetic customer table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    """Return the project's root folder."""
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def features() -> dict[str, Any]:
    """Return the `features` parameters of conf/base/parameters.yml."""
    return yaml.safe_load((PROJECT_ROOT / "conf/base/parameters.yml").read_text())["features"]


def make_customers(features: dict[str, Any], n_rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Return a table with the configured columns and a target that depends on the features."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({features["id_column"]: [f"id-{i}" for i in range(n_rows)]})
    signal = np.zeros(n_rows)
    for position, column in enumerate(features["numeric"]):
        frame[column] = rng.normal(0.0, 1.0, n_rows)
        signal += frame[column].to_numpy() / (position + 1)
    for column in features["categorical"]:
        frame[column] = rng.choice(["a", "b", "c"], size=n_rows)
        signal += 1.5 * (frame[column].to_numpy() == "a")
    if features.get("sensitive_attribute"):
        frame[features["sensitive_attribute"]] = rng.choice(["g1", "g2"], size=n_rows)
    probability = 1.0 / (1.0 + np.exp(-(signal - signal.mean())))
    frame[features["target"]] = (rng.random(n_rows) < probability).astype(int)
    return frame


@pytest.fixture
def customers(features: dict[str, Any]) -> pd.DataFrame:
    """Return a 400-row synthetic customer table."""
    return make_customers(features)
