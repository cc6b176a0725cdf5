"""SHAP attributions and group-fairness metrics of the rendered project (issue 7).

Three layers: bias arithmetic on a hand-built case (the template's core/bias.py, no render); the
reports `kedro run` writes; and, in a subprocess inside the trained project, SHAP local
accuracy and the generator's most informative feature coming out on top.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import TEMPLATE_ROOT, run_in

pytestmark = pytest.mark.xai

PACKAGE_SOURCE = TEMPLATE_ROOT / "template" / "src" / "{{ package_name }}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# A rendered plot with axes, labels and points is tens of kB; an empty canvas is about 2 kB.
MIN_PLOT_BYTES = 10_000
# TreeExplainer is exact: values plus base value reproduce the log-odds to float rounding.
LOCAL_ACCURACY_TOLERANCE = 1e-6


def load_bias_module() -> Any:
    """Return the template's core/bias.py, imported from the template's package (no rendering).

    The package's Python files need no rendering, so the folder is imported as it is, under a
    name of its own; core/bias.py's relative import (.serialise) resolves inside it.
    """
    name = "template_package"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, PACKAGE_SOURCE / "__init__.py", submodule_search_locations=[str(PACKAGE_SOURCE)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.core.bias")


def latest(project: Path, pattern: str) -> Path:
    """Return the newest versioned file matching `pattern` under data/."""
    matches = sorted((project / "data").glob(pattern))
    assert matches, f"no file matches data/{pattern}"
    return matches[-1]


# ----- Bias metrics on a hand-built case ----------------------------------------------------------


def test_bias_metrics_of_a_hand_built_case():
    bias = load_bias_module()
    # women: 10 rows, 5 churned; predicted churn for 4 churners and 1 stayer.
    # men:   10 rows, 4 churned; predicted churn for 2 churners and 3 stayers.
    # other: 3 rows, under min_group_size, all predicted to churn.
    y_true = np.array([*[1, 1, 1, 1, 1, 0, 0, 0, 0, 0], *[1, 1, 1, 1, 0, 0, 0, 0, 0, 0], 1, 0, 0])
    y_pred = np.array([*[1, 1, 1, 1, 0, 1, 0, 0, 0, 0], *[1, 1, 0, 0, 1, 1, 1, 0, 0, 0], 1, 1, 1])
    groups = np.repeat(["women", "men", "other"], [10, 10, 3])
    report = bias.fairness_report(
        y_true,
        y_pred,
        groups,
        sensitive_attribute="gender",
        min_group_size=5,
        warn_thresholds={"demographic_parity_difference": 0.05, "equalized_odds_difference": 0.5},
    )
    women, men, other = (report["groups"][name] for name in ("women", "men", "other"))
    assert women["count"] == men["count"] == 10
    assert women["selection_rate"] == pytest.approx(0.5)
    assert men["selection_rate"] == pytest.approx(0.5)
    assert women["true_positive_rate"] == pytest.approx(4 / 5)
    assert men["true_positive_rate"] == pytest.approx(2 / 4)
    assert women["false_positive_rate"] == pytest.approx(1 / 5)
    assert men["false_positive_rate"] == pytest.approx(3 / 6)
    assert women["precision"] == pytest.approx(4 / 5)
    assert men["precision"] == pytest.approx(2 / 5)

    differences = report["differences"]
    assert differences["demographic_parity_difference"] == pytest.approx(0.0)
    assert differences["true_positive_rate_difference"] == pytest.approx(0.3)
    assert differences["false_positive_rate_difference"] == pytest.approx(0.3)
    assert differences["equalized_odds_difference"] == pytest.approx(0.3)
    assert report["warnings"] == []  # parity 0 <= 0.05 and odds 0.3 <= 0.5

    # The small group is reported with its counts, flagged, and kept out of the differences
    # (with it, the parity difference would be 1.0 - 0.5).
    assert other["status"] == bias.TOO_SMALL == "too small to judge"
    assert (other["count"], other["predicted_positives"]) == (3, 3)
    json.dumps(report)  # JSON-ready: no numpy scalars, no NaN


def test_bias_thresholds_warn_by_name():
    bias = load_bias_module()
    report = bias.fairness_report(
        [1, 0, 1, 0] * 10,
        [1, 1, 1, 1] * 5 + [0, 0, 0, 0] * 5,
        ["a"] * 20 + ["b"] * 20,
        sensitive_attribute="region",
        min_group_size=5,
        warn_thresholds={"demographic_parity_difference": 0.1},
    )
    assert report["differences"]["demographic_parity_difference"] == pytest.approx(1.0)
    assert len(report["warnings"]) == 1
    assert "demographic_parity_difference across 'region' groups is 1.000" in report["warnings"][0]


# ----- What a default `kedro run` writes ----------------------------------------------------------
# trained_project (conftest's trained_run, read only): the default pipeline ends with
# explainability and does not monitor, so a monitoring verdict cannot hide its outputs.


def test_run_writes_every_plot_as_a_real_png(trained_project):
    pngs = [
        latest(trained_project, f"08_reporting/explainability/{name}/*/{name}")
        for name in ("shap_beeswarm.png", "shap_bar.png", "bias_metrics.png")
    ]
    dependence = sorted(
        latest(trained_project, "08_reporting/explainability/shap_dependence/*").glob("*/*.png")
    )
    top_k = yaml.safe_load(
        (trained_project / "conf/base/parameters_explainability.yml").read_text()
    )["explainability"]["dependence_top_k"]
    assert len(dependence) == top_k
    for png in pngs + dependence:
        content = png.read_bytes()
        assert content[:8] == PNG_MAGIC, png
        assert len(content) > MIN_PLOT_BYTES, f"{png} is only {len(content)} bytes"


def test_run_writes_importance_for_every_feature_and_bias_per_group(trained_project):
    features = yaml.safe_load((trained_project / "conf/base/parameters.yml").read_text())[
        "features"
    ]
    reports = "08_reporting/explainability"
    importance = json.loads(
        latest(trained_project, f"{reports}/shap_importance.json/*/*").read_text()
    )
    assert set(importance) == {*features["numeric"], *features["categorical"]}
    assert all(value >= 0 for value in importance.values())
    assert features["sensitive_attribute"] not in importance  # not a model feature

    bias = json.loads(
        latest(trained_project, "08_reporting/explainability/bias_metrics.json/*/*").read_text()
    )
    assert bias["sensitive_attribute"] == "gender"
    assert set(bias["groups"]) == {"female", "male"}
    assert sum(group["count"] for group in bias["groups"].values()) == bias["n_rows"] == 1250
    assert bias["differences"]["demographic_parity_difference"] is not None

    summary = latest(
        trained_project, "08_reporting/explainability/explainability_summary.md/*/*"
    ).read_text()
    assert "## Features by mean |SHAP|" in summary
    assert "## Group fairness" in summary


# ----- SHAP on the trained model, inside the project ----------------------------------------------

PROBE = textwrap.dedent(
    """
    import importlib, json
    from pathlib import Path

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from sklearn.dummy import DummyClassifier

    package = bootstrap_project(Path.cwd()).package_name
    with KedroSession.create(project_path=Path.cwd()) as session:
        context = session.load_context()
        model = context.catalog.load("model")
        test_set = context.catalog.load("test_set")
        predictions = context.catalog.load("test_predictions")
        params = context.params
    nodes = importlib.import_module(f"{package}.pipelines.explainability.nodes")
    attribution_module = importlib.import_module(f"{package}.core.attribution")
    generator = importlib.import_module(f"{package}.pipelines.sample_data.nodes")
    features, xai = params["features"], params["explainability"]

    attribution = nodes.explain_model(model, test_set, features, xai)
    log_odds = model[-1].decision_function(model[:-1].transform(attribution.raw_data))
    total = attribution.values.sum(axis=1) + attribution.base_values
    errors = {}
    try:
        without = test_set.drop(columns=features["sensitive_attribute"])
        nodes.compute_bias_metrics(predictions, without, features, xai, params["evaluation"])
    except KeyError as error:
        errors["sensitive_attribute"] = str(error)
    columns = features["numeric"]
    dummy = DummyClassifier().fit(test_set[columns], test_set[features["target"]])
    try:
        attribution_module.candidate_explainers(dummy, "tree")
    except attribution_module.UnsupportedModelError as error:
        errors["forced_tree"] = str(error)
    try:
        attribution_module.candidate_explainers(object())
    except attribution_module.UnsupportedModelError as error:
        errors["no_predict"] = str(error)
    # HistGradientBoosting with native categorical splits: TreeExplainer misreads them, so the
    # additivity check must reject it and fall back to the permutation explainer.
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    native = Pipeline([
        ("preprocess", clone(model.named_steps["preprocess"])),
        ("classifier", HistGradientBoostingClassifier(
            max_iter=30, categorical_features=features["categorical"], random_state=0
        )),
    ]).fit(test_set, test_set[features["target"]])
    fallback = attribution_module.explain(
        native, test_set.head(300), background_size=20, agnostic_max_rows=20
    )
    print(json.dumps({
        "fallback_explainer": fallback.explainer,
        "fallback_rows": len(fallback.data),
        "fallback_error": fallback.additivity_error,
        "explainer": attribution.explainer,
        "rows_explained": len(attribution.data),
        "rows_available": attribution.rows_available,
        "used_all_rows": attribution.used_all_rows,
        "max_error": float(abs(total - log_odds).max()),
        "log_odds_range": float(log_odds.max() - log_odds.min()),
        "ranking": list(attribution.mean_abs()),
        "most_informative": generator.MOST_INFORMATIVE_FEATURE,
        "sample_size": xai["sample_size"],
        "errors": errors,
    }))
    """
)


@pytest.fixture(scope="module")
def probe(trained_project) -> dict[str, Any]:
    """Return what the probe script finds in the trained project (one subprocess)."""
    result = run_in(trained_project, "python", "-c", PROBE, timeout=600)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_shap_values_add_up_to_the_model_log_odds(probe):
    assert probe["explainer"] == "tree"
    assert probe["log_odds_range"] > 1.0  # the check is not vacuous: outputs really vary
    assert probe["max_error"] < LOCAL_ACCURACY_TOLERANCE


def test_top_feature_is_the_generators_most_informative(probe):
    assert probe["ranking"][0] == probe["most_informative"]


def test_sample_larger_than_the_data_uses_every_row(probe):
    # The default sample (2,000 rows) exceeds the 1,250-row test set of the sample data.
    assert probe["sample_size"] > probe["rows_available"]
    assert probe["used_all_rows"]
    assert probe["rows_explained"] == probe["rows_available"]


def test_errors_name_what_is_wrong(probe):
    errors = probe["errors"]
    assert "Sensitive attribute 'gender'" in errors["sensitive_attribute"]
    assert "Available columns" in errors["sensitive_attribute"]
    assert "DummyClassifier" in errors["forced_tree"]
    assert "builtins.object" in errors["no_predict"]


def test_misread_tree_model_falls_back_to_a_correct_explainer(probe):
    assert probe["fallback_explainer"] == "permutation"
    assert probe["fallback_rows"] == 20
    assert probe["fallback_error"] < LOCAL_ACCURACY_TOLERANCE
