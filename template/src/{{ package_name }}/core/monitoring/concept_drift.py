"""Concept drift: the relation between features and target changed.

Two signals, both in the report:

* performance against input drift: the model got worse while its inputs barely moved, so what
  changed is how the target depends on them;
* attribution drift: the mean |SHAP| importance of each feature (ranking and magnitude) on the
  reference compared with the current batch, scored by Spearman rank correlation, NDCG (which
  weighs the top features most) and the share of importance that moved. It is computed for the
  deployed model on current inputs (attribution drift, as cloud monitors report it) and, when the
  batch has labels, for a copy of the model refitted on the current batch: its importances show
  what now predicts the target.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..features import Features, feature_spec
from ..parameters import AttributionDriftSettings, ConceptDriftSettings, section
from .results import ConceptDrift, DataDrift, ModelDrift
from .severity import format_against, issue, worst_level

logger = logging.getLogger(__name__)

ImportanceFunction = Callable[..., dict[str, float]]


def _aligned(
    reference: Mapping[str, float], current: Mapping[str, float]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    names = list(dict.fromkeys([*reference, *current]))
    ref = np.array([float(reference.get(n, 0.0)) for n in names])
    cur = np.array([float(current.get(n, 0.0)) for n in names])
    return names, ref, cur


def spearman_rank_correlation(
    reference: Mapping[str, float], current: Mapping[str, float]
) -> float | None:
    """Return Spearman's rank correlation of two importance maps (None when undefined)."""
    from scipy.stats import spearmanr

    _, ref, cur = _aligned(reference, current)
    if ref.size < 2 or np.ptp(ref) == 0 or np.ptp(cur) == 0:
        return None
    return float(spearmanr(ref, cur).statistic)


def ndcg(
    reference: Mapping[str, float], current: Mapping[str, float], k: int | None = None
) -> float | None:
    """Return NDCG@k of the current importance ranking, graded by the reference importances."""
    _, ref, cur = _aligned(reference, current)
    if ref.size == 0 or ref.sum() <= 0:
        return None
    k = ref.size if k is None else min(k, ref.size)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    relevance = ref / ref.sum()
    dcg = float(np.sum(relevance[np.argsort(-cur, kind="stable")[:k]] * discounts))
    ideal = float(np.sum(np.sort(relevance)[::-1][:k] * discounts))
    return dcg / ideal if ideal > 0 else None


def importance_shift(reference: Mapping[str, float], current: Mapping[str, float]) -> float | None:
    """Return the share of total importance that moved between features (0 = same, 1 = disjoint)."""
    _, ref, cur = _aligned(reference, current)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return None
    return float(0.5 * np.abs(ref / ref.sum() - cur / cur.sum()).sum())


def compare_attributions(
    reference: Mapping[str, float],
    current: Mapping[str, float],
    settings: AttributionDriftSettings,
) -> dict[str, Any]:
    """Return rank correlation, NDCG, importance shift, a per-feature table and the level."""
    rho = spearman_rank_correlation(reference, current)
    gain = ndcg(reference, current, settings.ndcg_top_k)
    shift = importance_shift(reference, current)
    names, ref, cur = _aligned(reference, current)
    ref_rank = {n: r for r, n in enumerate(sorted(names, key=lambda n: -reference.get(n, 0.0)), 1)}
    cur_rank = {n: r for r, n in enumerate(sorted(names, key=lambda n: -current.get(n, 0.0)), 1)}
    table = sorted(
        (
            {
                "feature": n,
                "reference": float(r),
                "current": float(c),
                "reference_rank": ref_rank[n],
                "current_rank": cur_rank[n],
            }
            for n, r, c in zip(names, ref, cur, strict=True)
        ),
        key=lambda row: row["reference_rank"],
    )
    reasons, levels = [], []
    checks = (
        (
            "Spearman rank correlation",
            rho,
            settings.min_rank_correlation_warn,
            settings.min_rank_correlation_fail,
        ),
        ("NDCG", gain, settings.min_ndcg_warn, settings.min_ndcg_fail),
    )
    for label, value, warn, fail in checks:
        if value is None:
            continue
        if value < fail:
            levels.append("fail")
            reasons.append(f"{label} {format_against(value, fail)} < {fail}")
        elif value < warn:
            levels.append("warn")
            reasons.append(f"{label} {format_against(value, warn)} < {warn}")
    if shift is not None:
        if shift > settings.max_importance_shift_fail:
            levels.append("fail")
            bound = settings.max_importance_shift_fail
            reasons.append(f"importance shift {format_against(shift, bound)} > {bound}")
        elif shift > settings.max_importance_shift_warn:
            levels.append("warn")
            bound = settings.max_importance_shift_warn
            reasons.append(f"importance shift {format_against(shift, bound)} > {bound}")
    return {
        "spearman": rho,
        "ndcg": gain,
        "importance_shift": shift,
        "features": table,
        "level": worst_level(levels),
        "reasons": reasons,
    }


