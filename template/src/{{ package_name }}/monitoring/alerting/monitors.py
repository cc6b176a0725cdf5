"""Datadog monitors as code: conf/<env>/datadog_monitors.yml rendered, then created or updated.

Each monitor is identified by one tag, `kedro_monitor:<project>.<env>.<key>`; `apply` lists the
monitors tagged `managed_by:kedro-monitoring`, updates the ones whose identity tag matches and
creates the others, so a second apply updates and creates nothing. Monitors it does not manage
are never touched. Placeholders in the file (`$project`, `$env`, ...) come from the parameters,
so a threshold changed in parameters_monitoring.yml moves the monitor with it.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .datadog import DatadogKeys, api_client, call_datadog
from .delivery import with_retries
from .settings import AlertingSettings
from .verdict import tag_value

MANAGED_TAG = "managed_by:kedro-monitoring"
IDENTITY_TAG = "kedro_monitor"
# Datadog's message syntax is mustache; built from halves because a rendered project must hold no
# text that looks like leftover Jinja (hooks/validate_render.py).
OPEN, CLOSE = "{" * 2, "}" * 2
PAGE_SIZE = 1000
MAX_PAGES = 20


class MonitorSpec(BaseModel):
    """One monitor of datadog_monitors.yml, placeholders already substituted."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    type: Literal["query alert", "metric alert"]
    query: str = Field(min_length=1)
    # The message: each part shown in its state, then the note, then the PagerDuty handle.
    alert: str = Field(min_length=1)
    warning: str | None
    recovery: str
    note: str
    priority: int | None = Field(ge=1, le=5)
    thresholds: dict[Literal["critical", "warning", "critical_recovery", "warning_recovery"], float]
    notify_no_data: bool
    renotify_interval: int = Field(ge=0)


class MonitorsFile(BaseModel):
    """The whole of datadog_monitors.yml."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    pagerduty_service: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    monitors: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class PlannedMonitor:
    """What apply does (or did) to one monitor: create or update, and the body it sends."""

    key: str
    action: Literal["create", "update"]
    monitor_id: int | None
    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return the plan entry as a JSON-ready dict."""
        return asdict(self)


def placeholders(project: str, params: Mapping[str, Any]) -> dict[str, str]:
    """Return the values of the file's $placeholders, taken from the parameters."""
    monitoring = params["monitoring"]
    alerting = AlertingSettings.from_params(monitoring["alerting"])
    dataset = monitoring["drift"]["dataset"]
    primary = params["promotion"]["primary_metric"]
    tolerances = monitoring["model_drift"]["metrics"][primary]
    return {
        "project": tag_value(project),
        "env": tag_value(alerting.environment),
        "prefix": alerting.datadog.metric_prefix,
        "drift_share_warn": str(dataset["dataset_drift_share_warn"]),
        "drift_share_fail": str(dataset["dataset_drift_share_fail"]),
        "primary_metric": primary,
        # Datadog's own message variables, spelt $value ... in the file.
        "value": OPEN + "value" + CLOSE,
        "threshold": OPEN + "threshold" + CLOSE,
        "warn_threshold": OPEN + "warn_threshold" + CLOSE,
        "feature": OPEN + "feature.name" + CLOSE,
        "metric_drop_warn": str(tolerances["tolerated_drop"]),
        "metric_drop_fail": str(tolerances["failing_drop"]),
    }


def _substitute(value: Any, values: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):
        try:
            return string.Template(value).substitute(values)
        except (KeyError, ValueError) as error:
            known = ", ".join(f"${k}" for k in sorted(values))
            raise ValueError(
                f"datadog_monitors.yml {where}: unknown or malformed placeholder {error} "
                f"(known: {known}; write $$ for a literal $)"
            ) from None
    if isinstance(value, Mapping):
        return {k: _substitute(v, values, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values, where) for v in value]
    return value


