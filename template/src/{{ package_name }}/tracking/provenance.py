"""Where a run came from: git state, Python and package versions, the SageMaker job around it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

UNKNOWN_COMMIT = "unknown"
# Unversioned local inputs up to this size get a SHA-256 (bigger ones would slow every run).
DIGEST_LIMIT_BYTES = 256 * 1024 * 1024


def git_state(project_path: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return `git.commit` (full SHA, or "unknown") and `git.dirty` ("true"/"false"/"unknown").

    Dirty means tracked files changed or untracked files exist; git-ignored outputs (data/,
    mlflow.db) do not count. Where there is no repository (a Docker image: .git is not copied
    in), the commit comes from the GIT_COMMIT environment variable if the image was built with it.
    """
    environ = os.environ if environ is None else environ
    try:
        commit = _git(project_path, "rev-parse", "HEAD")
        status = _git(project_path, "status", "--porcelain", "--untracked-files=normal")
    except (OSError, subprocess.SubprocessError):
        return {
            "git.commit": environ.get("GIT_COMMIT") or UNKNOWN_COMMIT,
            "git.dirty": environ.get("GIT_DIRTY") or "unknown",
        }
    state = {"git.commit": commit, "git.dirty": str(bool(status)).lower()}
    try:
        state["git.branch"] = _git(project_path, "rev-parse", "--abbrev-ref", "HEAD")
    except subprocess.SubprocessError:
        pass
    return state


def _git(project_path: Path, *args: str) -> str:
    completed = subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607
        cwd=project_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return completed.stdout.strip()


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Return `python.version` and `package.<name>` for each installed distribution named."""
    versions = {"python.version": platform.python_version()}
    for name in names:
        try:
            versions[f"package.{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[f"package.{name}"] = "not installed"
    return versions


def sagemaker_job(root: Path | str | None = None, environ: Mapping[str, str] | None = None) -> dict:
    """Return `sagemaker.*` tags when running inside a SageMaker training or processing job.

    Training jobs: TRAINING_JOB_NAME / TRAINING_JOB_ARN and /opt/ml/input/config/
    {trainingjobconfig,resourceconfig}.json. Processing jobs: /opt/ml/config/
    {processingjobconfig,resourceconfig}.json. Outside SageMaker: an empty mapping.
    """
    environ = os.environ if environ is None else environ
    root = Path(root or environ.get("SAGEMAKER_ROOT", "/opt/ml"))
    tags: dict[str, str] = {}
    training = _read_json(root / "input" / "config" / "trainingjobconfig.json")
    processing = _read_json(root / "config" / "processingjobconfig.json")
    resources = _read_json(root / "input" / "config" / "resourceconfig.json") or _read_json(
        root / "config" / "resourceconfig.json"
    )
    if environ.get("TRAINING_JOB_NAME") or training:
        tags["sagemaker.job_type"] = "training"
        tags["sagemaker.job_name"] = environ.get("TRAINING_JOB_NAME") or str(
            training.get("TrainingJobName", "")
        )
        tags["sagemaker.job_arn"] = environ.get("TRAINING_JOB_ARN") or str(
            training.get("TrainingJobArn", "")
        )
        image = (training.get("AlgorithmSpecification") or {}).get("TrainingImage")
    elif processing:
        tags["sagemaker.job_type"] = "processing"
        tags["sagemaker.job_name"] = str(processing.get("ProcessingJobName", ""))
        tags["sagemaker.job_arn"] = str(processing.get("ProcessingJobArn", ""))
        image = (processing.get("AppSpecification") or {}).get("ImageUri")
    else:
        return {}
    image = environ.get("SAGEMAKER_IMAGE_URI") or image
    if image:
        tags["sagemaker.image_uri"] = str(image)
    if resources.get("current_instance_type"):
        tags["sagemaker.instance_type"] = str(resources["current_instance_type"])
    if resources.get("current_host"):
        tags["sagemaker.current_host"] = str(resources["current_host"])
    return {key: value for key, value in tags.items() if value}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def file_digest(path: Path, limit: int = DIGEST_LIMIT_BYTES) -> str | None:
    """Return `sha256:<hex>` of a local file or folder, or None if missing or over `limit`."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if not all(f.is_file() for f in files) or sum(f.stat().st_size for f in files) > limit:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode() if file != path else b"")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return f"sha256:{digest.hexdigest()}"
