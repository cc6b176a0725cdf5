"""The default render trains end to end offline, and its own tests, lint and notebook pass."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (
    PROJECT_ENV,
    VENV_BIN,
    assert_suite_passed,
    copy_of,
    derived_suite_selection,
    find_python,
    render,
    run_in,
)

pytestmark = pytest.mark.e2e

# The generator's true churn probabilities reach a ROC AUC of 0.847 on the reference batch; on
# 1,250 held-out rows the AUC's standard error is about 0.012, so 0.78 (five standard errors
# under that ceiling) is a floor a working pipeline clears and a broken one does not.
ROC_AUC_FLOOR = 0.78


def latest(project: Path, pattern: str) -> Path:
    """Return the newest versioned file matching `pattern` under data/."""
    matches = sorted((project / "data").glob(pattern))
    assert matches, f"no file matches data/{pattern}"
    return matches[-1]


def test_default_run_trains_and_evaluates(trained_project):
    metrics = json.loads(
        latest(trained_project, "08_reporting/evaluation_metrics.json/*/*.json").read_text()
    )
    assert metrics["roc_auc"] > ROC_AUC_FLOOR
    assert {"roc_auc", "pr_auc", "accuracy", "f1", "log_loss", "confusion_matrix"} <= set(metrics)
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["n_test"] == 1250
    assert latest(trained_project, "06_models/model.pkl/*/model.pkl").stat().st_size > 10_000
    for plot in ("roc_curve.png", "calibration_curve.png"):
        png = latest(trained_project, f"08_reporting/{plot}/*/{plot}")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 5_000


def test_artefacts_are_versioned_per_run(trained_project, tmp_path):
    project = copy_of(trained_project, tmp_path)  # after one default run
    dataset = project / "data/05_model_input/train_set.parquet"
    (first,) = dataset.iterdir()
    saved = (first / "train_set.parquet").read_bytes()
    run_in(project, "kedro", "run", "--pipelines", "data_processing")
    versions = sorted(dataset.iterdir())
    assert len(versions) == 2 and versions[0] == first
    assert (first / "train_set.parquet").read_bytes() == saved


def test_malformed_raw_data_fails_with_a_message_naming_the_column(fresh_project):
    raw = fresh_project / "data/01_raw/customers.csv"
    lines = raw.read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("tenure_months")
    broken_row = lines[1].split(",")
    broken_row[column] = "twelve"
    raw.write_text("\n".join([lines[0], ",".join(broken_row), *lines[2:]]) + "\n")
    result = run_in(fresh_project, "kedro", "run", "--pipelines", "data_processing", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "column 'tenure_months' must be numeric, found ['twelve']" in output
    assert not (fresh_project / "data/05_model_input/train_set.parquet").exists()


def test_missing_column_fails_with_a_message(fresh_project):
    raw = fresh_project / "data/01_raw/customers.csv"
    import pandas as pd

    pd.read_csv(raw).drop(columns=["region"]).to_csv(raw, index=False)
    result = run_in(fresh_project, "kedro", "run", "--pipelines", "data_processing", check=False)
    assert result.returncode != 0
    assert "customers is missing column(s) ['region']" in result.stdout + result.stderr


# The default render's suite in two halves of about the same CPU (docs/testing.md), so that two
# workers share it instead of one carrying it alone for minutes. The second half is everything
# the first one does not take: together they are the whole suite, whatever is added to it.
RENDERED_SUITE_HALVES = {
    "pipelines-registry": ("tests/pipelines", "tests/registry"),
    "the-rest": ("tests", "--ignore=tests/pipelines", "--ignore=tests/registry"),
}


@pytest.mark.fast
@pytest.mark.parametrize("half", RENDERED_SUITE_HALVES)
def test_rendered_project_tests_pass(fresh_project, half):
    # The one run of the whole rendered suite: every test for every feature spec.
    selection = RENDERED_SUITE_HALVES[half]
    result = run_in(fresh_project, "pytest", "-q", "-p", "no:cacheprovider", *selection)
    assert_suite_passed(result, derived=True)


@pytest.mark.fast
def test_rendered_project_is_ruff_clean(default_project):
    run_in(default_project, "ruff", "check", "--no-cache", ".")
    run_in(default_project, "ruff", "format", "--no-cache", "--check", ".")


def test_bare_skeleton_runs_its_tests(tmp_path, default_project):
    project = render(tmp_path / "bare", include_example=False)
    assert not (project / "data/01_raw/customers.csv").exists()
    # What differs from the default render: no example pipeline, parameters or test_run.py. Each
    # test runs once, on the skeleton's own `features`, and the self-contained modules only where
    # their code differs from the default render's (conftest.derived_suite_selection says why).
    selection = derived_suite_selection(project, default_project)
    result = run_in(
        project, "pytest", "-q", "-p", "no:cacheprovider", *selection, fresh_process=False
    )
    assert_suite_passed(result, derived=False)
    run_in(project, "ruff", "check", "--no-cache", ".")
    missing = run_in(project, "kedro", "run", check=False)
    assert missing.returncode != 0
    assert "customers.csv" in missing.stdout + missing.stderr


def test_example_notebook_runs(fresh_project):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(fresh_project / "notebooks/example.ipynb", as_version=4)
    env_backup = dict(os.environ)
    os.environ.update(PROJECT_ENV)
    try:
        NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(fresh_project / "notebooks")}},
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    outputs = "".join(
        str(output.get("data", {}).get("text/plain", "")) + output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "month_to_month" in outputs
    assert "roc_auc" in outputs


@pytest.mark.slow
def test_pinned_lock_installs_into_a_fresh_environment(tmp_path):
    """A broken pin cannot hide behind the shared test environment.

    The lock and then the project go in with uv, as the rendered Makefile installs them (seconds;
    pip took 5-7 minutes of CI for the same pins, and its editable install builds the project in
    an isolated environment of its own). `pip check` checks the installed set.
    """
    python = find_python("3.12")
    project = render(tmp_path / "project")
    env_dir = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(env_dir)], check=True)
    uv = shutil.which("uv", path=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    assert uv, "uv is part of the test environment (requirements-test.txt)"
    subprocess.run(
        # The lock is complete and installed as it is (--no-deps), as every install path does.
        [uv, "pip", "install", "--quiet", "--no-deps", "--python", str(env_dir / "bin/python"),
         "-r", str(project / "requirements.txt")],
        check=True,
        timeout=1500,
    )  # fmt: skip
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--no-deps", "--python", str(env_dir / "bin/python"),
         "-e", str(project)],
        check=True,
        timeout=300,
    )  # fmt: skip
    check = subprocess.run(
        [str(env_dir / "bin/pip"), "check"], capture_output=True, text=True, check=False
    )
    # The one known gap: MLflow's server, left out of the lock on purpose (decision 0025).
    problems = [line for line in check.stdout.splitlines() if line.strip()]
    assert all(
        re.fullmatch(r"sagemaker-train \S+ requires mlflow, which is not installed\.", line)
        for line in problems
    ), check.stdout
    importable = subprocess.run(
        [str(env_dir / "bin/python"), "-c", "import flask"], capture_output=True, check=False
    )
    assert importable.returncode != 0, "flask is installed: every kedro command would import it"
    env = {
        **os.environ,
        **PROJECT_ENV,
        "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}",
    }
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(env_dir / "bin/kedro"), "run"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    metrics = json.loads(
        latest(project, "08_reporting/evaluation_metrics.json/*/*.json").read_text()
    )
    assert metrics["roc_auc"] > ROC_AUC_FLOOR
    shutil.rmtree(env_dir)
