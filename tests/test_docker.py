"""A real image build of the rendered default project, run under SageMaker's job contract.

The rendered Dockerfile is built unchanged (`--network host`, the only way out to PyPI here) on
top of the offline `python:<version>-slim` stand-in that scripts/ci/build_base_image.sh loads.
Containers run with `--network none` and a temporary folder mounted where SageMaker mounts
/opt/ml. Outside CI the tests skip when there is no Docker engine; in CI they fail.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import IN_CI, TEMPLATE_ROOT, TEST_IMAGE, TEST_IMAGE_LOCK, skip_or_fail

pytestmark = [pytest.mark.docker, pytest.mark.e2e]

PACKAGE = "churn_prediction"
METRICS = ["roc_auc", "pr_auc", "accuracy", "f1", "log_loss"]
RUN_TIMEOUT = 600


def docker(
    *args: str, timeout: float = RUN_TIMEOUT, check: bool = True
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args[:3])} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-5000:]}\n--- stderr ---\n{result.stderr[-5000:]}"
        )
    return result


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if shutil.which("docker") is None:
        skip_or_fail("no docker CLI (scripts/ci/start_dockerd.sh installs docker.io)")
    if docker("info", timeout=60, check=False).returncode != 0:
        skip_or_fail("no Docker engine answers (run scripts/ci/start_dockerd.sh)")


@pytest.fixture(scope="session")
def project_image(
    docker_engine: None, default_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """Return the tag of the default project's image, built from its unchanged Dockerfile.

    Built once per test run: this module and test_sagemaker_pipeline use the same image, and
    under xdist the worker that asks first builds it while the other waits on the lock. The
    run's controller removes it at the end (conftest.pytest_unconfigure).
    """
    with open(TEST_IMAGE_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if docker("image", "inspect", TEST_IMAGE, check=False).returncode != 0:
            build_project_image(default_project, tmp_path_factory)
    return TEST_IMAGE


def build_project_image(default_project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build TEST_IMAGE from a copy of `default_project` (on the python-slim stand-in)."""
    answers = (default_project / ".copier-answers.yml").read_text()
    python_version = re.search(r"python_version: '?([0-9.]+)", answers).group(1)
    base = f"python:{python_version}-slim"
    if docker("image", "inspect", base, check=False).returncode != 0:
        if os.geteuid() != 0 and not IN_CI:
            pytest.skip(f"{base} stand-in missing and building it needs root")
        subprocess.run(
            ["bash", str(TEMPLATE_ROOT / "scripts" / "ci" / "build_base_image.sh"), python_version],
            check=True,
            timeout=900,
        )
    # A copy, so the build context is exactly the rendered tree and the shared render stays clean.
    context = tmp_path_factory.mktemp("image") / default_project.name
    shutil.copytree(default_project, context, symlinks=True)
    started = time.monotonic()
    docker("build", "--network", "host", "-t", TEST_IMAGE, str(context), timeout=1800)
    print(f"image build: {time.monotonic() - started:.0f} s")


