"""Run manifests: which versions of the versioned datasets come from a run that completed.

Every versioned output of a run is saved under the run's timestamp (`<path>/<ts>/<file>`), one
file at a time, as its node finishes. A run that fails or is stopped half-way leaves the outputs it
saved so far, and Kedro's "latest version" would pick them up on the next unpinned load. So a run
writes its manifest, `<storage root>/runs/run_manifest.json/<ts>/run_manifest.json`, LAST, after
every output is saved; `kedro versions upload` writes one after the upload. A version is complete
when a manifest with its timestamp exists; every unpinned load resolves to the newest complete
version (see run_manifest_hook.py). No manifest, no completion: a killed process (SIGKILL, lost
machine) is covered as well as an exception.
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
    kind: str  # "run" or "upload"
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


def write_manifest(location: DatasetLocation, manifest: RunManifest) -> str:
    """Write `manifest` as the version `manifest.version` of the manifest dataset; return its URL.

    Refuses to overwrite: a version is written once.
    """
    target = location.version_path(manifest.version)
    filesystem = location.filesystem
    if filesystem.exists(target):
        raise DatasetVersionError(f"{location.url(target)} already exists: nothing was written")
    if location.protocol == "file":
        filesystem.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    with filesystem.open(target, "w") as handle:
        json.dump(manifest.to_dict(), handle, indent=2)
    filesystem.invalidate_cache(location.path)
    return location.url(target)


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
