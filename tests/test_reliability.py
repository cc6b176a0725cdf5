"""Reliability of the rendered project: atomic runs, git hygiene, messages, bring-your-own-data.

- A run that fails or is stopped after saving `model` never becomes "the newest": the next
  unpinned load (monitoring) takes the newest complete run, and `kedro versions list` marks the
  partial versions INCOMPLETE.
- data/01_raw (users' own, possibly personal data) and `.env` stay out of git; the sample CSVs are
  still rendered, and a run leaves `git status` clean.
- A render without the example does not promise sample data.
- After a valid change to `features` (numeric only, no id column, no sensitive attribute, many
  features) the project's own tests, `kedro run` and the monitoring pipeline work.
"""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    TEMPLATE_ROOT,
    VENV_BIN,
    assert_suite_passed,
    copy_of,
    derived_suite_selection,
    render_from,
    run_in,
    start_in,
)

pytestmark = pytest.mark.e2e

NEVER_ALERT = "monitoring.alerting.exit_nonzero_on=never"


def versions(project: Path, name: str) -> list[dict[str, Any]]:
    """Return `kedro versions list NAME --json` for the project, newest first."""
    result = run_in(project, "kedro", "versions", "list", name, "--json")
    return json.loads(result.stdout[result.stdout.index("{\n") :])[name]["versions"]


