"""Nodes of the monitoring pipeline: thin wrappers that read parameters and call the modules.

core/monitoring/ does the work (expectations: GX suite and validation; data_drift,
prediction_drift, model_drift, concept_drift; drift_report: JSON and HTML report; results: the
typed results), and monitoring/alerting/ turns the report into metric records (JSON lines).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ...core.features import feature_spec
from ...core.monitoring import concept_drift, model_drift
from ...core.monitoring.data_drift import compute_data_drift
from ...core.monitoring.drift_report import build_monitoring_report, render_html_report
from ...core.monitoring.expectations import derive_expectation_suite, validate_batch
from ...core.monitoring.prediction_drift import compute_prediction_drift
from ...core.monitoring.results import (
    ConceptDrift,
    DataDrift,
    ModelDrift,
    MonitoringReport,
    MonitoringVerdict,
    ValidationResult,
)
from ...core.parameters import (
    AlertingSettings,
    ConceptDriftSettings,
    DataDriftSettings,
    DataValidationSettings,
    ModelDriftSettings,
    PredictionDriftSettings,
    section,
)
from ...core.serialise import json_ready
from ...monitoring import alerting
from ...monitoring.alerting.verdict import exit_code

logger = logging.getLogger(__name__)


def _validation(validation: Mapping[str, Any]) -> DataValidationSettings:
    return section(DataValidationSettings, validation, "monitoring.validation")


def derive_reference_expectations(
    train_set: pd.DataFrame, features: dict[str, Any], validation: dict[str, Any]
) -> dict[str, Any]:
    """Return the GX expectation suite derived from the training data."""
    spec = feature_spec(features)
    suite = derive_expectation_suite(
        train_set,
        numeric=list(spec.numeric),
        categorical=list(spec.categorical),
        settings=_validation(validation),
        unique_columns=[spec.id_column] if spec.id_column else [],
        # Labels are optional in a batch: present, they are checked; absent, the batch is valid.
        optional_columns=[spec.target],
        name="train_set",
    )
    logger.info(
        "Derived %d expectations from %d reference rows", len(suite["expectations"]), len(train_set)
    )
    return json_ready(suite)


def validate_current_batch(current_set: pd.DataFrame, suite: dict[str, Any]) -> dict[str, Any]:
    """Return the validation of the current batch against the reference suite."""
    result = validate_batch(current_set, suite)
    for failure in result.failures:
        log = logger.error if failure["level"] == "fail" else logger.warning
        log("Validation: %s [%s]", failure["message"], failure["expectation"])
    return result.to_dict()


def detect_data_drift(
    train_set: pd.DataFrame,
    current_set: pd.DataFrame,
    features: dict[str, Any],
    drift: dict[str, Any],
    validation: dict[str, Any],
) -> dict[str, Any]:
    """Return per-feature and batch-level data drift of the current batch against train_set."""
    spec = feature_spec(features)
    result = compute_data_drift(
        train_set,
        current_set,
        numeric=list(spec.numeric),
        categorical=list(spec.categorical),
        settings=section(DataDriftSettings, drift, "monitoring.drift"),
        min_rows=_validation(validation).min_rows,
    )
    logger.info("Data drift %s: %s", result.level.upper(), result.summary)
    return result.to_dict()


def detect_model_drift(  # noqa: PLR0917 - Kedro passes node inputs by position
    monitored_model: Any,
    current_set: pd.DataFrame,
    test_set: pd.DataFrame,
    evaluation_metrics: dict[str, Any],
    features: dict[str, Any],
    model_drift_settings: dict[str, Any],
    prediction_drift_settings: dict[str, Any],
) -> dict[str, Any]:
    """Return the model drift section: metrics on a labelled batch, else prediction drift.

    The model is the registry's champion (or, without one, the newest trained model: the
    section says so). Its scores on the batch are compared with its scores on the test set.
    """
    from ...core.scoring import predict_scores

    model = monitored_model.model
    spec = feature_spec(features)
    result = model_drift.compute_model_drift(
        model,
        current_set,
        evaluation_metrics,
        spec,
        section(ModelDriftSettings, model_drift_settings, "monitoring.model_drift"),
    )
    columns = list(spec.model_columns)
    drift = compute_prediction_drift(
        predict_scores(model, test_set, columns),
        predict_scores(model, current_set, columns),
        section(PredictionDriftSettings, prediction_drift_settings, "monitoring.prediction_drift"),
    )
    result = model_drift.with_prediction_drift(result, drift, monitored_model.to_dict())
    logger.info("Model drift %s: %s", result.level.upper(), result.summary)
    return result.to_dict()


def detect_concept_drift(  # noqa: PLR0917 - Kedro passes node inputs by position
    monitored_model: Any,
    train_set: pd.DataFrame,
    current_set: pd.DataFrame,
    features: dict[str, Any],
    data_drift: dict[str, Any],
    model_drift: dict[str, Any],
    concept_drift_settings: dict[str, Any],
) -> dict[str, Any]:
    """Return the concept drift checks: performance against input drift, attribution drift."""
    result = concept_drift.compute_concept_drift(
        monitored_model.model,
        train_set,
        current_set,
        feature_spec(features),
        data_drift=DataDrift.from_dict(data_drift),
        model_drift=ModelDrift.from_dict(model_drift),
        settings=section(ConceptDriftSettings, concept_drift_settings, "monitoring.concept_drift"),
    )
    logger.info("Concept drift %s: %s", result.level.upper(), result.summary)
    return result.to_dict()


def assemble_monitoring_report(
    validation: dict[str, Any],
    data_drift: dict[str, Any],
    model_drift: dict[str, Any],
    concept_drift: dict[str, Any],
) -> dict[str, Any]:
    """Return the monitoring report (JSON): overall verdict, reasons and every section."""
    return build_monitoring_report(
        ValidationResult.from_dict(validation),
        DataDrift.from_dict(data_drift),
        ModelDrift.from_dict(model_drift),
        ConceptDrift.from_dict(concept_drift),
    ).to_dict()


def render_monitoring_report(monitoring_report: dict[str, Any]) -> str:
    """Return the self-contained HTML page of the monitoring report."""
    return render_html_report(MonitoringReport.from_dict(monitoring_report))


def build_monitoring_metrics(
    monitoring_report: dict[str, Any], alerting_settings: dict[str, Any]
) -> str:
    """Return the report's metrics as JSON lines (appended to monitoring_metrics by the catalog)."""
    report = MonitoringReport.from_dict(monitoring_report)
    settings = AlertingSettings.from_params(alerting_settings)
    if not settings.jsonl.enabled:
        return ""
    return alerting.metric_records_to_jsonl(
        alerting.metric_records(report),
        alerting.parse_timestamp(report.generated_at),
        report.level,
        settings.cloudwatch.dimensions,
    )


