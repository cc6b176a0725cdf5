"""The verdict every channel receives, the exit status it maps to and the closing summary."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ...core.monitoring.results import MonitoringReport, Section
from ...core.monitoring.severity import at_least
from .delivery import ChannelResult

_TAG_UNSAFE = re.compile(r"[^a-z0-9_.:/-]+")


def tag_value(value: object) -> str:
    """Return `value` as a Datadog-safe tag value: lowercase, [a-z0-9_.:/-], at most 150 chars."""
    return _TAG_UNSAFE.sub("_", str(value).lower()).strip("_")[:150] or "none"


@dataclass(frozen=True)
class Verdict:
    """One monitoring run's outcome and where it came from: what every channel sends."""

    report: MonitoringReport
    project: str
    environment: str
    model_version: str
    report_html: str | None
    report_json: str | None

    @property
    def level(self) -> str:
        """Return ok, warn or fail."""
        return self.report.level

    @property
    def headline(self) -> str:
        """Return the report's one-line verdict."""
        return self.report.headline

    @property
    def reasons(self) -> list[str]:
        """Return one sentence per section that is not ok."""
        return list(self.report.reasons)

    @property
    def sections(self) -> Mapping[str, Section]:
        """Return the report's sections (validation, data_drift, ...) by name."""
        return self.report.sections()

    @property
    def timestamp(self) -> datetime:
        """Return when the report was generated (aware, UTC)."""
        stamp = datetime.fromisoformat(self.report.generated_at)
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)

    def tags(self) -> dict[str, str]:
        """Return the tags every series, event and incident carries: project, env, model version."""
        return {
            "project": tag_value(self.project),
            "env": tag_value(self.environment),
            "model_version": tag_value(self.model_version),
        }


def exit_code(level: str, exit_nonzero_on: str) -> int:
    """Return 1 when the verdict reaches `exit_nonzero_on` (fail, warn), else 0; never: 0."""
    if exit_nonzero_on == "never":
        return 0
    return 1 if at_least(level, exit_nonzero_on) else 0


def verdict_summary(
    verdict: Verdict, results: Sequence[ChannelResult], status: int, exit_nonzero_on: str
) -> str:
    """Return the few lines a monitoring run ends with: verdict, reasons, report, channels, exit."""
    lines = [f"Monitoring verdict {verdict.level.upper()}: {verdict.headline}"]
    lines += [f"  - {reason}" for reason in verdict.reasons]
    if verdict.report_html:
        lines.append(f"  Report: {verdict.report_html}")
    if results:
        lines.append(
            "  Alerts: "
            + "; ".join(
                f"{r.channel} {'sent' if r.delivered else 'FAILED'} ({r.detail})" for r in results
            )
        )
    lines.append(f"  Exit status {status} (exit_nonzero_on: {exit_nonzero_on})")
    return "\n".join(lines)
