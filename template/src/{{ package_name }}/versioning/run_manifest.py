"""Run manifests: which versions of the versioned datasets come from a run that completed.

Every versioned output of a run is saved under the run's timestamp (`<path>/<ts>/<file>`), one
file at a time, as its node finishes. A run that fails or is stopped half-way leaves the outputs it
saved so far, and Kedro's "latest version" would pick them up on the next unpinned load. So a run
writes its manifest, `<storage root>/runs/run_manifest.json/<ts>/run_manifest.json`, LAST, after
every output is saved; `kedro versions upload` writes one after the upload. A version is complete
when a manifest with its timestamp exists; every unpinned load resolves to the newest complete
version (see run_manifest_hook.py). No manifest, no completion: a killed process (SIGKILL, lost
machine) is covered as well as an exception.

A SageMaker Pipeline execution runs several Kedro steps under one save version. Each step writes
a part, `<ts>/steps/<step>.json`, which marks nothing complete; the promotion gate, which runs
only after every step succeeded, merges the parts into the execution's manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from .dataset_versions import DatasetLocation, DatasetVersion, DatasetVersionError, list_versions

# Catalog entry of the manifests (conf/base/catalog.yml); its versions are the complete runs.
MANIFEST_DATASET = "run_manifest"


class IncompleteRunError(DatasetVersionError):
    """A dataset has versions, but none of them comes from a run that completed."""


@dataclass(frozen=True)
class RunManifest:
    """What a completed run (or upload) saved: written last, so its presence means complete."""

    version: str
    kind: str  # "run", "upload" or "execution" (a SageMaker Pipeline's steps)
    completed_at: str
    datasets: dict[str, str] = field(default_factory=dict)
    pipeline: str | None = None
    env: str | None = None
    run_id: str | None = None
    # Set when the run raised after every output was saved (a failing monitoring verdict).
    error_after_outputs: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest as JSON-ready values."""
        return asdict(self)


def new_manifest(
    version: str,
    kind: str,
    datasets: Iterable[str],
    *,
    pipeline: str | None = None,
    env: str | None = None,
    run_id: str | None = None,
    error_after_outputs: str | None = None,
) -> RunManifest:
    """Return the manifest of `version`, listing every saved dataset under that version."""
    return RunManifest(
        version=version,
        kind=kind,
        completed_at=datetime.now(tz=UTC).isoformat(timespec="seconds"),
        datasets={name: version for name in sorted(set(datasets))},
        pipeline=pipeline,
        env=env,
        run_id=run_id,
        error_after_outputs=error_after_outputs,
    )


def _write_once(location: DatasetLocation, target: str, manifest: RunManifest) -> str:
    """Write `manifest` as JSON at `target` unless something is there already; return its URL."""
    filesystem = location.filesystem
    if filesystem.exists(target):
        raise DatasetVersionError(f"{location.url(target)} already exists: nothing was written")
    if location.protocol == "file":
        filesystem.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    with filesystem.open(target, "w") as handle:
        json.dump(manifest.to_dict(), handle, indent=2)
    return location.url(target)


def write_manifest(location: DatasetLocation, manifest: RunManifest) -> str:
    """Write `manifest` as the version `manifest.version` of the manifest dataset; return its URL.

    Refuses to overwrite: a version is written once.
    """
    url = _write_once(location, location.version_path(manifest.version), manifest)
    location.filesystem.invalidate_cache(location.path)
    return url


STEP_PARTS_FOLDER = "steps"


def _part_path(location: DatasetLocation, version: str, step: str) -> str:
    return f"{location.path}/{version}/{STEP_PARTS_FOLDER}/{step}.json"


def write_step_part(location: DatasetLocation, step: str, manifest: RunManifest) -> str:
    """Write one execution step's manifest as a part of version `manifest.version`; return its URL.

    A part marks nothing complete: list_versions only sees `<ts>/<basename>`. Refuses to
    overwrite, as write_manifest does.
    """
    if not step or "/" in step:
        raise DatasetVersionError(f"step name {step!r} cannot name a manifest part")
    return _write_once(location, _part_path(location, manifest.version, step), manifest)


def merge_step_parts(location: DatasetLocation, version: str, execution_id: str) -> RunManifest:
    """Return the manifest of an execution: every dataset its steps' parts list under `version`.

    Raises DatasetVersionError when no step wrote a part (no Kedro step of the execution ran).
    """
    folder = f"{location.path}/{version}/{STEP_PARTS_FOLDER}"
    filesystem = location.filesystem
    filesystem.invalidate_cache(folder)
    paths = sorted(filesystem.glob(f"{folder}/*.json"))
    if not paths:
        raise DatasetVersionError(
            f"no step of execution {execution_id} wrote a manifest part under "
            f"{location.url(folder)}: its outputs cannot be marked complete"
        )
    datasets: set[str] = set()
    pipelines: list[str] = []
    env = None
    for path in paths:
        with filesystem.open(path) as handle:
            part = json.load(handle)
        datasets.update(part.get("datasets", {}))
        if part.get("pipeline"):
            pipelines.append(part["pipeline"])
        env = part.get("env") or env
    return new_manifest(
        version, "execution", datasets, pipeline="+".join(pipelines), env=env, run_id=execution_id
    )


def complete_versions(manifests: DatasetLocation) -> frozenset[str]:
    """Return the timestamps of every complete run (one listing of the manifest folder)."""
    return frozenset(item.version for item in list_versions(manifests))


@dataclass(frozen=True)
class Resolution:
    """Which version an unpinned load of one dataset gets, and the newer ones it skips."""

    dataset: str
    version: str
    skipped_incomplete: tuple[str, ...]


def newest_complete(
    dataset: str,
    versions: list[DatasetVersion],
    complete: frozenset[str],
    env: str | None = None,
) -> Resolution | None:
    """Return the newest version of `dataset` saved by a complete run; None if it has no versions.

    Raises IncompleteRunError (naming the incomplete versions and the ways out) when every
    version comes from a run that did not complete.
    """
    if not versions:
        return None
    skipped = []
    for item in versions:  # newest first
        if item.version in complete:
            return Resolution(dataset, item.version, tuple(skipped))
        skipped.append(item.version)
    env_flag = f" --env {env}" if env else ""
    shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
    raise IncompleteRunError(
        f"'{dataset}' has {len(skipped)} version(s) ({shown}) but none from a run that completed "
        "(no run manifest with its timestamp): the runs that wrote them failed or were stopped. "
        f"Rerun the pipeline that writes '{dataset}' (`kedro run{env_flag}`), upload a file "
        f"with `kedro versions upload {dataset} <file>{env_flag}`, or load one of them on "
        f"purpose with `--load-versions {dataset}:{skipped[0]}`."
    )
