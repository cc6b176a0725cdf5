"""Build and submit SageMaker training and processing jobs with the SageMaker SDK v3.

The SDK is imported inside the functions that use it, so `kedro --help` stays fast. Every job
request passes through a botocore hook before it is sent: `--dry-run` prints that request and
stops there, so what you see is exactly what SageMaker would receive. The job's settings come
from `job_settings.py`; following a submitted job is `job_logs.py`.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ..tracking.metric_lines import metric_definitions
from .job_settings import container_environment, job_name, job_tags, network_settings, require

PROCESSING_INPUT_ROOT = "/opt/ml/processing/input"
PROCESSING_OUTPUT_ROOT = "/opt/ml/processing/output"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"


class DryRunComplete(Exception):
    """Raised from the botocore hook to stop a dry run right before the request is sent."""


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
        tags=[Tag(key=tag["Key"], value=tag["Value"]) for tag in job_tags(settings)] or None,
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
        tags=job_tags(settings) or None,
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
