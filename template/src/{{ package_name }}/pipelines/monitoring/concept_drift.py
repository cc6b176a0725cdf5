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

from ...core.features import model_columns
from .severity import issue, worst_level

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
    reference: Mapping[str, float], current: Mapping[str, float], params: Mapping[str, Any]
) -> dict[str, Any]:
    """Return rank correlation, NDCG, importance shift, a per-feature table and the level."""
    rho = spearman_rank_correlation(reference, current)
    gain = ndcg(reference, current, params.get("ndcg_top_k"))
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
            "min_rank_correlation_warn",
            "min_rank_correlation_fail",
        ),
        ("NDCG", gain, "min_ndcg_warn", "min_ndcg_fail"),
    )
    for label, value, warn_key, fail_key in checks:
        if value is None or warn_key not in params:
            continue
        if value < params[fail_key]:
            levels.append("fail")
            reasons.append(f"{label} {value:.3f} < {params[fail_key]}")
        elif value < params[warn_key]:
            levels.append("warn")
            reasons.append(f"{label} {value:.3f} < {params[warn_key]}")
    if shift is not None and "max_importance_shift_warn" in params:
        if shift > params["max_importance_shift_fail"]:
            levels.append("fail")
            reasons.append(f"importance shift {shift:.3f} > {params['max_importance_shift_fail']}")
        elif shift > params["max_importance_shift_warn"]:
            levels.append("warn")
            reasons.append(f"importance shift {shift:.3f} > {params['max_importance_shift_warn']}")
    return {
        "spearman": rho,
        "ndcg": gain,
        "importance_shift": shift,
        "features": table,
        "level": worst_level(levels),
        "reasons": reasons,
    }


def detect_concept_drift(
    model: Any,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Mapping[str, Any],
    *,
    data_drift: Mapping[str, Any],
    model_drift: Mapping[str, Any],
    params: Mapping[str, Any],
    importance_fn: ImportanceFunction | None = None,
) -> dict[str, Any]:
    """Return the concept drift checks, each with its level, and the overall level."""
    checks: dict[str, Any] = {}
    findings: list[dict] = []

    # 1. Performance fell while the inputs stayed put.
    stable_share = float(params.get("max_input_drift_share", 0.1))
    if model_drift.get("status") != "measured":
        checks["performance_vs_inputs"] = {
            "level": "ok",
            "message": "not assessed: " + str(model_drift.get("summary", "no performance data")),
        }
    elif model_drift["level"] == "ok":
        checks["performance_vs_inputs"] = {"level": "ok", "message": "performance within tolerance"}
    elif data_drift.get("drift_share", 1.0) < stable_share:
        message = (
            f"performance dropped ({model_drift['summary']}) while only "
            f"{data_drift.get('drift_share', 0):.0%} of input features drifted "
            f"(< {stable_share:.0%}): the relation between features and target changed"
        )
        checks["performance_vs_inputs"] = {"level": model_drift["level"], "message": message}
        findings.append(issue(model_drift["level"], "concept_drift", message))
    else:
        checks["performance_vs_inputs"] = {
            "level": "ok",
            "message": (
                f"performance dropped, but {data_drift.get('drift_share', 0):.0%} of input "
                "features drifted too: input drift may explain it (see attribution drift)"
            ),
        }

    # 2. Attribution drift.
    attribution = dict(params.get("attribution") or {})
    if attribution.get("enabled", True) and len(current) and len(reference):
        checks.update(
            _attribution_checks(
                model,
                reference,
                current,
                features,
                params=attribution,
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

    level = worst_level(c.get("level", "ok") for c in checks.values())
    flagged = [
        f"{name}: {'; '.join(c.get('reasons') or [c.get('message', '')])}"
        for name, c in checks.items()
        if c.get("level", "ok") != "ok"
    ]
    return {
        "level": level,
        "checks": checks,
        "issues": findings,
        "summary": "; ".join(flagged) if flagged else "no sign of concept drift",
    }


def _attribution_checks(
    model: Any,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Mapping[str, Any],
    *,
    params: Mapping[str, Any],
    importance_fn: ImportanceFunction | None,
    findings: list[dict],
) -> dict[str, Any]:
    if importance_fn is None:
        from ...core.attribution import mean_abs_shap as importance_fn
    columns = model_columns(features)
    size, seed = int(params.get("sample_size", 500)), int(params.get("random_state", 0))
    thresholds = {
        k: params[k]
        for k in (
            "min_rank_correlation_warn",
            "min_rank_correlation_fail",
            "min_ndcg_warn",
            "min_ndcg_fail",
            "max_importance_shift_warn",
            "max_importance_shift_fail",
        )
        if k in params
    }
    thresholds["ndcg_top_k"] = params.get("ndcg_top_k")
    checks: dict[str, Any] = {}
    try:
        baseline = importance_fn(model, reference[columns], sample_size=size, random_state=seed)
        on_current = importance_fn(model, current[columns], sample_size=size, random_state=seed)
    except Exception as error:
        message = f"SHAP importances could not be computed: {type(error).__name__}: {error}"
        findings.append(issue("warn", "attribution_error", message))
        return {"attribution": {"level": "warn", "message": message}}
    checks["attribution"] = compare_attributions(baseline, on_current, thresholds)
    checks["attribution"]["message"] = (
        "deployed model: mean |SHAP| on the reference vs the current batch"
    )
    target = features["target"]
    labelled = (
        current.loc[current[target].notna()] if target in current.columns else current.iloc[:0]
    )
    min_rows = int(params.get("refit_min_rows", 200))
    empty = [c for c in columns if c in labelled.columns and labelled[c].isna().all()]
    if params.get("refit_on_current", True) and len(labelled) >= min_rows and empty:
        # A model cannot be refitted on a column without values; data validation and data drift
        # already fail the batch for it.
        checks["refit_attribution"] = {
            "level": "ok",
            "message": f"not assessed: feature(s) {empty} have no values in the labelled "
            "current batch, so no model can be refitted on it (see data validation)",
        }
    elif (
        params.get("refit_on_current", True)
        and len(labelled) >= min_rows
        and labelled[target].nunique() > 1
    ):
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
            checks["refit_attribution"] = compare_attributions(baseline, relation, thresholds)
            checks["refit_attribution"]["message"] = (
                "model refitted on the labelled current batch vs the deployed model on the "
                "reference: what predicts the target now"
            )
    else:
        checks["refit_attribution"] = {
            "level": "ok",
            "message": f"not assessed: needs at least {min_rows} labelled rows with both classes "
            "(monitoring.concept_drift.attribution.refit_min_rows)"
            if params.get("refit_on_current", True)
            else "disabled (refit_on_current: false)",
        }
    for name in ("attribution", "refit_attribution"):
        check = checks[name]
        if check.get("level", "ok") != "ok" and check.get("reasons"):
            findings.append(
                issue(
                    check["level"],
                    f"{name}_drift",
                    f"{name.replace('_', ' ')} drift: {'; '.join(check['reasons'])}",
                )
            )
    return checks
