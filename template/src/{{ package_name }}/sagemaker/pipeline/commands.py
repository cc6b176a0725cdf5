"""`kedro sagemaker pipeline compile|upsert|start|schedule|status`: the Kedro wiring.

Reads conf/<env>/sagemaker.yml (`pipeline:` and the job settings), the promotion parameters,
the registered Kedro pipelines and the catalog of `pipeline.kedro_env`, and hands plain records
to the Kedro-free modules of this package.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ...registry.promotion import PromotionSettings
from ..job_settings import SettingsError, parse_assignments, require
from ..launcher import DryRunComplete
from . import grouping
from .settings import PipelineSettings


@dataclass(frozen=True)
class Project:
    """Everything compile needs from the Kedro project."""

    jobs: dict[str, Any]
    settings: PipelineSettings
    promotion: PromotionSettings
    groups: tuple[grouping.StepGroup, ...]
    catalog: dict[str, grouping.DatasetSpec]
    node_pipelines: dict[str, tuple[str, ...]]


def _boto_session(region: str | None) -> Any:
    """Return the boto3 session the commands use (tests replace this function)."""
    import boto3

    return boto3.Session(region_name=region or os.environ.get("AWS_DEFAULT_REGION"))


def _dataset_specs(catalog_config: dict[str, Any]) -> dict[str, grouping.DatasetSpec]:
    specs = {}
    for name, entry in catalog_config.items():
        if not isinstance(entry, dict) or name.startswith("_"):
            continue
        kind = str(entry.get("type", ""))
        specs[name] = grouping.DatasetSpec(
            persisted="MemoryDataset" not in kind and "SharedMemoryDataset" not in kind,
            versioned=bool(entry.get("versioned")),
        )
    return specs


def _node_specs() -> tuple[list[grouping.NodeSpec], dict[str, tuple[str, ...]]]:
    from kedro.framework.project import pipelines
    from kedro.pipeline import Pipeline

    from ...pipeline_registry import COMPOSED_PIPELINES

    named = {
        name: pipe
        for name, pipe in pipelines.items()
        if not name.startswith("__") and name not in COMPOSED_PIPELINES
    }
    memberships: dict[str, list[str]] = {}
    for name, pipe in sorted(named.items()):
        for node in pipe.nodes:
            memberships.setdefault(node.name, []).append(name)
    combined = sum(named.values(), start=Pipeline([]))
    specs = [
        grouping.NodeSpec(
            name=node.name,
            pipelines=tuple(memberships[node.name]),
            tags=tuple(sorted(node.tags)),
            inputs=tuple(node.inputs),
            outputs=tuple(node.outputs),
        )
        for node in combined.nodes  # topologically sorted
    ]
    return specs, {name: tuple(pipes) for name, pipes in memberships.items()}


def load_project(project_path: Path, env: str | None) -> Project:
    """Return the project's settings, promotion rule, grouping and catalog view."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from pydantic import ValidationError

    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        context = session.load_context()
        jobs = dict(context.config_loader["sagemaker"])
        promotion_params = context.params["promotion"]
    try:
        settings = PipelineSettings.model_validate(jobs.pop("pipeline"))
        promotion = PromotionSettings.model_validate(promotion_params)
    except (ValidationError, KeyError) as error:
        raise SettingsError(f"conf/*/sagemaker.yml `pipeline:` or parameters: {error}") from error
    with KedroSession.create(project_path=project_path, env=settings.kedro_env) as session:
        catalog = _dataset_specs(dict(session.load_context().config_loader["catalog"]))
    nodes, node_pipelines = _node_specs()
    groups = grouping.group_nodes(settings.steps, nodes, catalog)
    return Project(jobs, settings, promotion, groups, catalog, node_pipelines)


def build(project: Project, boto_session: Any) -> Any:
    """Return the SDK Pipeline of the project."""
    from .definition import JobImage, build_pipeline

    require(project.jobs, "image_uri", "role_arn", "output_path", "base_job_name")
    jobs = JobImage(
        image_uri=project.jobs["image_uri"],
        role_arn=project.jobs["role_arn"],
        base_job_name=project.jobs["base_job_name"],
        settings=project.jobs,
    )
    return build_pipeline(
        project.settings,
        jobs,
        project.groups,
        catalog=project.catalog,
        node_pipelines=project.node_pipelines,
        promotion=project.promotion,
        boto_session=boto_session,
    )


