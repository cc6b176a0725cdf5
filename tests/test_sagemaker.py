"""SageMaker launchers and the job entrypoint of a rendered project, without AWS.

The launchers (`kedro sagemaker train|process`) run in a subprocess against moto's server on
127.0.0.1. A small driver wraps the CLI and records every SageMaker request at botocore's
`before-parameter-build` event, i.e. what the client sends: moto rewrites parts of its answers
(MetricDefinitions among them), so the request is what we assert on, field by field.
"""

from __future__ import annotations

import importlib.util
import json
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import VENV_BIN, project_env, render, run_in

pytestmark = pytest.mark.sagemaker

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/churn-prediction:test"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}
METRICS = ["accuracy", "f1", "log_loss", "pr_auc", "roc_auc"]

DRIVER = textwrap.dedent(
    """
    import copy, json, os, sys, time
    from {package}.sagemaker import cli, job_logs

    captured = []
    original = cli._boto_session

    def seed_logs(session, name):
        # What SageMaker would have written to CloudWatch while the job ran.
        logs = session.client("logs")
        group = "/aws/sagemaker/TrainingJobs"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        stream = name + "/algo-1-1700000000"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        lines = ["training started", "roc_auc=0.91", "log_loss=0.32"]
        now = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {{"timestamp": now + i, "message": line}} for i, line in enumerate(lines)])

    def session_with_capture(region):
        session = original(region)

        def record(params, model, **_):
            captured.append({{"operation": model.name, "params": copy.deepcopy(params)}})
            if os.environ.get("SEED_LOGS") and model.name == "CreateTrainingJob":
                seed_logs(original(region), params["TrainingJobName"])

        session.events.register("before-parameter-build.sagemaker", record)
        return session

    cli._boto_session = session_with_capture
    if os.environ.get("FAKE_FAILED_JOB"):
        job_logs.wait_for_job = lambda *a, **k: {{
            "TrainingJobStatus": "Failed",
            "FailureReason": "AlgorithmError: KeyError: 'churned' (see /opt/ml/output/failure)",
        }}

    from kedro.framework.cli.cli import main
    try:
        main()
    finally:
        with open(os.environ["CAPTURE_FILE"], "w") as file:
            json.dump(captured, file, default=str)
    """
)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """Return the URL of a moto server on 127.0.0.1 (stopped after the module)."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def launcher_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a default project; its cli.py gives `kedro sagemaker` without installing it."""
    project = render(tmp_path_factory.mktemp("sagemaker") / "churn-prediction")
    (project.parent / "driver.py").write_text(DRIVER.format(package="churn_prediction"))
    return project


