"""`kedro monitoring monitors apply [--dry-run]`: the Datadog monitors of datadog_monitors.yml.

    kedro monitoring monitors apply --dry-run      # print what would be created or updated
    kedro monitoring monitors apply --env prod     # create or update them (DD_API_KEY, DD_APP_KEY)

Monitors are matched by a tag, so a second apply updates them and creates nothing
(docs/alerting.md). The monitoring code is imported only when a command runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

ENV_HELP = "Kedro environment whose parameters, monitors and credentials to read (default: local)."


def _project_conf(project_path: Path, env: str | None) -> tuple[str, dict, dict, dict]:
    """Return (package name, parameters, datadog_monitors conf, credentials) of `env`."""
    from kedro.config import MissingConfigException
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    metadata = bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        context = session.load_context()
        try:
            credentials = dict(context.config_loader["credentials"])
        except MissingConfigException:
            credentials = {}
        monitors = dict(context.config_loader["datadog_monitors"])
        return metadata.package_name, dict(context.params), monitors, credentials


@click.group(name="monitoring")
def monitoring_commands() -> None:
    """Model monitoring: Datadog monitors as code (docs/alerting.md)."""


@monitoring_commands.group(name="monitors")
def monitors_group() -> None:
    """Datadog monitors of conf/<env>/datadog_monitors.yml."""


@monitors_group.command(name="apply")
@click.option("--dry-run", is_flag=True, help="Print the plan and the bodies; change nothing.")
@click.option("--env", "-e", default=None, help=ENV_HELP)
def apply(dry_run: bool, env: str | None) -> None:
    """Create the monitors, or update the ones created before (matched by their tag).

    Needs DD_API_KEY and DD_APP_KEY (or `datadog:` api_key / app_key in credentials.yml); a dry
    run without them prints every monitor as "create" without asking Datadog.
    """
    from .alerting.datadog import DatadogKeys
    from .alerting.delivery import DeliveryFailed, redact
    from .alerting.monitors import (
        apply_plan,
        existing_monitors,
        plan_monitors,
        render_monitors,
    )
    from .alerting.settings import AlertingSettings

    package, params, conf, credentials = _project_conf(Path.cwd(), env)
    try:
        settings = AlertingSettings.from_params(params["monitoring"]["alerting"])
        bodies = render_monitors(conf, package, params)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    keys = DatadogKeys.resolve(settings.datadog, credentials, os.environ)
    url = keys.api_url(settings.datadog)
    has_keys = bool(keys.api_key and keys.app_key)
    if not has_keys and not dry_run:
        raise click.ClickException(
            "Datadog monitors need an API key and an application key: set DD_API_KEY and "
            "DD_APP_KEY, or datadog.api_key and datadog.app_key in conf/local/credentials.yml"
        )
    try:
        existing = existing_monitors(keys, url, settings) if has_keys else {}
        plan = plan_monitors(bodies, existing)
        if not dry_run:
            plan = apply_plan(plan, keys, url, settings)
    except DeliveryFailed as failure:
        raise click.ClickException(
            redact(f"Datadog monitors: {failure}", (keys.api_key, keys.app_key))
        ) from None
    _report(plan, dry_run, url, has_keys)


def _report(plan: list[Any], dry_run: bool, url: str, checked: bool) -> None:
    for item in plan:
        target = f" {item.monitor_id}" if item.monitor_id is not None else ""
        verb = f"would {item.action}" if dry_run else f"{item.action}d"
        click.echo(f"{verb}{target}: {item.key} - {item.body['name']}")
        if dry_run:
            click.echo(json.dumps(item.body, indent=2, sort_keys=True))
    created = sum(1 for item in plan if item.action == "create")
    updated = len(plan) - created
    if not dry_run:
        click.echo(f"Done: created {created}, updated {updated} on {url}")
        return
    note = "" if checked else " (no keys: existing monitors not checked)"
    click.echo(f"Dry run: {created} to create, {updated} to update on {url}{note}")