def _offline(boto_session: Any) -> None:
    """Make any AWS request of `boto_session` fail: compile must not call AWS."""

    def refuse(event_name: str = "", **_: Any) -> None:
        raise DryRunComplete(f"compile must not call AWS, but the SDK tried {event_name}")

    boto_session.events.register("before-send", refuse, unique_id="kedro-compile-offline")


def _quiet_sdk() -> None:
    """Keep the SDK's notices (popped job names, no-wait warnings) off stdout."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message="Running within a PipelineSession")
    for name in ("sagemaker", "sagemaker.config"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _context(metadata: Any, env: str | None, image_uri: str | None, role_arn: str | None):
    project_path = Path(metadata.project_path) if metadata else Path.cwd()
    try:
        project = load_project(project_path, env)
    except (SettingsError, grouping.GroupingError) as error:
        raise click.ClickException(str(error)) from error
    if image_uri:
        project.jobs["image_uri"] = image_uri
    if role_arn:
        project.jobs["role_arn"] = role_arn
    _quiet_sdk()
    return project


def _pipeline(project: Project, boto_session: Any) -> Any:
    try:
        return build(project, boto_session)
    except (SettingsError, grouping.GroupingError) as error:
        raise click.ClickException(str(error)) from error


def _env_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--env", "-e", default=None, help="Kedro env to read sagemaker.yml from."),
            click.option("--image-uri", help="Container image (ECR URI)."),
            click.option("--role-arn", help="SageMaker execution role ARN."),
        ]
    ):
        func = option(func)
    return func


@click.group(name="pipeline")
def pipeline_commands() -> None:
    """Compile the Kedro pipelines into a SageMaker Pipeline; deploy, start, schedule, follow."""


@pipeline_commands.command(name="compile")
@_env_options
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the JSON here.")
@click.pass_obj
def compile_command(metadata: Any, env: str | None, image_uri, role_arn, output) -> None:
    """Print the pipeline definition JSON; no AWS call is made."""
    from ..cli import _logs_to_stderr  # cli imports this module: import it when run

    _logs_to_stderr()
    project = _context(metadata, env, image_uri, role_arn)
    boto_session = _boto_session(project.jobs.get("region"))
    _offline(boto_session)
    # The SDK checks the role with IAM while building the training step; compile stays offline.
    saved = os.environ.get("SAGEMAKER_VALIDATE_ROLE")
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    try:
        text = json.dumps(json.loads(_pipeline(project, boto_session).definition()), indent=2)
    finally:
        if saved is None:
            os.environ.pop("SAGEMAKER_VALIDATE_ROLE", None)
        else:
            os.environ["SAGEMAKER_VALIDATE_ROLE"] = saved
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


def ensure_model_package_group(client: Any, name: str, description: str) -> bool:
    """Create the model package group unless it exists; return whether it was created."""
    try:
        client.describe_model_package_group(ModelPackageGroupName=name)
        return False
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in {
            "ValidationException",
            "ResourceNotFound",
        }:
            raise
    client.create_model_package_group(
        ModelPackageGroupName=name, ModelPackageGroupDescription=description
    )
    return True


@pipeline_commands.command()
@_env_options
@click.pass_obj
def upsert(metadata: Any, env: str | None, image_uri, role_arn) -> None:
    """Create or update the pipeline and its model package group."""
    project = _context(metadata, env, image_uri, role_arn)
    boto_session = _boto_session(project.jobs.get("region"))
    pipeline = _pipeline(project, boto_session)
    settings = project.settings
    created = ensure_model_package_group(
        boto_session.client("sagemaker"),
        settings.model_package_group,
        f"Models of {settings.name}, registered by its promotion gate",
    )
    click.echo(
        f"model package group {settings.model_package_group}: "
        + ("created" if created else "exists")
    )
    tags = [{"Key": str(k), "Value": str(v)} for k, v in (project.jobs.get("tags") or {}).items()]
    response = pipeline.upsert(
        role_arn=settings.role_arn or project.jobs["role_arn"],
        description=settings.description,
        tags=tags or None,
    )
    click.echo(f"pipeline {settings.name}: {response['PipelineArn']}")


@pipeline_commands.command()
@_env_options
@click.option(
    "--parameter", "-p", multiple=True, metavar="NAME=VALUE", help="Pipeline parameter (repeat)."
)
@click.option("--display-name", help="Display name of the execution.")
@click.pass_obj
def start(metadata: Any, **options: Any) -> None:
    """Start an execution, with parameter overrides (see `compile` for their names)."""
    project = _context(metadata, options["env"], options["image_uri"], options["role_arn"])
    parameter, display_name = options["parameter"], options["display_name"]
    boto_session = _boto_session(project.jobs.get("region"))
    pipeline = _pipeline(project, boto_session)
    try:
        overrides = parse_assignments(parameter, "--parameter")
    except SettingsError as error:
        raise click.ClickException(str(error)) from error
    known = {param.name for param in pipeline.parameters}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise click.ClickException(
            f"unknown pipeline parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    execution = pipeline.start(parameters=overrides or None, execution_display_name=display_name)
    click.echo(f"started {execution.arn}")


def execution_lines(client: Any, pipeline_name: str, limit: int) -> list[str]:
    """Return the status lines of the newest `limit` executions: steps, states, failures."""
    page = client.list_pipeline_executions(
        PipelineName=pipeline_name, SortBy="CreationTime", SortOrder="Descending", MaxResults=limit
    )
    lines = []
    for summary in page.get("PipelineExecutionSummaries", []):
        arn = summary["PipelineExecutionArn"]
        description = client.describe_pipeline_execution(PipelineExecutionArn=arn)
        lines.append(
            f"{arn}  {description['PipelineExecutionStatus']}  started "
            f"{description['CreationTime']:%Y-%m-%d %H:%M:%S}"
        )
        if description.get("FailureReason"):
            lines.append(f"  FailureReason: {description['FailureReason']}")
        steps = client.list_pipeline_execution_steps(
            PipelineExecutionArn=arn, SortOrder="Ascending"
        ).get("PipelineExecutionSteps", [])
        for step in steps:
            line = f"  {step['StepName']}: {step.get('StepStatus', 'Unknown')}"
            if step.get("FailureReason"):
                line += f" ({step['FailureReason']})"
            lines.append(line)
    return lines or [f"pipeline {pipeline_name}: no executions yet"]


@pipeline_commands.command()
@click.option("--env", "-e", default=None, help="Kedro env to read sagemaker.yml from.")
@click.option("--limit", default=5, show_default=True, help="Newest executions to show.")
@click.pass_obj
def status(metadata: Any, env: str | None, limit: int) -> None:
    """Show the newest executions, their steps' states and failure reasons."""
    project = _context(metadata, env, None, None)
    client = _boto_session(project.jobs.get("region")).client("sagemaker")
    for line in execution_lines(client, project.settings.name, max(1, min(limit, 100))):
        click.echo(line)


