"""Experiment tracking of a rendered project: every `kedro run` is one complete MLflow run.

The oracles come from the project's own files, not from the hook: parameters from
conf/base/parameters*.yml, artefacts from the versioned files the run left under data/, metrics
from the metric datasets' JSON, commit from git, digests from hashing the raw CSVs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    PROJECT_ENV,
    TEMPLATE_ROOT,
    VENV_BIN,
    project_env,
    render,
    run_in,
    skip_or_fail,
)

pytestmark = [pytest.mark.tracking, pytest.mark.e2e]

EXPERIMENT = "churn-prediction"
# The sample's current batch drifts on purpose, so monitoring would fail the default run; these
# tests are about recording runs, so they lower the alert level (which is itself a parameter).
RUN_PARAMS = "monitoring.alerting.exit_nonzero_on=never"
VERSION_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
SERVER_START_TIMEOUT = 120


# ----- helpers ---------------------------------------------------------------------------------
def git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=project,
        env={**os.environ, **GIT_IDENTITY},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def local_store(project: Path) -> str:
    return f"sqlite:///{project / 'mlflow.db'}"


def client_for(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def runs_of(uri: str, experiment: str = EXPERIMENT) -> list[Any]:
    """Return every run of `experiment` in the store at `uri`, newest first."""
    client = client_for(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])


def run_of_session(uri: str, kedro_run_id: str) -> Any:
    matches = [r for r in runs_of(uri) if r.data.tags.get("kedro.run_id") == kedro_run_id]
    assert len(matches) == 1, f"{len(matches)} MLflow runs for Kedro run {kedro_run_id}"
    return matches[0]


def newest_run(uri: str) -> Any:
    runs = runs_of(uri)
    assert runs, f"no run in {uri}"
    return runs[0]


def artefact_files(client: Any, run_id: str, path: str | None = None) -> dict[str, int]:
    """Return artefact path -> size for every file of a run (recursively)."""
    files: dict[str, int] = {}
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            files.update(artefact_files(client, run_id, item.path))
        else:
            files[item.path] = item.file_size
    return files


def yaml_files(folder: Path, pattern: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in sorted(folder.glob(pattern)):
        merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def flat_text(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten like the documented contract: dotted keys, strings as-is, other values as JSON."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and value:
            flat.update(flat_text(value, f"{prefix}{key}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            flat[f"{prefix}{key}"] = text
    return flat


def scalars(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    found: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            found[f"{prefix}{key}"] = float(value)
        elif isinstance(value, Mapping):
            found.update(scalars(value, f"{prefix}{key}."))
    return found


def tracking_settings(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / "conf/base/tracking.yml").read_text())["tracking"]


def versioned_outputs(project: Path, save_version: str) -> dict[str, Path]:
    """Return dataset name -> the file or folder it saved under `save_version` (local env)."""
    catalog = yaml.safe_load((project / "conf/base/catalog.yml").read_text())
    saved = {}
    for name, entry in catalog.items():
        if not isinstance(entry, dict) or entry.get("versioned") is not True:
            continue
        filepath = project / entry["filepath"].replace("${globals:storage.root}", "data")
        versioned = filepath / save_version / filepath.name
        if versioned.exists():
            saved[name] = versioned
    return saved


def saved_files(versioned: Path) -> dict[str, int]:
    """Return relative name -> size of a versioned dataset's file, or of each file in its folder."""
    if versioned.is_file():
        return {versioned.name: versioned.stat().st_size}
    return {
        p.relative_to(versioned).as_posix(): p.stat().st_size
        for p in versioned.rglob("*")
        if p.is_file()
    }


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def load_metric_lines_module(project: Path) -> Any:
    """Import the rendered project's metric_lines.py (the launcher's source of regexes)."""
    path = project / "src/churn_prediction/tracking/metric_lines.py"
    spec = importlib.util.spec_from_file_location(f"metric_lines_{id(project)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ----- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Return a git-committed default project after one `kedro run`, and that run's output."""
    if shutil.which("git") is None:
        skip_or_fail("git is not installed")
    project = render(tmp_path_factory.mktemp("tracking") / "churn-prediction")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "rendered")
    # Metric lines are printed inside SageMaker training jobs; the switch asks for them here.
    result = run_in(project, "kedro", "run", "--params", RUN_PARAMS,
                    env={"KEDRO_METRIC_LINES": "true"})  # fmt: skip
    run = newest_run(local_store(project))
    return {"project": project, "stdout": result.stdout, "run": run}


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a real MLflow tracking server on 127.0.0.1 (SQLite store, proxied artefacts)."""
    executable = VENV_BIN / "mlflow"
    if not executable.exists():
        skip_or_fail("the mlflow command is not installed in the test environment")
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(executable), "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
            "--artifacts-destination", str(root / "artifacts"), "--workers", "1",
        ],
        cwd=root,
        # Without the pool of GenAI job consumers the server starts by default (make mlflow-ui).
        env={**os.environ, **PROJECT_ENV, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow server exited {process.returncode}:\n{_tail(root)}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not ready in {SERVER_START_TIMEOUT}s:\n{_tail(root)}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()


def _tail(root: Path) -> str:
    return (root / "server.log").read_text()[-3000:]


# ----- one run, everything recorded ------------------------------------------------------------
def test_the_run_is_one_finished_mlflow_run_named_after_its_save_version(tracked):
    project, run = tracked["project"], tracked["run"]
    assert len(runs_of(local_store(project))) == 1
    assert run.info.status == "FINISHED"
    assert run.info.end_time is not None
    save_version = run.data.tags["kedro.save_version"]
    assert VERSION_PATTERN.match(save_version)
    assert run.info.run_name == save_version == run.data.tags["kedro.run_id"]
    assert (project / "data/06_models/model.pkl" / save_version / "model.pkl").is_file()


def test_every_parameter_is_logged_flattened_with_the_runtime_override(tracked):
    project, run = tracked["project"], tracked["run"]
    params = yaml_files(project / "conf/base", "parameters*.yml")
    params = merge(params, {"monitoring": {"alerting": {"exit_nonzero_on": "never"}}})
    expected = flat_text(params)
    assert run.data.params == expected
    assert run.data.params["training.hyperparameters.learning_rate"] == "0.05"
    assert json.loads(run.data.params["features.numeric"])[0] == "age"


def test_the_full_parameters_are_an_artefact_for_reproduce(tracked, tmp_path):
    project, run = tracked["project"], tracked["run"]
    params = yaml_files(project / "conf/base", "parameters*.yml")
    params = merge(params, {"monitoring": {"alerting": {"exit_nonzero_on": "never"}}})
    client = client_for(local_store(project))
    local = client.download_artifacts(run.info.run_id, "kedro/parameters.json", str(tmp_path))
    assert json.loads(Path(local).read_text()) == json.loads(json.dumps(params))


def assert_every_metric_dataset_is_logged(project: Path, run: Any) -> None:
    """Assert the run's metrics are the scalars of its metric datasets, with their prefixes."""
    settings = tracking_settings(project)
    outputs = versioned_outputs(project, run.data.tags["kedro.save_version"])
    expected: dict[str, float] = {}
    for name, prefix in settings["metric_datasets"].items():
        if name in outputs:
            expected.update(scalars(json.loads(outputs[name].read_text()), prefix or ""))
    assert {"roc_auc", "pr_auc", "accuracy", "f1", "log_loss"} <= set(expected)
    assert run.data.metrics == expected


