"""Shared fixtures: feature specs derived from the parameters, and synthetic tables built from them.

No test names a column: every column comes from `features` in conf/base/parameters.yml. Each test
that takes `features` runs for three specs, so the suite stays green for any valid configuration:

- configured:    `features` as conf/base/parameters.yml has it;
- numeric_only:  its numeric columns only: `categorical: []`, no id column, no sensitive attribute;
- many_features: the configured columns plus 30 numeric and 2 categorical ones, with an id
                 column and a sensitive attribute (the configured ones, or new ones).

Tests about a role that a spec may lack (a numeric or categorical column, the sensitive attribute,
the id column) take `numeric_features`, `categorical_features`, `sensitive_features` or
`id_features`, which run for the specs that have it.
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXTRA_NUMERIC = 30
EXTRA_CATEGORICAL = 2


def pytest_configure(config: pytest.Config) -> None:
    """Silence the dependency warnings that the project's runs silence, and no other.

    The list's one home is the package's run_log/warning_filters.py; pytest resets the warning
    filters around each test, so it gets the list as `filterwarnings` lines.
    """
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package = pyproject["tool"]["kedro"]["package_name"]
    filters = importlib.import_module(f"{package}.run_log.warning_filters")
    for line in filters.pytest_filterwarnings():
        config.addinivalue_line("filterwarnings", line)


def configured_features() -> dict[str, Any]:
    """Return the `features` parameters of conf/base/parameters.yml."""
    return yaml.safe_load((PROJECT_ROOT / "conf/base/parameters.yml").read_text())["features"]


def shipped_section(name: str) -> dict[str, Any]:
    """Return one parameters section as conf/base ships it (a node's `params:<name>`)."""
    for path in sorted((PROJECT_ROOT / "conf/base").glob("parameters*.yml")):
        content = yaml.safe_load(path.read_text()) or {}
        if name in content:
            return content[name]
    raise KeyError(f"no parameters file in conf/base has a {name!r} section")


def _fresh_names(prefix: str, count: int, taken: set[str]) -> list[str]:
    names, index = [], 0
    while len(names) < count:
        index += 1
        if f"{prefix}_{index}" not in taken:
            names.append(f"{prefix}_{index}")
    return names


def feature_variants(configured: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return {variant name: features} derived from the configured spec (see the module doc)."""
    numeric = list(configured["numeric"] or [])
    categorical = list(configured["categorical"] or [])
    roles = {configured.get(key) for key in ("target", "id_column", "sensitive_attribute")}
    taken = {*numeric, *categorical, *(role for role in roles if role)}
    only_numeric = numeric or _fresh_names("numeric", 3, taken)
    return {
        "configured": dict(configured),
        "numeric_only": {
            "target": configured["target"],
            "id_column": None,
            "numeric": only_numeric,
            "categorical": [],
            "sensitive_attribute": None,
        },
        "many_features": {
            **configured,
            "numeric": [*numeric, *_fresh_names("extra_numeric", EXTRA_NUMERIC, taken)],
            "categorical": [
                *categorical,
                *_fresh_names("extra_category", EXTRA_CATEGORICAL, taken),
            ],
            # Every role is covered by at least one spec, whatever the configured one lacks.
            "id_column": configured.get("id_column") or _fresh_names("row_id", 1, taken)[0],
            "sensitive_attribute": configured.get("sensitive_attribute")
            or _fresh_names("group", 1, taken)[0],
        },
    }


VARIANTS = feature_variants(configured_features())


def _with(role: str) -> list[str]:
    return [name for name, spec in VARIANTS.items() if spec.get(role)]


@pytest.fixture(scope="session")
def project_root() -> Path:
    """Return the project's root folder."""
    return PROJECT_ROOT


@pytest.fixture(scope="session", params=list(VARIANTS))
def features(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return one feature spec: configured, numeric_only or many_features."""
    return VARIANTS[request.param]


@pytest.fixture(scope="session", params=_with("numeric"))
def numeric_features(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return a feature spec with at least one numeric column."""
    return VARIANTS[request.param]


@pytest.fixture(scope="session", params=_with("categorical"))
def categorical_features(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return a feature spec with at least one categorical column."""
    return VARIANTS[request.param]


@pytest.fixture(scope="session", params=_with("sensitive_attribute"))
def sensitive_features(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return a feature spec with a sensitive attribute."""
    return VARIANTS[request.param]


@pytest.fixture(scope="session", params=_with("id_column"))
def id_features(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Return a feature spec with an id column."""
    return VARIANTS[request.param]


def make_customers(features: dict[str, Any], n_rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Return a table with the spec's columns and a 0/1 target that depends on the features.

    The id column and the sensitive attribute are there only when the spec names them.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(index=range(n_rows))
    if features.get("id_column"):
        frame[features["id_column"]] = [f"id-{i}" for i in range(n_rows)]
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


def model_columns(features: dict[str, Any]) -> list[str]:
    """Return the spec's model features: numeric then categorical."""
    return [*features["numeric"], *features["categorical"]]


@pytest.fixture
def customers(features: dict[str, Any]) -> pd.DataFrame:
    """Return a 400-row synthetic customer table for `features`."""
    return make_customers(features)
