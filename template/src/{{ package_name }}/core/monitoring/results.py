"""The results monitoring hands from node to node, one frozen dataclass each.

The catalog keeps them as JSON between nodes: a node returns `result.to_dict()` (one conversion,
core/serialise.json_ready) and the node that reads one calls `Result.from_dict(...)` once. That
parse is strict: a missing or unknown key fails and names the key, so a renamed key can never
switch a check off by falling back to a default. Rows inside a result (one per feature, finding,
metric or check) stay JSON records; docs/monitoring.md describes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

from ..serialise import json_ready

Record = dict[str, Any]
R = TypeVar("R", bound="_Result")

# Bumped when a key of the report changes; a report of another version is refused, not misread.
REPORT_SCHEMA_VERSION = 1


def strict_fields(cls: type, data: Any, what: str) -> dict[str, Any]:
    """Return the values of `cls`'s fields from `data`; a ValueError names every bad key."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be a JSON object; got {type(data).__name__}")
    names = [f.name for f in fields(cls)]
    missing = [name for name in names if name not in data]
    unknown = sorted(str(key) for key in data if key not in names)
    if missing or unknown:
        problems = [f"missing key(s) {missing}"] if missing else []
        problems += [f"unknown key(s) {unknown}"] if unknown else []
        raise ValueError(
            f"{what} does not match {cls.__name__}: {'; '.join(problems)} "
            f"(expected {names}); rerun the monitoring pipeline to rewrite it"
        )
    return {name: data[name] for name in names}


class _Result:
    """to_dict / from_dict shared by every result: the JSON object has exactly the fields."""

    WHAT: ClassVar[str] = "monitoring result"

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON holds it (numpy values as Python ones, NaN as null)."""
        return json_ready(asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[R], data: Any) -> R:
        """Return the result from its JSON object; a ValueError names a missing or unknown key."""
        return cls(**strict_fields(cls, data, cls.WHAT))


@dataclass(frozen=True)
class ValidationResult(_Result):
    """The current batch checked against the reference's expectation suite."""

    WHAT: ClassVar[str] = "data validation result"

    level: str
    skipped: list[str]
    success: bool
    suite_name: str
    evaluated_expectations: int
    failed_expectations: int
    failed_columns: list[str]
    # One record per failed expectation: expectation, column, severity, level, message, observed.
    failures: list[Record]
    n_rows: int
    summary: str


@dataclass(frozen=True)
class DataDrift(_Result):
    """Data drift: one row per feature (most drifted first) and the batch-level verdict."""

    WHAT: ClassVar[str] = "data drift result"

    level: str
    summary: str
    drift_share: float
    drifted_features: list[str]
    n_features: int
    n_rows_reference: int
    n_rows_current: int
    # One record per feature: feature, kind, test, statistic, p-values, effect sizes, level ...
    features: list[Record]
    # One record per finding: level, check, column, message (and details).
    issues: list[Record]
    # monitoring.drift, flat (DataDriftSettings.flat()).
    thresholds: dict[str, Any]
    elapsed_seconds: float


@dataclass(frozen=True)
class PredictionDrift(_Result):
    """The model's scores on the batch compared with its scores on the reference."""

    WHAT: ClassVar[str] = "prediction drift result"

    level: str
    summary: str
    # None (NaN before JSON) when there were too few scored rows to compare.
    psi: float | None
    ks_statistic: float | None
    reference_rows: int
    current_rows: int
    reference_mean_score: float | None
    current_mean_score: float | None
    psi_warn: float
    psi_fail: float
    ks_warn: float
    ks_fail: float

    def metric_rows(self) -> list[Record]:
        """Return the two statistics as rows of the monitoring report's model table."""
        return [
            metric_row("score_psi", self.psi, self.psi_warn, self.psi_fail),
            metric_row("score_ks", self.ks_statistic, self.ks_warn, self.ks_fail),
        ]


def metric_row(metric: str, value: float | None, warn: float, fail: float) -> Record:
    """Return one statistic as a row of the model table (level by its warn and fail levels)."""
    value = float("nan") if value is None else value  # too few scored rows: never compared
    level = "fail" if value >= fail else "warn" if value >= warn else "ok"
    return {
        "metric": metric,
        "baseline": 0.0,
        "current": value,
        "drop": value,
        "tolerated_drop": warn,
        "failing_drop": fail,
        "level": level,
        "message": f"{metric} = {value:.4f} (warn at {warn}, fail at {fail})",
    }