def assert_every_saved_file_is_an_artefact(project: Path, run: Any) -> None:
    """Assert the run's artefacts are the files of its saved versioned datasets (as configured)."""
    settings = tracking_settings(project)["artifacts"]
    logged = artefact_files(client_for(local_store(project)), run.info.run_id)
    outputs = versioned_outputs(project, run.data.tags["kedro.save_version"])
    assert {"model", "evaluation_metrics", "roc_curve_plot", "train_set"} <= set(outputs)
    expected = {
        "kedro/parameters.json": logged.get("kedro/parameters.json"),
        "kedro/run.json": logged.get("kedro/run.json"),
    }
    for name, versioned in outputs.items():
        if any(fnmatchcase(name, p) for p in settings["include"]) and not any(
            fnmatchcase(name, p) for p in settings["exclude"]
        ):
            expected.update({f"{name}/{f}": size for f, size in saved_files(versioned).items()})
    assert logged == expected
    assert "model/model.pkl" in logged
    assert not any(path.startswith("train_set/") for path in logged)
    assert all(logged[f"kedro/{f}"] > 0 for f in ("parameters.json", "run.json"))


def test_every_metric_dataset_is_logged_with_its_configured_prefix(tracked):
    assert_every_metric_dataset_is_logged(tracked["project"], tracked["run"])


def test_every_saved_versioned_dataset_is_an_artefact_unless_excluded(tracked):
    assert_every_saved_file_is_an_artefact(tracked["project"], tracked["run"])


