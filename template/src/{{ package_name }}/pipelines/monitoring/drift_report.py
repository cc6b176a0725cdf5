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

from .severity import level_rank, worst_level

REPORT_SCHEMA_VERSION = 1
SECTION_TITLES = {
    "validation": "Data validation",
    "data_drift": "Data drift",
    "model_drift": "Model drift",
    "concept_drift": "Concept drift",
}
REFERENCE_COLOUR, CURRENT_COLOUR = "#8c9bab", "#e8710a"


def build_monitoring_report(
    validation: Mapping[str, Any],
    data_drift: Mapping[str, Any],
    model_drift: Mapping[str, Any],
    concept_drift: Mapping[str, Any],
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """Return the whole report: overall level, the reasons behind it and each section."""
    sections = {
        "validation": dict(validation),
        "data_drift": dict(data_drift),
        "model_drift": dict(model_drift),
        "concept_drift": dict(concept_drift),
    }
    level = worst_level(s.get("level", "ok") for s in sections.values())
    reasons = [
        f"{SECTION_TITLES[name]} {s['level'].upper()}: {s.get('summary', '')}"
        for name, s in sections.items()
        if s.get("level", "ok") != "ok"
    ]
    stamp = (generated_at or datetime.now(UTC)).astimezone(UTC)
    headline = {
        "ok": "No drift or data problem found",
        "warn": "Warnings: look at the flagged sections",
        "fail": "Action needed: at least one check failed",
    }[level]
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": stamp.isoformat(),
        "level": level,
        "headline": headline,
        "reasons": reasons,
        "sections": sections,
    }


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


