"""The one format in which runs print metrics, and the SageMaker regexes that read it back.

A training job's `MetricDefinitions` are regexes over the job's log. Printing every metric as
`metric_name=value` on its own line and generating the regexes from the same names here keeps the
two from drifting apart.

The lines are for SageMaker's log scraper only: runs print them inside a SageMaker training job
(or when KEDRO_METRIC_LINES=true); elsewhere they are debug-level log records, and the run's
summary and MLflow hold the metrics.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

# true/false forces the lines on or off; unset means "print inside a SageMaker training job".
METRIC_LINES_ENV = "KEDRO_METRIC_LINES"
# What SageMaker sets in every training container (the training toolkit adds SM_TRAINING_ENV).
_TRAINING_JOB_ENV = ("TRAINING_JOB_NAME", "SM_TRAINING_ENV")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

# SageMaker metric names allow [A-Za-z0-9_.:/-]; a regex must hold exactly one capture group,
# and SageMaker reads the log line by line, so `^` pins the name to the start of a line and
# `val_roc_auc=` can never be read as `roc_auc=`.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:/-]{1,255}$")
_NUMBER = r"([-+]?[0-9]*[.]?[0-9]+[eE]?[-+]?[0-9]*)"


def format_metric_line(name: str, value: float) -> str:
    """Return the printed line for one metric: `name=value` with full float precision.

    Non-finite values print as `nan`/`inf`, which the regexes deliberately do not match: SageMaker
    would reject them as data points.
    """
    if not _NAME_PATTERN.match(name):
        raise ValueError(
            f"metric name {name!r} may contain only letters, digits and _ . : / - (max 255 chars)"
        )
    number = float(value)
    text = repr(number) if math.isfinite(number) else str(number)
    return f"{name}={text}"


def metric_regex(name: str) -> str:
    """Return the regex that captures `name`'s value from a line printed by format_metric_line."""
    return f"^{re.escape(name)}={_NUMBER}"


def metric_definitions(names: Iterable[str]) -> list[dict[str, str]]:
    """Return SageMaker `MetricDefinitions` (Name, Regex) for the given metric names."""
    return [{"Name": name, "Regex": metric_regex(name)} for name in sorted(set(names))]


def scalar_metrics(metrics: Mapping[str, object], prefix: str = "") -> dict[str, float]:
    """Return the numeric scalars of a metrics mapping, flattened with `prefix.`; others dropped."""
    scalars: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            scalars[name] = float(value)
        elif isinstance(value, Mapping):
            scalars.update(scalar_metrics(value, prefix=f"{name}."))
    return scalars


def metric_lines_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Return whether metrics are printed as lines: KEDRO_METRIC_LINES, else inside a training job.

    A training job is recognised by SageMaker's environment variables or its resource config
    file (`<SAGEMAKER_ROOT or /opt/ml>/input/config/resourceconfig.json`).
    """
    environ = os.environ if environ is None else environ
    explicit = environ.get(METRIC_LINES_ENV, "").strip().lower()
    if explicit:
        if explicit not in _TRUE | _FALSE:
            raise ValueError(
                f"{METRIC_LINES_ENV}={environ[METRIC_LINES_ENV]!r}: use one of "
                f"{sorted(_TRUE | _FALSE)}"
            )
        return explicit in _TRUE
    if any(environ.get(name) for name in _TRAINING_JOB_ENV):
        return True
    root = Path(environ.get("SAGEMAKER_ROOT") or "/opt/ml")
    return (root / "input" / "config" / "resourceconfig.json").is_file()