def summarise_monitoring_metrics(monitoring_report: dict[str, Any]) -> dict[str, float]:
    """Return the report's metric records as one flat {name: value} mapping.

    A record with dimensions is named `<metric>/<value of each dimension>`
    (`FeaturePSI/age`): the names the experiment tracker logs and the run prints as lines.
    """
    summary: dict[str, float] = {}
    for record in alerting.metric_records(MonitoringReport.from_dict(monitoring_report)):
        name = "/".join([record.name, *(str(v) for v in record.dimensions.values())])
        if math.isfinite(float(record.value)):
            summary[name] = float(record.value)
    return summary


def decide_monitoring_verdict(
    monitoring_report: dict[str, Any],
    monitoring_metrics: str,
    monitoring_report_html: str,
    monitoring_summary: dict[str, float],
    alerting_settings: dict[str, Any],
) -> dict[str, Any]:
    """Return the verdict and the exit status it maps to; MonitoringAlertHook delivers it.

    Takes the saved metrics, summary and HTML page as inputs only so that Kedro runs this node
    after they are written: a failing verdict never loses its report.
    """
    del monitoring_metrics, monitoring_report_html, monitoring_summary
    level = MonitoringReport.from_dict(monitoring_report).level
    settings = AlertingSettings.from_params(alerting_settings)
    return MonitoringVerdict(
        level=level,
        exit_status=exit_code(level, settings.exit_nonzero_on),
        exit_nonzero_on=settings.exit_nonzero_on,
    ).to_dict()
