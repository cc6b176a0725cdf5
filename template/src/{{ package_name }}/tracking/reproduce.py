"""Run a recorded MLflow run again: same commit, pipelines, parameters and input versions.

The hook records everything needed as tags and two artefacts (kedro/parameters.json with the
full, untruncated parameters and kedro/run.json); this module reads them back, checks the working
tree is at the recorded commit, re-runs the pipelines in a new Kedro session (itself recorded as
a new MLflow run) and compares the metrics of both runs.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import provenance
from .hook import RUN_FILTERS
from .writer import PARAMETERS_ARTIFACT

if TYPE_CHECKING:
    from mlflow import MlflowClient

DEFAULT_PIPELINE = "__default__"


class ReproduceError(Exception):
    """The run cannot be reproduced as asked (unknown run, other commit, tracking disabled ...)."""


@dataclass(frozen=True)
class RecordedRun:
    """What a tracked run recorded about how it ran."""

    run_id: str
    commit: str
    dirty: str
    env: str
    pipelines: list[str]
    load_versions: dict[str, str]
    run_args: dict[str, Any]
    input_digests: dict[str, str]
    metrics: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_tags(
        cls,
        run_id: str,
        tags: Mapping[str, str],
        metrics: Mapping[str, float],
        params: Mapping[str, Any],
    ) -> RecordedRun:
        """Return the recorded run described by an MLflow run's tags, metrics and parameters."""
        if "kedro.run_id" not in tags:
            raise ReproduceError(
                f"MLflow run {run_id} was not recorded by this project's tracking hook "
                "(it has no kedro.run_id tag)"
            )
        pipelines = [p for p in tags.get("kedro.pipelines", DEFAULT_PIPELINE).split(",") if p]
        return cls(
            run_id=run_id,
            commit=tags.get("git.commit", provenance.UNKNOWN_COMMIT),
            dirty=tags.get("git.dirty", "unknown"),
            env=tags.get("kedro.env") or "local",
            pipelines=pipelines or [DEFAULT_PIPELINE],
            load_versions=_json_tag(tags, "kedro.load_versions"),
            run_args=_json_tag(tags, "kedro.run_args"),
            input_digests=_json_tag(tags, "kedro.input_digests"),
            metrics=dict(metrics),
            params=dict(params),
        )

    @classmethod
    def fetch(cls, client: MlflowClient, run_id: str) -> RecordedRun:
        """Return the recorded run `run_id` from the tracking store (tags and metrics)."""
        from mlflow.exceptions import MlflowException

        try:
            run = client.get_run(run_id)
        except MlflowException as error:
            raise ReproduceError(
                f"no MLflow run {run_id} in this tracking store: {error}"
            ) from error
        return cls.from_tags(run_id, run.data.tags, run.data.metrics, {})

    def with_parameters(self, client: MlflowClient) -> RecordedRun:
        """Return this run with its full parameters, read from its parameters artefact."""
        with tempfile.TemporaryDirectory(prefix="reproduce-") as folder:
            try:
                local = client.download_artifacts(self.run_id, PARAMETERS_ARTIFACT, folder)
            except Exception as error:
                raise ReproduceError(
                    f"run {self.run_id} has no {PARAMETERS_ARTIFACT} artefact, so its exact "
                    f"parameters are unknown: {error}"
                ) from error
            params = json.loads(Path(local).read_text(encoding="utf-8"))
        return replace(self, params=params)

    def session_run_arguments(self) -> dict[str, Any]:
        """Return the keyword arguments of `KedroSession.run` that repeat this run."""
        arguments: dict[str, Any] = {
            key: value for key, value in self.run_args.items() if key in RUN_FILTERS
        }
        if self.pipelines != [DEFAULT_PIPELINE]:
            arguments["pipeline_names"] = list(self.pipelines)
        if self.load_versions:
            arguments["load_versions"] = dict(self.load_versions)
        return arguments


def _json_tag(tags: Mapping[str, str], key: str) -> dict[str, Any]:
    try:
        value = json.loads(tags.get(key) or "{}")
    except json.JSONDecodeError as error:
        raise ReproduceError(f"tag {key} is not valid JSON (was it truncated?): {error}") from error
    return value if isinstance(value, dict) else {}


def commit_refusal(recorded: RecordedRun, current_commit: str) -> str | None:
    """Return why the working tree cannot reproduce `recorded`, or None when commits match."""
    if recorded.commit == provenance.UNKNOWN_COMMIT:
        return (
            f"run {recorded.run_id} did not record a git commit (the project was not a git "
            "repository), so this code cannot be shown to be the code that ran"
        )
    if current_commit == provenance.UNKNOWN_COMMIT:
        return "this project is not a git repository, so its commit cannot be compared"
    if current_commit != recorded.commit:
        return (
            f"run {recorded.run_id} ran at commit {recorded.commit[:12]}, the working tree is at "
            f"{current_commit[:12]}; run `git switch --detach {recorded.commit[:12]}` first"
        )
    return None


def input_digest_changes(recorded: RecordedRun, current: Mapping[str, str]) -> list[str]:
    """Return the unversioned inputs whose content differs from the recorded run's."""
    return sorted(
        name
        for name, digest in recorded.input_digests.items()
        if current.get(name) is not None and current[name] != digest
    )


@dataclass(frozen=True)
class MetricComparison:
    """One metric of the recorded run next to its reproduction."""

    name: str
    recorded: float | None
    reproduced: float | None
    equal: bool


def compare_metrics(
    recorded: Mapping[str, float], reproduced: Mapping[str, float], rtol: float = 0.0
) -> list[MetricComparison]:
    """Return every metric of either run, equal when both hold it and agree within `rtol`.

    NaN equals NaN (a metric that could not be computed, both times).
    """
    comparisons = []
    for name in sorted(set(recorded) | set(reproduced)):
        old, new = recorded.get(name), reproduced.get(name)
        if old is None or new is None:
            equal = False
        elif math.isnan(old) or math.isnan(new):
            equal = math.isnan(old) and math.isnan(new)
        else:
            equal = old == new or math.isclose(old, new, rel_tol=rtol, abs_tol=0.0)
        comparisons.append(MetricComparison(name, old, new, equal))
    return comparisons


def format_comparison(comparisons: list[MetricComparison]) -> str:
    """Return the comparison as an aligned text table (one metric per line)."""
    width = max((len(c.name) for c in comparisons), default=6)
    lines = [f"  {'metric':<{width}}  {'recorded':>22}  {'reproduced':>22}"]
    for c in comparisons:
        old, new = _number(c.recorded), _number(c.reproduced)
        verdict = "equal" if c.equal else "DIFFERS"
        lines.append(f"  {c.name:<{width}}  {old:>22}  {new:>22}  {verdict}")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "missing" if value is None else repr(value)


def find_run_of_session(client: MlflowClient, run: Any, kedro_run_id: str) -> Any:
    """Return the MLflow run that recorded Kedro session `kedro_run_id` in `run`'s experiment."""
    found = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`kedro.run_id` = '{kedro_run_id}'",
        max_results=1,
    )
    if not found:
        raise ReproduceError(
            f"the re-run (Kedro run {kedro_run_id}) was not recorded in experiment "
            f"{run.info.experiment_id}: is tracking enabled and pointed at the same store?"
        )
    return found[0]
