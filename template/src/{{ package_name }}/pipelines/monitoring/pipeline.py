"""Monitoring: validate the current batch, detect data, model and concept drift, report, alert."""

from kedro.pipeline import Node, Pipeline

from ...core.features import prepare_features, validator_for
from .nodes import (
    assemble_monitoring_report,
    build_monitoring_metrics,
    decide_monitoring_verdict,
    derive_reference_expectations,
    detect_concept_drift,
    detect_data_drift,
    detect_model_drift,
    render_monitoring_report,
    summarise_monitoring_metrics,
    validate_current_batch,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Return the monitoring pipeline."""
    return Pipeline(
        [
            # The new batch goes through the same schema check and feature preparation as the
            # reference; labels are optional (performance is measured only when they exist, the
            # scores' drift stands in otherwise). The model judged is `monitored_model`: the
            # registry's champion, else the newest trained model.
            Node(
                validator_for("customers_current", require_target=False),
                inputs=["customers_current", "params:features"],
                outputs="validated_customers_current",
                name="validate_current_schema",
            ),
            Node(
                prepare_features,
                inputs=["validated_customers_current", "params:features"],
                outputs="current_set",
                name="prepare_current_features",
            ),
            Node(
                derive_reference_expectations,
                inputs=["train_set", "params:features", "params:monitoring.validation"],
                outputs="reference_expectation_suite",
                name="derive_reference_expectations",
            ),
            Node(
                validate_current_batch,
                inputs=["current_set", "reference_expectation_suite"],
                outputs="data_validation_result",
                name="validate_current_batch",
            ),
            Node(
                detect_data_drift,
                inputs=[
                    "train_set",
                    "current_set",
                    "params:features",
                    "params:monitoring.drift",
                    "params:monitoring.validation",
                ],
                outputs="data_drift_result",
                name="detect_data_drift",
            ),
            Node(
                detect_model_drift,
                inputs=[
                    "monitored_model",
                    "current_set",
                    "test_set",
                    "evaluation_metrics",
                    "params:features",
                    "params:monitoring.model_drift",
                    "params:monitoring.prediction_drift",
                ],
                outputs="model_drift_result",
                name="detect_model_drift",
            ),
            Node(
                detect_concept_drift,
                inputs=[
                    "monitored_model",
                    "train_set",
                    "current_set",
                    "params:features",
                    "data_drift_result",
                    "model_drift_result",
                    "params:monitoring.concept_drift",
                ],
                outputs="concept_drift_result",
                name="detect_concept_drift",
            ),
            Node(
                assemble_monitoring_report,
                inputs=[
                    "data_validation_result",
                    "data_drift_result",
                    "model_drift_result",
                    "concept_drift_result",
                ],
                outputs="monitoring_report",
                name="assemble_monitoring_report",
            ),
            Node(
                render_monitoring_report,
                inputs="monitoring_report",
                outputs="monitoring_report_html",
                name="render_monitoring_report",
            ),
            Node(
                build_monitoring_metrics,
                inputs=["monitoring_report", "params:monitoring.alerting"],
                outputs="monitoring_metrics",
                name="build_monitoring_metrics",
            ),
            Node(
                summarise_monitoring_metrics,
                inputs="monitoring_report",
                outputs="monitoring_summary",
                name="summarise_monitoring_metrics",
            ),
            # The verdict takes every output as input so that it comes last: MonitoringAlertHook
            # delivers it and sets the exit status only after the reports are saved (and tracked).
            Node(
                decide_monitoring_verdict,
                inputs=[
                    "monitoring_report",
                    "monitoring_metrics",
                    "monitoring_report_html",
                    "monitoring_summary",
                    "params:monitoring.alerting",
                ],
                outputs="monitoring_verdict",
                name="decide_monitoring_verdict",
            ),
        ]
    )