def flat(result: subprocess.CompletedProcess[str]) -> str:
    """Return a run's output with rich's wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def newest_file(folder: Path, pattern: str) -> Path:
    return sorted(folder.glob(pattern))[-1]


def roc_auc_of(model_file: Path, current: pd.DataFrame, features: dict[str, Any]) -> float:
    from sklearn.metrics import roc_auc_score

    model = pickle.loads(model_file.read_bytes())  # noqa: S301 - the test's own model file
    columns = [*features["numeric"], *features["categorical"]]
    labelled = current[current[features["target"]].notna()]
    return float(
        roc_auc_score(labelled[features["target"]], model.predict_proba(labelled[columns])[:, 1])
    )


def test_failed_and_stopped_runs_never_become_the_newest(
    trained_project: Path, tmp_path: Path
) -> None:
    project = copy_of(trained_project, tmp_path)
    features = yaml.safe_load((project / "conf/base/parameters.yml").read_text())["features"]
    complete = versions(project, "model")[0]
    assert complete["run"] == "complete"

    # 1. An exception after `model` is saved (the linear SHAP explainer cannot explain the tree
    # model; a malformed parameter would stop the run before any node, see test_parameters).
    params = "training.hyperparameters.max_iter=2,explainability.explainer=linear"
    failed = run_in(project, "kedro", "run", "--params", params, check=False)
    assert failed.returncode != 0
    assert "did not complete" in flat(failed)

    # 2. SIGTERM (docker stop, StopTrainingJob, CI timeouts) right after `model` is saved.
    models = project / "data/06_models/model.pkl"
    known = {p.name for p in models.iterdir()}
    run = start_in(project, "kedro", "run", "--params", "training.hyperparameters.max_iter=3",
                   output=tmp_path / "stopped-run.log")  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while not any((p / "model.pkl").exists() for p in models.iterdir() if p.name not in known):
            assert run.poll() is None, "the run ended before saving `model`"
            assert time.monotonic() < deadline, "the run never saved `model`"
            time.sleep(0.1)
        time.sleep(0.5)
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0

    listed = versions(project, "model")
    assert [item["run"] for item in listed[:3]] == ["INCOMPLETE", "INCOMPLETE", "complete"]
    assert listed[2]["version"] == complete["version"]
    table = run_in(project, "kedro", "versions", "list", "model").stdout
    assert "INCOMPLETE: written by a run that failed or was stopped" in table

    # 3. An unpinned monitoring run loads the newest complete model, not a partial one.
    monitoring = run_in(
        project, "kedro", "run", "--pipelines", "monitoring", "--params", NEVER_ALERT
    )
    text = flat(monitoring)
    # Monitoring judges the registry's champion (the failed runs registered nothing); its other
    # versioned inputs (train_set, test_set) skip the partial runs' versions.
    assert "skipping 2 newer version(s) from runs that did not complete" in text
    assert f"loading {complete['version']}, the newest complete one" in text
    report = json.loads(
        newest_file(
            project / "data/08_reporting/monitoring/monitoring_report.json", "*/*.json"
        ).read_text()
    )
    reported = next(
        m["current"]
        for m in report["sections"]["model_drift"]["metrics"]
        if m["metric"] == "roc_auc"
    )
    current = pd.read_parquet(
        newest_file(project / "data/05_model_input/current_set.parquet", "*/*")
    )
    with_complete = roc_auc_of(models / complete["version"] / "model.pkl", current, features)
    with_partial = roc_auc_of(models / listed[1]["version"] / "model.pkl", current, features)
    assert reported == pytest.approx(with_complete, abs=1e-9)
    assert abs(with_partial - with_complete) > 1e-3, "the partial model must differ to tell"


def test_raw_data_and_env_stay_out_of_git_and_a_run_leaves_git_clean(fresh_project: Path) -> None:
    git = ["git", "-c", "init.defaultBranch=main", "-c", "user.name=t", "-c", "user.email=t@t"]
    sample = sorted(p.name for p in (fresh_project / "data/01_raw").glob("*.csv"))
    assert {"customers.csv", "customers_current.csv"} <= set(sample), "the render ships the sample"
    (fresh_project / ".env").write_text("TOKEN=not-a-real-one\n")
    (fresh_project / "data/01_raw/customers_personal.csv").write_text("id,name\n1,Ada\n")
    subprocess.run([*git, "init", "-q"], cwd=fresh_project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=fresh_project, check=True)
    staged = subprocess.run([*git, "diff", "--cached", "--name-only"], cwd=fresh_project,
                            check=True, capture_output=True, text=True).stdout.split()  # fmt: skip
    assert not [p for p in staged if p.startswith("data/") and not p.endswith(".gitkeep")]
    assert ".env" not in staged
    assert "data/01_raw/.gitkeep" in staged and "conf/base/parameters.yml" in staged
    subprocess.run([*git, "commit", "-qm", "render"], cwd=fresh_project, check=True)
    run_in(fresh_project, "kedro", "run", "--pipelines", "data_processing")
    status = subprocess.run([*git, "status", "--porcelain"], cwd=fresh_project, check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    assert status == "", status


@pytest.mark.parametrize("include_example", [True, False])
def test_the_after_copy_message_promises_sample_data_only_with_the_example(
    tmp_path: Path, include_example: bool
) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "copier"), "copy", "--trust", "--defaults", "--vcs-ref", "HEAD",
         "-d", f"include_example={str(include_example).lower()}",
         str(TEMPLATE_ROOT), str(tmp_path / "p")],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "make run" in output
    assert ("bundled sample data" in output) is include_example


# ----- Bring your own data ------------------------------------------------------------------------
BYOD_SPECS = {
    # Numeric columns only, no id, no sensitive attribute, many features.
    "numeric_only_many": {
        "target": "label",
        "id_column": None,
        "numeric": [f"x{i:02d}" for i in range(40)],
        "categorical": [],
        "sensitive_attribute": None,
    },
    # Categorical columns only, with an id and a sensitive attribute.
    "categorical_only": {
        "target": "outcome",
        "id_column": "row_id",
        "numeric": [],
        "categorical": ["colour", "shape"],
        "sensitive_attribute": "group",
    },
}


def byod_table(
    features: dict[str, Any], n_rows: int, seed: int, shift: float = 0.0
) -> pd.DataFrame:
    """Return a table with exactly the spec's columns and a learnable 0/1 target."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(index=range(n_rows))
    if features["id_column"]:
        frame[features["id_column"]] = [f"r{seed}-{i}" for i in range(n_rows)]
    signal_ = np.zeros(n_rows)
    for position, column in enumerate(features["numeric"]):
        frame[column] = rng.normal(shift, 1.0, n_rows).round(4)
        signal_ += frame[column].to_numpy() / (1 + position % 5)
    for column in features["categorical"]:
        frame[column] = rng.choice(["red", "green", "blue", "grey"], size=n_rows)
        signal_ += 1.2 * (frame[column].to_numpy() == "red")
    if features["sensitive_attribute"]:
        frame[features["sensitive_attribute"]] = rng.choice(["a", "b"], size=n_rows)
    probability = 1 / (1 + np.exp(-(signal_ - signal_.mean())))
    frame[features["target"]] = (rng.random(n_rows) < probability).astype(int)
    return frame


