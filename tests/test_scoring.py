"""Batch scoring and monitoring against the champion, in a rendered project, offline.

Render, train, register the trained model as champion in the project's local MLflow store, then
score the sample's unlabelled batch (`kedro run --pipelines inference`) and monitor it. Variants
of the batch (a feature column dropped, an extra column added, a small read chunk) run in copies
of the trained project. Column names come from the project's parameters, never spelled out.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import copy_of, model_name, registry, run_in

pytestmark = pytest.mark.e2e


def newest(project: Path, pattern: str) -> Path:
    """Return the newest version of a versioned dataset's file."""
    matches = sorted(project.glob(pattern))
    assert matches, f"nothing matches {pattern} in {project}"
    return matches[-1]


@pytest.fixture(scope="module")
def champion_project(
    trained_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """Return a trained project whose registry has a champion, with its name and version."""
    project = copy_of(trained_project, tmp_path_factory.mktemp("scoring"))
    # The default run registered its model as the champion (the registry hook).
    name = model_name(project)
    champion = registry(project).get_model_version_by_alias(name, "champion")
    return project, name, str(champion.version)


@pytest.fixture(scope="module")
def scored(champion_project) -> tuple[Path, pd.DataFrame]:
    """Return the project after `kedro run --pipelines inference` and its predictions."""
    project = champion_project[0]
    run_in(project, "kedro", "run", "--pipelines", "inference")
    return project, pd.read_parquet(
        newest(project, "data/07_model_output/batch_predictions.parquet/*/*.parquet")
    )


def features_of(project: Path) -> dict:
    return yaml.safe_load((project / "conf/base/parameters.yml").read_text())["features"]


def test_the_champion_scores_the_unlabelled_batch(champion_project, scored):
    _, name, version = champion_project
    project, predictions = scored
    features = features_of(project)
    batch = pd.read_csv(project / "data/01_raw/scoring_batch.csv")
    assert features["target"] not in batch.columns, "the sample's batch to score has no labels"
    threshold = yaml.safe_load((project / "conf/base/parameters_evaluation.yml").read_text())[
        "evaluation"
    ]["threshold"]
    assert predictions["id"].tolist() == batch[features["id_column"]].tolist()
    assert predictions["score"].between(0, 1).all()
    assert (predictions["predicted_label"] == (predictions["score"] >= threshold)).all()
    assert set(predictions["model_name"]) == {name}
    assert set(predictions["model_version"]) == {version}
    assert predictions["scored_at"].nunique() == 1
    # The sensitive attribute is not a model feature: it is carried through.
    assert predictions[features["sensitive_attribute"]].tolist() == (
        batch[features["sensitive_attribute"]].tolist()
    )


def test_a_missing_feature_column_fails_naming_it(champion_project, tmp_path):
    project = copy_of(champion_project[0], tmp_path)
    column = features_of(project)["numeric"][-1]
    path = project / "data/01_raw/scoring_batch.csv"
    pd.read_csv(path).drop(columns=column).to_csv(path, index=False)
    pattern = "data/07_model_output/batch_predictions.parquet/*"
    before = set(project.glob(pattern))
    result = run_in(project, "kedro", "run", "--pipelines", "inference", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "lacks the model's feature column(s)" in output and repr(column) in output
    assert set(project.glob(pattern)) == before, "a failed scoring run wrote predictions"


def test_extra_columns_are_carried_and_chunked_reads_score_the_same(
    champion_project, scored, tmp_path
):
    project = copy_of(champion_project[0], tmp_path)
    path = project / "data/01_raw/scoring_batch.csv"
    batch = pd.read_csv(path)
    batch.insert(3, "campaign", [f"c{i % 7}" for i in range(len(batch))])
    batch.to_csv(path, index=False)
    catalog = project / "conf/base/catalog.yml"
    text = catalog.read_text()
    assert "chunksize: 200000" in text
    catalog.write_text(text.replace("chunksize: 200000", "chunksize: 97"))
    for old in project.glob("data/07_model_output/batch_predictions.parquet/*"):
        shutil.rmtree(old)
    run_in(project, "kedro", "run", "--pipelines", "inference")
    chunked = pd.read_parquet(
        newest(project, "data/07_model_output/batch_predictions.parquet/*/*.parquet")
    )
    one_shot = scored[1]
    assert chunked["campaign"].tolist() == batch["campaign"].tolist()
    pd.testing.assert_series_equal(chunked["id"], one_shot["id"])
    pd.testing.assert_series_equal(chunked["score"], one_shot["score"], check_exact=True)


def test_monitoring_an_unlabelled_batch_reports_prediction_drift_not_metrics(
    champion_project, tmp_path
):
    _, name, version = champion_project
    project = copy_of(champion_project[0], tmp_path)
    raw = project / "data/01_raw"
    shutil.copy(raw / "scoring_batch.csv", raw / "customers_current.csv")
    result = run_in(project, "kedro", "run", "--pipelines", "monitoring", check=False)
    output = result.stdout + result.stderr
    report = json.loads(
        newest(project, "data/08_reporting/monitoring/monitoring_report.json/*/*").read_text()
    )
    section = report["sections"]["model_drift"]
    assert section["status"] == "prediction_drift", output[-3000:]
    assert section["current_metrics"] == {}
    assert [row["metric"] for row in section["metrics"]] == ["score_psi", "score_ks"]
    assert section["model"]["source"] == "champion"
    assert (section["model"]["name"], section["model"]["version"]) == (name, version)
    drift = section["prediction_drift"]
    assert drift["current_rows"] == len(pd.read_csv(project / "data/01_raw/scoring_batch.csv"))
    expected = (
        "fail"
        if drift["psi"] >= drift["psi_fail"] or drift["ks_statistic"] >= drift["ks_fail"]
        else "warn"
        if drift["psi"] >= drift["psi_warn"] or drift["ks_statistic"] >= drift["ks_warn"]
        else "ok"
    )
    assert drift["level"] == expected
    # The batch's inputs drift (pipelines/sample_data): at least a warning, and the exit status
    # follows the verdict (exit_nonzero_on: fail). Whether the drifted share crosses the fail
    # line (0.5) depends on the statistics, not on prediction drift, which this test is about.
    assert report["level"] in {"warn", "fail"}
    assert (result.returncode != 0) == (report["level"] == "fail")
    summary = json.loads(
        newest(project, "data/08_reporting/monitoring/monitoring_summary.json/*/*").read_text()
    )
    assert not any(key.startswith("ModelMetric/roc_auc") for key in summary)
    html = newest(project, "data/08_reporting/monitoring/monitoring_report.html/*/*").read_text()
    assert "score_psi" in html and "prediction drift" in html
