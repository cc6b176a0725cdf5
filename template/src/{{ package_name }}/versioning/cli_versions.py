"""`kedro versions list|upload`: the versions of versioned datasets, locally or on S3.

    kedro versions list --env aws                 # every versioned dataset: count, newest
    kedro versions list model --env aws           # versions of `model`, newest first
    kedro versions list model test_set --env aws  # several datasets
    kedro versions list model --env aws --json    # the same for scripts
    kedro versions upload customers new.csv --env aws   # a local file as a new version

Load one of them with `kedro run --env aws --load-versions model:<version>`. A version whose run
did not complete (no run manifest, see run_manifest.py) is listed as INCOMPLETE: unpinned loads
skip it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

ENV_HELP = "Kedro environment whose catalog to read (default: KEDRO_ENV or local)."


def _resolved_catalog(project_path: Path, env: str | None) -> tuple[dict, dict, str]:
    """Return (catalog config, credentials, env name) as a `kedro run --env` would resolve them."""
    from kedro.config import MissingConfigException
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        context = session.load_context()
        conf_catalog = context.config_loader["catalog"]
        try:
            conf_creds = context.config_loader["credentials"]
        except MissingConfigException:
            conf_creds = {}
        return dict(conf_catalog), dict(conf_creds), context.env


def _size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size_bytes} B"


def _object_versions(ids_by_key: dict[str, tuple[str, ...]]) -> str:
    """Return the S3 object version column: one id, or a count for folders and overwrites."""
    if not ids_by_key:
        return "-"
    if len(ids_by_key) == 1:
        (ids,) = ids_by_key.values()
        return ids[0] if len(ids) == 1 else f"{ids[0]} (+{len(ids) - 1} older: overwritten!)"
    overwritten = [key for key, ids in ids_by_key.items() if len(ids) > 1]
    note = f", overwritten: {', '.join(overwritten)}" if overwritten else ""
    return f"{len(ids_by_key)} objects{note}"


def _run_status(version: str, complete: frozenset[str] | None) -> str:
    """Return complete or INCOMPLETE (its run failed or was stopped); "-" without manifests."""
    if complete is None:
        return "-"
    return "complete" if version in complete else "INCOMPLETE"


def _print_versions(
    name: str,
    location: Any,
    found: list,
    count: int,
    env_flag: str,
    *,
    complete: frozenset[str] | None,
) -> None:
    """Print one dataset's versions as a table, newest first."""
    click.echo(f"{name} ({location.dataset_type}) at {location.url()}")
    if not found:
        click.echo("No versions yet: `kedro run` writes the first one.")
        return
    click.echo(f"{count} version(s), newest first:")
    click.echo(
        f"  {'VERSION':<24}  {'RUN':<10}  {'SIZE':>10}  {'MODIFIED (UTC)':<19}  S3 OBJECT VERSION"
    )
    for item in found:
        modified = item.modified.strftime("%Y-%m-%d %H:%M:%S") if item.modified else "-"
        click.echo(
            f"  {item.version:<24}  {_run_status(item.version, complete):<10}  "
            f"{_size(item.size_bytes):>10}  {modified:<19}  "
            f"{_object_versions(item.s3_version_ids)}"
        )
    if any(_run_status(item.version, complete) == "INCOMPLETE" for item in found):
        click.echo(
            "INCOMPLETE: written by a run that failed or was stopped; kept for inspection, "
            "skipped by unpinned loads (load one on purpose with --load-versions)."
        )
    example = next(
        (item for item in found if _run_status(item.version, complete) != "INCOMPLETE"), found[0]
    )
    click.echo(f"Load one: kedro run{env_flag} --load-versions {name}:{example.version}")


def _complete_runs(
    conf_catalog: dict, conf_creds: dict, project_path: Path
) -> frozenset[str] | None:
    """Return the versions of complete runs; None if the catalog has no run manifest entry."""
    from .dataset_versions import locate, versioned_dataset_names
    from .run_manifest import MANIFEST_DATASET, complete_versions

    if MANIFEST_DATASET not in versioned_dataset_names(conf_catalog):
        return None
    return complete_versions(locate(MANIFEST_DATASET, conf_catalog, conf_creds, project_path))


