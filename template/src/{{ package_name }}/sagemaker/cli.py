"""`kedro sagemaker train|process`: run this project's pipelines as SageMaker jobs.

The project's cli.py registers the `sagemaker` group, so `kedro sagemaker ...` works without
installing the project.
Settings come from conf/<env>/sagemaker.yml; every option below overrides one of them per run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from . import job_logs, job_settings, launcher
from .pipeline.commands import pipeline_commands


def _project_settings(
    project_path: Path, env: str | None, pipeline_names: list[str] | None, job_env: str | None
) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
    """Return (settings, pipeline names, input layers, output layers) from the project's conf/."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        settings = dict(session.load_context().config_loader["sagemaker"])
    if job_env:
        settings["kedro_env"] = job_env
    names = pipeline_names or list((settings.get("training") or {}).get("pipelines") or [])
    unknown = [name for name in names if name not in pipelines]
    if unknown:
        raise click.BadParameter(
            f"unknown pipeline(s) {', '.join(unknown)}; known: {', '.join(sorted(pipelines))}"
        )
    if (settings.get("kedro_env") or job_settings.CHANNEL_ENV) != job_settings.CHANNEL_ENV:
        return settings, names, [], []  # the job's catalog reads and writes S3 itself
    with KedroSession.create(project_path=project_path, env=job_settings.CHANNEL_ENV) as session:
        loader = session.load_context().config_loader
        catalog_config = loader["catalog"]
        storage_root = loader["globals"].get("storage", {}).get("root", "data")
    inputs, outputs = job_settings.derive_channels(
        [pipelines[name] for name in names], catalog_config, storage_root
    )
    return settings, names, inputs, outputs


def _boto_session(region: str | None) -> Any:
    """Return the boto3 session the launchers use (tests replace this function)."""
    import boto3

    return boto3.Session(region_name=region or os.environ.get("AWS_DEFAULT_REGION"))


def _common_overrides(options: dict[str, Any]) -> dict[str, Any]:
    network = {
        "subnets": list(options["subnet"]) or None,
        "security_group_ids": list(options["security_group"]) or None,
    }
    tags = job_settings.parse_assignments(options["tag"], "--tag") or None
    return {
        "image_uri": options["image_uri"],
        "role_arn": options["role_arn"],
        "region": options["region"],
        "output_path": options["output_path"],
        "data_uri": options["data_uri"],
        "kedro_env": options["job_env"],
        "kms_key_id": options["kms_key_id"],
        "network": {k: v for k, v in network.items() if v is not None} or None,
        "tags": tags,
    }


