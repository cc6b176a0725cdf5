"""One MLflow run per SageMaker Pipeline execution, with each step's run as its child.

Kedro-free; MLflow is imported by the caller's client. The project's tracking hook records each
step's Kedro run as usual (named and tagged with the save version). After the step, the
entrypoint makes sure the execution's parent run exists (found by its tag, else created by the
first step) and sets `mlflow.parentRunId` on the step's runs, so the execution is one run in
the MLflow UI with its steps nested under it. The gate logs its decision into the parent run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXECUTION_TAG = "sagemaker.pipeline_execution_id"
ROLE_TAG = "sagemaker.pipeline_run"
STEP_TAG = "sagemaker.pipeline_step"
PARENT_TAG = "mlflow.parentRunId"


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def execution_run_id(client: Any, experiment_id: str, execution_id: str, save_version: str) -> str:
    """Return the id of the execution's parent run, creating it when no step made it yet."""
    found = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.`{EXECUTION_TAG}` = {_quoted(execution_id)} and tags.`{ROLE_TAG}` = 'execution'"
        ),
        max_results=1,
    )
    if found:
        return found[0].info.run_id
    run = client.create_run(
        experiment_id,
        run_name=f"pipeline execution {execution_id}",
        tags={
            EXECUTION_TAG: execution_id,
            ROLE_TAG: "execution",
            "kedro.save_version": save_version,
        },
    )
    return run.info.run_id


def adopt_step_runs(
    client: Any, experiment_id: str, parent_id: str, save_version: str, step_name: str
) -> list[str]:
    """Return the step runs (this save version, no parent yet) now made children of the parent."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`kedro.save_version` = {_quoted(save_version)}",
        max_results=100,
    )
    adopted = []
    for run in runs:
        tags = run.data.tags
        if run.info.run_id == parent_id or PARENT_TAG in tags or ROLE_TAG in tags:
            continue
        client.set_tag(run.info.run_id, PARENT_TAG, parent_id)
        client.set_tag(run.info.run_id, STEP_TAG, step_name)
        client.set_tag(run.info.run_id, ROLE_TAG, "step")
        adopted.append(run.info.run_id)
    return adopted


def log_decision(client: Any, parent_id: str, decision: Mapping[str, Any]) -> None:
    """Log the gate's decision into the execution's run: tags, and both models' metrics."""
    client.set_tag(parent_id, "promotion.promote", str(bool(decision["promote"])).lower())
    client.set_tag(parent_id, "promotion.reason", str(decision["reason"])[:5000])
    for whose in ("challenger", "champion"):
        for name, value in (decision[f"{whose}_metrics"] or {}).items():
            client.log_metric(parent_id, f"gate.{whose}.{name}", float(value))