def test_under_parallel_runner_the_run_is_recorded_and_its_model_registered(fresh_project):
    """ParallelRunner runs the nodes and their dataset hooks in worker processes, on copies of
    the hooks: the run's own process records what they saved from the run's catalog at the end
    (run_outputs.py), as a run of the default runner records it as it goes."""
    # A fresh process: its log is checked for warnings, import-time ones included.
    result = run_in(fresh_project, "kedro", "run", "--runner", "ParallelRunner", fresh_process=True)
    output = result.stdout + result.stderr
    counted = re.search(r"(\d+) of (\d+) nodes", output)
    assert counted and counted.group(1) == counted.group(2) != "0", output[-3000:]
    run = newest_run(local_store(fresh_project))
    assert run.info.status == "FINISHED"
    assert_every_metric_dataset_is_logged(fresh_project, run)
    assert_every_saved_file_is_an_artefact(fresh_project, run)
    client = client_for(local_store(fresh_project))
    (model,) = client.search_registered_models()
    version = client.get_model_version(model.name, model.aliases["champion"])
    assert version.run_id == run.info.run_id
    assert version.tags["kedro.save_version"] == run.data.tags["kedro.save_version"]
    assert float(version.tags["metric.roc_auc"]) == run.data.metrics["roc_auc"]
    assert "Warning" not in output and "WARNING" not in output, output[-3000:]


def test_every_provenance_tag_is_recorded(tracked):
    project, run = tracked["project"], tracked["run"]
    tags = run.data.tags
    head = git(project, "rev-parse", "HEAD")
    assert tags["git.commit"] == tags["mlflow.source.git.commit"] == head
    assert tags["git.dirty"] == "false"
    assert git(project, "status", "--porcelain") == "", "mlflow.db or mlruns/ not git-ignored"
    assert tags["kedro.env"] == "local"
    assert tags["kedro.pipelines"] == "__default__"
    assert json.loads(tags["kedro.load_versions"]) == {}
    assert json.loads(tags["kedro.runtime_params"]) == {
        "monitoring": {"alerting": {"exit_nonzero_on": "never"}}
    }
    digests = json.loads(tags["kedro.input_digests"])
    assert "customers" in digests  # the raw reference batch the default pipeline trains on
    assert digests == {name: sha256(project / f"data/01_raw/{name}.csv") for name in digests}
    assert tags["kedro.version"] == metadata.version("kedro")
    assert tags["project.version"] == "0.1.0"
    assert tags["python.version"] == platform.python_version()
    for package in tracking_settings(project)["packages"]:
        assert tags[f"package.{package}"] == metadata.version(package), package
    assert not any(key.startswith("sagemaker.") for key in tags)


def test_printed_metric_lines_match_the_launchers_regexes_and_the_logged_values(tracked):
    run, stdout = tracked["run"], tracked["stdout"]
    metric_lines = load_metric_lines_module(tracked["project"])
    definitions = metric_lines.metric_definitions(run.data.metrics)
    assert len(definitions) == len(run.data.metrics) > 5
    for definition in definitions:
        values = re.findall(definition["Regex"], stdout, flags=re.MULTILINE)
        assert len(values) == 1, f"{definition['Name']}: {values}"
        assert float(values[0]) == run.data.metrics[definition["Name"]]


# ----- reproduce -------------------------------------------------------------------------------
def test_reproduce_reruns_with_equal_metrics_and_links_the_new_run(tracked):
    project, run = tracked["project"], tracked["run"]
    result = run_in(project, "kedro", "mlflow", "reproduce", run.info.run_id)
    assert f"All {len(run.data.metrics)} metrics equal" in result.stdout
    reproduction = newest_run(local_store(project))
    assert reproduction.info.run_id != run.info.run_id
    assert reproduction.info.status == "FINISHED"
    assert reproduction.data.tags["kedro.reproduces"] == run.info.run_id
    assert reproduction.data.tags["kedro.reproduction"] == "equal"
    assert reproduction.data.metrics == run.data.metrics
    assert reproduction.data.params == run.data.params
    assert reproduction.data.tags["git.commit"] == run.data.tags["git.commit"]


def test_reproduce_refuses_another_commit_and_runs_nothing(tracked):
    project, run = tracked["project"], tracked["run"]
    before = len(runs_of(local_store(project)))
    git(project, "commit", "-q", "--allow-empty", "-m", "a later change")
    try:
        result = run_in(project, "kedro", "mlflow", "reproduce", run.info.run_id, check=False)
    finally:
        git(project, "reset", "-q", "--soft", "HEAD~1")
    assert result.returncode == 2, result.stdout + result.stderr
    output = " ".join((result.stdout + result.stderr).split())
    assert f"ran at commit {run.data.tags['git.commit'][:12]}" in output
    assert "--force" in output
    assert len(runs_of(local_store(project))) == before


