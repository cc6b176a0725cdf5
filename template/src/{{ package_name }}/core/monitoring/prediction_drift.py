"""Prediction drift: has the distribution of the model's scores moved since the reference?

With no labels, performance cannot be measured; the scores can. The model in service scores the
reference (the held-out test set, from the training distribution) and the new batch; two
statistics compare the two score distributions:

* PSI (Population Stability Index) on the reference's quantile bins: a share of the batch moved
  between score bands (< 0.1 stable, 0.1-0.25 moderate, > 0.25 major by convention);
* the two-sample Kolmogorov-Smirnov statistic: the largest gap between the two cumulative
  distributions (0 = identical, 1 = disjoint), independent of any binning.

A shift in scores says the model now sees different customers or treats them differently; it
does not say the model is wrong. It is the earliest signal available before labels arrive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..parameters import PredictionDriftSettings, section
from .results import PredictionDrift, metric_row
from .severity import worst_level


def population_stability_index(
    reference: np.ndarray, current: np.ndarray, bins: int, epsilon: float
) -> float:
    """Return the PSI of `current` against `reference` on the reference's quantile bins."""
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1))[1:-1])
    bins_of = edges.size + 1
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=bins_of)
    actual = np.bincount(np.searchsorted(edges, current, side="right"), minlength=bins_of)
    expected_share = np.maximum(expected / expected.sum(), epsilon)
    actual_share = np.maximum(actual / actual.sum(), epsilon)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Return the two-sample Kolmogorov-Smirnov statistic (largest gap between the two CDFs)."""
    reference, current = np.sort(reference), np.sort(current)
    points = np.concatenate([reference, current])
    gap = (
        np.searchsorted(reference, points, side="right") / reference.size
        - np.searchsorted(current, points, side="right") / current.size
    )
    return float(np.max(np.abs(gap)))


def compute_prediction_drift(
    reference_scores: np.ndarray,
    current_scores: np.ndarray,
    settings: PredictionDriftSettings | Mapping[str, Any],
) -> PredictionDrift:
    """Return the prediction drift of `current_scores` against `reference_scores`."""
    settings = section(PredictionDriftSettings, settings, "monitoring.prediction_drift")
    reference = np.asarray(reference_scores, dtype=np.float64)
    current = np.asarray(current_scores, dtype=np.float64)
    reference, current = reference[np.isfinite(reference)], current[np.isfinite(current)]
    if min(reference.size, current.size) < settings.min_rows:
        return PredictionDrift(
            level="warn",
            summary=(
                f"too few scored rows to compare ({reference.size} reference, {current.size} "
                f"current; at least {settings.min_rows}, monitoring.prediction_drift.min_rows)"
            ),
            psi=float("nan"),
            ks_statistic=float("nan"),
            reference_rows=int(reference.size),
            current_rows=int(current.size),
            reference_mean_score=float(np.mean(reference)) if reference.size else float("nan"),
            current_mean_score=float(np.mean(current)) if current.size else float("nan"),
            psi_warn=settings.psi_warn,
            psi_fail=settings.psi_fail,
            ks_warn=settings.ks_warn,
            ks_fail=settings.ks_fail,
        )
    psi = population_stability_index(reference, current, settings.psi_bins, settings.psi_epsilon)
    ks = ks_statistic(reference, current)
    rows = [
        metric_row("score_psi", psi, settings.psi_warn, settings.psi_fail),
        metric_row("score_ks", ks, settings.ks_warn, settings.ks_fail),
    ]
    level = worst_level(r["level"] for r in rows)
    summary = (
        f"scores moved: PSI {psi:.3f}, KS {ks:.3f}; mean score {np.mean(reference):.3f} -> "
        f"{np.mean(current):.3f} on {current.size} rows"
        if level != "ok"
        else f"scores stable: PSI {psi:.3f}, KS {ks:.3f} on {current.size} rows"
    )
    return PredictionDrift(
        level=level,
        summary=summary,
        psi=psi,
        ks_statistic=ks,
        reference_rows=int(reference.size),
        current_rows=int(current.size),
        reference_mean_score=float(np.mean(reference)),
        current_mean_score=float(np.mean(current)),
        psi_warn=settings.psi_warn,
        psi_fail=settings.psi_fail,
        ks_warn=settings.ks_warn,
        ks_fail=settings.ks_fail,
    )
