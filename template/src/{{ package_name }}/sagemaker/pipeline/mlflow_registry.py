"""The gate's promoted model recorded in the MLflow registry of the local loop (Kedro-free).

A SageMaker Pipeline execution whose gate decides "promote" records the challenger as a version
of the project's registered model, so `kedro model list|promote|rollback` see the same models
as the SageMaker model package group. The two are linked both ways: the MLflow version carries
the execution id (tag `sagemaker.pipeline_execution_id`) and the model package carries the
MLflow version (CustomerMetadataProperties `mlflow_model_version`, read from decision.json).

Aliases follow the same promotion rule as `kedro retrain`, with SageMaker's approval on top: a
promoted challenger becomes `champion` only when its package is registered `Approved`;
otherwise it becomes `challenger` until a person approves the package and runs
`kedro model promote VERSION --reason "approved package ..."`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...registry.aliases import CHALLENGER, CHAMPION, alias_version, move_alias
from ...registry.registration import (
    SAVE_VERSION_TAG,
    RegistrySettings,
    metric_tags,
    register_model,
    registry_client,
)
from ...tracking.config import TrackingConfig
from .execution_run import EXECUTION_TAG
from .gate import GateResult

logger = logging.getLogger(__name__)

APPROVED = "Approved"
APPROVAL_TAG = "sagemaker.model_approval_status"
LOAD_VERSIONS_TAG = "kedro.load_versions"


@dataclass(frozen=True)
class RegistryTarget:
    """Where and how the gate records: store URI, registered model, settings, audit log."""

    uri: str
    model_name: str
    settings: RegistrySettings
    audit_log: Path


@dataclass(frozen=True)
class GateRegistration:
    """The MLflow version an execution's promoted challenger was recorded as, and its alias."""

    model_name: str
    version: str
    alias: str
    # False when a retried gate found the version its first attempt recorded.
    created: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the registration as plain JSON-ready data."""
        return asdict(self)


def registry_uri(tracking: TrackingConfig, project_path: Path) -> str | None:
    """Return the MLflow store to record in, or None when no tracking server is configured.

    A local store inside a job's container is thrown away with the container, so only a
    configured `tracking_uri` (tracking.yml or MLFLOW_TRACKING_URI) counts.
    """
    if not tracking.enabled or tracking.is_local_store():
        return None
    return tracking.store_uri(project_path)


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def _find_version(client: Any, model_name: str, tag: str, value: str) -> Any | None:
    """Return the newest version of `model_name` whose tag `tag` is `value`, or None."""
    found = client.search_model_versions(
        f"name = {_quoted(model_name)} and tags.`{tag}` = {_quoted(value)}"
    )
    return max(found, key=lambda version: int(version.version)) if found else None


def gate_tags(
    result: GateResult, execution_id: str, approval_status: str, load_versions: Mapping[str, str]
) -> dict[str, str]:
    """Return the tags naming the execution, its data versions and the gate's decision."""
    decision = result.decision
    tags = {
        SAVE_VERSION_TAG: result.save_version,
        EXECUTION_TAG: execution_id,
        APPROVAL_TAG: approval_status,
        LOAD_VERSIONS_TAG: json.dumps(dict(load_versions), sort_keys=True),
        "promotion.promote": str(decision.promote).lower(),
        "promotion.reason": decision.reason[:5000],
    }
    tags.update(metric_tags({f"gate.{k}": v for k, v in result.challenger_metrics.items()}))
    return tags


def _tag(client: Any, model_name: str, existing: Any, tags: Mapping[str, str]) -> str:
    """Return the version of `existing` after adding the gate's tags to it."""
    version = str(existing.version)
    for key, value in tags.items():
        # The training step's provenance (its run's load versions) is the more complete one.
        if key == LOAD_VERSIONS_TAG and key in existing.tags:
            continue
        client.set_model_version_tag(model_name, version, key, value)
    return version


def record_gate_model(
    uri: str,
    model_name: str,
    challenger: Any,
    input_example: Any,
    result: GateResult,
    *,
    execution_id: str,
    approval_status: str,
    load_versions: Mapping[str, str],
    settings: RegistrySettings,
    audit_log: Path | None = None,
) -> GateRegistration | None:
    """Return the MLflow version recording the execution's promoted challenger, else None.

    SageMaker retries a failed step: a version already tagged with this execution is reused,
    never registered twice. The training step's own registration (same save version, no alias
    inside a pipeline step) is reused too, so one training run is one version.
    """
    client = registry_client(uri)
    tags = gate_tags(result, execution_id, approval_status, load_versions)
    existing = _find_version(client, model_name, EXECUTION_TAG, execution_id) or _find_version(
        client, model_name, SAVE_VERSION_TAG, result.save_version
    )
    if not result.decision.promote:
        if existing is not None:  # the training step registered it: say why it got no alias
            _tag(client, model_name, existing, tags)
        return None
    if existing is None:
        # No training run's evaluation metrics here: the holdout ones fill `kedro model list`.
        tags.update(metric_tags(result.challenger_metrics))
        version = register_model(
            uri, model_name, challenger, input_example, run_id=None, tags=tags, settings=settings
        ).version
    else:
        version = _tag(client, model_name, existing, tags)
    alias = CHAMPION if approval_status == APPROVED else CHALLENGER
    # A retried step finds the alias already moved (search results carry no aliases: ask).
    if alias_version(client, model_name, alias) != version:
        move_alias(
            client, model_name, alias, version,
            kind="promoted" if alias == CHAMPION else "registered",
            reason=(
                f"SageMaker pipeline execution {execution_id}: {result.decision.reason}"
                if alias == CHAMPION
                else f"SageMaker pipeline execution {execution_id} promoted it; its model "
                f"package is {approval_status}: approve it, then `kedro model promote {version}`"
            ),
            decision=f"sagemaker pipeline execution {execution_id}",
            audit_log=audit_log,
        )  # fmt: skip
    logger.info("MLflow: %s version %s is %s", model_name, version, alias)
    return GateRegistration(model_name, version, alias, existing is None)
