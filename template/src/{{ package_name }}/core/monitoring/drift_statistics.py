"""Two-sample drift statistics, vectorised with numpy: no Python loop ever runs over rows.

Numeric features are compared from their sorted values: one sort per side, then the
Kolmogorov-Smirnov statistic from binary searches at a few points of each sample (bounds rule out
the rest), the exact Wasserstein-1 distance from the paired quantile steps of the two samples, and
the counts of the reference quantile bins used by the PSI from binary searches of the bin edges.
Categorical features are compared from their value counts. scipy is only used for the two p-value
tails.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

MISSING_CATEGORY = "<missing>"
CORRECTION_METHODS = ("benjamini_hochberg", "holm", "bonferroni", "none")
# Effective sample size n*m/(n+m) above which the KS p-value uses the limit distribution.
KS_EXACT_LIMIT = 10_000
# Points per block of the KS search: one binary search per block bounds the whole block.
KS_BLOCK = 64


# ----- numeric -----------------------------------------------------------------------------------


def sorted_finite(values: Any) -> tuple[np.ndarray, int]:
    """Return the finite values sorted ascending and the number of missing or infinite values."""
    array = np.asarray(values, dtype=np.float64)
    # An array of another dtype (ints) was converted into a private copy: sort that in place.
    converted = isinstance(values, np.ndarray) and values.dtype != np.float64
    finite_mask = np.isfinite(array)
    if finite_mask.all():
        # Copy unless converted, so the in-place sort never touches the caller's data.
        finite = array if converted else np.array(array)
    else:
        finite = array[finite_mask]
    finite.sort()
    return finite, int(array.size - finite.size)


def ks_and_wasserstein(
    reference_sorted: np.ndarray, current_sorted: np.ndarray
) -> tuple[float, float, float]:
    """Return the two-sided KS statistic, its asymptotic p-value and the exact W1 distance.

    Both CDFs are right-continuous, so the sup of F_ref - F_cur is reached at a reference point
    and that of F_cur - F_ref at a current point; `_largest_gap` finds each, exact in integers
    (ties included), with binary searches at only a few points. W1 is the integral of
    |Q_ref - Q_cur| over the quantile level: with equal sizes the mean gap of paired order
    statistics, otherwise `_quantile_distance`. The p-value comes from `ks_p_value`; it is
    conservative when values are tied.
    """
    a, b = reference_sorted, current_sorted
    n, m = a.size, b.size
    scale = float(n) * float(m)
    above, below = _largest_gap(a, b), _largest_gap(b, a)
    statistic = float(min(1.0, max(above / scale, below / scale, 0.0)))
    p_value = ks_p_value(statistic, n * m / (n + m))
    if n == m:  # the quantile functions step together: W1 is the mean gap of paired order stats
        gaps = a - b
        return statistic, p_value, float(np.mean(np.abs(gaps, out=gaps)))
    return statistic, p_value, _quantile_distance(a, b)


def _largest_gap(x: np.ndarray, y: np.ndarray) -> np.int64:
    """Return max over i of (i + 1) * len(y) - len(x) * #{y <= x[i]} for sorted x and y.

    That is len(x) * len(y) * sup(F_x - F_y), exact. A binary search at the first point of each
    block of `KS_BLOCK` points gives that point's value and a bound for the whole block (i grows
    by less than KS_BLOCK, the count of y never falls); only the blocks whose bound beats the best
    value found are searched point by point, usually a few percent of them.
    """
    n, m = x.size, y.size
    starts = np.arange(0, n, KS_BLOCK)
    below_start = np.searchsorted(y, x[starts], side="right") * n
    best = ((starts + 1) * m - below_start).max()
    bound = np.minimum(starts + KS_BLOCK, n) * m - below_start
    open_blocks = starts[bound > best]
    if open_blocks.size:
        points = (open_blocks[:, None] + np.arange(1, KS_BLOCK)).ravel()
        points = points[points < n]
        if points.size:
            gaps = (points + 1) * m - np.searchsorted(y, x[points], side="right") * n
            best = max(best, gaps.max())
    return best


def _quantile_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Return the integral of |Q_a - Q_b| over the quantile level for sorted a and b.

    In units of 1/(p*q), step i of the larger sample x (size p) covers [i*q, (i+1)*q) and step j
    of the smaller y covers [j*p, (j+1)*p): each step of x overlaps one step of y, or two when a
    step of y ends inside it, so two vectorised passes pair every piece.
    """
    x, y = (a, b) if a.size >= b.size else (b, a)
    p, q = x.size, y.size
    start = np.arange(0, p * q, q, dtype=np.int64)
    j = start // p  # the step of y holding the start of each step of x
    beyond = start + q - (j + 1) * p  # the part of the step of x that lies in step j + 1 of y
    np.maximum(beyond, 0, out=beyond)
    area = np.dot((q - beyond).astype(np.float64), np.abs(x - y[j]))
    j += 1
    np.minimum(j, q - 1, out=j)
    area += np.dot(beyond.astype(np.float64), np.abs(x - y[j]))
    return float(area) / (float(p) * float(q))