def launch(
    project: Path, endpoint: str, *args: str, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run `kedro sagemaker ARGS` through the capturing driver; return it and the requests."""
    capture = project.parent / "captured.json"
    capture.unlink(missing_ok=True)
    env = project_env(
        project,
        {
            **FAKE_AWS,
            "AWS_ENDPOINT_URL": endpoint,
            "CAPTURE_FILE": str(capture),
            **(extra_env or {}),
        },
    )
    result = subprocess.run(
        [sys.executable, str(project.parent / "driver.py"), "sagemaker", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result, json.loads(capture.read_text()) if capture.exists() else []


def request_of(captured: list[dict[str, Any]], operation: str) -> dict[str, Any]:
    matching = [c["params"] for c in captured if c["operation"] == operation]
    assert len(matching) == 1, f"expected one {operation}, got {captured}"
    return matching[0]


def dry_run_json(stdout: str) -> dict[str, Any]:
    """Return the request JSON that --dry-run prints last on stdout."""
    start = stdout.index("\n{\n") + 1 if not stdout.startswith("{") else 0
    return json.loads(stdout[start:])


def sagemaker_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto accepts any key
    )


def expected_metric_definitions(project: Path) -> list[dict[str, str]]:
    """Return MetricDefinitions computed by the rendered project's own metric_lines module."""
    spec = importlib.util.spec_from_file_location(
        "rendered_metric_lines", project / "src/churn_prediction/tracking/metric_lines.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.metric_definitions(METRICS)


def test_kedro_lists_the_sagemaker_commands(launcher_project: Path, moto_endpoint: str) -> None:
    result, _ = launch(launcher_project, moto_endpoint, "--help")
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout and "process" in result.stdout


def test_training_job_request_field_by_field(launcher_project: Path, moto_endpoint: str) -> None:
    before = len(sagemaker_client(moto_endpoint).list_training_jobs()["TrainingJobSummaries"])
    result, captured = launch(
        launcher_project,
        moto_endpoint,
        "train",
        "--image-uri", IMAGE,
        "--role-arn", ROLE,
        "--instance-type", "ml.c5.2xlarge",
        "--instance-count", "2",
        "--volume-size", "50",
        "--max-runtime", "1800",
        "--spot",
        "--tag", "team=ml",
        "--subnet", "subnet-0abc",
        "--security-group", "sg-0abc",
        "--kms-key-id", "alias/ml",
        "-H", "learning_rate=0.1",
        "-H", "max_iter=80",
        "-H", "evaluation.threshold=0.4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    request = request_of(captured, "CreateTrainingJob")
    name = request["TrainingJobName"]
    assert re.fullmatch(r"churn-prediction-[0-9-]+", name)
    assert f"submitted training job {name}" in result.stdout

    algorithm = request["AlgorithmSpecification"]
    assert algorithm["TrainingImage"] == IMAGE
    assert algorithm["TrainingInputMode"] == "File"
    assert "ContainerEntrypoint" not in algorithm  # the image's own ENTRYPOINT handles `train`
    assert algorithm["MetricDefinitions"] == expected_metric_definitions(launcher_project)
    assert request["RoleArn"] == ROLE
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.c5.2xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 50,
        "VolumeKmsKeyId": "alias/ml",
    }
    assert request["HyperParameters"] == {
        "learning_rate": "0.1",
        "max_iter": "80",
        "evaluation.threshold": "0.4",
    }
    assert request["Environment"] == {
        "SAGEMAKER_KEDRO_ENV": "sagemaker",
        "SAGEMAKER_TRAINING_PIPELINES": "training,evaluation,explainability",
    }
    data_uri = "s3://churn-prediction-ml-artifacts/churn-prediction/sagemaker/data"
    assert request["InputDataConfig"] == [
        {
            "ChannelName": "05_model_input",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"{data_uri}/05_model_input/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "InputMode": "File",
        }
    ]
    output_path = "s3://churn-prediction-ml-artifacts/churn-prediction/sagemaker/jobs"
    assert request["OutputDataConfig"]["S3OutputPath"] == output_path
    assert request["OutputDataConfig"]["KmsKeyId"] == "alias/ml"
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 1800,
        "MaxWaitTimeInSeconds": 7200,
    }
    assert request["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert request["CheckpointConfig"]["S3Uri"].startswith(f"{output_path}/checkpoints/")
    assert request["VpcConfig"] == {"SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-0abc"]}
    assert {"Key": "team", "Value": "ml"} in request["Tags"]
    assert {"Key": "project", "Value": "churn-prediction"} in request["Tags"]

    # The request reached the (fake) service: the job exists there now.
    jobs = sagemaker_client(moto_endpoint).list_training_jobs()["TrainingJobSummaries"]
    assert len(jobs) == before + 1
    assert name in {job["TrainingJobName"] for job in jobs}


def test_processing_job_request_field_by_field(launcher_project: Path, moto_endpoint: str) -> None:
    result, captured = launch(
        launcher_project,
        moto_endpoint,
        "process",
        "--pipeline", "data_processing",
        "--image-uri", IMAGE,
        "--role-arn", ROLE,
        "--instance-type", "ml.m5.2xlarge",
        "--max-runtime", "900",
        "--param", "data_processing.test_size=0.3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    request = request_of(captured, "CreateProcessingJob")
    assert request["ProcessingJobName"].startswith("churn-prediction-data-processing-")
    assert request["AppSpecification"] == {
        "ImageUri": IMAGE,
        "ContainerArguments": [
            "process", "--pipeline", "data_processing",
            "--param", "data_processing.test_size=0.3",
        ],
    }  # fmt: skip
    assert request["RoleArn"] == ROLE
    assert request["ProcessingResources"] == {
        "ClusterConfig": {"InstanceType": "ml.m5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
    }
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 900}
    assert request["Environment"] == {"SAGEMAKER_KEDRO_ENV": "sagemaker"}
    data_uri = "s3://churn-prediction-ml-artifacts/churn-prediction/sagemaker/data"
    # data_processing reads the raw layer and writes the model input layer.
    [raw] = request["ProcessingInputs"]
    assert raw["S3Input"]["S3Uri"] == f"{data_uri}/01_raw/"
    assert raw["S3Input"]["LocalPath"] == "/opt/ml/processing/input/01_raw"
    [model_input] = request["ProcessingOutputConfig"]["Outputs"]
    assert model_input["S3Output"] == {
        "S3Uri": f"{data_uri}/05_model_input/",
        "LocalPath": "/opt/ml/processing/output/05_model_input",
        "S3UploadMode": "EndOfJob",
    }
    described = sagemaker_client(moto_endpoint).describe_processing_job(
        ProcessingJobName=request["ProcessingJobName"]
    )
    assert described["AppSpecification"]["ImageUri"] == IMAGE


def test_dry_run_prints_the_request_and_sends_nothing(
    launcher_project: Path, moto_endpoint: str
) -> None:
    client = sagemaker_client(moto_endpoint)
    jobs_before = client.list_training_jobs()["TrainingJobSummaries"]
    result, captured = launch(
        launcher_project,
        moto_endpoint,
        "train", "--dry-run", "--image-uri", IMAGE, "--role-arn", ROLE, "-H", "max_iter=5",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    printed = dry_run_json(result.stdout)
    # What is printed is exactly what botocore validated for sending.
    assert printed == json.loads(json.dumps(request_of(captured, "CreateTrainingJob")))
    assert printed["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert printed["HyperParameters"] == {"max_iter": "5"}
    assert printed["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"  # copier answer default
    assert [d["Name"] for d in printed["AlgorithmSpecification"]["MetricDefinitions"]] == METRICS
    assert client.list_training_jobs()["TrainingJobSummaries"] == jobs_before

    result, _ = launch(
        launcher_project,
        moto_endpoint,
        "process", "--pipeline", "data_processing", "--dry-run",
        "--image-uri", IMAGE, "--role-arn", ROLE,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    printed = dry_run_json(result.stdout)
    assert printed["AppSpecification"]["ContainerArguments"][:3] == [
        "process", "--pipeline", "data_processing",
    ]  # fmt: skip
    summaries = client.list_processing_jobs()["ProcessingJobSummaries"]
    names = {summary["ProcessingJobName"] for summary in summaries}
    assert printed["ProcessingJobName"] not in names


def test_dry_run_works_with_no_aws_reachable(launcher_project: Path) -> None:
    # Port 9 (discard) on loopback: any AWS call would fail to connect.
    result, _ = launch(
        launcher_project,
        "http://127.0.0.1:9",
        "train", "--dry-run", "--image-uri", IMAGE, "--role-arn", ROLE,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert dry_run_json(result.stdout)["RoleArn"] == ROLE


def test_missing_image_and_role_name_the_settings(
    launcher_project: Path, moto_endpoint: str
) -> None:
    result, captured = launch(launcher_project, moto_endpoint, "train", "--dry-run")
    assert result.returncode != 0
    assert "image_uri" in result.stderr and "role_arn" in result.stderr
    assert captured == []


def test_wait_streams_logs_and_ends_with_status(launcher_project: Path, moto_endpoint: str) -> None:
    (launcher_project / "conf" / "local" / "sagemaker.yml").write_text("poll_seconds: 0.2\n")
    result, captured = launch(
        launcher_project,
        moto_endpoint,
        "train", "--wait", "--image-uri", IMAGE, "--role-arn", ROLE,
        extra_env={"SEED_LOGS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    name = request_of(captured, "CreateTrainingJob")["TrainingJobName"]
    lines = result.stdout.splitlines()
    status_line = f"training job {name}: Completed"
    assert lines.index("roc_auc=0.91") < lines.index("log_loss=0.32") < lines.index(status_line)


def test_failed_job_prints_failure_reason_and_exits_non_zero(
    launcher_project: Path, moto_endpoint: str
) -> None:
    # moto always completes jobs, so the waiter is replaced by a failed description here.
    result, _ = launch(
        launcher_project,
        moto_endpoint,
        "train", "--wait", "--image-uri", IMAGE, "--role-arn", ROLE,
        extra_env={"FAKE_FAILED_JOB": "1"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "FailureReason: AlgorithmError: KeyError: 'churned'" in result.stdout
    assert re.search(r"training job \S+: Failed", result.stdout)


# ----- the container entrypoint, run directly (the docker tests run it inside the image) ------
def load_entrypoint(project: Path) -> Any:
    """Import the rendered entrypoint module by path (it has no project imports)."""
    path = project / "src" / "churn_prediction" / "sagemaker" / "entrypoint.py"
    spec = importlib.util.spec_from_file_location("rendered_sagemaker_entrypoint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hyperparameters_become_typed_runtime_params(launcher_project: Path) -> None:
    entrypoint = load_entrypoint(launcher_project)
    params = entrypoint.hyperparameters_to_runtime_params(
        {
            "learning_rate": "0.1",
            "max_iter": "80",
            "early_stopping": "true",
            "loss": "log_loss",
            "evaluation.threshold": "0.4",
            "sagemaker_program": "ignored.py",
        }
    )
    assert params == {
        "training": {
            "hyperparameters": {
                "learning_rate": 0.1,
                "max_iter": 80,
                "early_stopping": True,
                "loss": "log_loss",
            }
        },
        "evaluation": {"threshold": 0.4},
    }


def test_data_layers_link_to_job_folders(launcher_project: Path, tmp_path: Path) -> None:
    entrypoint = load_entrypoint(launcher_project)
    channel = tmp_path / "input" / "05_model_input"
    channel.mkdir(parents=True)
    (channel / "train.parquet").write_text("x")
    model = tmp_path / "model"
    old_model = tmp_path / "input" / "06_models"
    old_model.mkdir()
    (old_model / "previous.pkl").write_text("m")
    layers = entrypoint.link_data_layers(
        tmp_path / "data",
        read_only={"05_model_input": channel, "06_models": old_model},
        writable={"06_models": model},
        fallback=tmp_path / "scratch",
    )
    assert (tmp_path / "data" / "05_model_input" / "train.parquet").read_text() == "x"
    assert (model / "previous.pkl").exists()  # an input copied into the writable output
    assert layers["08_reporting"] == tmp_path / "scratch" / "08_reporting"
    assert (tmp_path / "data" / "06_models").resolve() == model.resolve()


def run_job(project: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"SAGEMAKER_ROOT": str(root), "KEDRO_PROJECT_PATH": str(project)}
    return run_in(project, "python", "-m", "churn_prediction.sagemaker", *args, env=env,
                  check=False, timeout=600)  # fmt: skip


@pytest.mark.e2e
def test_entrypoint_process_then_train_without_docker(fresh_project: Path, tmp_path: Path) -> None:
    """The job contract end to end on the host: processing output feeds the training channel."""
    root = tmp_path / "opt-ml"
    raw = root / "processing" / "input" / "01_raw"
    raw.mkdir(parents=True)
    for name in ("customers.csv", "customers_current.csv"):
        (raw / name).write_bytes((fresh_project / "data" / "01_raw" / name).read_bytes())
    (root / "processing" / "output" / "05_model_input").mkdir(parents=True)
    # The project folder of an image has no data/: the entrypoint builds it from the job folders.
    data = fresh_project / "data"
    for child in sorted(data.rglob("*"), reverse=True):
        child.unlink() if child.is_file() or child.is_symlink() else child.rmdir()
    data.rmdir()

    processed = run_job(fresh_project, root, "process", "--pipeline", "data_processing")
    assert processed.returncode == 0, processed.stderr[-4000:]
    outputs = root / "processing" / "output" / "05_model_input"
    assert list(outputs.glob("train_set.parquet/*/train_set.parquet"))

    channel = root / "input" / "data" / "05_model_input"
    channel.parent.mkdir(parents=True)
    channel.symlink_to(outputs, target_is_directory=True)
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"max_iter": "40"}))
    for link in (fresh_project / "data").iterdir():
        link.unlink()

    trained = run_job(fresh_project, root, "train")
    assert trained.returncode == 0, trained.stderr[-4000:]
    assert list((root / "model").glob("model.pkl/*/model.pkl"))
    definitions = expected_metric_definitions(fresh_project)
    for definition in definitions:
        assert re.search(definition["Regex"], trained.stdout, re.MULTILINE), definition
    assert not (root / "output" / "failure").exists()


@pytest.mark.e2e
def test_entrypoint_copies_the_model_out_when_the_catalog_keeps_it(
    fresh_project: Path, tmp_path: Path
) -> None:
    """With a Kedro env whose catalog is not linked to /opt/ml (like `aws`), the model still
    lands in /opt/ml/model: the entrypoint loads it from the catalog after the run."""
    from conftest import run_in

    run_in(fresh_project, "kedro", "run", "--pipelines", "data_processing")
    root = tmp_path / "opt-ml"
    env = project_env(
        fresh_project,
        {
            "SAGEMAKER_ROOT": str(root),
            "KEDRO_PROJECT_PATH": str(fresh_project),
            # Layer links go somewhere the catalog never looks, as with S3 paths.
            "SAGEMAKER_DATA_ROOT": str(tmp_path / "unused-links"),
        },
    )
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "churn_prediction.sagemaker", "train", "--env", "local"],
        cwd=fresh_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (root / "model" / "model.pkl").stat().st_size > 1000
    assert list((fresh_project / "data" / "06_models").glob("model.pkl/*/model.pkl"))
