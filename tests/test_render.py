"""Every valid combination of options renders the exact expected file set and passes validation."""

from __future__ import annotations

import itertools
import json
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE_ROOT, render
from plumbum import local

sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))
from validate_render import validate

pytestmark = pytest.mark.render

EXPECTED_FILES = TEMPLATE_ROOT / "tests" / "expected_files.txt"
PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
LICENSES = ("MIT", "Apache-2.0", "Proprietary")
CI_PROVIDERS = ("github", "none")
EXAMPLE = (True, False)

# Files present only with the sample data, and only with GitHub Actions. Paths use the default
# package name; `expected_files()` substitutes the real one.
EXAMPLE_ONLY = (
    "data/01_raw/customers.csv",
    "data/01_raw/customers_current.csv",
    "data/01_raw/scoring_batch.csv",
    "conf/base/parameters_sample_data.yml",
    "notebooks/example.ipynb",
    "tests/test_run.py",
)
EXAMPLE_ONLY_DIRS = ("src/churn_prediction/pipelines/sample_data/", "data/01_raw/batches/")
GITHUB_ONLY = (
    ".github/workflows/ci.yml",
    ".github/workflows/retrain.yml",
    ".github/workflows/template-update.yml",
)

# Every valid combination: no pair of options is invalid, so the matrix is the full product.
MATRIX = list(itertools.product(PYTHON_VERSIONS, LICENSES, CI_PROVIDERS, EXAMPLE))


def rendered_files(project: Path) -> set[str]:
    """Return every file of a rendered project, relative and with `/` separators."""
    return {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}


def expected_files(ci_provider: str, include_example: bool) -> set[str]:
    """Return the file set a render with these options must produce exactly."""
    files = set(EXPECTED_FILES.read_text().split())
    if not include_example:
        files -= set(EXAMPLE_ONLY)
        files = {f for f in files if not f.startswith(EXAMPLE_ONLY_DIRS)}
    if ci_provider != "github":
        files -= set(GITHUB_ONLY)
    return files


@pytest.mark.parametrize(
    ("python_version", "license_", "ci_provider", "include_example"),
    MATRIX,
    ids=[f"py{p}-{lic}-{ci}-{'example' if ex else 'bare'}" for p, lic, ci, ex in MATRIX],
)
def test_every_combination_renders_exactly_and_validates(
    tmp_path, python_version, license_, ci_provider, include_example
):
    hook_log = tmp_path / "hook.log"
    # Copier runs tasks through plumbum, whose environment is a copy taken at import time.
    with local.env(COPIER_KEDRO_MLOPS_HOOK_LOG=str(hook_log)):
        project = render(
            tmp_path / "project",
            python_version=python_version,
            license=license_,
            ci_provider=ci_provider,
            include_example=include_example,
        )

    assert rendered_files(project) == expected_files(ci_provider, include_example)
    assert validate(project) == []
    assert hook_log.read_text().splitlines() == [str(project.resolve())]

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={python_version}"
    lock = (project / "requirements.txt").read_text()
    assert lock == (TEMPLATE_ROOT / f"locks/requirements-py{python_version}.txt").read_text()
    license_text = (project / "LICENSE").read_text()
    marker = {"MIT": "MIT License", "Apache-2.0": "Apache License", "Proprietary": "All rights"}
    assert marker[license_] in license_text
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["python_version"] == python_version
    assert answers["include_example"] is include_example
    devcontainer = json.loads((project / ".devcontainer/devcontainer.json").read_text())
    assert devcontainer["build"]["args"]["PYTHON_VERSION"] == python_version
    assert "FROM python:${PYTHON_VERSION}-slim" in (project / "Dockerfile").read_text()


def test_expected_file_list_names_the_default_package(default_project):
    """The expected list is written for the default answers; guard that assumption."""
    answers = yaml.safe_load((default_project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "churn_prediction"
    assert "src/churn_prediction/settings.py" in EXPECTED_FILES.read_text().split()


def test_custom_names_flow_into_every_file(tmp_path):
    project = render(
        tmp_path / "p",
        project_name="Fraud Detection: EU",
        s3_bucket="acme-fraud-ml",
        s3_prefix="teams/fraud",
        aws_region="us-gov-west-1",
    )
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "fraud-detection-eu"
    assert answers["package_name"] == "fraud_detection_eu"
    assert (project / "src/fraud_detection_eu/pipeline_registry.py").is_file()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["kedro"]["package_name"] == "fraud_detection_eu"
    assert pyproject["tool"]["kedro"]["project_name"] == "Fraud Detection: EU"
    assert validate(project) == []
