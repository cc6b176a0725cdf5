"""The tracking settings: conf/<env>/tracking.yml, overridden by environment variables."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Environment variables that override tracking.yml (the MLflow ones are MLflow's own names).
ENABLED_ENV = "KEDRO_TRACKING_ENABLED"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"

# The embedded store: one SQLite file and an artefact folder in the project (both git- and
# docker-ignored). MLflow 3 refuses its old ./mlruns file store unless told otherwise.
LOCAL_DATABASE = "mlflow.db"
LOCAL_ARTIFACTS = "mlruns"

# `scheme://user:password@host`: the user-info of any URL inside a text (log line, error).
_USER_INFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]+@")
REDACTED = "***"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

DEFAULT_PACKAGES = (
    "kedro",
    "kedro-datasets",
    "mlflow",
    "scikit-learn",
    "pandas",
    "numpy",
)


def redact(text: str) -> str:
    """Return `text` with the user-info (`user:password@`) of every URL in it replaced by ***.

    Tracking URIs may carry credentials (`http://user:pass@host`); whatever prints a URI or an
    error that may quote one goes through this first.
    """
    return _USER_INFO.sub(rf"\g<scheme>{REDACTED}@", str(text))


def parse_flag(text: str, name: str) -> bool:
    """Return the boolean an environment variable spells (`true`, `0`, `off`, ...)."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={text!r}: use one of {sorted(_TRUE | _FALSE)}")


@dataclass(frozen=True)
class TrackingConfig:
    """What a run records and where: tracking.yml's `tracking:` block, after overrides."""

    enabled: bool = True
    tracking_uri: str | None = None
    experiment_name: str = "default"
    # dataset name -> prefix of its metric names ("" keeps the JSON keys as they are).
    metric_datasets: Mapping[str, str] = field(default_factory=lambda: {"evaluation_metrics": ""})
    artifact_include: tuple[str, ...] = ("*",)
    artifact_exclude: tuple[str, ...] = ()
    max_artifact_mb: float = 100.0
    packages: tuple[str, ...] = DEFAULT_PACKAGES

    @classmethod
    def from_conf(
        cls, conf: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
    ) -> TrackingConfig:
        """Return the settings of a `tracking:` mapping, with environment variables on top."""
        environ = os.environ if environ is None else environ
        conf = dict(conf or {})
        unknown = set(conf) - {
            "enabled",
            "tracking_uri",
            "experiment_name",
            "metric_datasets",
            "artifacts",
            "packages",
        }
        if unknown:
            raise ValueError(f"tracking.yml: unknown key(s) {sorted(unknown)}")
        artifacts = dict(conf.get("artifacts") or {})
        metric_datasets = conf.get("metric_datasets")
        if metric_datasets is None:
            metric_datasets = {"evaluation_metrics": ""}
        if not isinstance(metric_datasets, Mapping):
            raise ValueError("tracking.yml: metric_datasets maps dataset names to name prefixes")
        enabled = bool(conf.get("enabled", True))
        if environ.get(ENABLED_ENV, "").strip():
            enabled = parse_flag(environ[ENABLED_ENV], ENABLED_ENV)
        return cls(
            enabled=enabled,
            tracking_uri=environ.get(TRACKING_URI_ENV) or conf.get("tracking_uri") or None,
            experiment_name=environ.get(EXPERIMENT_ENV) or conf.get("experiment_name") or "default",
            metric_datasets={str(k): str(v or "") for k, v in metric_datasets.items()},
            artifact_include=tuple(artifacts.get("include", ("*",)) or ()),
            artifact_exclude=tuple(artifacts.get("exclude") or ()),
            max_artifact_mb=float(artifacts.get("max_file_mb", 100.0)),
            packages=tuple(conf.get("packages") or DEFAULT_PACKAGES),
        )

    def store_uri(self, project_path: Path) -> str:
        """Return the tracking URI: the configured one, else the project's SQLite store."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{(project_path / LOCAL_DATABASE).resolve().as_posix()}"

    def display_uri(self, project_path: Path) -> str:
        """Return the tracking URI to show in logs: credentials redacted, local store by name."""
        if self.is_local_store():
            return f"local store {LOCAL_DATABASE}"
        return redact(self.store_uri(project_path))

    def is_local_store(self) -> bool:
        """Return whether runs go to the embedded store inside the project."""
        return not self.tracking_uri

    def logs_artifact(self, dataset_name: str) -> bool:
        """Return whether the files `dataset_name` saves become artefacts of the run."""
        return _matches(dataset_name, self.artifact_include) and not _matches(
            dataset_name, self.artifact_exclude
        )


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