def compute_concept_drift(
    model: Any,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Features,
    *,
    data_drift: DataDrift,
    model_drift: ModelDrift,
    settings: ConceptDriftSettings,
    importance_fn: ImportanceFunction | None = None,
) -> ConceptDrift:
    """Return the concept drift checks, each with its level, and the overall level."""
    settings = section(ConceptDriftSettings, settings, "monitoring.concept_drift")
    checks: dict[str, Any] = {}
    findings: list[dict] = []

    # 1. Performance fell while the inputs stayed put.
    stable_share = settings.max_input_drift_share
    if model_drift.status != "measured":
        checks["performance_vs_inputs"] = {
            "level": "ok",
            "message": f"not assessed: {model_drift.summary}",
        }
    elif model_drift.level == "ok":
        checks["performance_vs_inputs"] = {"level": "ok", "message": "performance within tolerance"}
    elif data_drift.drift_share < stable_share:
        message = (
            f"performance dropped ({model_drift.summary}) while only "
            f"{data_drift.drift_share:.0%} of input features drifted "
            f"(< {stable_share:.0%}): the relation between features and target changed"
        )
        checks["performance_vs_inputs"] = {"level": model_drift.level, "message": message}
        findings.append(issue(model_drift.level, "concept_drift", message))
    else:
        checks["performance_vs_inputs"] = {
            "level": "ok",
            "message": (
                f"performance dropped, but {data_drift.drift_share:.0%} of input "
                "features drifted too: input drift may explain it (see attribution drift)"
            ),
        }

    # 2. Attribution drift.
    attribution = settings.attribution
    if attribution.enabled and len(current) and len(reference):
        checks.update(
            _attribution_checks(
                model,
                reference,
                current,
                features,
                settings=attribution,
                importance_fn=importance_fn,
                findings=findings,
            )
        )
    else:
        reason = (
            "disabled (monitoring.concept_drift.attribution.enabled)"
            if len(current)
            else "the current batch is empty"
        )
        checks["attribution"] = {"level": "ok", "message": f"not assessed: {reason}"}

    # Every check has a level and a message; the compared ones add their reasons.
    level = worst_level(c["level"] for c in checks.values())
    flagged = [
        f"{name}: {'; '.join(c.get('reasons') or [c['message']])}"
        for name, c in checks.items()
        if c["level"] != "ok"
    ]
    return ConceptDrift(
        level=level,
        checks=checks,
        issues=findings,
        summary="; ".join(flagged) if flagged else "no sign of concept drift",
    )


def _attribution_checks(
    model: Any,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Features,
    *,
    settings: AttributionDriftSettings,
    importance_fn: ImportanceFunction | None,
    findings: list[dict],
) -> dict[str, Any]:
    if importance_fn is None:
        from ..attribution import mean_abs_shap as importance_fn
    spec = feature_spec(features)
    columns = list(spec.model_columns)
    size, seed = settings.sample_size, settings.random_state
    checks: dict[str, Any] = {}
    try:
        baseline = importance_fn(model, reference[columns], sample_size=size, random_state=seed)
        on_current = importance_fn(model, current[columns], sample_size=size, random_state=seed)
    except Exception as error:
        message = f"SHAP importances could not be computed: {type(error).__name__}: {error}"
        findings.append(issue("warn", "attribution_error", message))
        return {"attribution": {"level": "warn", "message": message}}
    checks["attribution"] = compare_attributions(baseline, on_current, settings)
    checks["attribution"]["message"] = (
        "deployed model: mean |SHAP| on the reference vs the current batch"
    )
    target = spec.target
    labelled = (
        current.loc[current[target].notna()] if target in current.columns else current.iloc[:0]
    )
    min_rows = settings.refit_min_rows
    empty = [c for c in columns if c in labelled.columns and labelled[c].isna().all()]
    if settings.refit_on_current and len(labelled) >= min_rows and empty:
        # A model cannot be refitted on a column without values; data validation and data drift
        # already fail the batch for it.
        checks["refit_attribution"] = {
            "level": "ok",
            "message": f"not assessed: feature(s) {empty} have no values in the labelled "
            "current batch, so no model can be refitted on it (see data validation)",
        }
    elif settings.refit_on_current and len(labelled) >= min_rows and labelled[target].nunique() > 1:
        try:
            from sklearn.base import clone

            refitted = clone(model).fit(labelled[columns], labelled[target].astype(int))
            relation = importance_fn(
                refitted, labelled[columns], sample_size=size, random_state=seed
            )
        except Exception as error:
            message = f"refitting on the current batch failed: {type(error).__name__}: {error}"
            findings.append(issue("warn", "attribution_error", message))
            checks["refit_attribution"] = {"level": "warn", "message": message}
        else:
            checks["refit_attribution"] = compare_attributions(baseline, relation, settings)
            checks["refit_attribution"]["message"] = (
                "model refitted on the labelled current batch vs the deployed model on the "
                "reference: what predicts the target now"
            )
    else:
        checks["refit_attribution"] = {
            "level": "ok",
            "message": f"not assessed: needs at least {min_rows} labelled rows with both classes "
            "(monitoring.concept_drift.attribution.refit_min_rows)"
            if settings.refit_on_current
            else "disabled (refit_on_current: false)",
        }
    for name in ("attribution", "refit_attribution"):
        check = checks[name]
        if check["level"] != "ok" and check.get("reasons"):
            findings.append(
                issue(
                    check["level"],
                    f"{name}_drift",
                    f"{name.replace('_', ' ')} drift: {'; '.join(check['reasons'])}",
                )
            )
    return checks