@pipeline_commands.command()
@_env_options
@click.pass_obj
def schedule(metadata: Any, env: str | None, image_uri, role_arn) -> None:
    """Put the schedule of sagemaker.yml (`pipeline.schedule`) on EventBridge Scheduler."""
    from sagemaker.mlops.workflow.triggers import PipelineSchedule

    project = _context(metadata, env, image_uri, role_arn)
    settings = project.settings
    expression = settings.schedule.expression()
    if expression is None:
        raise click.ClickException(
            "set pipeline.schedule.cron or pipeline.schedule.rate in conf/base/sagemaker.yml"
        )
    kind, text = expression
    boto_session = _boto_session(project.jobs.get("region"))
    pipeline = _pipeline(project, boto_session)
    if kind == "cron":
        trigger = PipelineSchedule(
            name=settings.schedule.name, enabled=settings.schedule.enabled, cron=text
        )
    else:
        value, unit = text.split(" ", 1)
        trigger = PipelineSchedule(
            name=settings.schedule.name, enabled=settings.schedule.enabled, rate=(int(value), unit)
        )
    role = settings.schedule.role_arn or settings.role_arn or project.jobs["role_arn"]
    arns = pipeline.put_triggers(triggers=[trigger], role_arn=role)
    for arn in arns:
        click.echo(f"schedule {kind}({text}): {arn}")