@click.group(name="versions")
def versions() -> None:
    """List the versions of versioned datasets, or upload a file as a new version."""


@versions.command(name="list")
@click.argument("datasets", nargs=-1)
@click.option("--env", "-e", default=None, help=ENV_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--limit", "-n", type=int, default=None, help="Show only the newest N versions.")
@click.pass_obj
def list_versions_command(
    metadata: Any, datasets: tuple[str, ...], env: str | None, as_json: bool, limit: int | None
) -> None:
    """List the versions of each of DATASETS, newest first (all versioned datasets if none)."""
    from .dataset_versions import (
        DatasetVersionError,
        list_versions,
        locate,
        versioned_dataset_names,
    )

    project_path = Path(getattr(metadata, "project_path", None) or Path.cwd())
    conf_catalog, conf_creds, env_name = _resolved_catalog(project_path, env)
    names = list(datasets) or versioned_dataset_names(conf_catalog)
    try:
        complete = _complete_runs(conf_catalog, conf_creds, project_path)
    except (OSError, PermissionError) as exc:
        raise click.ClickException(f"cannot list the run manifests: {exc}") from exc
    report: dict[str, Any] = {}
    for name in names:
        try:
            location = locate(name, conf_catalog, conf_creds, project_path)
            found = list_versions(location)
        except DatasetVersionError as exc:
            raise click.ClickException(str(exc)) from exc
        except (OSError, PermissionError) as exc:
            raise click.ClickException(f"cannot list {name}: {exc}") from exc
        report[name] = (location, found[:limit] if limit else found, len(found))

    if as_json:
        click.echo(
            json.dumps(
                {
                    name: {
                        "url": location.url(),
                        "type": location.dataset_type,
                        "count": count,
                        "versions": [
                            {**item.as_dict(), "run": _run_status(item.version, complete)}
                            for item in found
                        ],
                    }
                    for name, (location, found, count) in report.items()
                },
                indent=2,
            )
        )
        return
    env_flag = f" --env {env}" if env else ""
    if not datasets:
        click.echo(f"Versioned datasets ({env_name or 'local'} environment):")
        width = max((len(name) for name in report), default=10)
        for name, (location, found, count) in report.items():
            newest = found[0].version if found else "(no versions yet)"
            if found and _run_status(newest, complete) == "INCOMPLETE":
                newest += " INCOMPLETE"
            click.echo(f"  {name:<{width}}  {count:>3}  {newest:<35}  {location.url()}")
        click.echo(f"Details: kedro versions list <dataset>{env_flag}")
        return
    for name, (location, found, count) in report.items():
        _print_versions(name, location, found, count, env_flag, complete=complete)


@versions.command(name="upload")
@click.argument("dataset")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", default=None, help=ENV_HELP)
@click.pass_obj
def upload_version_command(metadata: Any, dataset: str, source: Path, env: str | None) -> None:
    """Copy SOURCE (a local file or folder) into a new version of DATASET; print the version."""
    from .dataset_versions import (
        DatasetVersionError,
        locate,
        upload_version,
        versioned_dataset_names,
    )
    from .run_manifest import MANIFEST_DATASET, new_manifest, write_manifest

    project_path = Path(getattr(metadata, "project_path", None) or Path.cwd())
    conf_catalog, conf_creds, env_name = _resolved_catalog(project_path, env)
    try:
        location = locate(dataset, conf_catalog, conf_creds, project_path)
        version = upload_version(location, source.resolve())
        # The manifest, written after the upload, marks the new version complete for readers.
        if MANIFEST_DATASET in versioned_dataset_names(conf_catalog):
            manifests = locate(MANIFEST_DATASET, conf_catalog, conf_creds, project_path)
            write_manifest(manifests, new_manifest(version, "upload", [dataset], env=env_name))
    except DatasetVersionError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{dataset}: uploaded {source} as version {version}")
    click.echo(f"  {location.url(location.version_path(version))}")
