"""`kedro model list|promote|rollback|history` and `kedro retrain`; cli.py adds both to `kedro`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

# Exit code when a command refuses (another retrain holds the lock, a race, nothing to roll back).
EXIT_REFUSED = 2
ENV_OPTION = click.option(
    "--env", "-e", default=None, help="Kedro environment (its tracking.yml names the registry)."
)


class Refused(click.ClickException):
    """A registry command that refused to change anything."""

    exit_code = EXIT_REFUSED


@dataclass(frozen=True)
class RegistryTarget:
    """Where the registry is and which registered model is this project's."""

    project_path: Path
    registry_uri: str
    model_name: str
    audit_log: Path


def registry_target(env: str | None) -> RegistryTarget:
    """Return the project's registry (tracking.yml's store) and registered model name."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.utils import find_kedro_project

    from .hook import AUDIT_LOG, registered_model_name, tracking_settings

    project_path = find_kedro_project(Path.cwd())
    if project_path is None:
        raise click.ClickException("run this inside the Kedro project (no [tool.kedro] found)")
    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        context = session.load_context()
        uri = tracking_settings(context).store_uri(Path(project_path))
        name = registered_model_name(context)
    return RegistryTarget(Path(project_path), uri, name, Path(project_path) / AUDIT_LOG)


@click.group(name="model")
def model_commands() -> None:
    """The model registry: versions, the champion, promotion and rollback (docs/closed-loop.md)."""


@model_commands.command(name="list")
@ENV_OPTION
@click.option(
    "--metric", "metrics", multiple=True, help="Metric columns (default: roc_auc, log_loss)."
)
def list_versions(env: str | None, metrics: tuple[str, ...]) -> None:
    """List every version of the project's model: aliases, metrics, age, save version."""
    from .champion import redact_uri
    from .registration import SAVE_VERSION_TAG, registry_client, tagged_metrics

    target = registry_target(env)
    client = registry_client(target.registry_uri)
    versions = client.search_model_versions(f"name = '{target.model_name}'")
    click.echo(f"Model {target.model_name!r} in {redact_uri(target.registry_uri)}")
    if not versions:
        click.echo("No versions yet: `kedro run` trains and registers the first (the champion).")
        return
    aliases = client.get_registered_model(target.model_name).aliases
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    shown = metrics or ("roc_auc", "log_loss")
    header = ["version", "aliases", *shown, "age", "save version", "run"]
    rows = []
    now = datetime.now(UTC)
    for version in sorted(versions, key=lambda v: int(v.version), reverse=True):
        values = tagged_metrics(version.tags)
        created = datetime.fromtimestamp(version.creation_timestamp / 1000, UTC)
        rows.append(
            [
                str(version.version),
                ",".join(sorted(by_version.get(str(version.version), []))) or "-",
                *(f"{values[m]:.4f}" if m in values else "-" for m in shown),
                _age(now - created),
                version.tags.get(SAVE_VERSION_TAG, "-"),
                (version.run_id or "-")[:12],
            ]
        )
    click.echo(_table(header, rows))


@model_commands.command()
@click.argument("version")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@ENV_OPTION
def promote(version: str, reason: str, env: str | None) -> None:
    """Make VERSION the champion (by hand; `kedro retrain` promotes through the gate)."""
    from .aliases import CHALLENGER, CHAMPION, AliasError, alias_version, clear_alias, move_alias
    from .registration import registry_client

    target = registry_target(env)
    client = registry_client(target.registry_uri)
    if alias_version(client, target.model_name, CHAMPION) == version:
        raise Refused(f"version {version} is already the champion")
    try:
        change = move_alias(
            client, target.model_name, CHAMPION, version, kind="manual", reason=reason,
            decision=f"manual promotion by `kedro model promote` ({sys.argv[0]})",
            audit_log=target.audit_log,
        )  # fmt: skip
    except AliasError as error:
        raise Refused(str(error)) from error
    except Exception as error:  # an unknown version: MLflow's own message names it
        raise Refused(f"cannot promote version {version}: {error}") from error
    if alias_version(client, target.model_name, CHALLENGER) == version:
        clear_alias(client, target.model_name, CHALLENGER)
    click.echo(_change_line(change))


@model_commands.command()
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@ENV_OPTION
def rollback(reason: str, env: str | None) -> None:
    """Move the champion back to the previous champion."""
    from .aliases import CHAMPION, alias_history, move_alias, previous_champion
    from .registration import registry_client

    target = registry_target(env)
    client = registry_client(target.registry_uri)
    restored = previous_champion(alias_history(client, target.model_name))
    if restored is None:
        raise Refused("there is no previous champion to roll back to")
    change = move_alias(
        client, target.model_name, CHAMPION, restored, kind="rolled_back", reason=reason,
        decision="rollback by `kedro model rollback`", audit_log=target.audit_log,
    )  # fmt: skip
    click.echo(_change_line(change))


@model_commands.command()
@ENV_OPTION
def history(env: str | None) -> None:
    """Print every alias change: when, who, from which version to which, why."""
    from .aliases import alias_history
    from .registration import registry_client

    target = registry_target(env)
    changes = alias_history(registry_client(target.registry_uri), target.model_name)
    if not changes:
        click.echo("No alias changes recorded.")
    for change in changes:
        click.echo(_change_line(change))


def _change_line(change: Any) -> str:
    return (
        f"{change.changed_at} {change.user}: {change.alias} "
        f"{change.previous_version or '-'} -> {change.version} ({change.kind}): {change.reason}"
    )


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)
