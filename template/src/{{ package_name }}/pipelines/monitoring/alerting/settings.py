"""The `monitoring.alerting` parameters section as a strict model; the defaults live in the YAML.

A misspelt key, a string where a number belongs or a missing key fails at start-up and names the
key (`ConfigDict(strict=True, extra="forbid")`), so a typo never switches a channel off silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Level = Literal["ok", "warn", "fail"]


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class RetrySettings(_Section):
    """How a channel that is down, slow or failing is retried: bounded in count and in time."""

    attempts: int = Field(ge=1, le=10)
    timeout_seconds: float = Field(gt=0, le=120)
    backoff_seconds: float = Field(ge=0, le=60)
    max_backoff_seconds: float = Field(ge=0, le=300)
    total_seconds: float = Field(gt=0, le=900)


class LogSettings(_Section):
    """The verdict and its reasons in the run's log."""

    enabled: bool


class JsonLinesSettings(_Section):
    """Metric records appended as JSON lines to the catalog's `monitoring_metrics`."""

    enabled: bool


class CloudWatchSettings(_Section):
    """CloudWatch metrics and an optional SNS message."""

    enabled: bool
    namespace: str
    region_name: str | None
    endpoint_url: str | None
    dimensions: dict[str, str]
    sns_topic_arn: str | None
    sns_min_level: Level


class DatadogSettings(_Section):
    """Datadog metric series and one event per verdict (site and keys: docs/alerting.md)."""

    enabled: bool
    # null: DD_SITE, then `datadog.site` in conf/<env>/credentials.yml, then datadoghq.com.
    site: str | None
    # null: https://api.<site>. A proxy, or the loopback server the tests start.
    api_url: str | None
    metric_prefix: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9_.]*$")
    event: bool
    tags: dict[str, str]


class PagerDutySettings(_Section):
    """PagerDuty Events API v2: one incident per project, environment and check."""

    enabled: bool
    events_url: str
    trigger_on: Literal["warn", "fail"]
    source: str | None


class AlertingSettings(_Section):
    """The `monitoring.alerting` parameters section (conf/base/parameters_monitoring.yml)."""

    exit_nonzero_on: Literal["warn", "fail", "never"]
    environment: str = Field(min_length=1)
    retry: RetrySettings
    log: LogSettings
    jsonl: JsonLinesSettings
    cloudwatch: CloudWatchSettings
    datadog: DatadogSettings
    pagerduty: PagerDutySettings

    @model_validator(mode="after")
    def _check_backoff(self) -> AlertingSettings:
        if self.retry.max_backoff_seconds < self.retry.backoff_seconds:
            raise ValueError("retry.max_backoff_seconds must be >= retry.backoff_seconds")
        return self

    @classmethod
    def from_params(cls, alerting: Mapping[str, Any] | None) -> AlertingSettings:
        """Return the validated section; a ValueError names every wrong key."""
        try:
            return cls.model_validate(dict(alerting or {}))
        except ValidationError as error:
            problems = "; ".join(
                f"monitoring.alerting.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in error.errors()
            )
            raise ValueError(f"invalid monitoring alerting parameters: {problems}") from None