@dataclass(frozen=True)
class ModelDrift(_Result):
    """Model drift: performance on a labelled batch, else the scores' drift standing in."""

    WHAT: ClassVar[str] = "model drift result"

    level: str
    # measured, skipped, or prediction_drift (no labels: the scores' drift stands in).
    status: str
    summary: str
    # One record per metric: metric, baseline, current, drop, tolerated_drop, failing_drop, level.
    metrics: list[Record]
    issues: list[Record]
    current_metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    # Labelled rows measured on; None when performance was not measured.
    n_labelled: int | None
    prediction_drift: PredictionDrift | None
    # Where the judged model came from: source, name, version, note (model_source.MonitoredModel).
    model: dict[str, Any] | None

    @classmethod
    def from_dict(cls, data: Any) -> ModelDrift:
        """Return the section from its JSON object; a ValueError names a missing or unknown key."""
        values = strict_fields(cls, data, cls.WHAT)
        if values["prediction_drift"] is not None:
            values["prediction_drift"] = PredictionDrift.from_dict(values["prediction_drift"])
        return cls(**values)


@dataclass(frozen=True)
class ConceptDrift(_Result):
    """Concept drift: performance against input drift, and attribution drift."""

    WHAT: ClassVar[str] = "concept drift result"

    level: str
    # Check name -> record with at least level and message (attribution checks add their scores).
    checks: dict[str, Record]
    issues: list[Record]
    summary: str


SECTION_TITLES = {
    "validation": "Data validation",
    "data_drift": "Data drift",
    "model_drift": "Model drift",
    "concept_drift": "Concept drift",
}
Section = ValidationResult | DataDrift | ModelDrift | ConceptDrift
SECTION_TYPES: dict[str, type[_Result]] = {
    "validation": ValidationResult,
    "data_drift": DataDrift,
    "model_drift": ModelDrift,
    "concept_drift": ConceptDrift,
}


@dataclass(frozen=True)
class MonitoringReport(_Result):
    """The monitoring report: overall level, the reasons behind it and every section.

    Its JSON (monitoring_report.json, docs/monitoring.md) nests the four sections under
    `sections`, keyed as in SECTION_TITLES.
    """

    WHAT: ClassVar[str] = "monitoring report"

    schema_version: int
    generated_at: str
    level: str
    headline: str
    reasons: list[str]
    validation: ValidationResult
    data_drift: DataDrift
    model_drift: ModelDrift
    concept_drift: ConceptDrift

    def sections(self) -> dict[str, Section]:
        """Return the four sections by their report key, in report order."""
        return {name: getattr(self, name) for name in SECTION_TITLES}

    def to_dict(self) -> dict[str, Any]:
        """Return the report as monitoring_report.json holds it."""
        return json_ready(
            {
                "schema_version": self.schema_version,
                "generated_at": self.generated_at,
                "level": self.level,
                "headline": self.headline,
                "reasons": self.reasons,
                "sections": {name: s.to_dict() for name, s in self.sections().items()},
            }
        )

    @classmethod
    def from_dict(cls, data: Any) -> MonitoringReport:
        """Return the report from its JSON; a ValueError names a missing or unknown key."""
        top = _ReportJson(**strict_fields(_ReportJson, data, cls.WHAT))
        if top.schema_version != REPORT_SCHEMA_VERSION:
            raise ValueError(
                f"monitoring report schema_version {top.schema_version!r} is not "
                f"{REPORT_SCHEMA_VERSION}: rerun the monitoring pipeline to rewrite it"
            )
        sections = strict_fields(_ReportSections, top.sections, "monitoring report sections")
        return cls(
            schema_version=top.schema_version,
            generated_at=top.generated_at,
            level=top.level,
            headline=top.headline,
            reasons=list(top.reasons),
            **{name: SECTION_TYPES[name].from_dict(value) for name, value in sections.items()},
        )


@dataclass(frozen=True)
class _ReportJson:
    """The top-level keys of monitoring_report.json (for the strict parse)."""

    schema_version: int
    generated_at: str
    level: str
    headline: str
    reasons: list[str]
    sections: dict[str, Any]


@dataclass(frozen=True)
class _ReportSections:
    """The keys of the report's `sections` object (for the strict parse)."""

    validation: Any
    data_drift: Any
    model_drift: Any
    concept_drift: Any


@dataclass(frozen=True)
class MonitoringVerdict(_Result):
    """The run's verdict and the exit status it maps to (MonitoringAlertHook applies it)."""

    WHAT: ClassVar[str] = "monitoring verdict"

    level: str
    exit_status: int
    exit_nonzero_on: str
