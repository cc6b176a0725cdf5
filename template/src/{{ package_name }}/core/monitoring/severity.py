"""Alert levels shared by every monitoring check: ok < warn < fail."""

from __future__ import annotations

from collections.abc import Iterable

LEVELS = ("ok", "warn", "fail")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}


def level_rank(level: str) -> int:
    """Return 0, 1 or 2 for ok, warn or fail; raise a ValueError naming the valid levels."""
    try:
        return _RANK[level]
    except KeyError:
        raise ValueError(f"alert level must be one of {', '.join(LEVELS)}; got {level!r}") from None


def worst_level(levels: Iterable[str]) -> str:
    """Return the most severe of `levels` ("ok" when there are none)."""
    return max(levels, key=level_rank, default="ok")


def at_least(level: str, threshold: str) -> bool:
    """Return True when `level` is as severe as `threshold` or more."""
    return level_rank(level) >= level_rank(threshold)


def issue(
    level: str, check: str, message: str, column: str | None = None, **details: object
) -> dict:
    """Return one finding: its level, the check that raised it, the column and a sentence."""
    level_rank(level)
    return {"level": level, "check": check, "column": column, "message": message, **details}


def format_against(value: float, bound: float) -> str:
    """Return `value` with 3 decimals, or with as many more as it takes not to read as `bound`.

    For a reason such as "Spearman rank correlation 0.4996 < 0.5": with 3 decimals it read
    "0.500 < 0.5".
    """
    for digits in range(3, 13):
        text = f"{value:.{digits}f}"
        if float(text) != bound:
            return text
    return repr(value)
