"""`kedro mlflow reproduce <run_id>`: run a tracked run again and check its metrics come out equal.

The project's cli.py adds this group to `kedro`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

logger = logging.getLogger(__name__)

# Exit codes: 0 metrics equal, 1 metrics differ (or the re-run failed), 2 refused to run.
EXIT_METRICS_DIFFER = 1
EXIT_REFUSED = 2


class Refused(click.ClickException):
    """A reproduction refused before anything ran."""

    exit_code = EXIT_REFUSED


@click.group(name="mlflow")
def mlflow_commands() -> None:
    """MLflow experiment tracking of this project's runs (docs/experiment-tracking.md)."""


@mlflow_commands.command()
@click.argument("run_id")
@click.option(
    "--force",
    is_flag=True,
    help="Run even though the working tree is not at the run's git commit.",
)
@click.option(
    "--env",
    "-e",
    default=None,
    help="Kedro environment to read tracking.yml from and run in (default: the run's own).",
)
@click.option(
    "--rtol",
    type=float,
    default=1e-9,
    show_default=True,
    help="Relative tolerance within which two metric values count as equal.",
)
def reproduce(run_id: str, force: bool, env: str | None, rtol: float) -> None:
    """Re-run RUN_ID's pipelines with its parameters and input versions; compare the metrics.

    Refuses (exit 2) when the working tree's git commit differs from the run's, unless --force.
    Exits 1 when a metric of the new run differs from the recorded one, 0 when all are equal.
    """
    from kedro.framework.startup import bootstrap_project
    from kedro.utils import find_kedro_project

    # The comparison table is the output; MLflow's download progress bars would bury it.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    project_path = find_kedro_project(Path.cwd())
    if project_path is None:
        raise Refused("run this inside the Kedro project (no pyproject.toml with [tool.kedro])")
    bootstrap_project(project_path)
    equal = _reproduce(Path(project_path), run_id, force=force, env=env, rtol=rtol)
    sys.exit(0 if equal else EXIT_METRICS_DIFFER)


def _reproduce(project_path: Path, run_id: str, force: bool, env: str | None, rtol: float) -> bool:
    """Return whether the re-run's metrics equal the recorded run's (and print the comparison)."""
    from kedro.framework.session import KedroSession

    from .reproduce import ReproduceError, compare_metrics, find_run_of_session

    client, recorded = _checked_run(project_path, run_id, force, env)
    run_env = env or recorded.env
    click.echo(
        f"Reproducing MLflow run {run_id}: pipelines {', '.join(recorded.pipelines)}, "
        f"env {run_env}, commit {recorded.commit[:12]}, load versions {recorded.load_versions}"
    )
    with KedroSession.create(
        project_path=project_path, env=run_env, runtime_params=recorded.params
    ) as session:
        kedro_run_id = session.session_id
        session.run(**recorded.session_run_arguments())

    try:
        new_run = find_run_of_session(client, client.get_run(run_id), kedro_run_id)
    except ReproduceError as error:
        raise click.ClickException(str(error)) from error
    comparisons = compare_metrics(recorded.metrics, new_run.data.metrics, rtol=rtol)
    equal = all(c.equal for c in comparisons)
    client.set_tag(new_run.info.run_id, "kedro.reproduces", run_id)
    client.set_tag(new_run.info.run_id, "kedro.reproduction", "equal" if equal else "differs")
    _report(run_id, new_run.info.run_id, comparisons, rtol)
    return equal


def _checked_run(project_path: Path, run_id: str, force: bool, env: str | None) -> tuple[Any, Any]:
    """Return (MLflow client, recorded run with parameters) once the run may be reproduced here."""
    from kedro.framework.session import KedroSession
    from mlflow import MlflowClient

    from . import provenance
    from .config import TrackingConfig
    from .hook import _tracking_conf
    from .reproduce import RecordedRun, ReproduceError, commit_refusal, input_digest_changes

    with KedroSession.create(project_path=project_path, env=env) as session:
        config = TrackingConfig.from_conf(_tracking_conf(session.load_context()))
    if not config.enabled:
        raise Refused(
            "experiment tracking is disabled (tracking.yml or KEDRO_TRACKING_ENABLED); the "
            "reproduction must be recorded to compare its metrics"
        )
    client = MlflowClient(tracking_uri=config.store_uri(project_path))
    current = provenance.git_state(project_path)
    try:
        recorded = RecordedRun.fetch(client, run_id)
        refusal = commit_refusal(recorded, current["git.commit"])
        if refusal and not force:
            raise Refused(f"{refusal}, or pass --force to run anyway.")
        recorded = recorded.with_parameters(client)
    except ReproduceError as error:
        raise Refused(str(error)) from error
    if refusal:
        _warn(f"--force: {refusal}")
    for flag, whose in ((recorded.dirty, "the recorded run's"), (current["git.dirty"], "this")):
        if flag == "true":
            _warn(f"{whose} working tree had uncommitted changes; the code may differ.")
    changed = input_digest_changes(recorded, _current_digests(project_path, recorded, env))
    if changed:
        _warn(f"unversioned input(s) changed since the run: {', '.join(changed)}")
    return client, recorded


def _report(run_id: str, new_run_id: str, comparisons: list[Any], rtol: float) -> None:
    from .reproduce import format_comparison

    differing = [c for c in comparisons if not c.equal]
    click.echo(f"\nMetrics of run {run_id} and of its reproduction {new_run_id}:")
    click.echo(format_comparison(comparisons))
    if not comparisons:
        click.secho("The run recorded no metrics: nothing to compare.", fg="yellow")
    elif differing:
        click.secho(
            f"{len(differing)} of {len(comparisons)} metrics differ (relative tolerance {rtol}).",
            fg="red",
        )
    else:
        click.secho(
            f"All {len(comparisons)} metrics equal (relative tolerance {rtol}).", fg="green"
        )


def _warn(message: str) -> None:
    click.secho(f"Warning: {message}", fg="yellow", err=True)


def _current_digests(project_path: Path, recorded: Any, env: str | None) -> dict[str, str]:
    """Return today's digests of the unversioned inputs the recorded run hashed."""
    from kedro.framework.session import KedroSession

    from . import provenance

    if not recorded.input_digests:
        return {}
    digests = {}
    with KedroSession.create(project_path=project_path, env=env or recorded.env) as session:
        catalog = session.load_context().catalog
        for name in recorded.input_digests:
            dataset = catalog.get(name) if name in catalog else None
            filepath = getattr(dataset, "_filepath", None)
            if filepath is not None and getattr(dataset, "_protocol", "file") == "file":
                digest = provenance.file_digest(Path(str(filepath)))
                if digest:
                    digests[name] = digest
    return digests
