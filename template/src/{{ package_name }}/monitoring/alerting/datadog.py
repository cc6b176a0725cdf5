"""Datadog: the report's numbers as metric series and one event per verdict (datadog-api-client).

Every series carries the verdict's tags (project, env, model_version) plus `check` and, per
feature, `feature` and `test`; docs/alerting.md lists the metric names. Keys come from
DD_API_KEY / DD_APP_KEY / DD_SITE or the `datadog` entry of conf/<env>/credentials.yml.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ...core.monitoring.severity import level_rank
from .delivery import ChannelError, ChannelResult, DeliveryFailed, is_retryable_status, with_retries
from .settings import DatadogSettings, RetrySettings
from .verdict import Verdict, tag_value

T = TypeVar("T")
DEFAULT_SITE = "datadoghq.com"
# The v2 intake takes 500 kB per payload; 200 series stay far below it.
SERIES_PER_REQUEST = 200
EVENT_TEXT_LIMIT = 4000
EVENT_TITLE_LIMIT = 100
ALERT_TYPES = {"ok": "success", "warn": "warning", "fail": "error"}
# Feature row keys sent per feature, and the metric each becomes.
FEATURE_NUMBERS = (
    ("statistic", "feature.drift_statistic"),
    ("p_value", "feature.p_value"),
    ("p_value_adjusted", "feature.p_value_adjusted"),
    ("psi", "feature.psi"),
    ("wasserstein_normed", "feature.wasserstein_normed"),
    ("jensen_shannon", "feature.jensen_shannon"),
    ("drift_score", "feature.drift_score"),
)


# Prediction drift (the model drift section's `prediction_drift`) sent as `prediction.<key>`.
PREDICTION_NUMBERS = (
    "psi",
    "ks_statistic",
    "reference_mean_score",
    "current_mean_score",
    "current_rows",
)


@dataclass(frozen=True)
class DatadogKeys:
    """Where and with which keys to reach Datadog (never logged)."""

    site: str
    api_key: str | None
    app_key: str | None

    @classmethod
    def resolve(
        cls,
        settings: DatadogSettings,
        credentials: Mapping[str, Any],
        environ: Mapping[str, str] = os.environ,
    ) -> DatadogKeys:
        """Return site and keys: the environment first, then credentials.yml's `datadog` entry."""
        stored = credentials.get("datadog") or {}
        site = settings.site or environ.get("DD_SITE") or stored.get("site") or DEFAULT_SITE
        return cls(
            site=site,
            api_key=environ.get("DD_API_KEY") or stored.get("api_key"),
            app_key=environ.get("DD_APP_KEY") or stored.get("app_key"),
        )

    def api_url(self, settings: DatadogSettings) -> str:
        """Return the API base URL: `api_url` when set, else https://api.<site>."""
        return (settings.api_url or f"https://api.{self.site}").rstrip("/")


@dataclass(frozen=True)
class SeriesPoint:
    """One gauge value: metric name, value and tags (key:value strings)."""

    metric: str
    value: float
    tags: tuple[str, ...]


def _tags(base: Mapping[str, str], **extra: object) -> tuple[str, ...]:
    merged = {**base, **{k: tag_value(v) for k, v in extra.items()}}
    return tuple(f"{k}:{v}" for k, v in merged.items())


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def report_series(verdict: Verdict, settings: DatadogSettings) -> list[SeriesPoint]:
    """Return every number of the report worth graphing, as tagged gauge points."""
    prefix = settings.metric_prefix
    base = {**verdict.tags(), **{k: tag_value(v) for k, v in settings.tags.items()}}
    points: list[SeriesPoint] = []

    def add(name: str, value: Any, **tags: object) -> None:
        number = _number(value)
        if number is not None:
            points.append(SeriesPoint(f"{prefix}.{name}", number, _tags(base, **tags)))

    add("verdict.level", level_rank(verdict.level), check="overall")
    for check, section in verdict.sections.items():
        add("check.level", level_rank(section.level), check=check)
    report = verdict.report
    add(
        "validation.failed_expectations",
        report.validation.failed_expectations,
        check="validation",
    )
    drift = report.data_drift
    add("dataset.drift_share", drift.drift_share, check="data_drift")
    add("dataset.drifted_features", len(drift.drifted_features), check="data_drift")
    for row in drift.features:
        tags = {"check": "data_drift", "feature": row["feature"], "test": row["test"]}
        add("feature.drifted", int(bool(row["drifted"])), **tags)
        # A feature that could not be compared lacks the effect sizes and the summaries.
        for key, name in FEATURE_NUMBERS:
            add(name, row.get(key), **tags)
        add("feature.missing_share", (row.get("current") or {}).get("missing_share"), **tags)
    for row in report.model_drift.metrics:
        for key, name in (
            ("current", "model.metric"),
            ("baseline", "model.metric_baseline"),
            ("drop", "model.metric_drop"),
        ):
            add(name, row[key], check="model_drift", metric=row["metric"])
    prediction = report.model_drift.prediction_drift
    if prediction is not None:
        for key in PREDICTION_NUMBERS:
            add(f"prediction.{key}", getattr(prediction, key), check="prediction_drift")
    for name, check in report.concept_drift.checks.items():
        # Only the checks that compared attributions have scores.
        for key in ("spearman", "ndcg", "importance_shift"):
            add(f"attribution.{key}", check.get(key), check="concept_drift", attribution=name)
    return points