def test_a_partial_run_in_a_sagemaker_job_pins_its_input_versions_and_names_the_job(
    tracked, tmp_path
):
    project = tracked["project"]
    config = tmp_path / "opt-ml/input/config"
    config.mkdir(parents=True)
    (config / "trainingjobconfig.json").write_text(
        json.dumps({"AlgorithmSpecification": {"TrainingImage": "111.dkr.ecr/churn:abc"}})
    )
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "current_instance_type": "ml.m5.large"})
    )
    job_env = {"SAGEMAKER_ROOT": str(tmp_path / "opt-ml"), "TRAINING_JOB_NAME": "churn-train-7"}
    run_in(project, "kedro", "run", "--pipelines", "evaluation", env=job_env)
    run = newest_run(local_store(project))
    model_versions = sorted(p.name for p in (project / "data/06_models/model.pkl").iterdir())
    tags = run.data.tags
    assert tags["kedro.pipelines"] == "evaluation"
    assert json.loads(tags["kedro.load_versions"]) == {
        "model": model_versions[-1],
        "test_set": model_versions[-1],
    }
    assert tags["sagemaker.job_type"] == "training"
    assert tags["sagemaker.job_name"] == "churn-train-7"
    assert tags["sagemaker.image_uri"] == "111.dkr.ecr/churn:abc"
    assert tags["sagemaker.instance_type"] == "ml.m5.large"

    # A newer model appears; reproducing still loads the recorded one.
    newer = project / "data/06_models/model.pkl/9999-12-31T23.59.59.999Z"
    shutil.copytree(project / "data/06_models/model.pkl" / model_versions[-1], newer)
    try:
        result = run_in(project, "kedro", "mlflow", "reproduce", run.info.run_id)
    finally:
        shutil.rmtree(newer)
    assert "metrics equal" in result.stdout
    reproduction = newest_run(local_store(project))
    assert reproduction.data.tags["kedro.load_versions"] == tags["kedro.load_versions"]
    assert reproduction.data.metrics == run.data.metrics


