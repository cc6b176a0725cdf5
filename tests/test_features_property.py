"""Property: any `features` spec and any table, through the rendered project's own pipelines.

Hypothesis draws a feature spec (numeric and categorical columns, optional id column and sensitive
attribute) and a table for it (any row count, missing values, text in numeric columns, labels
outside 0/1, a single class, a dropped column), then runs data_processing -> training ->
evaluation with Kedro's SequentialRunner in memory. Each case must either succeed or fail with
the project's SchemaError whose message names the offending column, or (a spec that breaks
FeatureSpec's rules) its ParameterError naming each bad `features` key: never an internal
exception (IndexError, KeyError, sklearn's ValueError, ...).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.fast

COLUMN = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)


@pytest.fixture(scope="module")
def project_modules(default_project: Path) -> dict[str, Any]:
    """Return the rendered package's pipelines, SchemaError and ParameterError (in-process)."""
    sys.path.insert(0, str(default_project / "src"))
    try:
        import importlib

        package = next((default_project / "src").glob("*/settings.py")).parent.name
        pipelines = {
            name: importlib.import_module(f"{package}.pipelines.{name}").create_pipeline()
            for name in ("data_processing", "training", "evaluation")
        }
        core_features = importlib.import_module(f"{package}.core.features")
        core_parameters = importlib.import_module(f"{package}.core.parameters")
        yield {
            "pipelines": pipelines,
            "SchemaError": core_features.SchemaError,
            "ParameterError": core_parameters.ParameterError,
        }
    finally:
        sys.path.remove(str(default_project / "src"))


def rarely(draw: st.DrawFn, one_in: int = 10) -> bool:
    """Return True about once in `one_in` draws: bad inputs are drawn, good ones dominate."""
    return draw(st.integers(1, one_in)) == 1


@st.composite
def feature_specs(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(COLUMN, min_size=3, max_size=10, unique=True))
    target, *rest = names
    n_numeric = draw(st.integers(0, len(rest)))
    numeric, others = rest[:n_numeric], rest[n_numeric:]
    n_categorical = draw(st.integers(0, len(others)))
    if not numeric and not n_categorical and not rarely(draw):
        n_categorical = 1  # a spec without features is drawn, but rarely
    categorical, spare = others[:n_categorical], others[n_categorical:]
    id_column = spare[0] if spare and draw(st.booleans()) else None
    sensitive = spare[-1] if len(spare) > 1 and draw(st.booleans()) else None
    return {
        "target": target,
        "id_column": id_column,
        "numeric": numeric,
        "categorical": categorical,
        "sensitive_attribute": sensitive,
    }


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], pd.DataFrame]:
    features = draw(feature_specs())
    n_rows = draw(st.integers(0, 12)) if rarely(draw, 5) else draw(st.integers(40, 160))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    frame = pd.DataFrame(index=range(n_rows))
    if features["id_column"]:
        ids = [f"id{i}" for i in range(n_rows)]
        if n_rows > 1 and rarely(draw):
            ids[-1] = ids[0]  # a duplicate id
        frame[features["id_column"]] = ids
    signal = np.zeros(n_rows)
    for column in features["numeric"]:
        values = rng.normal(0, 1, n_rows)
        signal += values
        values[rng.random(n_rows) < draw(st.sampled_from([0.0, 0.1]))] = np.nan
        frame[column] = values
        if n_rows and rarely(draw, 20):
            frame[column] = frame[column].astype(object)
            frame.loc[0, column] = "n/a"  # text in a numeric column
    for column in features["categorical"]:
        values = rng.choice(["a", "b", "c", None], size=n_rows)
        signal += values == "a"
        frame[column] = values
    if features["sensitive_attribute"]:
        frame[features["sensitive_attribute"]] = rng.choice(["g1", "g2"], size=n_rows)
    features_present = [*features["numeric"], *features["categorical"]]
    if features_present and rarely(draw):
        frame[draw(st.sampled_from(features_present))] = np.nan  # a feature without values
    labels = draw(st.sampled_from(["learnable"] * 6 + ["one_class", "bad_value", "some_missing"]))
    target = (rng.random(n_rows) < 1 / (1 + np.exp(-signal))).astype(float)
    if labels == "one_class":
        target[:] = 1.0
    elif labels == "bad_value" and n_rows:
        target[0] = 2.0
    elif labels == "some_missing":
        target[rng.random(n_rows) < 0.2] = np.nan
    frame[features["target"]] = target
    if rarely(draw):
        frame = frame.drop(columns=[draw(st.sampled_from(list(frame.columns)))])
    return features, frame


def run_pipelines(modules: dict[str, Any], features: dict, frame: pd.DataFrame) -> dict:
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner

    pipeline = sum(modules["pipelines"].values(), start=type(modules["pipelines"]["training"])([]))
    catalog = DataCatalog(
        {
            "customers": MemoryDataset(frame),
            "params:features": MemoryDataset(features),
            "params:data_processing": MemoryDataset({"test_size": 0.25, "random_state": 0}),
            "params:training": MemoryDataset(
                {"hyperparameters": {"max_iter": 10, "min_samples_leaf": 5, "random_state": 0}}
            ),
            "params:evaluation": MemoryDataset({"threshold": 0.5, "calibration_bins": 5}),
        }
    )
    return SequentialRunner().run(pipeline, catalog)


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    # No shrinking: one training per example makes it slow, and the failure message already
    # holds the spec and the columns.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=cases())
def test_any_spec_and_table_succeeds_or_names_the_column(
    project_modules: dict[str, Any], case: tuple[dict[str, Any], pd.DataFrame]
) -> None:
    features, frame = case
    try:
        run_pipelines(project_modules, features, frame)
        event("ran data_processing -> training -> evaluation")
    except project_modules["SchemaError"] as error:
        message = str(error)
        # The kind of refusal, for --hypothesis-show-statistics (the notes list them).
        kind = re.sub(
            r"\[[^\]]*\]|'[^']*'|\d+", "_", message.split(" failed schema validation")[-1]
        )
        event("SchemaError: " + kind[:90])
        named = [
            name
            for name in (
                features["target"],
                features["id_column"],
                features["sensitive_attribute"],
                *features["numeric"],
                *features["categorical"],
            )
            if name and f"'{name}'" in message
        ]
        assert named or "is empty" in message or "features." in message, message
    except project_modules["ParameterError"] as error:
        # The spec itself is unusable: every problem names its `features` key.
        event("ParameterError: " + "; ".join(error.problems)[:90])
        assert error.problems, str(error)
        assert all(problem.startswith("features") for problem in error.problems), str(error)
    except Exception as error:  # an internal error: the case must be reported, not hidden
        pytest.fail(
            f"internal {type(error).__name__} for features={features}, "
            f"{len(frame)} rows, columns {list(frame.columns)}: {error}"
        )
