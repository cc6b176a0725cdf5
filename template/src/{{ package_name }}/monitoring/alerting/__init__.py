"""Alerting: turn the monitoring report into metric records and deliver the verdict to channels.

Channels (docs/alerting.md), each chosen in `monitoring.alerting`: the log and the JSON-lines
file (on by default), CloudWatch + SNS (`CloudWatchNotifier`), Datadog (`datadog`) and PagerDuty
(`pagerduty`). `channels.deliver` sends to every enabled channel with bounded retries and never
raises for a channel that is down; the run's exit status follows the verdict alone
(`verdict.exit_code`), set by the monitoring hook after every report is saved.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from ...core.monitoring.results import MonitoringReport
from ...core.monitoring.severity import at_least, level_rank

logger = logging.getLogger(__name__)

# CloudWatch accepts at most 1000 metrics per put_metric_data call; older limits were 20, and
# small batches keep each request far below the 1 MB payload limit.
CLOUDWATCH_BATCH = 20


@dataclass(frozen=True)
class MetricRecord:
    """One number to ship: name, value, unit and the dimensions that say what it measures."""

    name: str
    value: float
    unit: str = "None"
    dimensions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitoringAlert:
    """What every notifier receives: the verdict, why, and the metric records."""

    level: str
    summary: str
    reasons: Sequence[str]
    metrics: Sequence[MetricRecord]
    timestamp: datetime


@runtime_checkable
class Notifier(Protocol):
    """Anything that can deliver a monitoring alert."""

    def notify(self, alert: MonitoringAlert) -> None:
        """Deliver the alert; raise when it could not be delivered."""


class LoggingNotifier:
    """Log the verdict and its reasons: error for fail, warning for warn, info for ok."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self.log = log or logger

    def notify(self, alert: MonitoringAlert) -> None:
        """Log the verdict and one line per reason."""
        log_level = {"ok": logging.INFO, "warn": logging.WARNING}.get(alert.level, logging.ERROR)
        self.log.log(log_level, "Monitoring verdict %s: %s", alert.level.upper(), alert.summary)
        for reason in alert.reasons:
            self.log.log(log_level, "  - %s", reason)


class CloudWatchNotifier:
    """Put the metric records to CloudWatch; publish to SNS when the level is high enough."""

    def __init__(
        self,
        namespace: str,
        *,
        dimensions: Mapping[str, str] | None = None,
        sns_topic_arn: str | None = None,
        sns_min_level: str = "fail",
        region_name: str | None = None,
        endpoint_url: str | None = None,
        cloudwatch_client: Any = None,
        sns_client: Any = None,
        timeout_seconds: float | None = None,
    ) -> None:
        level_rank(sns_min_level)
        if not namespace or namespace.startswith("AWS/"):
            raise ValueError(
                "monitoring.alerting.cloudwatch.namespace must be set and must not "
                f"start with 'AWS/' (reserved); got {namespace!r}"
            )
        self.namespace = namespace
        self.dimensions = {str(k): str(v) for k, v in (dimensions or {}).items()}
        self.sns_topic_arn = sns_topic_arn
        self.sns_min_level = sns_min_level
        self._client_args = {"region_name": region_name, "endpoint_url": endpoint_url}
        self._cloudwatch = cloudwatch_client
        self._sns = sns_client
        self._timeout = timeout_seconds

    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        args = {k: v for k, v in self._client_args.items() if v}
        if self._timeout:
            # One try per call, bounded: alerting.delivery retries every channel the same way.
            args["config"] = Config(
                connect_timeout=self._timeout,
                read_timeout=self._timeout,
                retries={"total_max_attempts": 1},
            )
        return boto3.client(service, **args)

    def metric_data(self, alert: MonitoringAlert) -> list[dict[str, Any]]:
        """Return the MetricData entries that `notify` sends."""
        entries = []
        for record in alert.metrics:
            dims = {**self.dimensions, **record.dimensions}
            entries.append(
                {
                    "MetricName": record.name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()][:30],
                    "Timestamp": alert.timestamp,
                    "Value": float(record.value),
                    "Unit": record.unit,
                }
            )
        return entries

    def notify(self, alert: MonitoringAlert) -> None:
        """Send every metric (batches of 20) and, at or above `sns_min_level`, an SNS message."""
        cloudwatch = self._cloudwatch or self._client("cloudwatch")
        entries = self.metric_data(alert)
        for start in range(0, len(entries), CLOUDWATCH_BATCH):
            cloudwatch.put_metric_data(
                Namespace=self.namespace, MetricData=entries[start : start + CLOUDWATCH_BATCH]
            )
        logger.info(
            "Sent %d monitoring metrics to CloudWatch namespace %s", len(entries), self.namespace
        )
        if self.sns_topic_arn and at_least(alert.level, self.sns_min_level):
            sns = self._sns or self._client("sns")
            sns.publish(
                TopicArn=self.sns_topic_arn,
                Subject=f"Model monitoring {alert.level.upper()}"[:100],
                Message=alert_message(alert),
            )
            logger.info("Published the monitoring alert to %s", self.sns_topic_arn)


