"""The few lines a `kedro run` ends with: what ran, where its outputs are, its MLflow run.

Kedro-free: run_summary_hook.py collects the facts during the run and logs `RunSummary.text()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class SavedOutput:
    """One dataset the run saved and the file or folder it went to."""

    dataset: str
    location: str


@dataclass(frozen=True)
class RunSummary:
    """What a finished (or failed) run did, in the words a person reads at the end of the log."""

    status: str  # "finished" or "failed"
    pipelines: tuple[str, ...]
    env: str
    nodes_run: int
    nodes_total: int
    seconds: float
    save_version: str
    outputs: tuple[SavedOutput, ...]
    mlflow: Mapping[str, str] | None  # TrackedRun.to_dict() of the tracking hook, if tracked

    def to_dict(self) -> dict[str, object]:
        """Return the summary as a JSON-ready mapping."""
        return {
            "status": self.status,
            "pipelines": list(self.pipelines),
            "env": self.env,
            "nodes_run": self.nodes_run,
            "nodes_total": self.nodes_total,
            "seconds": round(self.seconds, 3),
            "save_version": self.save_version,
            "outputs": {output.dataset: output.location for output in self.outputs},
            "mlflow": dict(self.mlflow) if self.mlflow is not None else None,
        }

    def text(self) -> str:
        """Return the summary as a short block of lines: run, outputs by folder, MLflow run."""
        lines = [
            f"Run {self.status}: pipeline {', '.join(self.pipelines)} (env {self.env}), "
            f"{self.nodes_run} of {self.nodes_total} nodes in {self.seconds:.1f} s, "
            f"save version {self.save_version}"
        ]
        for folder, names in group_by_folder(self.outputs).items():
            lines.append(f"  {folder}/: {', '.join(names)}")
        if self.mlflow is None:
            lines.append("  MLflow: not recorded (tracking disabled or unavailable)")
        else:
            lines.append(
                f"  MLflow run {self.mlflow['run_id']} {self.mlflow['status']} in experiment "
                f"{self.mlflow['experiment_name']!r} ({self.mlflow['tracking_uri']})"
            )
        return "\n".join(lines)


def group_by_folder(outputs: Sequence[SavedOutput]) -> dict[str, list[str]]:
    """Return dataset names by the top folder of their location (`data/08_reporting`), in order.

    A versioned dataset's location is `<name.ext>/<version>/<name.ext>`: the folder above the
    dataset's own name is what a person browses.
    """
    folders: dict[str, list[str]] = {}
    for output in outputs:
        scheme, _, path = output.location.rpartition("://")
        parts = PurePosixPath(path).parts
        folder = "/".join(parts[:2] if len(parts) > 2 else parts[:-1]) or "."
        folders.setdefault(f"{scheme}://{folder}" if scheme else folder, []).append(output.dataset)
    return folders


def relative_location(path: str, project_path: str) -> str:
    """Return `path` relative to the project when it lies inside it, else unchanged (S3 URLs)."""
    if "://" in path:
        return path
    try:
        relative = os.path.relpath(path, project_path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative.replace(os.sep, "/")