def _job_options(func: Any) -> Any:
    """Attach the options shared by both job kinds."""
    options = [
        click.option("--env", "-e", default=None, help="Kedro env to read sagemaker.yml from."),
        click.option("--image-uri", help="Container image (ECR URI)."),
        click.option("--role-arn", help="SageMaker execution role ARN."),
        click.option("--region", help="AWS region."),
        click.option("--instance-type", help="Instance type, e.g. ml.m5.xlarge."),
        click.option("--instance-count", type=int, help="Number of instances."),
        click.option("--volume-size", type=int, help="EBS volume size in GB."),
        click.option("--max-runtime", type=int, help="Maximum runtime in seconds."),
        click.option("--output-path", help="S3 URI for job outputs (model.tar.gz)."),
        click.option("--data-uri", help="S3 URI whose <layer>/ folders are the channels."),
        click.option("--job-env", help="Kedro env inside the job: sagemaker (channels) or aws."),
        click.option("--kms-key-id", help="KMS key for volumes and outputs."),
        click.option("--subnet", multiple=True, help="VPC subnet (repeat)."),
        click.option("--security-group", multiple=True, help="VPC security group (repeat)."),
        click.option("--tag", multiple=True, metavar="KEY=VALUE", help="Job tag (repeat)."),
        click.option("--dry-run", is_flag=True, help="Print the job request; call no AWS API."),
        click.option("--wait", is_flag=True, help="Stream the job's logs until it ends."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _logs_to_stderr() -> None:
    """Send every log handler's output to stderr, so stdout carries only the request JSON."""
    import logging

    for handler in logging.getLogger().handlers:
        console = getattr(handler, "console", None)  # rich.logging.RichHandler
        if console is not None:
            from rich.console import Console

            handler.console = Console(stderr=True)
        elif isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def _finish(
    kind: str, request: dict[str, Any], name_key: str, settings: dict[str, Any], options: dict
) -> None:
    if options["dry_run"]:
        click.echo(launcher.request_json(request))
        return
    name = request[name_key]
    click.echo(f"submitted {kind} job {name}")
    if not options["wait"]:
        return
    description = job_logs.wait_for_job(
        _boto_session(settings.get("region")),
        kind,
        name,
        echo=click.echo,
        poll_seconds=float(settings.get("poll_seconds", 15)),
    )
    for line in job_logs.job_outcome_lines(kind, name, description):
        click.echo(line)
    if job_logs.job_status(description) != "Completed":
        sys.exit(1)


@click.group(name="sagemaker")
def sagemaker() -> None:
    """Run this project's pipelines as SageMaker training and processing jobs."""


def _instance_overrides(options: dict[str, Any]) -> dict[str, Any]:
    """Return the compute settings both job kinds take from the command line (None = keep)."""
    return {
        "instance_type": options["instance_type"],
        "instance_count": options["instance_count"],
        "volume_size_gb": options["volume_size"],
        "max_runtime_seconds": options["max_runtime"],
    }


@sagemaker.command()
@_job_options
@click.option("--pipelines", help="Comma-separated pipelines to run in the job.")
@click.option("--spot/--no-spot", default=None, help="Managed spot training (with checkpoints).")
@click.option("--hyperparameter", "-H", multiple=True, metavar="KEY=VALUE", help="(repeat)")
@click.pass_obj
def train(metadata: Any, **options: Any) -> None:
    """Launch a training job: the training pipelines on SageMaker, model to output-path."""
    if options["dry_run"]:
        _logs_to_stderr()
    try:
        base = _load(metadata, options, "training")
        overrides = _common_overrides(options)
        overrides["training"] = {
            **_instance_overrides(options),
            "use_spot_instances": options["spot"],
            "hyperparameters": (
                job_settings.parse_assignments(options["hyperparameter"], "-H") or None
            ),
        }
        settings = job_settings.merge_settings(base, overrides)
        request = launcher.submit_training_job(
            settings, _boto_session(settings.get("region")), dry_run=options["dry_run"]
        )
    except (job_settings.SettingsError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    _finish("training", request, "TrainingJobName", settings, options)


@sagemaker.command()
@_job_options
@click.option("--pipeline", "pipeline_name", required=True, help="Pipeline to run in the job.")
@click.option("--param", multiple=True, metavar="KEY=VALUE", help="Runtime parameter (repeat).")
@click.pass_obj
def process(metadata: Any, **options: Any) -> None:
    """Launch a processing job that runs one pipeline."""
    if options["dry_run"]:
        _logs_to_stderr()
    try:
        base = _load(metadata, options, "processing")
        overrides = _common_overrides(options)
        overrides["processing"] = _instance_overrides(options)
        settings = job_settings.merge_settings(base, overrides)
        job_settings.parse_assignments(options["param"], "--param")  # fail early on a typo
        request = launcher.submit_processing_job(
            settings,
            options["pipeline_name"],
            list(options["param"]),
            _boto_session(settings.get("region")),
            dry_run=options["dry_run"],
        )
    except (job_settings.SettingsError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    _finish("processing", request, "ProcessingJobName", settings, options)


def _load(metadata: Any, options: dict[str, Any], kind: str) -> dict[str, Any]:
    """Return the settings of conf/ plus the layers (channels) that the job's pipelines use."""
    project_path = Path(metadata.project_path) if metadata else Path.cwd()
    if kind == "training":
        given = options["pipelines"]
        names = [name.strip() for name in given.split(",") if name.strip()] if given else None
    else:
        names = [options["pipeline_name"]]
    settings, names, inputs, outputs = _project_settings(
        project_path, options["env"], names, options["job_env"]
    )
    if kind == "training":
        settings["training"] = {**(settings.get("training") or {}), "pipelines": names}
        settings["channels"] = job_settings.training_channels(inputs)
    else:
        settings["inputs"], settings["outputs"] = inputs, outputs
    return settings


sagemaker.add_command(pipeline_commands)