def metric_regexes(project: Path) -> list[dict[str, str]]:
    path = project / "src" / PACKAGE / "tracking" / "metric_lines.py"
    spec = importlib.util.spec_from_file_location("docker_test_metric_lines", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.metric_definitions(METRICS)


def opt_ml(root: Path) -> Path:
    """Return an empty folder that the container's unprivileged user may write to."""
    root.mkdir(parents=True)
    root.chmod(0o777)
    return root


def writable_tree(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


def run_job(image: str, root: Path, *args: str) -> subprocess.CompletedProcess:
    writable_tree(root)
    return docker(
        "run", "--rm", "--network", "none", "--cpus", "1", "--memory", "4g",
        "-e", "OMP_NUM_THREADS=1",
        "-v", f"{root}:/opt/ml",
        image, *args,
        check=False,
    )  # fmt: skip


def processing_layout(root: Path, project: Path) -> Path:
    raw = root / "processing" / "input" / "01_raw"
    raw.mkdir(parents=True)
    for name in ("customers.csv", "customers_current.csv"):
        shutil.copy(project / "data" / "01_raw" / name, raw / name)
    (root / "processing" / "output" / "05_model_input").mkdir(parents=True)
    return root


@pytest.fixture(scope="module")
def model_input(
    project_image: str, default_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Return the 05_model_input folder written by a processing job in the container."""
    root = processing_layout(opt_ml(tmp_path_factory.mktemp("processing") / "ml"), default_project)
    result = run_job(project_image, root, "process", "--pipeline", "data_processing")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    output = root / "processing" / "output" / "05_model_input"
    assert list(output.glob("train_set.parquet/*/train_set.parquet"))
    assert list(output.glob("test_set.parquet/*/test_set.parquet"))
    assert not (root / "output" / "message").exists()
    return output


def training_layout(root: Path, model_input: Path, hyperparameters: str) -> Path:
    shutil.copytree(model_input, root / "input" / "data" / "05_model_input")
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(hyperparameters)
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root


def test_container_runs_as_non_root(project_image: str) -> None:
    result = docker("run", "--rm", "--network", "none", project_image, "id", "-u")
    assert result.stdout.strip().isdigit()
    assert int(result.stdout.strip()) != 0


def test_training_job_writes_model_and_metric_lines(
    project_image: str, default_project: Path, model_input: Path, tmp_path: Path
) -> None:
    root = training_layout(
        opt_ml(tmp_path / "ml"), model_input, '{"max_iter": "60", "learning_rate": "0.1"}'
    )
    result = run_job(project_image, root, "train")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    models = list((root / "model").glob("model.pkl/*/model.pkl"))
    assert len(models) == 1 and models[0].stat().st_size > 1000
    # Written by the job itself, as the image's unprivileged user.
    assert models[0].stat().st_uid != 0
    # Hyperparameters arrived typed, as runtime params of the training pipeline.
    assert '"max_iter": 60' in result.stdout + result.stderr
    for definition in metric_regexes(default_project):
        match = re.search(definition["Regex"], result.stdout, re.MULTILINE)
        assert match, f"{definition['Name']} not printed in a form its regex reads"
        assert 0.0 <= float(match.group(1)) <= 10.0
    reports = root / "output" / "data" / "08_reporting"
    assert list(reports.glob("evaluation_metrics.json/*/evaluation_metrics.json"))
    assert not (root / "output" / "failure").exists()


def test_training_job_with_broken_input_writes_failure(
    project_image: str, model_input: Path, tmp_path: Path
) -> None:
    root = training_layout(opt_ml(tmp_path / "ml"), model_input, "{}")
    for parquet in (root / "input" / "data").rglob("train_set.parquet/*/train_set.parquet"):
        parquet.write_bytes(b"this is not a parquet file")
    result = run_job(project_image, root, "train")
    assert result.returncode != 0
    failure = root / "output" / "failure"
    assert failure.exists(), result.stderr[-3000:]
    reason = failure.read_text()
    assert "train_set" in reason or "parquet" in reason.lower(), reason
    assert not list((root / "model").rglob("*.pkl"))


def test_processing_job_with_broken_input_writes_message(
    project_image: str, default_project: Path, tmp_path: Path
) -> None:
    root = processing_layout(opt_ml(tmp_path / "ml"), default_project)
    raw = root / "processing" / "input" / "01_raw" / "customers.csv"
    lines = raw.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, column in enumerate(header) if column != "churned"]
    raw.write_text("\n".join(",".join(row.split(",")[i] for i in keep) for row in lines) + "\n")
    result = run_job(project_image, root, "process", "--pipeline", "data_processing")
    assert result.returncode != 0
    message = root / "output" / "message"
    assert message.exists(), result.stderr[-3000:]
    assert "churned" in message.read_text()


def test_image_defaults_to_kedro_run_for_other_commands(project_image: str) -> None:
    result = docker("run", "--rm", "--network", "none", project_image, "kedro", "--version")
    assert "kedro" in result.stdout.lower()


def test_dockerfile_is_plain_and_hadolint_clean(default_project: Path) -> None:
    """No BuildKit-only syntax, no URL downloads, no secrets; hadolint quiet at warning level."""
    dockerfile = (default_project / "Dockerfile").read_text()
    for forbidden in ("# syntax=", "--mount=", "COPY --link", "<<", "ADD http", "ADD ftp"):
        assert forbidden not in dockerfile, forbidden
    assert not re.search(r"(?i)(secret|password|token|aws_access_key)", dockerfile)
    assert re.search(r"^USER (?!root|0\b)\S+", dockerfile, re.MULTILINE)
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        skip_or_fail("hadolint is not installed (it is in requirements-test.txt)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ignored = (default_project / ".dockerignore").read_text().split()
    for entry in ("conf/local", "data", ".git", "mlruns", ".venv"):
        assert entry in ignored, entry
