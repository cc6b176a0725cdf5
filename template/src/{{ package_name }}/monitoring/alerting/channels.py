"""Deliver a verdict to every enabled channel; a channel that fails is reported, never raised.

Each channel is tried in turn with bounded retries (delivery.with_retries), so a dead Datadog
does not keep PagerDuty from paging, and no channel decides the exit status: the verdict does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from . import LoggingNotifier, MonitoringAlert, metric_records
from .datadog import DatadogKeys, send_to_datadog
from .delivery import ChannelError, ChannelResult, DeliveryFailed, redact, with_retries
from .pagerduty import routing_key, send_to_pagerduty
from .settings import AlertingSettings
from .verdict import Verdict

logger = logging.getLogger(__name__)


def monitoring_alert(verdict: Verdict) -> MonitoringAlert:
    """Return the verdict as the MonitoringAlert that the log and CloudWatch notifiers take."""
    return MonitoringAlert(
        level=verdict.level,
        summary=verdict.headline,
        reasons=verdict.reasons,
        metrics=metric_records(verdict.report),
        timestamp=verdict.timestamp,
    )


def _cloudwatch(verdict: Verdict, settings: AlertingSettings, sleep: Any) -> ChannelResult:
    from . import CloudWatchNotifier

    cw = settings.cloudwatch
    notifier = CloudWatchNotifier(
        cw.namespace,
        dimensions=cw.dimensions,
        sns_topic_arn=cw.sns_topic_arn,
        sns_min_level=cw.sns_min_level,
        region_name=cw.region_name,
        endpoint_url=cw.endpoint_url,
        timeout_seconds=settings.retry.timeout_seconds,
    )
    alert = monitoring_alert(verdict)

    def send(timeout: float) -> None:
        del timeout  # the client's own timeouts are retry.timeout_seconds
        try:
            notifier.notify(alert)
        except Exception as error:  # botocore raises many unrelated types
            raise ChannelError(
                f"CloudWatch: {type(error).__name__}: {error}", retryable=True
            ) from None

    try:
        _, attempts = with_retries(send, settings.retry, **({"sleep": sleep} if sleep else {}))
    except DeliveryFailed as failure:
        return ChannelResult("cloudwatch", False, failure.attempts, str(failure))
    return ChannelResult("cloudwatch", True, attempts, f"{len(alert.metrics)} metrics")


def deliver(
    verdict: Verdict,
    settings: AlertingSettings,
    credentials: Mapping[str, Any],
    *,
    environ: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] | None = None,
) -> list[ChannelResult]:
    """Return what each enabled channel did with the verdict, in order (log first)."""
    results: list[ChannelResult] = []
    if settings.log.enabled:
        LoggingNotifier().notify(monitoring_alert(verdict))
        results.append(ChannelResult("log", True, 1, "logged"))
    if settings.jsonl.enabled:
        # The catalog appends the lines (monitoring_metrics) before this runs.
        results.append(ChannelResult("jsonl", True, 1, "appended by the catalog"))
    if settings.cloudwatch.enabled:
        results.append(_cloudwatch(verdict, settings, sleep))
    if settings.datadog.enabled:
        keys = DatadogKeys.resolve(settings.datadog, credentials, environ)
        results.append(send_to_datadog(verdict, settings.datadog, settings.retry, keys, sleep))
    if settings.pagerduty.enabled:
        key = routing_key(credentials, environ)
        results.append(send_to_pagerduty(verdict, settings.pagerduty, settings.retry, key, sleep))
    secrets = _secrets(credentials, environ)
    results = [
        ChannelResult(r.channel, r.delivered, r.attempts, redact(r.detail, secrets))
        for r in results
    ]
    for result in results:
        if not result.delivered:
            logger.error(
                "Alert channel %s failed after %d attempt(s): %s",
                result.channel,
                result.attempts,
                result.detail,
            )
    return results


def _secrets(credentials: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Return every key or token the channels may hold, to scrub from what they report."""
    found = [environ.get(n) for n in ("DD_API_KEY", "DD_APP_KEY", "PAGERDUTY_ROUTING_KEY")]
    for entry in ("datadog", "pagerduty"):
        stored = credentials.get(entry) or {}
        found += [str(v) for k, v in stored.items() if k != "site" and v]
    return [s for s in found if s]