def _issues_table(findings: list[Mapping[str, Any]], first_column: str = "Check") -> str:
    if not findings:
        return '<p class="muted">Nothing to report.</p>'
    rows = "".join(
        f"<tr><td>{_badge(f.get('level', 'warn'))}</td>"
        f"<td>{_e(f.get('check') or f.get('expectation'))}"
        f"</td><td>{_e(f.get('column') or '-')}</td><td>{_e(f.get('message', ''))}</td></tr>"
        for f in sorted(findings, key=lambda f: -level_rank(f.get("level", "warn")))
    )
    return (
        f"<table><thead><tr><th>Level</th><th>{_e(first_column)}</th><th>Column</th>"
        f"<th>Message</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _validation_html(section: Mapping[str, Any]) -> str:
    if not section:
        return '<p class="muted">Not run.</p>'
    return (
        f"<p>{_badge(section.get('level', 'ok'))} {_e(section.get('summary', ''))} "
        f"(suite <code>{_e(section.get('suite_name', ''))}</code>, "
        f"{_fmt(section.get('n_rows'))} rows)</p>"
        + _issues_table(section.get("failures", []), "Expectation")
    )


def _drift_html(section: Mapping[str, Any]) -> str:
    if not section:
        return '<p class="muted">Not run.</p>'
    rows = []
    for row in section.get("features", []):
        hist = row.get("histogram") or {}
        plot = _numeric_svg(hist) if row["kind"] == "numeric" else _categorical_svg(hist)
        effect = (
            f"PSI {_fmt(row.get('psi'))}<br>W/sd {_fmt(row.get('wasserstein_normed'))}"
            if row["kind"] == "numeric"
            else f"JS {_fmt(row.get('jensen_shannon'))}<br>PSI {_fmt(row.get('psi'))}"
        )
        notes = "; ".join(row.get("reasons") or [])
        if row.get("flags"):
            notes += (" · " if notes else "") + "flags: " + ", ".join(row["flags"])
        if not row.get("drifted") and (row.get("p_value_adjusted") or 1) < section.get(
            "thresholds", {}
        ).get("alpha", 0.05):
            notes += (" · " if notes else "") + "significant, but below the effect-size threshold"
        rows.append(
            f"<tr><td><b>{_e(row['feature'])}</b><br>"
            f"<span class='muted'>{_e(row['kind'])}</span></td>"
            f"<td>{_badge(row.get('level', 'ok'))}</td>"
            f"<td class='num'>{_fmt(row.get('drift_score'), 2)}</td>"
            f"<td>{_e(row.get('test') or '-')}<br>p_adj {_fmt(row.get('p_value_adjusted'))}</td>"
            f"<td>{effect}</td><td>{plot}</td><td>{_e(notes)}</td></tr>"
        )
    t = section.get("thresholds", {})
    cards = "".join(
        f'<div class="card">{label}<b>{value}</b></div>'
        for label, value in (
            (
                "Drifted features",
                f"{len(section.get('drifted_features', []))} / {section.get('n_features', 0)}",
            ),
            ("Drift share", _fmt(section.get("drift_share"), 2)),
            ("Reference rows", f"{section.get('n_rows_reference', 0):,}"),
            ("Current rows", f"{section.get('n_rows_current', 0):,}"),
        )
    )
    return (
        f"<p>{_badge(section.get('level', 'ok'))} {_e(section.get('summary', ''))}</p>"
        f'<div class="cards">{cards}</div>'
        f"<h3>Features, most drifted first</h3>"
        f'<p class="legend muted">Drift score 1.0 = an effect size at its warn threshold.'
        f'<span style="background:{REFERENCE_COLOUR}"></span>reference'
        f'<span style="background:{CURRENT_COLOUR}"></span>current</p>'
        "<table><thead><tr><th>Feature</th><th>Level</th><th>Score</th><th>Test</th>"
        "<th>Effect size</th><th>Distribution</th><th>Why</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        f"<h3>Input problems</h3>{_issues_table(section.get('issues', []))}"
        f'<p class="muted">Correction {_e(t.get("correction"))}, alpha {_e(t.get("alpha"))}, '
        f"rule {_e(t.get('decision_rule'))}, PSI {_e(t.get('psi_warn'))}/{_e(t.get('psi_fail'))}, "
        f"W/sd {_e(t.get('wasserstein_warn'))}/{_e(t.get('wasserstein_fail'))}, JS "
        f"{_e(t.get('jensen_shannon_warn'))}/{_e(t.get('jensen_shannon_fail'))} (warn/fail); "
        f"computed in {_e(section.get('elapsed_seconds'))} s.</p>"
    )


def _model_html(section: Mapping[str, Any]) -> str:
    if not section:
        return '<p class="muted">Not run.</p>'
    out = f"<p>{_badge(section.get('level', 'ok'))} {_e(section.get('summary', ''))}</p>"
    if section.get("metrics"):
        out += (
            "<table><thead><tr><th>Metric</th><th>Baseline</th><th>Current</th><th>Worse by</th>"
            "<th>Tolerated / failing</th><th>Level</th></tr></thead><tbody>"
            + "".join(
                f"<tr><td>{_e(r['metric'])}</td><td class='num'>{_fmt(r['baseline'], 4)}</td>"
                f"<td class='num'>{_fmt(r['current'], 4)}</td>"
                f"<td class='num'>{_fmt(r['drop'], 4)}</td>"
                f"<td class='num'>{_fmt(r['tolerated_drop'])} / {_fmt(r['failing_drop'])}</td>"
                f"<td>{_badge(r['level'])}</td></tr>"
                for r in section["metrics"]
            )
            + "</tbody></table>"
        )
    return out


def _concept_html(section: Mapping[str, Any]) -> str:
    if not section:
        return '<p class="muted">Not run.</p>'
    out = f"<p>{_badge(section.get('level', 'ok'))} {_e(section.get('summary', ''))}</p>"
    for name, check in (section.get("checks") or {}).items():
        out += (
            f"<h3>{_e(name.replace('_', ' ').capitalize())} {_badge(check.get('level', 'ok'))}</h3>"
        )
        out += f"<p>{_e(check.get('message', ''))}"
        if check.get("features"):
            out += (
                f" — Spearman {_fmt(check.get('spearman'))}, NDCG {_fmt(check.get('ndcg'))}, "
                f"importance shift {_fmt(check.get('importance_shift'))}"
            )
            if check.get("reasons"):
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


def render_html_report(report: Mapping[str, Any], title: str = "Model monitoring report") -> str:
    """Return the report as one self-contained HTML page, verdict first."""
    level = report.get("level", "ok")
    sections = report.get("sections", {})
    reasons = "".join(f"<li>{_e(r)}</li>" for r in report.get("reasons", []))
    body = (
        f"<h1>{_e(title)}</h1>"
        f'<section class="verdict {_e(level)}" id="verdict">'
        f"<strong>Verdict: {_e(level.upper())}</strong>"
        f"{_e(report.get('headline', ''))}{f'<ul>{reasons}</ul>' if reasons else ''}</section>"
        f'<p class="muted">Generated {_e(report.get("generated_at", ""))}</p>'
        '<h2 id="data-validation">Data validation</h2>'
        f"{_validation_html(sections.get('validation') or {})}"
        f'<h2 id="data-drift">Data drift</h2>{_drift_html(sections.get("data_drift") or {})}'
        f'<h2 id="model-drift">Model drift</h2>{_model_html(sections.get("model_drift") or {})}'
        '<h2 id="concept-drift">Concept drift</h2>'
        f"{_concept_html(sections.get('concept_drift') or {})}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(title)}: {_e(level.upper())}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
