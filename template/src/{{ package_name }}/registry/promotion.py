"""The promotion gate: whether a challenger model may replace the champion.

One rule serves the local loop (`kedro retrain`) and the SageMaker Pipeline's condition step, so
both promote on the same evidence. Both models are scored on the same holdout first; the gate
then compares their metrics:

- the primary metric must improve by at least ``min_improvement`` (in its own direction);
- no guard metric may get worse by more than its tolerance (a guard the champion lacks is skipped
  and said so; a guard the challenger lacks is an error: a renamed metric must not switch a check
  off silently).

With no champion at all the challenger is promoted: the first model ever trained becomes champion.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..core.metrics import METRIC_DIRECTIONS
from ..core.parameters import PromotionSettings


@dataclass(frozen=True)
class GuardCheck:
    """One guard metric compared: how much it got worse and whether that is tolerated."""

    metric: str
    champion: float | None
    challenger: float
    worsening: float | None
    tolerance: float
    passed: bool


@dataclass(frozen=True)
class PromotionDecision:
    """The gate's verdict with every number it used."""

    promote: bool
    reason: str
    primary_metric: str
    champion: float | None
    challenger: float
    improvement: float | None
    min_improvement: float
    guards: tuple[GuardCheck, ...]
    champion_version: str | None = None
    challenger_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the decision as plain JSON-ready data (guards as a list)."""
        data = asdict(self)
        data["guards"] = [asdict(check) for check in self.guards]
        return data

    def to_json(self) -> str:
        """Return the decision as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _metric(metrics: Mapping[str, Any], name: str, whose: str) -> float:
    if name not in metrics:
        present = ", ".join(sorted(metrics))
        raise KeyError(f"the {whose}'s metrics lack {name!r} (it has: {present})")
    value = metrics[name]
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"the {whose}'s {name!r} is not a number: {value!r}")
    return float(value)


def _gain(name: str, champion: float, challenger: float) -> float:
    """Return how much better the challenger is on `name` (negative: worse)."""
    return METRIC_DIRECTIONS[name] * (challenger - champion)


def decide_promotion(
    challenger_metrics: Mapping[str, Any],
    champion_metrics: Mapping[str, Any] | None,
    settings: PromotionSettings,
    *,
    challenger_version: str | None = None,
    champion_version: str | None = None,
) -> PromotionDecision:
    """Return whether the challenger replaces the champion, judged on the same holdout's metrics."""
    primary = settings.primary_metric
    challenger_value = _metric(challenger_metrics, primary, "challenger")
    versions = {"challenger_version": challenger_version, "champion_version": champion_version}
    if champion_metrics is None:
        return PromotionDecision(
            promote=not math.isnan(challenger_value),
            reason="no champion yet: the first model becomes champion"
            if not math.isnan(challenger_value)
            else f"the challenger's {primary} is NaN",
            primary_metric=primary,
            champion=None,
            challenger=challenger_value,
            improvement=None,
            min_improvement=settings.min_improvement,
            guards=(),
            **versions,
        )

    champion_value = _metric(champion_metrics, primary, "champion")
    improvement = _gain(primary, champion_value, challenger_value)
    checks = []
    for name, tolerance in settings.guards.items():
        challenger_guard = _metric(challenger_metrics, name, "challenger")
        if name not in champion_metrics or champion_metrics[name] is None:
            checks.append(GuardCheck(name, None, challenger_guard, None, tolerance, True))
            continue
        champion_guard = _metric(champion_metrics, name, "champion")
        worsening = -_gain(name, champion_guard, challenger_guard)
        passed = not math.isnan(worsening) and worsening <= tolerance
        checks.append(
            GuardCheck(name, champion_guard, challenger_guard, worsening, tolerance, passed)
        )

    failed = [check for check in checks if not check.passed]
    if math.isnan(improvement):
        promote, reason = False, f"{primary} is NaN for one of the models"
    elif improvement < settings.min_improvement:
        promote = False
        reason = (
            f"{primary} improved by {improvement:+.4f}, less than the required "
            f"{settings.min_improvement:.4f}"
        )
    elif failed:
        promote = False
        reason = "guard metric(s) got worse beyond tolerance: " + ", ".join(
            f"{check.metric} by {check.worsening:+.4f} (tolerance {check.tolerance:.4f})"
            for check in failed
        )
    else:
        promote = True
        reason = f"{primary} improved by {improvement:+.4f} and every guard held"
    return PromotionDecision(
        promote=promote,
        reason=reason,
        primary_metric=primary,
        champion=champion_value,
        challenger=challenger_value,
        improvement=improvement,
        min_improvement=settings.min_improvement,
        guards=tuple(checks),
        **versions,
    )