def series_body(points: list[SeriesPoint], timestamp: int) -> dict[str, Any]:
    """Return the JSON body of one POST /api/v2/series (what the official client sends)."""
    return {
        "series": [
            {
                "metric": p.metric,
                "type": 3,  # gauge
                "points": [{"timestamp": timestamp, "value": p.value}],
                "tags": list(p.tags),
            }
            for p in points
        ]
    }


def event_body(verdict: Verdict, settings: DatadogSettings) -> dict[str, Any]:
    """Return the JSON body of the POST /api/v1/events that records the verdict."""
    base = {**verdict.tags(), **{k: tag_value(v) for k, v in settings.tags.items()}}
    title = f"Model monitoring {verdict.level.upper()}: {verdict.project} ({verdict.environment})"
    lines = [verdict.headline, *[f"- {r}" for r in verdict.reasons]]
    if verdict.report_html:
        lines.append(f"Report: {verdict.report_html}")
    text = "\n".join(lines)
    return {
        "aggregation_key": f"{base['project']}-{base['env']}-model-monitoring",
        "alert_type": ALERT_TYPES[verdict.level],
        "date_happened": int(verdict.timestamp.timestamp()),
        "tags": [*_tags(base, check="overall"), f"verdict:{verdict.level}"],
        "text": text if len(text) <= EVENT_TEXT_LIMIT else text[: EVENT_TEXT_LIMIT - 1] + "…",
        "title": title[:EVENT_TITLE_LIMIT],
    }


def api_client(url: str, keys: DatadogKeys, timeout: float) -> Any:
    """Return a datadog-api-client ApiClient for `url`; our loop retries, so urllib3 does not."""
    import urllib3
    from datadog_api_client import ApiClient, Configuration

    config = Configuration(host=url, request_timeout=timeout)
    config.retry_policy = urllib3.util.Retry(total=0, redirect=0, raise_on_status=False)
    if keys.api_key:
        config.api_key["apiKeyAuth"] = keys.api_key
    if keys.app_key:
        config.api_key["appKeyAuth"] = keys.app_key
    return ApiClient(config)


def call_datadog(call: Callable[[], T], what: str) -> T:
    """Return `call()`; raise ChannelError (retryable or not) for every failure it can meet."""
    import urllib3
    from datadog_api_client.exceptions import ApiException

    try:
        return call()
    except ApiException as error:
        body = str(error.body)[:300] if error.body else ""
        status = int(error.status or 0)
        raise ChannelError(
            f"Datadog {what}: HTTP {status} {error.reason}: {body}".rstrip(": "),
            retryable=status == 0 or is_retryable_status(status),
            status=status,
        ) from None
    except urllib3.exceptions.HTTPError as error:
        raise ChannelError(
            f"Datadog {what}: unreachable or too slow ({type(error).__name__})", retryable=True
        ) from None


def send_to_datadog(
    verdict: Verdict,
    settings: DatadogSettings,
    retry: RetrySettings,
    keys: DatadogKeys,
    sleep: Callable[[float], None] | None = None,
) -> ChannelResult:
    """Return the outcome of sending the series (and the event) to Datadog."""
    from datadog_api_client.v1.api.events_api import EventsApi
    from datadog_api_client.v1.model.event_create_request import EventCreateRequest
    from datadog_api_client.v2.api.metrics_api import MetricsApi
    from datadog_api_client.v2.model.metric_payload import MetricPayload

    if not keys.api_key:
        return ChannelResult(
            "datadog", False, 0, "no API key: set DD_API_KEY or datadog.api_key in credentials.yml"
        )
    url = keys.api_url(settings)
    secrets = (keys.api_key, keys.app_key)
    options = {"secrets": secrets, **({"sleep": sleep} if sleep else {})}
    points = report_series(verdict, settings)
    stamp = int(verdict.timestamp.timestamp())
    attempts = 0
    try:
        for start in range(0, len(points), SERIES_PER_REQUEST):
            body = series_body(points[start : start + SERIES_PER_REQUEST], stamp)
            payload = _metric_payload(body)

            def submit(timeout: float, payload: MetricPayload = payload) -> Any:
                with api_client(url, keys, timeout) as client:
                    return call_datadog(
                        lambda: MetricsApi(client).submit_metrics(payload), "series"
                    )

            attempts += with_retries(submit, retry, **options)[1]
        if settings.event:
            event = EventCreateRequest(**_event_kwargs(event_body(verdict, settings)))

            def post_event(timeout: float) -> Any:
                with api_client(url, keys, timeout) as client:
                    return call_datadog(lambda: EventsApi(client).create_event(event), "event")

            attempts += with_retries(post_event, retry, **options)[1]
    except DeliveryFailed as failure:
        return ChannelResult("datadog", False, attempts + failure.attempts, str(failure))
    sent = f"{len(points)} series" + (" and 1 event" if settings.event else "")
    return ChannelResult("datadog", True, attempts, sent)


def _metric_payload(body: Mapping[str, Any]) -> Any:
    from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
    from datadog_api_client.v2.model.metric_payload import MetricPayload
    from datadog_api_client.v2.model.metric_point import MetricPoint
    from datadog_api_client.v2.model.metric_series import MetricSeries

    return MetricPayload(
        series=[
            MetricSeries(
                metric=s["metric"],
                type=MetricIntakeType.GAUGE,
                points=[MetricPoint(**p) for p in s["points"]],
                tags=s["tags"],
            )
            for s in body["series"]
        ]
    )


def _event_kwargs(body: Mapping[str, Any]) -> dict[str, Any]:
    from datadog_api_client.v1.model.event_alert_type import EventAlertType

    return {**body, "alert_type": EventAlertType(body["alert_type"])}
