"""What a SageMaker job is given: its settings (conf/*/sagemaker.yml), name, environment, channels.

Plain functions over the settings mapping, with no SDK import: the launcher builds requests from
them, and the SageMaker Pipeline compiler reuses them for its steps.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from .entrypoint import DATA_LAYERS, MODEL_LAYER

# The Kedro environment whose data moves through channels; any other (`aws`) uses the catalog's S3.
CHANNEL_ENV = "sagemaker"
_JOB_NAME_LIMIT = 63


class SettingsError(ValueError):
    """A setting in conf/*/sagemaker.yml (or its override) is missing or invalid."""


def merge_settings(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return `base` updated in depth with `overrides`; None in `overrides` means "keep base"."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_assignments(pairs: Iterable[str], what: str) -> dict[str, str]:
    """Return {key: value} for `key=value` strings given on the command line."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{what} {pair!r} must look like key=value")
        parsed[key.strip()] = value.strip()
    return parsed


def require(settings: Mapping[str, Any], *keys: str) -> None:
    """Raise SettingsError naming every empty setting among `keys`."""
    missing = [key for key in keys if not settings.get(key)]
    if missing:
        options = ", ".join("--" + key.replace("_", "-") for key in missing)
        raise SettingsError(
            f"set {', '.join(missing)} in conf/base/sagemaker.yml (or conf/local/sagemaker.yml)"
            f" or pass {options} on the command line"
        )


def job_name(base: str, *parts: str) -> str:
    """Return a unique, valid SageMaker job name: base-parts-timestamp, at most 63 characters."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    stem = "-".join([base, *parts])
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-")
    stem = stem[: _JOB_NAME_LIMIT - len(stamp) - 1].rstrip("-")
    return f"{stem}-{stamp}"


def job_tags(settings: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"Key": str(key), "Value": str(value)}
        for key, value in (settings.get("tags") or {}).items()
    ]


def container_environment(
    settings: Mapping[str, Any], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the job's container environment: the Kedro env plus `environment` from settings."""
    env = {"SAGEMAKER_KEDRO_ENV": str(settings.get("kedro_env") or CHANNEL_ENV)}
    env.update({str(k): str(v) for k, v in (settings.get("environment") or {}).items()})
    env.update(extra or {})
    return env


def network_settings(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the VPC arguments both job kinds take, or None when no subnet or group is set."""
    network = settings.get("network") or {}
    if not (network.get("subnets") or network.get("security_group_ids")):
        return None
    return {
        "subnets": list(network.get("subnets") or []),
        "security_group_ids": list(network.get("security_group_ids") or []),
        "enable_network_isolation": bool(network.get("enable_network_isolation")),
    }


def dataset_layers(
    dataset_names: Iterable[str], catalog_config: Mapping[str, Any], storage_root: str
) -> set[str]:
    """Return the data layers (folders under the storage root) that hold the named datasets.

    Datasets that are not in the catalog (memory datasets) or live outside the root are skipped.
    """
    root = PurePosixPath(str(storage_root))
    layers = set()
    for name in dataset_names:
        entry = catalog_config.get(name)
        if not isinstance(entry, Mapping) or "filepath" not in entry:
            continue
        path = PurePosixPath(str(entry["filepath"]))
        try:
            relative = path.relative_to(root)
        except ValueError:
            continue
        if len(relative.parts) > 1:
            layers.add(relative.parts[0])
    return layers


def _layer_order(layers: Iterable[str]) -> list[str]:
    known = [layer for layer in DATA_LAYERS if layer in layers]
    return known + sorted(set(layers) - set(known))


def derive_channels(
    pipeline_objects: Sequence[Any], catalog_config: Mapping[str, Any], storage_root: str
) -> tuple[list[str], list[str]]:
    """Return (input layers, output layers) of the combined pipelines.

    A dataset one pipeline produces and a later one reads (evaluation's test_predictions for
    explainability) stays inside the job: only the combination's free inputs come in.
    """
    produced = set().union(*(pipe.all_outputs() for pipe in pipeline_objects))
    needed = set().union(*(pipe.inputs() for pipe in pipeline_objects))
    free = {name for name in needed - produced if not name.startswith("params:")}
    free.discard("parameters")
    return (
        _layer_order(dataset_layers(free, catalog_config, storage_root)),
        _layer_order(dataset_layers(produced, catalog_config, storage_root)),
    )


def training_channels(input_layers: Iterable[str]) -> list[str]:
    """Return the channels of a training job: every input layer except the model's own."""
    return [layer for layer in input_layers if layer != MODEL_LAYER]
