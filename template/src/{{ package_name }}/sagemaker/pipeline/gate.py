"""The promotion gate step: champion and challenger scored on one holdout, then the shared rule.

The rule itself is `registry.promotion.decide_promotion` (the local loop applies the same one).
This module finds the champion (the newest Approved model package of the group), loads its
model from its model.tar.gz, scores both models with the evaluation and bias code the pipelines
use, and writes what the condition step and the model package read. No Kedro import here: the
entrypoint loads the challenger and the holdout from the catalog and passes them in.
"""

from __future__ import annotations

import io
import json
import logging
import math
import pickle
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...registry.promotion import PromotionDecision, PromotionSettings, decide_promotion

logger = logging.getLogger(__name__)

# Metrics of classification_metrics() the gate compares (the others are not scalars to judge).
CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "accuracy", "f1", "log_loss")
# SageMaker Model Monitor's model-quality statistics names for the binary metrics we have.
_MODEL_QUALITY_NAMES = {
    "roc_auc": "auc",
    "pr_auc": "pr_auc",
    "accuracy": "accuracy",
    "f1": "f1",
    "log_loss": "log_loss",
}
MODEL_FILE = "model.pkl"
# decision.json's `mlflow_model_version` when nothing was recorded in MLflow (no tracking
# server, or not promoted): a model package's metadata value must be a string.
NOT_RECORDED = "none"


@dataclass(frozen=True)
class Champion:
    """The model the challenger must beat: its package ARN and the unpickled model."""

    model_package_arn: str
    model: Any


@dataclass(frozen=True)
class GateResult:
    """The decision and both models' holdout metrics (what decision.json holds)."""

    decision: PromotionDecision
    save_version: str
    challenger_metrics: Mapping[str, float]
    champion_metrics: Mapping[str, float] | None
    # The MLflow model version recording a promoted challenger ("none": nothing recorded);
    # the model package's CustomerMetadataProperties read it from decision.json.
    mlflow_model_version: str = NOT_RECORDED

    def to_dict(self) -> dict[str, Any]:
        """Return decision.json's content: the decision's fields plus the metrics compared."""
        data = self.decision.to_dict()
        data["save_version"] = self.save_version
        data["challenger_metrics"] = dict(self.challenger_metrics)
        data["champion_metrics"] = (
            None if self.champion_metrics is None else dict(self.champion_metrics)
        )
        data["mlflow_model_version"] = self.mlflow_model_version
        return data

    def to_json(self) -> str:
        """Return decision.json's text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def holdout_metrics(
    model: Any,
    holdout: Any,
    features: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    explainability: Mapping[str, Any],
) -> dict[str, float]:
    """Return a model's metrics on the holdout: classification metrics and bias differences.

    The shared registry function scores it (the same numbers `kedro retrain` compares); the gate
    keeps the classification metrics it can judge and every fairness difference.
    """
    from ...registry.holdout import holdout_metrics as score_holdout

    scored = score_holdout(model, holdout, features, evaluation, explainability["bias"])
    metrics = {name: scored.classification[name] for name in CLASSIFICATION_METRICS}
    return {**metrics, **scored.fairness}


def newest_approved_package(client: Any, group: str) -> dict[str, Any] | None:
    """Return DescribeModelPackage of the group's newest Approved package, or None if none."""
    from botocore.exceptions import ClientError

    try:
        page = client.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in {"ValidationException", "ResourceNotFound", "ResourceNotFoundException"}:
            logger.info("model package group %s not found: no champion (%s)", group, code)
            return None
        raise
    summaries = page.get("ModelPackageSummaryList") or []
    if not summaries:
        return None
    return client.describe_model_package(ModelPackageName=summaries[0]["ModelPackageArn"])


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"model data URL {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def load_packaged_model(s3_client: Any, model_data_url: str) -> Any:
    """Return the model pickled as model.pkl inside the model.tar.gz at `model_data_url`."""
    bucket, key = _split_s3(model_data_url)
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        member = next(
            (m for m in archive.getmembers() if m.isfile() and Path(m.name).name == MODEL_FILE),
            None,
        )
        if member is None:
            names = ", ".join(m.name for m in archive.getmembers())
            raise FileNotFoundError(f"{model_data_url} holds no {MODEL_FILE} (it has: {names})")
        data = archive.extractfile(member).read()
    # The archive is the project's own training output in the project's own bucket, the same
    # pickle Kedro's PickleDataset writes and loads for the `model` dataset.
    return pickle.loads(data)  # nosec B301


def find_champion(sagemaker_client: Any, s3_client: Any, group: str) -> Champion | None:
    """Return the champion (newest Approved package) with its model, or None when none exists."""
    package = newest_approved_package(sagemaker_client, group)
    if package is None:
        return None
    containers = package["InferenceSpecification"]["Containers"]
    url = containers[0]["ModelDataUrl"]
    logger.info("champion: %s (%s)", package["ModelPackageArn"], url)
    return Champion(package["ModelPackageArn"], load_packaged_model(s3_client, url))


def run_gate(
    challenger: Any,
    champion: Champion | None,
    holdout: Any,
    params: Mapping[str, Any],
    save_version: str,
) -> GateResult:
    """Return the gate's result: both models scored on `holdout`, judged by the shared rule.

    `params` is the Kedro parameters tree (features, evaluation, explainability, promotion).
    """
    settings = PromotionSettings.model_validate(params["promotion"])
    scored = {"features": params["features"], "evaluation": params["evaluation"]}
    explainability = params["explainability"]
    challenger_metrics = holdout_metrics(
        challenger, holdout, **scored, explainability=explainability
    )
    champion_metrics = (
        None
        if champion is None
        else holdout_metrics(champion.model, holdout, **scored, explainability=explainability)
    )
    decision = decide_promotion(
        challenger_metrics,
        champion_metrics,
        settings,
        challenger_version=save_version,
        champion_version=None if champion is None else champion.model_package_arn,
    )
    return GateResult(decision, save_version, challenger_metrics, champion_metrics)


def model_quality_statistics(metrics: Mapping[str, float]) -> dict[str, Any]:
    """Return the metrics in the model-quality statistics layout SageMaker's registry shows."""
    binary = {
        _MODEL_QUALITY_NAMES[name]: {
            "value": value if math.isfinite(value) else None,
            "standard_deviation": None,
        }
        for name, value in metrics.items()
        if name in _MODEL_QUALITY_NAMES
    }
    extra = {name: value for name, value in metrics.items() if name not in _MODEL_QUALITY_NAMES}
    return {"version": 0.0, "binary_classification_metrics": binary, "custom_metrics": extra}


def write_gate_outputs(
    folder: Path, result: GateResult, decision_file: str, quality_file: str
) -> None:
    """Write decision.json (the property file) and model_quality.json into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / decision_file).write_text(result.to_json() + "\n", encoding="utf-8")
    quality = model_quality_statistics(result.challenger_metrics)
    (folder / quality_file).write_text(json.dumps(quality, indent=2) + "\n", encoding="utf-8")