# ----- failures never leave a run open ---------------------------------------------------------
def test_a_failing_node_records_the_run_failed_with_the_error(fresh_project, tmp_path):
    raw = fresh_project / "data/01_raw/customers.csv"
    lines = raw.read_text().splitlines()
    column = lines[0].split(",").index("tenure_months")
    row = lines[1].split(",")
    row[column] = "twelve"
    raw.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")

    result = run_in(fresh_project, "kedro", "run", check=False)

    assert result.returncode != 0
    (run,) = runs_of(local_store(fresh_project))
    assert run.info.status == "FAILED"
    assert run.info.end_time is not None
    assert "column 'tenure_months' must be numeric" in run.data.tags["kedro.error"]
    assert run.data.tags["git.commit"] == "unknown"  # the copy is not a git repository
    client = client_for(local_store(fresh_project))
    trace = Path(client.download_artifacts(run.info.run_id, "kedro/error.txt", str(tmp_path)))
    assert "Traceback" in trace.read_text()
    assert "tenure_months" in trace.read_text()


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("stop_signal", "exit_code"),
    [(signal.SIGINT, 1), (signal.SIGTERM, 128 + signal.SIGTERM)],  # click: Ctrl+C -> "Aborted!"
    ids=["SIGINT", "SIGTERM"],
)
def test_an_interrupted_or_stopped_run_is_recorded_killed(fresh_project, stop_signal, exit_code):
    """Ctrl+C, `docker stop`, StopTrainingJob and CI timeouts all end the MLflow run KILLED."""
    process = subprocess.Popen(
        [str(VENV_BIN / "kedro"), "run", "--params", RUN_PARAMS],
        cwd=fresh_project,
        env=project_env(fresh_project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # As in a terminal: a suite started in the background by a non-interactive shell inherits
        # SIGINT ignored, and Python keeps an ignored SIGINT ignored (the run then never stops).
        preexec_fn=_sigint_default,
    )
    try:
        deadline = time.monotonic() + 300
        while not (fresh_project / "data/05_model_input/train_set.parquet").exists():
            assert process.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "no node output after 300 s"
            time.sleep(0.2)
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_code, stderr[-3000:]
    (run,) = runs_of(local_store(fresh_project))
    assert run.info.status == "KILLED"
    assert run.info.end_time is not None


def test_a_password_in_the_tracking_uri_is_never_printed(fresh_project):
    """`http://user:pass@host` in MLFLOW_TRACKING_URI: logs and errors show `***@host`."""
    password = "s3cr3t-Pa55"  # noqa: S105 - a fake credential the output must not contain
    uri = f"http://analyst:{password}@127.0.0.1:{free_port()}"  # nothing listens there
    result = run_in(
        fresh_project, "kedro", "run", "--pipelines", "data_processing",
        env={
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
        },
        check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "could not be recorded in MLflow at http://***@127.0.0.1" in " ".join(output.split())
    assert password not in output
    assert "analyst" not in output


# ----- other stores and switches ---------------------------------------------------------------
def test_a_tracking_server_set_by_mlflow_tracking_uri_gets_the_run(tracked, mlflow_server):
    project = tracked["project"]
    local_runs = len(runs_of(local_store(project)))
    run_in(project, "kedro", "run", "--pipelines", "evaluation",
           env={"MLFLOW_TRACKING_URI": mlflow_server})  # fmt: skip
    assert len(runs_of(local_store(project))) == local_runs
    (run,) = runs_of(mlflow_server)
    assert run.info.status == "FINISHED"
    outputs = versioned_outputs(project, run.data.tags["kedro.save_version"])
    metrics_file = outputs["evaluation_metrics"]
    assert run.data.metrics == scalars(json.loads(metrics_file.read_text()))
    assert run.data.params == tracked["run"].data.params | {
        "monitoring.alerting.exit_nonzero_on": "fail"
    }
    logged = artefact_files(client_for(mlflow_server), run.info.run_id)
    assert logged["evaluation_metrics/evaluation_metrics.json"] == metrics_file.stat().st_size
    assert {"roc_curve_plot/roc_curve.png", "calibration_plot/calibration_curve.png"} <= set(logged)


def test_disabled_tracking_records_nothing_and_still_prints_metric_lines(tracked):
    project = tracked["project"]
    before = len(runs_of(local_store(project)))
    switches = {"KEDRO_TRACKING_ENABLED": "false", "KEDRO_METRIC_LINES": "true"}
    result = run_in(project, "kedro", "run", "--pipelines", "evaluation", env=switches)
    assert len(runs_of(local_store(project))) == before
    assert re.search(r"^roc_auc=0\.\d+$", result.stdout, flags=re.MULTILINE)


def mlflow_processes(group: int) -> dict[int, tuple[bytes, list[bytes]]]:
    """Return {pid: (command line, environment entries)} of the MLflow server's processes in
    process group `group` (the server, its workers and job consumers; not make, nor the shell of
    the recipe line)."""
    found: dict[int, tuple[bytes, list[bytes]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            command = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        program = Path(os.fsdecode(command.split(b"\0", 1)[0])).name
        if b"mlflow" in command and program not in {"make", "sh", "bash", "dash"}:
            found[int(entry.name)] = (command, environ.split(b"\0"))
    return found


def test_make_mlflow_ui_serves_the_local_store_on_loopback(tracked):
    """The UI runs from its own environment: the project's locks leave MLflow's server out."""
    project = tracked["project"]
    if shutil.which("make") is None:
        skip_or_fail("make is not installed")
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    found = subprocess.run(
        [str(TEMPLATE_ROOT / "scripts/find_python.sh"), answers["python_version"]],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        skip_or_fail(found.stderr.strip())
    port = free_port()
    # A user's shell: only the Makefile's default switches MLflow's usage telemetry off.
    env = project_env(project)
    env.pop("MLFLOW_DISABLE_TELEMETRY", None)
    process = subprocess.Popen(
        ["make", "mlflow-ui", f"PYTHON={found.stdout.strip()}", f"MLFLOW_PORT={port}"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        body = None
        while body is None:
            assert process.poll() is None, "make mlflow-ui exited"
            assert time.monotonic() < deadline, "the UI did not answer"
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name"
                    f"?experiment_name={EXPERIMENT}"
                )
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    body = json.loads(response.read())
            except OSError:
                time.sleep(0.5)
        assert body["experiment"]["name"] == EXPERIMENT
        servers = mlflow_processes(process.pid)
        assert servers, "no MLflow process found under make mlflow-ui"
        for command, environ in servers.values():
            assert b"MLFLOW_DISABLE_TELEMETRY=true" in environ
            assert b"MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false" in environ
            assert b"huey" not in command and b"jobs._job_runner" not in command
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    ui_python = project / ".venv-mlflow-ui/bin/python"
    version = "import importlib.metadata as m; print(m.version('mlflow'))"
    served_by = subprocess.run([str(ui_python), "-c", version], capture_output=True, text=True)
    locked = re.search(r"^mlflow-skinny==(\S+)$", (project / "requirements.txt").read_text(), re.M)
    assert locked is not None, "requirements.txt pins no mlflow-skinny"
    assert served_by.stdout.strip() == locked.group(1)
