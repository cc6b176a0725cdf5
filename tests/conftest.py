"""Fixtures shared by the template's tests: rendering, running rendered projects, services."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import copier
import pytest

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
IN_CI = bool(os.environ.get("CI"))

# Environment every rendered project runs with in tests (see DEVELOPERS.md: OpenMP with two
# threads is 40x slower here; telemetry would try the network).
PROJECT_ENV = {
    "OMP_NUM_THREADS": "1",
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "MPLBACKEND": "Agg",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "PYTHONDONTWRITEBYTECODE": "1",
    # Rich wraps log lines at 80 columns; wide lines keep messages greppable in assertions.
    "COLUMNS": "250",
}


def render(destination: Path, **answers: Any) -> Path:
    """Render the template's working tree into `destination` with defaults plus `answers`."""
    copier.run_copy(
        str(TEMPLATE_ROOT),
        destination,
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref="HEAD",
    )
    return destination


# Top-level folders of the template repository that are not part of the template.
NOT_TEMPLATE = {".git", ".venv", ".hypothesis", ".pytest_cache", ".ruff_cache", "build", "site"}


def copy_template(destination: Path) -> Path:
    """Copy the template's working tree, without .git and tool folders, to `destination`.

    Copier renders a plain folder in place instead of cloning a git repository first, so a render
    from the copy takes about half the time: fuzzing and fault injection render from copies.
    """

    def ignored(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == TEMPLATE_ROOT
        return {n for n in names if n == "__pycache__" or (top and n in NOT_TEMPLATE)}

    shutil.copytree(TEMPLATE_ROOT, destination, ignore=ignored, symlinks=True)
    return destination


def render_from(template: Path, destination: Path, **answers: Any) -> Path:
    """Render a plain template folder (see copy_template) with defaults plus `answers`, no tasks."""
    copier.run_copy(
        str(template), destination, data=answers, defaults=True, quiet=True, skip_tasks=True
    )
    return destination


@pytest.fixture(scope="session")
def plain_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a plain-folder copy of the template taken once per session (treat as read-only)."""
    return copy_template(tmp_path_factory.mktemp("template") / "copier-kedro-mlops")


def project_env(project: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment a rendered project's commands run with."""
    env = {**os.environ, **PROJECT_ENV}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(project / "src")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(extra or {})
    return env


def run_in(
    project: Path,
    *command: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run `command` in `project` (kedro, pytest, ruff ... from this venv) and capture output."""
    executable = command[0]
    if (VENV_BIN / executable).exists():
        executable = str(VENV_BIN / executable)
    result = subprocess.run(
        [executable, *command[1:]],
        cwd=project,
        env=project_env(project, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode} in {project}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def skip_or_fail(reason: str) -> None:
    """Skip outside CI; in CI a missing service is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a project rendered once per session with every default answer."""
    return render(tmp_path_factory.mktemp("default") / "churn-prediction")


@pytest.fixture
def fresh_project(default_project: Path, tmp_path: Path) -> Path:
    """Return a private copy of the default project that a test may change or run in."""
    destination = tmp_path / default_project.name
    shutil.copytree(default_project, destination, symlinks=True)
    return destination


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Return a default project after one full `kedro run` (shared, treat as read-only)."""
    project = render(tmp_path_factory.mktemp("trained") / "churn-prediction")
    run_in(project, "kedro", "run")
    yield project