# The specs whose two CSVs get their own names, as the docs allow (the catalog's `filepath`), so
# that the project's own tests (test_run.py) are run with the raw files moved.
BYOD_RAW_FILES = {"numeric_only_many": ("loans.csv", "loans_current.csv")}
SAMPLE_RAW_FILES = ("customers.csv", "customers_current.csv")


def use_own_data(
    project: Path, features: dict[str, Any], raw_files: tuple[str, str] = SAMPLE_RAW_FILES
) -> None:
    """Do what docs/bring-your-own-data.md says: features in parameters.yml, two CSVs (named in
    the catalog when they are not the sample's names)."""
    parameters = project / "conf/base/parameters.yml"
    config = yaml.safe_load(parameters.read_text())
    config["features"] = features
    parameters.write_text(yaml.safe_dump(config, sort_keys=False))
    catalog = project / "conf/base/catalog.yml"
    text = catalog.read_text()
    for sample_name, own_name in zip(SAMPLE_RAW_FILES, raw_files, strict=True):
        assert text.count(f"/01_raw/{sample_name}\n") == 1, f"catalog.yml: {sample_name}'s entry"
        text = text.replace(f"/01_raw/{sample_name}\n", f"/01_raw/{own_name}\n")
    catalog.write_text(text)
    raw = project / "data/01_raw"
    reference, current = raw_files
    byod_table(features, 1500, seed=1).to_csv(raw / reference, index=False)
    byod_table(features, 600, seed=2, shift=0.3).to_csv(raw / current, index=False)


@pytest.mark.parametrize("spec", list(BYOD_SPECS))
def test_bring_your_own_data_runs_every_pipeline(
    plain_template: Path, tmp_path: Path, spec: str, default_project: Path
) -> None:
    features = BYOD_SPECS[spec]
    project = render_from(plain_template, tmp_path / "byod")
    use_own_data(project, features, BYOD_RAW_FILES.get(spec, SAMPLE_RAW_FILES))
    run_in(project, "kedro", "run")
    monitoring = run_in(
        project, "kedro", "run", "--pipelines", "monitoring", "--params", NEVER_ALERT
    )
    assert "Pipeline execution completed successfully" in flat(monitoring)
    report = json.loads(
        newest_file(
            project / "data/08_reporting/monitoring/monitoring_report.json", "*/*.json"
        ).read_text()
    )
    columns = {row["feature"] for row in report["sections"]["data_drift"]["features"]}
    assert columns == {*features["numeric"], *features["categorical"]}
    bias = json.loads(
        newest_file(
            project / "data/08_reporting/explainability/bias_metrics.json", "*/*.json"
        ).read_text()
    )
    assert bias["sensitive_attribute"] == features["sensitive_attribute"]
    if spec == "categorical_only":
        # An unlabelled batch is valid: the label is checked only when it is there.
        current = project / "data/01_raw/customers_current.csv"
        pd.read_csv(current).drop(columns=[features["target"]]).to_csv(current, index=False)
        run_in(project, "kedro", "run", "--pipelines", "monitoring", "--params", NEVER_ALERT)
        validation = json.loads(
            newest_file(
                project / "data/08_reporting/monitoring/monitoring_report.json", "*/*.json"
            ).read_text()
        )["sections"]["validation"]
        assert validation["level"] != "fail", validation["summary"]
        assert features["target"] not in validation["failed_columns"]
        assert any("unlabelled batch" in note for note in validation["skipped"])
    # The project's own tests derive their data from the new `features`: they stay green.
    # Each test runs once, on the user's `features` (conftest.CONFIGURED_SPEC_ONLY): with a
    # numeric-only spec the derived `numeric_only` spec is the configured one again, and the
    # derived `many_features` spec is the default render's generality check of the same code.
    # The self-contained modules read no `features`: they run here only if their code differs
    # from the default render's (conftest.derived_suite_selection).
    if spec == "numeric_only_many":
        tests = run_in(project, "pytest", "-q", "-p", "no:cacheprovider", "-x",
                       *derived_suite_selection(project, default_project), timeout=3600,
                       fresh_process=False)  # fmt: skip
        assert_suite_passed(tests, derived=False)
