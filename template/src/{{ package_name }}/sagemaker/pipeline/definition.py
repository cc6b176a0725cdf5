"""The SageMaker Pipeline (SDK v3 objects) for a step grouping; `compile` prints its definition.

Kedro-free; the SDK is imported inside the functions. The shape, step by step:

1. one step per group of `pipeline.steps` (processing or training job, the project's image),
   each running its Kedro nodes with the Kedro env `pipeline.kedro_env` (the S3 catalog);
2. `PromotionGate`: a processing job that scores the challenger and the champion (the newest
   Approved package of the group) on the same holdout, applies `registry.promotion`, and writes
   `decision.json` (a property file) and `model_quality.json` to
   `<artifacts_uri>/<execution id>/gate/`;
3. `PromoteChallenger`: a condition on the property file's `promote`;
4. `RegisterModel` (a model package with the metrics attached) or `ChallengerNotPromoted` (fail).

Every step gets the execution's start time and id, from which the entrypoint derives the one
Kedro save version of the execution (execution.save_version_from_start).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...registry.promotion import PromotionSettings
from ...tracking.metric_lines import metric_definitions
from ..job_settings import container_environment, network_settings
from .grouping import (
    DatasetSpec,
    GroupingError,
    StepGroup,
    producer_of,
    versioned_from_earlier,
)
from .settings import (
    CONDITION_STEP,
    FAIL_STEP,
    GATE_STEP,
    REGISTER_STEP,
    PipelineSettings,
)

GATE_OUTPUT = "gate"
GATE_LOCAL_PATH = "/opt/ml/processing/output/gate"
DECISION_FILE = "decision.json"
MODEL_QUALITY_FILE = "model_quality.json"
PROPERTY_FILE = "PromotionDecision"

# Pipeline parameter names (schedules and `start --parameter` override them).
PROCESSING_INSTANCE_TYPE = "ProcessingInstanceType"
PROCESSING_INSTANCE_COUNT = "ProcessingInstanceCount"
TRAINING_INSTANCE_TYPE = "TrainingInstanceType"
TRAINING_INSTANCE_COUNT = "TrainingInstanceCount"
INPUT_BATCH_VERSION = "InputBatchVersion"
APPROVAL_STATUS = "ModelApprovalStatus"
PRIMARY_METRIC = "PromotionPrimaryMetric"
MIN_IMPROVEMENT = "PromotionMinImprovement"
_GUARD_PREFIX = "PromotionGuard"

# Hyperparameters of a training step that the entrypoint reads itself (never Kedro params:
# launcher's reserved prefix "_" keeps them out).
HP_STEP = "_kedro_step"
HP_PIPELINES = "_kedro_pipelines"
HP_TAGS = "_kedro_tags"
HP_NODES = "_kedro_nodes"
HP_EXECUTION_START = "_kedro_execution_start"
HP_EXECUTION_ID = "_kedro_execution_id"
HP_PIN = "_kedro_pin_to_execution"
HP_LOAD_VERSIONS = "_kedro_load_versions"


def guard_parameter_name(metric: str) -> str:
    """Return the pipeline parameter of a guard's tolerance: log_loss -> PromotionGuardLogLoss."""
    return _GUARD_PREFIX + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]", metric))


@dataclass(frozen=True)
class JobImage:
    """The job settings of sagemaker.yml (top level) that every step shares."""

    image_uri: str
    role_arn: str
    base_job_name: str
    settings: Mapping[str, Any]


def _parameters(settings: PipelineSettings, jobs: Mapping[str, Any], promotion: PromotionSettings):
    from sagemaker.core.workflow.parameters import (
        ParameterFloat,
        ParameterInteger,
        ParameterString,
    )

    params = {
        PROCESSING_INSTANCE_TYPE: ParameterString(
            PROCESSING_INSTANCE_TYPE, default_value=str(jobs["processing"]["instance_type"])
        ),
        PROCESSING_INSTANCE_COUNT: ParameterInteger(
            PROCESSING_INSTANCE_COUNT, default_value=int(jobs["processing"]["instance_count"])
        ),
        TRAINING_INSTANCE_TYPE: ParameterString(
            TRAINING_INSTANCE_TYPE, default_value=str(jobs["training"]["instance_type"])
        ),
        TRAINING_INSTANCE_COUNT: ParameterInteger(
            TRAINING_INSTANCE_COUNT, default_value=int(jobs["training"]["instance_count"])
        ),
        # Empty: the newest version of the input batch.
        INPUT_BATCH_VERSION: ParameterString(INPUT_BATCH_VERSION, default_value=""),
        APPROVAL_STATUS: ParameterString(APPROVAL_STATUS, default_value=settings.approval_status),
        PRIMARY_METRIC: ParameterString(PRIMARY_METRIC, default_value=promotion.primary_metric),
        MIN_IMPROVEMENT: ParameterFloat(
            MIN_IMPROVEMENT, default_value=float(promotion.min_improvement)
        ),
    }
    for metric, tolerance in promotion.guards.items():
        name = guard_parameter_name(metric)
        params[name] = ParameterFloat(name, default_value=float(tolerance))
    return params


