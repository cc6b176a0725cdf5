"""Project commands: Kedro imports this module by name and adds the groups of `cli` to `kedro`.

It works without installing the project (unlike a `kedro.project_commands` entry point). Each
command lives in its own module; register it here with one `cli.add_command(...)` line.
"""

import click

# `python -m <package>` and the console script look `run` up in this module once it exists.
from kedro.framework.cli.project import run  # noqa: F401

from .monitoring.cli import monitoring_commands
from .registry.cli import model_commands
from .registry.retrain import retrain
from .sagemaker.cli import sagemaker
from .tracking.cli import mlflow_commands
from .versioning.cli_versions import versions


@click.group(name="project")
def cli() -> None:
    """Commands of this project (`kedro --help` lists them)."""


cli.add_command(versions)
cli.add_command(mlflow_commands)
cli.add_command(sagemaker)
cli.add_command(monitoring_commands)
cli.add_command(model_commands)
cli.add_command(retrain)
