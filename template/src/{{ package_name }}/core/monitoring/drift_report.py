"""The monitoring report: one JSON document for machines and a self-contained HTML page for people.

The HTML page is a pure function of the JSON report. It has no JavaScript and loads nothing:
styles are inline and the small reference-vs-current plots are inline SVG, so it opens offline,
from S3 or as a CI artefact, and renders a million-row report in milliseconds.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .results import (
    REPORT_SCHEMA_VERSION,
    SECTION_TITLES,
    ConceptDrift,
    DataDrift,
    ModelDrift,
    MonitoringReport,
    ValidationResult,
)
from .severity import level_rank, worst_level

REFERENCE_COLOUR, CURRENT_COLOUR = "#8c9bab", "#e8710a"
HEADLINES = {
    "ok": "No drift or data problem found",
    "warn": "Warnings: look at the flagged sections",
    "fail": "Action needed: at least one check failed",
}


def build_monitoring_report(
    validation: ValidationResult,
    data_drift: DataDrift,
    model_drift: ModelDrift,
    concept_drift: ConceptDrift,
    generated_at: datetime | None = None,
) -> MonitoringReport:
    """Return the whole report: overall level, the reasons behind it and each section."""
    sections = {
        "validation": validation,
        "data_drift": data_drift,
        "model_drift": model_drift,
        "concept_drift": concept_drift,
    }
    level = worst_level(s.level for s in sections.values())
    reasons = [
        f"{SECTION_TITLES[name]} {s.level.upper()}: {s.summary}"
        for name, s in sections.items()
        if s.level != "ok"
    ]
    stamp = (generated_at or datetime.now(UTC)).astimezone(UTC)
    return MonitoringReport(
        schema_version=REPORT_SCHEMA_VERSION,
        generated_at=stamp.isoformat(),
        level=level,
        headline=HEADLINES[level],
        reasons=reasons,
        **sections,
    )


# ----- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{
  font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;
  margin:0;
  color:#1d2733;
  background:#f6f8fa;
}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 12px}
h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #d8dee4;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
.verdict{border-radius:8px;padding:16px 20px;color:#fff;margin-bottom:16px}
.verdict strong{font-size:22px;display:block}
.verdict ul{margin:8px 0 0 18px;padding:0}
.ok{background:#1a7f37}
.warn{background:#b35900}
.fail{background:#c62828}
.badge{
  display:inline-block;
  border-radius:10px;
  padding:1px 8px;
  color:#fff;
  font-size:12px;
  font-weight:600;
}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border-bottom:1px solid #e3e7eb;padding:5px 8px;text-align:left;vertical-align:middle}
th{background:#eef1f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#5b6773}
.legend span{
  display:inline-block;
  width:11px;
  height:11px;
  margin:0 4px 0 12px;
  vertical-align:-1px;
}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{
  background:#fff;
  border:1px solid #d8dee4;
  border-radius:6px;
  padding:8px 14px;
  min-width:150px;
}
.card b{display:block;font-size:18px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return "-"
        if isinstance(value, float) and value != 0 and abs(value) < 10**-digits:
            return f"{value:.1e}"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return _e(value)


def _badge(level: str) -> str:
    return f'<span class="badge {_e(level)}">{_e(level.upper())}</span>'


def _numeric_svg(histogram: Mapping[str, Any], width: int = 220, height: int = 56) -> str:
    ref, cur = histogram.get("reference") or [], histogram.get("current") or []
    if not ref:
        return ""
    top = max(*ref, *(cur or [0]), 1e-12)
    n = len(ref)
    bar = width / n
    bars = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - h / top * (height - 4):.1f}" '
        f'width="{bar - 0.6:.1f}" '
        f'height="{h / top * (height - 4):.1f}" fill="{REFERENCE_COLOUR}"/>'
        for i, h in enumerate(ref)
    )
    points = []
    for i, h in enumerate(cur):
        y = height - h / top * (height - 4)
        points += [f"{i * bar:.1f},{y:.1f}", f"{(i + 1) * bar:.1f},{y:.1f}"]
    edges = histogram.get("edges") or [0, 0]
    label = f"reference (bars) vs current (line) from {edges[0]:.4g} to {edges[-1]:.4g}"
    return (
        f'<svg width="{width}" height="{height + 12}" viewBox="0 0 {width} {height + 12}" '
        f'role="img" aria-label="{_e(label)}"><title>{_e(label)}</title>{bars}'
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{CURRENT_COLOUR}" '
        f'stroke-width="1.8"/><text x="0" y="{height + 10}" font-size="9" fill="#5b6773">'
        f'{edges[0]:.4g}</text><text x="{width}" y="{height + 10}" font-size="9" '
        f'text-anchor="end" fill="#5b6773">{edges[-1]:.4g}</text></svg>'
    )


def _categorical_svg(histogram: Mapping[str, Any], width: int = 220, height: int = 56) -> str:
    labels = histogram.get("categories") or []
    if not labels:
        return ""
    ref, cur = histogram["reference"], histogram["current"]
    top = max(*ref, *cur, 1e-12)
    slot = width / len(labels)
    parts = []
    for i, label in enumerate(labels):
        for j, (share, colour) in enumerate(((ref[i], REFERENCE_COLOUR), (cur[i], CURRENT_COLOUR))):
            h = share / top * (height - 4)
            parts.append(
                f'<rect x="{i * slot + j * slot * 0.42 + slot * 0.08:.1f}" y="{height - h:.1f}" '
                f'width="{slot * 0.4:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{_e(label)}: {'reference' if j == 0 else 'current'} {share:.1%}"
                "</title></rect>"
            )
        short = label if len(label) <= 9 else label[:8] + "…"
        parts.append(
            f'<text x="{(i + 0.5) * slot:.1f}" y="{height + 10}" font-size="8" '
            f'text-anchor="middle" fill="#5b6773">{_e(short)}</text>'
        )
    return (
        f'<svg width="{width}" height="{height + 12}" viewBox="0 0 {width} {height + 12}" '
        f'role="img" aria-label="category shares, reference vs current">{"".join(parts)}</svg>'
    )


def _issues_table(findings: list[Mapping[str, Any]], kind: str = "check") -> str:
    """Return the findings as a table; `kind` is the key naming each one (check, expectation)."""
    if not findings:
        return '<p class="muted">Nothing to report.</p>'
    rows = "".join(
        f"<tr><td>{_badge(f['level'])}</td><td>{_e(f[kind])}</td>"
        f"<td>{_e(f['column'] or '-')}</td><td>{_e(f['message'])}</td></tr>"
        for f in sorted(findings, key=lambda f: -level_rank(f["level"]))
    )
    return (
        f"<table><thead><tr><th>Level</th><th>{_e(kind.capitalize())}</th><th>Column</th>"
        f"<th>Message</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _validation_html(section: ValidationResult) -> str:
    return (
        f"<p>{_badge(section.level)} {_e(section.summary)} "
        f"(suite <code>{_e(section.suite_name)}</code>, {_fmt(section.n_rows)} rows)</p>"
        + _issues_table(section.failures, "expectation")
    )


def _drift_html(section: DataDrift) -> str:
    t = section.thresholds
    rows = []
    # Row keys depend on the row: a feature that could not be compared has no effect sizes,
    # histogram or summaries, so those are read with .get (absent: shown as "-").
    for row in section.features:
        hist = row.get("histogram") or {}
        plot = _numeric_svg(hist) if row["kind"] == "numeric" else _categorical_svg(hist)
        effect = (
            f"PSI {_fmt(row.get('psi'))}<br>W/sd {_fmt(row.get('wasserstein_normed'))}"
            if row["kind"] == "numeric"
            else f"JS {_fmt(row.get('jensen_shannon'))}<br>PSI {_fmt(row.get('psi'))}"
        )
        notes = "; ".join(row["reasons"])
        if row["flags"]:
            notes += (" · " if notes else "") + "flags: " + ", ".join(row["flags"])
        p_adjusted = row["p_value_adjusted"]
        if not row["drifted"] and p_adjusted is not None and p_adjusted < t["alpha"]:
            notes += (" · " if notes else "") + "significant, but below the effect-size threshold"
        rows.append(
            f"<tr><td><b>{_e(row['feature'])}</b><br>"
            f"<span class='muted'>{_e(row['kind'])}</span></td>"
            f"<td>{_badge(row['level'])}</td>"
            f"<td class='num'>{_fmt(row['drift_score'], 2)}</td>"
            f"<td>{_e(row['test'] or '-')}<br>p_adj {_fmt(p_adjusted)}</td>"
            f"<td>{effect}</td><td>{plot}</td><td>{_e(notes)}</td></tr>"
        )
    cards = "".join(
        f'<div class="card">{label}<b>{value}</b></div>'
        for label, value in (
            ("Drifted features", f"{len(section.drifted_features)} / {section.n_features}"),
            ("Drift share", _fmt(section.drift_share, 2)),
            ("Reference rows", f"{section.n_rows_reference:,}"),
            ("Current rows", f"{section.n_rows_current:,}"),
        )
    )
    return (
        f"<p>{_badge(section.level)} {_e(section.summary)}</p>"
        f'<div class="cards">{cards}</div>'
        f"<h3>Features, most drifted first</h3>"
        f'<p class="legend muted">Drift score 1.0 = an effect size at its warn threshold.'
        f'<span style="background:{REFERENCE_COLOUR}"></span>reference'
        f'<span style="background:{CURRENT_COLOUR}"></span>current</p>'
        "<table><thead><tr><th>Feature</th><th>Level</th><th>Score</th><th>Test</th>"
        "<th>Effect size</th><th>Distribution</th><th>Why</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        f"<h3>Input problems</h3>{_issues_table(section.issues)}"
        f'<p class="muted">Correction {_e(t["correction"])}, alpha {_e(t["alpha"])}, '
        f"rule {_e(t['decision_rule'])}, PSI {_e(t['psi_warn'])}/{_e(t['psi_fail'])}, "
        f"W/sd {_e(t['wasserstein_warn'])}/{_e(t['wasserstein_fail'])}, JS "
        f"{_e(t['jensen_shannon_warn'])}/{_e(t['jensen_shannon_fail'])} (warn/fail); "
        f"computed in {_e(section.elapsed_seconds)} s.</p>"
    )


def _model_html(section: ModelDrift) -> str:
    out = f"<p>{_badge(section.level)} {_e(section.summary)}</p>"
    if section.metrics:
        out += (
            "<table><thead><tr><th>Metric</th><th>Baseline</th><th>Current</th><th>Worse by</th>"
            "<th>Tolerated / failing</th><th>Level</th></tr></thead><tbody>"
            + "".join(
                f"<tr><td>{_e(r['metric'])}</td><td class='num'>{_fmt(r['baseline'], 4)}</td>"
                f"<td class='num'>{_fmt(r['current'], 4)}</td>"
                f"<td class='num'>{_fmt(r['drop'], 4)}</td>"
                f"<td class='num'>{_fmt(r['tolerated_drop'])} / {_fmt(r['failing_drop'])}</td>"
                f"<td>{_badge(r['level'])}</td></tr>"
                for r in section.metrics
            )
            + "</tbody></table>"
        )
    return out


def _concept_html(section: ConceptDrift) -> str:
    out = f"<p>{_badge(section.level)} {_e(section.summary)}</p>"
    for name, check in section.checks.items():
        out += f"<h3>{_e(name.replace('_', ' ').capitalize())} {_badge(check['level'])}</h3>"
        out += f"<p>{_e(check['message'])}"
        # Only a check that compared attributions has scores, reasons and a feature table.
        if check.get("features"):
            out += (
                f" — Spearman {_fmt(check['spearman'])}, NDCG {_fmt(check['ndcg'])}, "
                f"importance shift {_fmt(check['importance_shift'])}"
            )
            if check["reasons"]:
                out += f" ({_e('; '.join(check['reasons']))})"
            out += (
                "</p><table><thead><tr><th>Feature</th><th>Reference mean |SHAP|</th>"
                "<th>Rank</th><th>Current mean |SHAP|</th><th>Rank</th></tr></thead><tbody>"
                + "".join(
                    f"<tr><td>{_e(r['feature'])}</td><td class='num'>{_fmt(r['reference'], 4)}</td>"
                    f"<td class='num'>{r['reference_rank']}</td>"
                    f"<td class='num'>{_fmt(r['current'], 4)}</td>"
                    f"<td class='num'>{r['current_rank']}</td></tr>"
                    for r in check["features"]
                )
                + "</tbody></table>"
            )
        else:
            out += "</p>"
    return out


def render_html_report(report: MonitoringReport, title: str = "Model monitoring report") -> str:
    """Return the report as one self-contained HTML page, verdict first."""
    level = report.level
    reasons = "".join(f"<li>{_e(r)}</li>" for r in report.reasons)
    body = (
        f"<h1>{_e(title)}</h1>"
        f'<section class="verdict {_e(level)}" id="verdict">'
        f"<strong>Verdict: {_e(level.upper())}</strong>"
        f"{_e(report.headline)}{f'<ul>{reasons}</ul>' if reasons else ''}</section>"
        f'<p class="muted">Generated {_e(report.generated_at)}</p>'
        '<h2 id="data-validation">Data validation</h2>'
        f"{_validation_html(report.validation)}"
        f'<h2 id="data-drift">Data drift</h2>{_drift_html(report.data_drift)}'
        f'<h2 id="model-drift">Model drift</h2>{_model_html(report.model_drift)}'
        '<h2 id="concept-drift">Concept drift</h2>'
        f"{_concept_html(report.concept_drift)}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}: {_e(level.upper())}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