def _session(boto_session: Any, telemetry_opt_out: bool) -> Any:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    session = PipelineSession(boto_session=boto_session)
    if telemetry_opt_out:
        config = dict(session.sagemaker_config or {})
        config.setdefault("SchemaVersion", "1.0")
        modules = config.setdefault("SageMaker", {}).setdefault("PythonSDK", {})
        modules.setdefault("Modules", {})["TelemetryOptOut"] = True
        session.sagemaker_config = config
    return session


def _execution_arguments() -> list[Any]:
    from sagemaker.core.workflow.execution_variables import ExecutionVariables

    return [
        "--execution-start",
        ExecutionVariables.START_DATETIME,
        "--execution-id",
        ExecutionVariables.PIPELINE_EXECUTION_ID,
    ]


def _load_version_argument(dataset: str, version: Any) -> Any:
    from sagemaker.core.workflow.functions import Join

    return Join(on="=", values=[dataset, version])


def _selection(group: StepGroup, node_pipelines: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Return the Kedro selection of a step as texts: pipelines, and tags or node names."""
    if group.selector == "pipelines":
        return {"pipelines": ",".join(group.selected)}
    # Kedro filters the named pipelines by tags or node names: name every pipeline they are in.
    pipelines = sorted({pipe for node in group.nodes for pipe in node_pipelines[node]})
    key = "tags" if group.selector == "tags" else "nodes"
    return {"pipelines": ",".join(pipelines), key: ",".join(group.selected)}


@dataclass(frozen=True)
class _Build:
    """What every step of one build shares: job settings, session, parameters, environment."""

    jobs: JobImage
    session: Any
    params: Mapping[str, Any]
    env: Mapping[str, str]


def _processor(build: _Build) -> Any:
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import Processor

    settings = build.jobs.settings
    processing = settings["processing"]
    network = network_settings(settings)
    kms = settings.get("kms_key_id") or None
    tags = [{"Key": str(k), "Value": str(v)} for k, v in (settings.get("tags") or {}).items()]
    return Processor(
        sagemaker_session=build.session,
        image_uri=build.jobs.image_uri,
        role=build.jobs.role_arn,
        instance_type=build.params[PROCESSING_INSTANCE_TYPE],
        instance_count=build.params[PROCESSING_INSTANCE_COUNT],
        volume_size_in_gb=int(processing["volume_size_gb"]),
        volume_kms_key=kms,
        output_kms_key=kms,
        max_runtime_in_seconds=int(processing["max_runtime_seconds"]),
        base_job_name=build.jobs.base_job_name,
        env=dict(build.env),
        tags=tags or None,
        network_config=NetworkConfig(**network) if network else None,
    )


def _processing_step(
    group: StepGroup, arguments: list[Any], build: _Build, depends_on: list[Any]
) -> Any:
    from sagemaker.mlops.workflow import ProcessingStep

    return ProcessingStep(
        name=group.name,
        step_args=_processor(build).run(arguments=arguments),
        description=f"Kedro nodes: {', '.join(group.nodes)}",
        depends_on=depends_on or None,
    )


def _training_step(
    group: StepGroup, hyperparameters: dict[str, Any], build: _Build, depends_on: list[Any]
) -> Any:
    from sagemaker.core.training.configs import (
        Compute,
        MetricDefinition,
        Networking,
        OutputDataConfig,
        StoppingCondition,
        Tag,
    )
    from sagemaker.mlops.workflow import TrainingStep
    from sagemaker.train import ModelTrainer

    settings = build.jobs.settings
    training = settings["training"]
    network = network_settings(settings)
    output = {"s3_output_path": settings["output_path"]}
    compute = {
        "instance_type": build.params[TRAINING_INSTANCE_TYPE],
        "instance_count": build.params[TRAINING_INSTANCE_COUNT],
        "volume_size_in_gb": int(training["volume_size_gb"]),
    }
    if settings.get("kms_key_id"):
        output["kms_key_id"] = settings["kms_key_id"]
        compute["volume_kms_key_id"] = settings["kms_key_id"]
    user_hyperparameters = {
        str(k): str(v) for k, v in (training.get("hyperparameters") or {}).items()
    }
    tags = [Tag(key=str(k), value=str(v)) for k, v in (settings.get("tags") or {}).items()]
    trainer = ModelTrainer(
        sagemaker_session=build.session,
        training_image=build.jobs.image_uri,
        role=build.jobs.role_arn,
        base_job_name=build.jobs.base_job_name,
        compute=Compute(**compute),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=int(training["max_runtime_seconds"])
        ),
        output_data_config=OutputDataConfig(**output),
        networking=Networking(**network) if network else None,
        environment=dict(build.env),
        hyperparameters={**user_hyperparameters, **hyperparameters},
        tags=tags or None,
    )
    definitions = metric_definitions(training.get("metrics") or [])
    if definitions:
        trainer = trainer.with_metric_definitions(
            [MetricDefinition(name=d["Name"], regex=d["Regex"]) for d in definitions]
        )
    return TrainingStep(
        name=group.name,
        step_args=trainer.train(),
        description=f"Kedro nodes: {', '.join(group.nodes)}",
        depends_on=depends_on or None,
    )


def _gate_output_uri(settings: PipelineSettings, file_name: str | None = None) -> Any:
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join

    values = [settings.artifacts_uri, ExecutionVariables.PIPELINE_EXECUTION_ID, GATE_OUTPUT]
    return Join(on="/", values=[*values, file_name] if file_name else values)


def _grouped_steps(
    settings: PipelineSettings,
    groups: Sequence[StepGroup],
    catalog: Mapping[str, DatasetSpec],
    node_pipelines: Mapping[str, Sequence[str]],
    build: _Build,
) -> list[Any]:
    """Return one job step per group, each depending on the one before."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables

    batch_version = build.params[INPUT_BATCH_VERSION]
    steps: list[Any] = []
    for group in groups:
        selection = _selection(group, node_pipelines)
        pinned = versioned_from_earlier(group, catalog)
        batch = settings.input_dataset in group.external_inputs
        depends_on = [steps[-1]] if steps else []
        if group.job == "processing":
            arguments: list[Any] = ["step", "--name", group.name, "--env", settings.kedro_env]
            for key, value in selection.items():
                arguments += [f"--{key}", value]
            arguments += _execution_arguments()
            for dataset in pinned:
                arguments += ["--pin-to-execution", dataset]
            if batch:
                arguments += [
                    "--load-version",
                    _load_version_argument(settings.input_dataset, batch_version),
                ]
            steps.append(_processing_step(group, arguments, build, depends_on))
            continue
        hyperparameters: dict[str, Any] = {
            HP_STEP: group.name,
            HP_EXECUTION_START: ExecutionVariables.START_DATETIME,
            HP_EXECUTION_ID: ExecutionVariables.PIPELINE_EXECUTION_ID,
            HP_PIPELINES: selection["pipelines"],
            HP_PIN: ",".join(pinned),
        }
        if "tags" in selection:
            hyperparameters[HP_TAGS] = selection["tags"]
        if "nodes" in selection:
            hyperparameters[HP_NODES] = selection["nodes"]
        if batch:
            hyperparameters[HP_LOAD_VERSIONS] = _load_version_argument(
                settings.input_dataset, batch_version
            )
        steps.append(_training_step(group, hyperparameters, build, depends_on))
    return steps


def _gate_step(
    settings: PipelineSettings, promotion: PromotionSettings, build: _Build, after: Any
) -> tuple[Any, Any]:
    """Return the PromotionGate step and its property file (decision.json)."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ProcessingStep

    def param(name: str, parameter: str) -> list[Any]:
        return ["--param", Join(on="=", values=[name, build.params[parameter]])]

    arguments: list[Any] = [
        "gate",
        "--env",
        settings.kedro_env,
        *_execution_arguments(),
        "--model-dataset",
        settings.model_dataset,
        "--holdout-dataset",
        settings.holdout_dataset,
        "--model-package-group",
        settings.model_package_group,
        # The gate records a promoted challenger in MLflow as champion only when Approved.
        "--approval-status",
        build.params[APPROVAL_STATUS],
        *param("promotion.primary_metric", PRIMARY_METRIC),
        *param("promotion.min_improvement", MIN_IMPROVEMENT),
    ]
    for metric in promotion.guards:
        arguments += param(f"promotion.guards.{metric}", guard_parameter_name(metric))
    step_args = _processor(build).run(
        arguments=arguments,
        outputs=[
            ProcessingOutput(
                output_name=GATE_OUTPUT,
                s3_output=ProcessingS3Output(
                    s3_uri=_gate_output_uri(settings),
                    local_path=GATE_LOCAL_PATH,
                    s3_upload_mode="EndOfJob",
                ),
            )
        ],
    )
    decision_file = PropertyFile(name=PROPERTY_FILE, output_name=GATE_OUTPUT, path=DECISION_FILE)
    gate = ProcessingStep(
        name=GATE_STEP,
        step_args=step_args,
        description="Champion and challenger on one holdout; registry.promotion decides",
        property_files=[decision_file],
        depends_on=[after],
    )
    return gate, decision_file


def _condition_step(
    settings: PipelineSettings, model_step: Any, decision_file: Any, build: _Build
) -> Any:
    """Return the condition on `promote`: register the model package, or fail with the reason."""
    from sagemaker.core.model_registry import create_model_package_from_containers
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.mlops.workflow import ConditionStep, FailStep, ModelStep

    # ModelStep takes its arguments from the SDK's own CreateModelPackage request builder,
    # captured by the PipelineSession; the project's image serves the model (no framework
    # container), so there is no ModelBuilder to call register() on.
    session = build.session
    session.init_model_step_arguments(_RegistrationSource(session))
    register_args = create_model_package_from_containers(
        session,
        containers=[
            {
                "Image": build.jobs.image_uri,
                "ModelDataUrl": model_step.properties.ModelArtifacts.S3ModelArtifacts,
                "Environment": {"SAGEMAKER_KEDRO_ENV": settings.kedro_env},
            }
        ],
        content_types=list(settings.inference_content_types),
        response_types=list(settings.inference_content_types),
        model_package_group_name=settings.model_package_group,
        approval_status=build.params[APPROVAL_STATUS],
        model_metrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": _gate_output_uri(settings, MODEL_QUALITY_FILE),
                }
            }
        },
        customer_metadata_properties={
            "sagemaker_pipeline_execution_id": ExecutionVariables.PIPELINE_EXECUTION_ID,
            "promotion_decision": _gate_output_uri(settings, DECISION_FILE),
            # The MLflow model version the gate recorded ("none" without a tracking server).
            "mlflow_model_version": JsonGet(
                step_name=GATE_STEP, property_file=decision_file, json_path="mlflow_model_version"
            ),
        },
    )
    session.context = None
    register = ModelStep(name=REGISTER_STEP, step_args=register_args)
    reason = JsonGet(step_name=GATE_STEP, property_file=decision_file, json_path="reason")
    fail = FailStep(
        name=FAIL_STEP,
        error_message=Join(on=" ", values=["The challenger was not promoted:", reason]),
    )
    promote = JsonGet(step_name=GATE_STEP, property_file=decision_file, json_path="promote")
    return ConditionStep(
        name=CONDITION_STEP,
        conditions=[ConditionEquals(left=promote, right=True)],
        if_steps=[register],
        else_steps=[fail],
    )


def build_pipeline(
    settings: PipelineSettings,
    jobs: JobImage,
    groups: Sequence[StepGroup],
    *,
    catalog: Mapping[str, DatasetSpec],
    node_pipelines: Mapping[str, Sequence[str]],
    promotion: PromotionSettings,
    boto_session: Any,
) -> Any:
    """Return the SDK `Pipeline` of the grouped steps, the gate, the condition and registration."""
    # The SDK creates a boto3 client while importing sagemaker.mlops (needs a region).
    os.environ.setdefault("AWS_DEFAULT_REGION", boto_session.region_name or "")
    from sagemaker.mlops.workflow import Pipeline

    model_group = producer_of(settings.model_dataset, groups)
    if model_group.job != "training":
        raise GroupingError(
            f"{settings.model_dataset!r} must be produced by a training step (its model.tar.gz "
            "is what gets registered); make that step `job: training`"
        )
    producer_of(settings.holdout_dataset, groups)
    build = _Build(
        jobs=jobs,
        session=_session(boto_session, bool(jobs.settings.get("telemetry_opt_out", True))),
        params=_parameters(settings, jobs.settings, promotion),
        env=container_environment({**jobs.settings, "kedro_env": settings.kedro_env}),
    )
    steps = _grouped_steps(settings, groups, catalog, node_pipelines, build)
    model_step = steps[[group.name for group in groups].index(model_group.name)]
    gate, decision_file = _gate_step(settings, promotion, build, steps[-1])
    condition = _condition_step(settings, model_step, decision_file, build)
    return Pipeline(
        name=settings.name,
        parameters=list(build.params.values()),
        steps=[*steps, gate, condition],
        sagemaker_session=build.session,
        # No SageMaker Experiments trial per execution: MLflow records the runs.
        pipeline_experiment_config=None,
    )


class _RegistrationSource:
    """What ModelStep needs of a model: the PipelineSession that captured the request."""

    def __init__(self, session: Any) -> None:
        self.sagemaker_session = session
