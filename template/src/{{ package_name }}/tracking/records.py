"""Kedro values turned into what MLflow accepts: flat parameter names, bounded values, tag text."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

# MLflow's limits (mlflow.utils.validation), kept here so this module imports without MLflow.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
TRUNCATION_MARK = "..."

_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.:/-]")

T = TypeVar("T")


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return nested parameters as one level, keys joined with `.` (`training.hyperparameters.x`).

    Lists stay whole values: their positions are not parameters of their own.
    """
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def value_text(value: Any) -> str:
    """Return a parameter value as MLflow shows it: strings as-is, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, sort_keys=True)


def safe_name(name: str) -> str:
    """Return `name` with characters MLflow (and the metric-line regexes) reject replaced by `_`."""
    cleaned = _INVALID_NAME_CHARS.sub("_", name)
    if posixpath.normpath(cleaned) != cleaned or cleaned.startswith(("/", ".")):
        # MLflow treats names as paths: `a//b`, `a/`, `../a` would collide or escape.
        cleaned = cleaned.replace("/", "_").lstrip(".") or "_"
    return cleaned


def bounded(text: str, limit: int) -> tuple[str, bool]:
    """Return (`text` cut to `limit` characters with a visible mark, whether it was cut)."""
    if len(text) <= limit:
        return text, False
    return text[: limit - len(TRUNCATION_MARK)] + TRUNCATION_MARK, True


def param_entries(params: Mapping[str, Any]) -> tuple[dict[str, str], list[str], list[str]]:
    """Return (MLflow params, names whose values were truncated, names skipped as too long).

    The full, untruncated parameters go to the run as the `kedro/parameters.json` artefact,
    which is what `reproduce` reads back.
    """
    entries: dict[str, str] = {}
    truncated: list[str] = []
    skipped: list[str] = []
    for raw_name, value in flatten_params(params).items():
        name = safe_name(raw_name)
        if len(name) > MAX_KEY:
            skipped.append(raw_name)
            continue
        text, was_cut = bounded(value_text(value), MAX_PARAM_VALUE)
        if was_cut:
            truncated.append(name)
        entries[name] = text
    return entries, truncated, skipped


def tag_text(value: Any) -> str:
    """Return a tag value (JSON for structures), cut to MLflow's tag length limit."""
    return bounded(value_text(value), MAX_TAG_VALUE)[0]


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most `size` items (MLflow's per-request limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
