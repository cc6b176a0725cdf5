"""What every step of one pipeline execution shares: the Kedro save version, and its run record.

Kedro-free. Each step gets the execution's start time from SageMaker (`Execution.StartDateTime`)
and turns it into the same Kedro save version, so all artefacts of one execution sit under one
version folder and `kedro run --load-versions model:<version>` loads any execution's model.
The version has Kedro's own timestamp format, so "the newest version" keeps sorting by time
next to versions written by plain `kedro run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Kedro's generate_timestamp(): 2026-11-30T08.30.05.123Z (milliseconds, UTC).
_KEDRO_VERSION_FORMAT = "%Y-%m-%dT%H.%M.%S.%f"


def save_version_from_start(start: str) -> str:
    """Return the Kedro save version of the execution that started at `start` (ISO 8601 text).

    SageMaker renders `Execution.StartDateTime` as ISO 8601 (`2026-11-30T08:30:05.123Z`); a
    timestamp without a zone is taken as UTC.
    """
    text = start.strip()
    if not text:
        raise ValueError("the execution start time is empty: cannot derive the save version")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"execution start {start!r} is not an ISO 8601 date-time: cannot derive the save "
            "version"
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    stamp = moment.astimezone(UTC).strftime(_KEDRO_VERSION_FORMAT)
    return stamp[:-3] + "Z"


def load_versions_for(datasets: list[str], save_version: str) -> dict[str, str]:
    """Return Kedro load versions that pin `datasets` to this execution's save version."""
    return dict.fromkeys(datasets, save_version)


def parse_load_versions(pairs: list[str]) -> dict[str, str]:
    """Return {dataset: version} for `dataset=version` texts; an empty version means newest."""
    versions = {}
    for pair in pairs:
        name, sep, version = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"load version {pair!r} must look like dataset=version")
        if version.strip():
            versions[name.strip()] = version.strip()
    return versions


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class StepRun:
    """What one step of an execution runs: its Kedro selection and the versions it uses."""

    name: str
    pipelines: tuple[str, ...]
    tags: tuple[str, ...]
    nodes: tuple[str, ...]
    execution_id: str
    save_version: str
    load_versions: Mapping[str, str]

    @classmethod
    def build(
        cls,
        *,
        name: str,
        pipelines: str,
        tags: str,
        nodes: str,
        execution_start: str,
        execution_id: str,
        pin_to_execution: Sequence[str],
        load_versions: Sequence[str],
    ) -> StepRun:
        """Return the step's run from the texts SageMaker passes (arguments or hyperparameters)."""
        save_version = save_version_from_start(execution_start)
        pinned = load_versions_for(list(pin_to_execution), save_version)
        given = parse_load_versions(list(load_versions))
        clash = sorted(set(pinned) & set(given))
        if clash:
            raise ValueError(f"{', '.join(clash)}: pinned to this execution and given a version")
        return cls(
            name=name,
            pipelines=_names(pipelines),
            tags=_names(tags),
            nodes=_names(nodes),
            execution_id=execution_id,
            save_version=save_version,
            load_versions={**pinned, **given},
        )


def step_run_from_hyperparameters(hyperparameters: Mapping[str, Any]) -> StepRun | None:
    """Return the step run a pipeline's training step describes, or None for a plain job."""
    if "_kedro_step" not in hyperparameters:
        return None
    text = {key: str(value) for key, value in hyperparameters.items()}
    return StepRun.build(
        name=text["_kedro_step"],
        pipelines=text["_kedro_pipelines"],
        tags=text.get("_kedro_tags", ""),  # absent: the step selects by pipelines or nodes
        nodes=text.get("_kedro_nodes", ""),
        execution_start=text["_kedro_execution_start"],
        execution_id=text["_kedro_execution_id"],
        pin_to_execution=_names(text["_kedro_pin_to_execution"]),
        load_versions=[text["_kedro_load_versions"]] if "_kedro_load_versions" in text else [],
    )
