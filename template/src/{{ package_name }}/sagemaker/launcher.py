"""Build, submit and follow SageMaker training and processing jobs with the SageMaker SDK v3.

The SDK is imported inside the functions that use it, so `kedro --help` stays fast. Every job
request passes through a botocore hook before it is sent: `--dry-run` prints that request and
stops there, so what you see is exactly what SageMaker would receive.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from ..tracking.metric_lines import metric_definitions
from .entrypoint import DATA_LAYERS, MODEL_LAYER

PROCESSING_INPUT_ROOT = "/opt/ml/processing/input"
PROCESSING_OUTPUT_ROOT = "/opt/ml/processing/output"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
# The Kedro environment whose data moves through channels; any other (`aws`) uses the catalog's S3.
CHANNEL_ENV = "sagemaker"
_JOB_NAME_LIMIT = 63


class DryRunComplete(Exception):
    """Raised from the botocore hook to stop a dry run right before the request is sent."""


class SettingsError(ValueError):
    """A setting in conf/*/sagemaker.yml (or its override) is missing or invalid."""


# ----- settings ----------------------------------------------------------------------------------
def merge_settings(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return `base` updated in depth with `overrides`; None in `overrides` means "keep base"."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_assignments(pairs: Iterable[str], what: str) -> dict[str, str]:
    """Return {key: value} for `key=value` strings given on the command line."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{what} {pair!r} must look like key=value")
        parsed[key.strip()] = value.strip()
    return parsed


def require(settings: Mapping[str, Any], *keys: str) -> None:
    """Raise SettingsError naming every empty setting among `keys`."""
    missing = [key for key in keys if not settings.get(key)]
    if missing:
        options = ", ".join("--" + key.replace("_", "-") for key in missing)
        raise SettingsError(
            f"set {', '.join(missing)} in conf/base/sagemaker.yml (or conf/local/sagemaker.yml)"
            f" or pass {options} on the command line"
        )


def job_name(base: str, *parts: str) -> str:
    """Return a unique, valid SageMaker job name: base-parts-timestamp, at most 63 characters."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    stem = "-".join([base, *parts])
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-")
    stem = stem[: _JOB_NAME_LIMIT - len(stamp) - 1].rstrip("-")
    return f"{stem}-{stamp}"


def _tags(settings: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"Key": str(key), "Value": str(value)}
        for key, value in (settings.get("tags") or {}).items()
    ]


def container_environment(
    settings: Mapping[str, Any], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the job's container environment: the Kedro env plus `environment` from settings."""
    env = {"SAGEMAKER_KEDRO_ENV": str(settings.get("kedro_env") or CHANNEL_ENV)}
    env.update({str(k): str(v) for k, v in (settings.get("environment") or {}).items()})
    env.update(extra or {})
    return env


# ----- data layers -------------------------------------------------------------------------------
def dataset_layers(
    dataset_names: Iterable[str], catalog_config: Mapping[str, Any], storage_root: str
) -> set[str]:
    """Return the data layers (folders under the storage root) that hold the named datasets.

    Datasets that are not in the catalog (memory datasets) or live outside the root are skipped.
    """
    root = PurePosixPath(str(storage_root))
    layers = set()
    for name in dataset_names:
        entry = catalog_config.get(name)
        if not isinstance(entry, Mapping) or "filepath" not in entry:
            continue
        path = PurePosixPath(str(entry["filepath"]))
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        if len(relative.parts) > 1:
            layers.add(relative.parts[0])
    return layers


def _layer_order(layers: Iterable[str]) -> list[str]:
    known = [layer for layer in DATA_LAYERS if layer in layers]
    return known + sorted(set(layers) - set(known))


# ----- SDK objects -------------------------------------------------------------------------------
def sagemaker_session(boto_session: Any, telemetry_opt_out: bool = True) -> Any:
    """Return a SageMaker SDK session on `boto_session`, with SDK telemetry off unless asked."""
    from sagemaker.core.helper.session_helper import Session

    session = Session(boto_session=boto_session)
    if telemetry_opt_out:
        config = copy.deepcopy(session.sagemaker_config or {})
        config.setdefault("SchemaVersion", "1.0")
        modules = config.setdefault("SageMaker", {}).setdefault("PythonSDK", {})
        modules.setdefault("Modules", {})["TelemetryOptOut"] = True
        session.sagemaker_config = config
    return session


def build_model_trainer(
    settings: Mapping[str, Any], session: Any, run_id: str
) -> tuple[Any, list[Any]]:
    """Return a configured `sagemaker.train.ModelTrainer` and its input channels."""
    from sagemaker.core.training.configs import (
        CheckpointConfig,
        Compute,
        InputData,
        MetricDefinition,
        Networking,
        OutputDataConfig,
        StoppingCondition,
        Tag,
    )
    from sagemaker.train import ModelTrainer

    require(settings, "image_uri", "role_arn", "output_path", "base_job_name")
    training = settings["training"]
    spot = bool(training.get("use_spot_instances"))
    stopping = {"max_runtime_in_seconds": int(training["max_runtime_seconds"])}
    checkpoint = None
    if spot:
        stopping["max_wait_time_in_seconds"] = int(
            training.get("max_wait_seconds") or training["max_runtime_seconds"]
        )
        checkpoint = CheckpointConfig(
            s3_uri=training.get("checkpoint_s3_uri")
            or f"{settings['output_path'].rstrip('/')}/checkpoints/{run_id}",
            local_path=CHECKPOINT_LOCAL_PATH,
        )
    network = network_settings(settings)
    networking = Networking(**network) if network else None
    output = {"s3_output_path": settings["output_path"]}
    if settings.get("kms_key_id"):
        output["kms_key_id"] = settings["kms_key_id"]
    compute = {
        "instance_type": training["instance_type"],
        "instance_count": int(training["instance_count"]),
        "volume_size_in_gb": int(training["volume_size_gb"]),
        "enable_managed_spot_training": spot,
    }
    if settings.get("kms_key_id"):
        compute["volume_kms_key_id"] = settings["kms_key_id"]
    pipelines = list(training["pipelines"])
    trainer = ModelTrainer(
        sagemaker_session=session,
        training_image=settings["image_uri"],
        role=settings["role_arn"],
        base_job_name=settings["base_job_name"],
        compute=Compute(**compute),
        stopping_condition=StoppingCondition(**stopping),
        output_data_config=OutputDataConfig(**output),
        checkpoint_config=checkpoint,
        networking=networking,
        environment=container_environment(
            settings, {"SAGEMAKER_TRAINING_PIPELINES": ",".join(pipelines)}
        ),
        hyperparameters={k: str(v) for k, v in (training.get("hyperparameters") or {}).items()},
        tags=[Tag(key=tag["Key"], value=tag["Value"]) for tag in _tags(settings)] or None,
    )
    definitions = metric_definitions(training.get("metrics") or [])
    if definitions:
        trainer = trainer.with_metric_definitions(
            [MetricDefinition(name=d["Name"], regex=d["Regex"]) for d in definitions]
        )
    channels = [
        InputData(channel_name=layer, data_source=f"{settings['data_uri'].rstrip('/')}/{layer}/")
        for layer in settings.get("channels") or []
    ]
    return trainer, channels


def network_settings(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the VPC arguments both job kinds take, or None when no subnet or group is set."""
    network = settings.get("network") or {}
    if not (network.get("subnets") or network.get("security_group_ids")):
        return None
    return {
        "subnets": list(network.get("subnets") or []),
        "security_group_ids": list(network.get("security_group_ids") or []),
        "enable_network_isolation": bool(network.get("enable_network_isolation")),
    }


def build_processor(settings: Mapping[str, Any], session: Any) -> Any:
    """Return a configured `sagemaker.core.processing.Processor` (the image's own entrypoint)."""
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import Processor

    require(settings, "image_uri", "role_arn", "base_job_name")
    processing = settings["processing"]
    network = network_settings(settings)
    network_config = NetworkConfig(**network) if network else None
    return Processor(
        sagemaker_session=session,
        image_uri=settings["image_uri"],
        role=settings["role_arn"],
        instance_type=processing["instance_type"],
        instance_count=int(processing["instance_count"]),
        volume_size_in_gb=int(processing["volume_size_gb"]),
        volume_kms_key=settings.get("kms_key_id") or None,
        output_kms_key=settings.get("kms_key_id") or None,
        max_runtime_in_seconds=int(processing["max_runtime_seconds"]),
        base_job_name=settings["base_job_name"],
        env=container_environment(settings),
        tags=_tags(settings) or None,
        network_config=network_config,
    )


def processing_io(settings: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """Return ProcessingInput/ProcessingOutput objects: one per data layer, under `data_uri`."""
    from sagemaker.core.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )

    data_uri = str(settings.get("data_uri") or "").rstrip("/")
    inputs = [
        ProcessingInput(
            input_name=f"in-{layer}".replace("_", "-"),
            s3_input=ProcessingS3Input(
                s3_uri=f"{data_uri}/{layer}/",
                local_path=f"{PROCESSING_INPUT_ROOT}/{layer}",
                s3_data_type="S3Prefix",
                s3_input_mode="File",
            ),
        )
        for layer in settings.get("inputs") or []
    ]
    outputs = [
        ProcessingOutput(
            output_name=f"out-{layer}".replace("_", "-"),
            s3_output=ProcessingS3Output(
                s3_uri=f"{data_uri}/{layer}/",
                local_path=f"{PROCESSING_OUTPUT_ROOT}/{layer}",
                s3_upload_mode="EndOfJob",
            ),
        )
        for layer in settings.get("outputs") or []
    ]
    return inputs, outputs


# ----- submitting --------------------------------------------------------------------------------
@contextmanager
def capture_request(boto_session: Any, operation: str, dry_run: bool) -> Iterator[dict[str, Any]]:
    """Yield a dict that receives the `operation` request's parameters as sent to SageMaker.

    With `dry_run`, the call is stopped after botocore validated the request (DryRunComplete),
    and any other AWS call made meanwhile fails instead of reaching the network.
    """
    captured: dict[str, Any] = {}
    events = boto_session.events
    # One registration name per call, so nested or repeated captures never clash.
    unique = f"kedro-sagemaker-{id(captured)}"

    def record(params: dict[str, Any], **_: Any) -> None:
        captured.update(copy.deepcopy(params))

    def stop(**_: Any) -> None:
        raise DryRunComplete(operation)

    def refuse(event_name: str = "", **_: Any) -> None:
        raise RuntimeError(f"a dry run must not call AWS, but the SDK tried {event_name}")

    handlers = [(f"before-parameter-build.sagemaker.{operation}", record)]
    if dry_run:
        handlers += [(f"before-call.sagemaker.{operation}", stop), ("before-send", refuse)]
    for event, handler in handlers:
        events.register(event, handler, unique_id=f"{unique}-{event}")
    # The SDK checks the role with IAM before submitting; a dry run must not call IAM either.
    saved_validate = os.environ.get("SAGEMAKER_VALIDATE_ROLE")
    sdk_logger = logging.getLogger("sagemaker")
    saved_level = sdk_logger.level
    if dry_run:
        os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
        # The SDK logs our deliberate stop as a failed submission; that would only confuse.
        sdk_logger.setLevel(logging.CRITICAL)
    try:
        yield captured
    finally:
        for event, _handler in handlers:
            events.unregister(event, unique_id=f"{unique}-{event}")
        if dry_run:
            sdk_logger.setLevel(saved_level)
            if saved_validate is None:
                os.environ.pop("SAGEMAKER_VALIDATE_ROLE", None)
            else:
                os.environ["SAGEMAKER_VALIDATE_ROLE"] = saved_validate


def submit_training_job(
    settings: Mapping[str, Any], boto_session: Any, dry_run: bool = False
) -> dict[str, Any]:
    """Return the CreateTrainingJob request; it is sent to SageMaker unless `dry_run`."""
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with capture_request(boto_session, "CreateTrainingJob", dry_run) as request:
        session = sagemaker_session(boto_session, bool(settings.get("telemetry_opt_out", True)))
        trainer, channels = build_model_trainer(settings, session, run_id)
        try:
            trainer.train(input_data_config=channels or None, wait=False, logs=False)
        except DryRunComplete:
            pass
    return request


def submit_processing_job(
    settings: Mapping[str, Any],
    pipeline: str,
    params: Sequence[str],
    boto_session: Any,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Return the CreateProcessingJob request; it is sent to SageMaker unless `dry_run`."""
    arguments = ["process", "--pipeline", pipeline]
    for param in params:
        arguments += ["--param", param]
    with capture_request(boto_session, "CreateProcessingJob", dry_run) as request:
        session = sagemaker_session(boto_session, bool(settings.get("telemetry_opt_out", True)))
        processor = build_processor(settings, session)
        inputs, outputs = processing_io(settings)
        try:
            processor.run(
                inputs=inputs or None,
                outputs=outputs or None,
                arguments=arguments,
                wait=False,
                logs=False,
                job_name=job_name(settings["base_job_name"], pipeline),
            )
        except DryRunComplete:
            pass
    return request


def request_json(request: Mapping[str, Any]) -> str:
    """Return the request as indented JSON (what --dry-run prints)."""
    return json.dumps(request, indent=2, sort_keys=True, default=str)


# ----- following a job ---------------------------------------------------------------------------
def _describe(client: Any, kind: str, name: str) -> dict[str, Any]:
    if kind == "training":
        return client.describe_training_job(TrainingJobName=name)
    return client.describe_processing_job(ProcessingJobName=name)


def job_status(description: Mapping[str, Any]) -> str:
    """Return the status field of a DescribeTrainingJob/DescribeProcessingJob answer."""
    return str(description.get("TrainingJobStatus") or description.get("ProcessingJobStatus"))


def job_outcome_lines(kind: str, name: str, description: Mapping[str, Any]) -> list[str]:
    """Return the closing lines for a finished job: its status and, if it failed, why."""
    lines = [f"{kind} job {name}: {job_status(description)}"]
    if description.get("FailureReason"):
        lines.append(f"FailureReason: {description['FailureReason']}")
    if description.get("ExitMessage"):
        lines.append(f"ExitMessage: {description['ExitMessage']}")
    for metric in description.get("FinalMetricDataList") or []:
        lines.append(f"metric {metric.get('MetricName')}={metric.get('Value')}")
    return lines


class LogFollower:
    """Prints a job's CloudWatch log events once each, in order, as they arrive."""

    def __init__(self, logs_client: Any, kind: str, name: str, echo: Callable[[str], Any]) -> None:
        group = "TrainingJobs" if kind == "training" else "ProcessingJobs"
        self._client = logs_client
        self._group = f"/aws/sagemaker/{group}"
        self._prefix = f"{name}/"
        self._echo = echo
        self._seen: set[str] = set()
        self._start = 0

    def flush(self) -> int:
        """Print the events not printed yet; return how many."""
        printed = 0
        kwargs: dict[str, Any] = {
            "logGroupName": self._group,
            "logStreamNamePrefix": self._prefix,
            "startTime": self._start,
        }
        while True:
            try:
                page = self._client.filter_log_events(**kwargs)
            except self._client.exceptions.ResourceNotFoundException:
                return printed  # the job has not written a log yet
            for event in page.get("events", []):
                if event["eventId"] in self._seen:
                    continue
                self._seen.add(event["eventId"])
                self._start = max(self._start, int(event["timestamp"]))
                self._echo(event["message"].rstrip("\n"))
                printed += 1
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                return printed
            kwargs["nextToken"] = token


def wait_for_job(
    boto_session: Any,
    kind: str,
    name: str,
    *,
    echo: Callable[[str], Any] = print,
    poll_seconds: float = 15.0,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """Stream the job's logs until it ends; return its final description."""
    sagemaker_client = boto_session.client("sagemaker")
    follower = LogFollower(boto_session.client("logs"), kind, name, echo)
    started = time.monotonic()
    while True:
        description = _describe(sagemaker_client, kind, name)
        follower.flush()
        if job_status(description) in TERMINAL_STATUSES:
            follower.flush()
            return description
        if timeout_seconds is not None and time.monotonic() - started > timeout_seconds:
            raise TimeoutError(f"{kind} job {name} still {job_status(description)}")
        time.sleep(poll_seconds)


def derive_channels(
    pipeline_objects: Sequence[Any], catalog_config: Mapping[str, Any], storage_root: str
) -> tuple[list[str], list[str]]:
    """Return (input layers, output layers) of the combined pipelines.

    A dataset one pipeline produces and a later one reads (evaluation's test_predictions for
    explainability) stays inside the job: only the combination's free inputs come in.
    """
    produced = set().union(*(pipe.all_outputs() for pipe in pipeline_objects))
    needed = set().union(*(pipe.inputs() for pipe in pipeline_objects))
    free = {name for name in needed - produced if not name.startswith("params:")}
    free.discard("parameters")
    return (
        _layer_order(dataset_layers(free, catalog_config, storage_root)),
        _layer_order(dataset_layers(produced, catalog_config, storage_root)),
    )


def training_channels(input_layers: Iterable[str]) -> list[str]:
    """Return the channels of a training job: every input layer except the model's own."""
    return [layer for layer in input_layers if layer != MODEL_LAYER]