def alert_message(alert: MonitoringAlert) -> str:
    """Return the plain-text body of an alert: verdict, summary and one line per reason."""
    lines = [f"Monitoring verdict: {alert.level.upper()}", alert.summary, ""]
    lines += [f"- {reason}" for reason in alert.reasons]
    lines += ["", f"Time: {alert.timestamp.isoformat()}"]
    return "\n".join(lines)


def metric_records(report: MonitoringReport) -> list[MetricRecord]:
    """Return the numbers of a monitoring report as metric records (one per value)."""
    validation, drift = report.validation, report.data_drift
    records = [
        MetricRecord("MonitoringLevel", level_rank(report.level)),
        MetricRecord("ValidationFailedExpectations", validation.failed_expectations, "Count"),
        MetricRecord("DatasetDriftShare", drift.drift_share),
        MetricRecord("DriftedFeatures", len(drift.drifted_features), "Count"),
    ]
    for row in drift.features:
        dims = {"Feature": str(row["feature"])}
        records.append(
            MetricRecord("FeatureDrifted", 1.0 if row["drifted"] else 0.0, dimensions=dims)
        )
        # A feature that could not be compared has no effect sizes: those keys are absent.
        for key, name in (
            ("drift_score", "FeatureDriftScore"),
            ("psi", "FeaturePSI"),
            ("wasserstein_normed", "FeatureWassersteinNormed"),
            ("jensen_shannon", "FeatureJensenShannon"),
            ("p_value_adjusted", "FeaturePValueAdjusted"),
        ):
            if row.get(key) is not None:
                records.append(MetricRecord(name, float(row[key]), dimensions=dims))
    for row in report.model_drift.metrics:
        dims = {"Metric": row["metric"]}
        # None: the metric is missing on one side (the row says which), nothing to send.
        if row["current"] is not None:
            records.append(MetricRecord("ModelMetric", float(row["current"]), dimensions=dims))
        if row["drop"] is not None:
            records.append(MetricRecord("ModelMetricDrop", float(row["drop"]), dimensions=dims))
    for check_name, check in report.concept_drift.checks.items():
        for key, name in (
            ("spearman", "AttributionRankCorrelation"),
            ("ndcg", "AttributionNDCG"),
            ("importance_shift", "AttributionShift"),
        ):
            # Only checks that compared attributions have these scores.
            if check.get(key) is not None:
                records.append(
                    MetricRecord(name, float(check[key]), dimensions={"Check": check_name})
                )
    return records


def metric_records_to_jsonl(
    records: Iterable[MetricRecord], timestamp: datetime, level: str, tags: Mapping[str, str]
) -> str:
    """Return one JSON object per line: timestamp, metric, value, unit, level and tags."""
    stamp = timestamp.astimezone(UTC).isoformat()
    lines = [
        json.dumps(
            {
                "timestamp": stamp,
                "metric": r.name,
                "value": r.value,
                "unit": r.unit,
                "level": level,
                "tags": {**tags, **r.dimensions},
            },
            sort_keys=True,
        )
        for r in records
    ]
    return "\n".join(lines) + "\n" if lines else ""


def parse_timestamp(value: str) -> datetime:
    """Return the report's timestamp as an aware datetime (UTC when it names no zone)."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
