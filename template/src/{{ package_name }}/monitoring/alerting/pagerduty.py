"""PagerDuty Events API v2 over plain HTTP: one incident per project, environment and check.

Each check of the report (validation, data_drift, model_drift, ...) has a stable dedup key
`<project>/<env>/<check>`: a check at or above `trigger_on` triggers (again: PagerDuty folds a
repeat into the open incident), a check below it resolves (a no-op when nothing is open).
Why plain HTTP rather than the `pagerduty` package: docs/decisions/0013-alerting-channels.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ...core.monitoring.results import DataDrift, ModelDrift, Section, ValidationResult
from ...core.monitoring.severity import at_least
from .delivery import ChannelResult, DeliveryFailed, post_json, with_retries
from .settings import PagerDutySettings, RetrySettings
from .verdict import Verdict

SUMMARY_LIMIT = 1024
SEVERITIES = {"fail": "critical", "warn": "warning", "ok": "info"}
# Per-feature numbers in an incident: the most drifted features first, enough to triage.
MAX_FEATURES = 20
MAX_FAILURES = 10


def routing_key(
    credentials: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> str | None:
    """Return the integration's routing key: PAGERDUTY_ROUTING_KEY, then credentials.yml."""
    stored = credentials.get("pagerduty") or {}
    return environ.get("PAGERDUTY_ROUTING_KEY") or stored.get("routing_key")


def dedup_key(verdict: Verdict, check: str) -> str:
    """Return the stable key that ties every run's event for one check to one incident."""
    tags = verdict.tags()
    return f"{tags['project']}/{tags['env']}/{check}"


def _summary(verdict: Verdict, check: str, section: Section) -> str:
    text = (
        f"[{verdict.project} {verdict.environment}] {check} {section.level.upper()}: "
        f"{section.summary}"
    )
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def check_numbers(section: Section) -> dict[str, Any]:
    """Return the numbers of one report section that a responder needs first."""
    numbers = {
        k: v
        for k, v in section.to_dict().items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    if isinstance(section, DataDrift):
        numbers["drifted_features"] = list(section.drifted_features)
        # A feature that could not be compared lacks the effect sizes and the summaries.
        numbers["features"] = {
            row["feature"]: {
                "test": row["test"],
                "statistic": row["statistic"],
                "p_value_adjusted": row["p_value_adjusted"],
                "psi": row.get("psi"),
                "missing_share": (row.get("current") or {}).get("missing_share"),
                "level": row["level"],
            }
            for row in section.features[:MAX_FEATURES]
        }
    elif isinstance(section, ValidationResult):
        numbers["failures"] = [f["message"] for f in section.failures][:MAX_FAILURES]
    elif isinstance(section, ModelDrift):
        numbers["metrics"] = {
            row["metric"]: {k: row[k] for k in ("baseline", "current", "drop")}
            for row in section.metrics
        }
    return numbers


def pagerduty_events(
    verdict: Verdict, settings: PagerDutySettings, key: str
) -> list[dict[str, Any]]:
    """Return the Events API v2 bodies for this verdict: a trigger or a resolve per check."""
    events = []
    for check, section in verdict.sections.items():
        level = section.level
        dedup = dedup_key(verdict, check)
        if not at_least(level, settings.trigger_on):
            events.append({"routing_key": key, "event_action": "resolve", "dedup_key": dedup})
            continue
        details = {
            "verdict": verdict.level,
            "check": check,
            "level": level,
            "summary": section.summary,
            "reasons": verdict.reasons,
            "environment": verdict.environment,
            "model_version": verdict.model_version,
            "report_html": verdict.report_html,
            "report_json": verdict.report_json,
            "numbers": check_numbers(section),
        }
        events.append(
            {
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": dedup,
                "payload": {
                    "summary": _summary(verdict, check, section),
                    "source": settings.source or verdict.project,
                    "severity": SEVERITIES[level],
                    "timestamp": verdict.timestamp.isoformat(),
                    "component": check,
                    "group": verdict.project,
                    "class": "model-monitoring",
                    "custom_details": details,
                },
            }
        )
    return events


def send_to_pagerduty(
    verdict: Verdict,
    settings: PagerDutySettings,
    retry: RetrySettings,
    key: str | None,
    sleep: Callable[[float], None] | None = None,
) -> ChannelResult:
    """Return the outcome of sending every trigger and resolve event of this verdict."""
    if not key:
        return ChannelResult(
            "pagerduty",
            False,
            0,
            "no routing key: set PAGERDUTY_ROUTING_KEY or pagerduty.routing_key in credentials.yml",
        )
    options = {"secrets": (key,), **({"sleep": sleep} if sleep else {})}
    attempts, counts = 0, {"trigger": 0, "resolve": 0}
    try:
        for event in pagerduty_events(verdict, settings, key):

            def send(timeout: float, event: dict[str, Any] = event) -> Any:
                return post_json(settings.events_url, event, timeout)

            attempts += with_retries(send, retry, **options)[1]
            counts[event["event_action"]] += 1
    except DeliveryFailed as failure:
        return ChannelResult(
            "pagerduty", False, attempts + failure.attempts, f"PagerDuty: {failure}"
        )
    detail = f"{counts['trigger']} triggered, {counts['resolve']} resolved"
    return ChannelResult("pagerduty", True, attempts, detail)