def ks_p_value(statistic: float, effective_n: float) -> float:
    """Return the two-sided KS p-value for an effective sample size n*m/(n+m).

    Up to `KS_EXACT_LIMIT` this is scipy's `ks_2samp(method="asymp")`, the Kolmogorov distribution
    of that size; above it, where that costs up to half a second per feature, Stephens' corrected
    limit law kstwobign.sf(D * (sqrt(n) + 0.12 + 0.11/sqrt(n))), within 1e-3 of it there and
    closer as n grows.
    """
    from scipy.stats import kstwo, kstwobign

    if effective_n <= KS_EXACT_LIMIT:
        p_value = kstwo.sf(statistic, max(round(effective_n), 1))
    else:
        root = math.sqrt(effective_n)
        p_value = kstwobign.sf(statistic * (root + 0.12 + 0.11 / root))
    return float(np.clip(p_value, 0.0, 1.0))


def ks_two_sample(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> tuple[float, float]:
    """Return the two-sided Kolmogorov-Smirnov statistic and its asymptotic p-value."""
    statistic, p_value, _ = ks_and_wasserstein(reference_sorted, current_sorted)
    return statistic, p_value


def wasserstein_sorted(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> float:
    """Return the exact Wasserstein-1 distance between two sorted samples."""
    return ks_and_wasserstein(reference_sorted, current_sorted)[2]


def quantile_bin_edges(reference_sorted: np.ndarray, n_bins: int) -> np.ndarray:
    """Return the distinct inner edges of `n_bins` equal-frequency bins of the reference."""
    n = reference_sorted.size
    if n == 0 or n_bins < 2:
        return np.empty(0, dtype=np.float64)
    positions = (np.arange(1, n_bins) * n) // n_bins
    return np.unique(reference_sorted[np.clip(positions, 0, n - 1)])


def counts_in_bins(sorted_values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Return counts in the bins (-inf, e1], (e1, e2], ..., (ek, inf) of a sorted sample."""
    at_or_below = np.searchsorted(sorted_values, inner_edges, side="right")
    return np.diff(np.concatenate(([0], at_or_below, [sorted_values.size])))


def population_stability_index(
    reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = 1e-4
) -> float:
    """Return PSI = sum((cur - ref) * ln(cur / ref)) over bin shares (empty bins -> epsilon)."""
    reference_share = _shares(reference_counts, epsilon)
    current_share = _shares(current_counts, epsilon)
    return float(
        np.sum((current_share - reference_share) * np.log(current_share / reference_share))
    )


def _shares(counts: np.ndarray, epsilon: float) -> np.ndarray:
    total = float(np.sum(counts))
    shares = np.asarray(counts, dtype=np.float64) / total if total > 0 else np.zeros(len(counts))
    return np.maximum(shares, epsilon)


def numeric_summary(sorted_values: np.ndarray, n_missing: int) -> dict[str, Any]:
    """Return count, missing share, mean, std, min, median and max of a sorted sample."""
    n = sorted_values.size
    total = n + n_missing
    if n == 0:
        return {
            "count": total,
            "missing_share": 1.0 if total else 0.0,
            "mean": None,
            "std": None,
            "min": None,
            "median": None,
            "max": None,
        }
    return {
        "count": total,
        "missing_share": n_missing / total,
        "mean": float(np.mean(sorted_values)),
        "std": float(np.std(sorted_values)),
        "min": float(sorted_values[0]),
        "median": float(sorted_values[n // 2]),
        "max": float(sorted_values[-1]),
    }


def numeric_histogram(
    reference_sorted: np.ndarray, current_sorted: np.ndarray, n_bins: int
) -> dict[str, list[float]]:
    """Return shared equal-width bin edges over the central 99% and the shares of both samples."""
    samples = [s for s in (reference_sorted, current_sorted) if s.size]
    if not samples:
        return {"edges": [], "reference": [], "current": []}
    low = min(s[int(0.005 * (s.size - 1))] for s in samples)
    high = max(s[math.ceil(0.995 * (s.size - 1))] for s in samples)
    if not high > low:
        high = low + 1.0
    edges = np.linspace(low, high, n_bins + 1)

    def shares(sorted_values: np.ndarray) -> list[float]:
        if not sorted_values.size:
            return [0.0] * n_bins
        # Values outside the central range fall into the end bins, so nothing is dropped.
        counts = counts_in_bins(sorted_values, edges[1:-1])
        return (counts / sorted_values.size).round(6).tolist()

    return {
        "edges": edges.round(6).tolist(),
        "reference": shares(reference_sorted),
        "current": shares(current_sorted),
    }


def compare_numeric(
    reference: Any,
    current: Any,
    psi_bins: int = 10,
    plot_bins: int = 20,
    epsilon: float = 1e-4,
) -> dict[str, Any]:
    """Return KS, PSI (reference quantile bins plus a missing bin) and normed Wasserstein."""
    reference_sorted, reference_missing = sorted_finite(reference)
    current_sorted, current_missing = sorted_finite(current)
    result: dict[str, Any] = {
        "reference": numeric_summary(reference_sorted, reference_missing),
        "current": numeric_summary(current_sorted, current_missing),
        "histogram": numeric_histogram(reference_sorted, current_sorted, plot_bins),
    }
    if reference_sorted.size == 0 or current_sorted.size == 0:
        result.update(
            ks_statistic=None, p_value=None, psi=None, wasserstein=None, wasserstein_normed=None
        )
        return result

    ks_statistic, p_value, wasserstein = ks_and_wasserstein(reference_sorted, current_sorted)
    edges = quantile_bin_edges(reference_sorted, psi_bins)
    reference_counts = counts_in_bins(reference_sorted, edges)
    current_counts = counts_in_bins(current_sorted, edges)
    if reference_missing or current_missing:
        # Missing values get a bin of their own, so a jump in the null rate moves the PSI too.
        reference_counts = np.append(reference_counts, reference_missing)
        current_counts = np.append(current_counts, current_missing)
    scale = result["reference"]["std"]
    result.update(
        ks_statistic=ks_statistic,
        p_value=p_value,
        psi=population_stability_index(reference_counts, current_counts, epsilon),
        wasserstein=wasserstein,
        # A constant reference has no spread to scale by: the raw distance is used instead.
        wasserstein_normed=wasserstein / scale if scale and scale > 0 else wasserstein,
    )
    return result


# ----- categorical -------------------------------------------------------------------------------


def category_counts(values: pd.Series) -> pd.Series:
    """Return counts per category as strings, missing values counted under `<missing>`."""
    counts = values.value_counts(dropna=False, sort=False)
    labels = [MISSING_CATEGORY if _is_missing(label) else str(label) for label in counts.index]
    counts.index = pd.Index(labels, dtype=object)
    counts = counts.groupby(level=0, sort=False).sum()  # 1 and "1" become one category
    return counts[counts > 0].astype(np.int64)


def _is_missing(label: Any) -> bool:
    try:
        return bool(pd.isna(label))
    except (TypeError, ValueError):
        return False


def chi_square_homogeneity(
    reference_counts: np.ndarray, current_counts: np.ndarray
) -> tuple[float, float]:
    """Return Pearson's chi-square statistic and p-value for the 2 x K table of counts."""
    from scipy.stats import chi2

    table = np.vstack([reference_counts, current_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(chi2.sf(statistic, table.shape[1] - 1))


def jensen_shannon_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Return the Jensen-Shannon distance (base 2, so between 0 and 1) of two count vectors."""
    p = np.asarray(reference_counts, dtype=np.float64)
    q = np.asarray(current_counts, dtype=np.float64)
    if p.sum() == 0 or q.sum() == 0:
        return 1.0 if p.sum() != q.sum() else 0.0
    p, q = p / p.sum(), q / q.sum()
    mixture = (p + q) / 2

    def kl_to_mixture(shares: np.ndarray) -> float:
        present = shares > 0
        return float(np.sum(shares[present] * np.log2(shares[present] / mixture[present])))

    divergence = (kl_to_mixture(p) + kl_to_mixture(q)) / 2
    return float(math.sqrt(max(divergence, 0.0)))


def compare_categorical(
    reference: pd.Series,
    current: pd.Series,
    epsilon: float = 1e-4,
    plot_categories: int = 12,
) -> dict[str, Any]:
    """Return chi-square, Jensen-Shannon distance, PSI and the unseen or vanished categories."""
    reference_counts = category_counts(reference)
    current_counts = category_counts(current)
    categories = list(reference_counts.index) + [
        c for c in current_counts.index if c not in reference_counts.index
    ]
    ref = reference_counts.reindex(categories, fill_value=0).to_numpy()
    cur = current_counts.reindex(categories, fill_value=0).to_numpy()
    unseen = [
        c for c in current_counts.index if c not in reference_counts.index and c != MISSING_CATEGORY
    ]
    vanished = [
        c for c in reference_counts.index if c not in current_counts.index and c != MISSING_CATEGORY
    ]
    ref_total, cur_total = int(ref.sum()), int(cur.sum())
    result: dict[str, Any] = {
        "reference": _categorical_summary(reference_counts, ref_total),
        "current": _categorical_summary(current_counts, cur_total),
        "unseen_categories": unseen,
        "unseen_share": float(current_counts.reindex(unseen).sum() / cur_total)
        if unseen and cur_total
        else 0.0,
        "vanished_categories": vanished,
        "histogram": _category_histogram(categories, ref, cur, plot_categories),
    }
    non_missing_ref = int(ref_total - reference_counts.get(MISSING_CATEGORY, 0))
    non_missing_cur = int(cur_total - current_counts.get(MISSING_CATEGORY, 0))
    if non_missing_ref == 0 or non_missing_cur == 0:
        result.update(chi_square=None, p_value=None, jensen_shannon=None, psi=None)
        return result
    chi_square, p_value = chi_square_homogeneity(ref, cur)
    result.update(
        chi_square=chi_square,
        p_value=p_value,
        jensen_shannon=jensen_shannon_distance(ref, cur),
        psi=population_stability_index(ref, cur, epsilon),
    )
    return result


def _categorical_summary(counts: pd.Series, total: int) -> dict[str, Any]:
    missing = int(counts.get(MISSING_CATEGORY, 0))
    return {
        "count": total,
        "missing_share": missing / total if total else 0.0,
        "distinct": int(len(counts) - (1 if missing else 0)),
        "top": str(counts.idxmax()) if total else None,
    }


def _category_histogram(
    categories: list[str], reference: np.ndarray, current: np.ndarray, limit: int
) -> dict[str, list[Any]]:
    """Return shares of the `limit` most frequent categories, the rest pooled under `<other>`."""
    ref_share = reference / reference.sum() if reference.sum() else reference * 0.0
    cur_share = current / current.sum() if current.sum() else current * 0.0
    order = np.argsort(-(ref_share + cur_share), kind="stable")
    shown = order[:limit]
    labels = [categories[k] for k in shown]
    ref_out, cur_out = ref_share[shown].tolist(), cur_share[shown].tolist()
    if len(order) > limit:
        labels.append("<other>")
        ref_out.append(float(ref_share[order[limit:]].sum()))
        cur_out.append(float(cur_share[order[limit:]].sum()))
    return {
        "categories": labels,
        "reference": [round(x, 6) for x in ref_out],
        "current": [round(x, 6) for x in cur_out],
    }


# ----- multiple testing --------------------------------------------------------------------------


def adjust_p_values(p_values: Any, method: str = "benjamini_hochberg") -> np.ndarray:
    """Return p-values adjusted for testing many features at once; NaN stays NaN.

    benjamini_hochberg controls the false discovery rate (and, when no feature drifted, the chance
    of any false alarm); holm and bonferroni control the family-wise error rate.
    """
    if method not in CORRECTION_METHODS:
        raise ValueError(
            f"monitoring.drift.correction must be one of {', '.join(CORRECTION_METHODS)}; "
            f"got {method!r}"
        )
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    k = tested.size
    if k == 0:
        return adjusted
    values = p[tested]
    if method == "none":
        result = values
    elif method == "bonferroni":
        result = values * k
    else:
        order = np.argsort(values, kind="stable")
        ranked = values[order]
        if method == "holm":
            stepped = np.maximum.accumulate(ranked * (k - np.arange(k)))
        else:
            stepped = np.minimum.accumulate((ranked * k / np.arange(1, k + 1))[::-1])[::-1]
        result = np.empty(k)
        result[order] = stepped
    adjusted[tested] = np.clip(result, 0.0, 1.0)
    return adjusted