def render_monitors(
    conf: Mapping[str, Any], project: str, params: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Return the create/update body of every monitor of the file by key (placeholders filled)."""
    try:
        parsed = MonitorsFile.model_validate(dict(conf))
    except ValidationError as error:
        raise ValueError(f"datadog_monitors.yml: {error}") from None
    values = placeholders(project, params)
    specs = {}
    for key, raw in parsed.monitors.items():
        rendered = _substitute(raw, values, f"monitors.{key}")
        try:
            rendered["thresholds"] = {
                k: float(v) for k, v in dict(rendered.get("thresholds") or {}).items()
            }
            spec = MonitorSpec.model_validate(rendered)
        except (ValidationError, ValueError, TypeError) as error:
            raise ValueError(f"datadog_monitors.yml monitors.{key}: {error}") from None
        specs[key] = monitor_body(key, spec, project, values["env"], parsed.pagerduty_service)
    return specs


def monitor_message(spec: MonitorSpec, pagerduty_service: str) -> str:
    """Return the monitor's message: alert, warning and recovery blocks, note, PagerDuty handle."""

    def block(state: str, text: str) -> str:
        return f"{OPEN}#{state}{CLOSE}{text}{OPEN}/{state}{CLOSE}"

    lines = [block("is_alert", spec.alert)]
    if spec.warning:
        lines.append(block("is_warning", spec.warning))
    lines.append(block("is_recovery", spec.recovery))
    lines.append(f"{spec.note} @pagerduty-{pagerduty_service}".strip())
    return "\n".join(lines)


def monitor_body(
    key: str, spec: MonitorSpec, project: str, environment: str, pagerduty_service: str
) -> dict[str, Any]:
    """Return the JSON body POST /api/v1/monitor (create) or PUT (update) sends for a monitor."""
    identity = f"{IDENTITY_TAG}:{tag_value(project)}.{tag_value(environment)}.{tag_value(key)}"
    return {
        "name": spec.name,
        "type": spec.type,
        "query": spec.query,
        "message": monitor_message(spec, pagerduty_service),
        "tags": [
            MANAGED_TAG,
            identity,
            f"project:{tag_value(project)}",
            f"env:{tag_value(environment)}",
        ],
        "priority": spec.priority,
        "options": {
            "thresholds": dict(spec.thresholds),
            "notify_no_data": spec.notify_no_data,
            "renotify_interval": spec.renotify_interval,
        },
    }


def _identity(body: Mapping[str, Any]) -> str:
    return next(t for t in body["tags"] if t.startswith(f"{IDENTITY_TAG}:"))


def _monitor_model(body: Mapping[str, Any], update: bool) -> Any:
    from datadog_api_client.v1.model.monitor import Monitor
    from datadog_api_client.v1.model.monitor_options import MonitorOptions
    from datadog_api_client.v1.model.monitor_thresholds import MonitorThresholds
    from datadog_api_client.v1.model.monitor_type import MonitorType
    from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest

    options = body["options"]
    fields = {
        "name": body["name"],
        "type": MonitorType(body["type"]),
        "query": body["query"],
        "message": body["message"],
        "tags": list(body["tags"]),
        "options": MonitorOptions(
            thresholds=MonitorThresholds(**options["thresholds"]),
            notify_no_data=options["notify_no_data"],
            renotify_interval=options["renotify_interval"],
        ),
    }
    if body["priority"] is not None:
        fields["priority"] = body["priority"]
    return MonitorUpdateRequest(**fields) if update else Monitor(**fields)


def existing_monitors(
    keys: DatadogKeys, url: str, settings: AlertingSettings, sleep: Callable | None = None
) -> dict[str, int]:
    """Return the id of every managed monitor by its identity tag (paged, bounded)."""
    from datadog_api_client.v1.api.monitors_api import MonitorsApi

    found: dict[str, int] = {}
    options = {"secrets": (keys.api_key, keys.app_key), **({"sleep": sleep} if sleep else {})}
    for page in range(MAX_PAGES):

        def list_page(timeout: float, page: int = page) -> Any:
            with api_client(url, keys, timeout) as client:
                return call_datadog(
                    lambda: MonitorsApi(client).list_monitors(
                        monitor_tags=MANAGED_TAG, page=page, page_size=PAGE_SIZE
                    ),
                    "list monitors",
                )

        monitors, _ = with_retries(list_page, settings.retry, **options)
        for monitor in monitors:
            for tag in monitor.tags or []:
                if tag.startswith(f"{IDENTITY_TAG}:"):
                    found[tag] = int(monitor.id)
        if len(monitors) < PAGE_SIZE:
            break
    return found


def plan_monitors(
    bodies: Mapping[str, dict[str, Any]], existing: Mapping[str, int]
) -> list[PlannedMonitor]:
    """Return, per monitor, update (its identity tag exists) or create."""
    plan = []
    for key, body in bodies.items():
        monitor_id = existing.get(_identity(body))
        action = "update" if monitor_id is not None else "create"
        plan.append(PlannedMonitor(key, action, monitor_id, body))
    return plan


def apply_plan(
    plan: list[PlannedMonitor],
    keys: DatadogKeys,
    url: str,
    settings: AlertingSettings,
    sleep: Callable | None = None,
) -> list[PlannedMonitor]:
    """Create or update every planned monitor; return the plan with the ids Datadog gave."""
    from datadog_api_client.v1.api.monitors_api import MonitorsApi

    options = {"secrets": (keys.api_key, keys.app_key), **({"sleep": sleep} if sleep else {})}
    done = []
    for item in plan:
        model = _monitor_model(item.body, update=item.action == "update")

        def send(timeout: float, item: PlannedMonitor = item, model: Any = model) -> Any:
            with api_client(url, keys, timeout) as client:
                api = MonitorsApi(client)
                if item.action == "update":
                    return call_datadog(
                        lambda: api.update_monitor(item.monitor_id, model), "update monitor"
                    )
                return call_datadog(lambda: api.create_monitor(model), "create monitor")

        saved, _ = with_retries(send, settings.retry, **options)
        done.append(PlannedMonitor(item.key, item.action, int(saved.id), item.body))
    return done
