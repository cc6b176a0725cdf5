"""The rules of automated retraining (Kedro-free): when to retrain, on which rows, and its safety.

`kedro retrain` (registry/retrain.py) applies them in order: lock, cooldown, new data, the
monitoring verdict; then trains a challenger on the training set this module builds and lets
the promotion gate (promotion.py) decide.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ..core.parameters import TrainingSetSettings

# Monitoring's levels, least to most severe (the monitoring pipeline's own ordering).
LEVELS = ("ok", "warn", "fail")
# Registered-model tags that remember the loop's state in the registry, wherever it runs.
LAST_BATCH_TAG = "retraining.last_batch"
LAST_OUTCOME_TAG = "retraining.last_outcome"
LAST_RETRAIN_TAG = "retraining.last_retrain_at"


class RetrainRefused(RuntimeError):
    """A retrain that must not go on (another holds the lock, the champion moved meanwhile)."""


@dataclass(frozen=True)
class TrainingSetSummary:
    """Which rows a training set holds: the policy, the parts and the row counts."""

    policy: str
    rows: int
    parts: tuple[str, ...]
    held_out_batch: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-ready data."""
        return asdict(self)


def reaches(level: str, threshold: str) -> bool:
    """Return whether monitoring `level` is at least `threshold` (never: no level reaches it)."""
    if threshold == "never":
        return False
    for name in (level, threshold):
        if name not in LEVELS:
            raise ValueError(f"monitoring level must be one of {', '.join(LEVELS)}; got {name!r}")
    return LEVELS.index(level) >= LEVELS.index(threshold)


def training_frame(
    reference: pd.DataFrame,
    batches: Sequence[tuple[str, pd.DataFrame]],
    settings: TrainingSetSettings,
    target: str,
) -> tuple[pd.DataFrame, TrainingSetSummary]:
    """Return the raw rows that train the challenger, oldest first, and what they are.

    `batches` are the labelled batches, oldest first. The newest is left out when the settings
    hold it out for the gate (a model must not be judged on rows it learned from).
    """
    for name, frame in batches:
        if target not in frame.columns:
            raise ValueError(
                f"labelled batch {name!r} has no {target!r} column: only labelled batches can "
                "train a model (unlabelled ones are for scoring)"
            )
    held_out = batches[-1][0] if batches and settings.holdout_newest_batch else None
    used = list(batches[:-1] if held_out else batches)
    parts = [("reference", reference), *used]
    frame = pd.concat([part for _, part in parts], ignore_index=True, sort=False)
    if settings.policy == "window":
        frame = frame.tail(settings.window_rows).reset_index(drop=True)
    summary = TrainingSetSummary(
        policy=settings.policy,
        rows=len(frame),
        parts=tuple(name for name, _ in parts),
        held_out_batch=held_out,
    )
    return frame, summary


def cooldown_left(last_retrain_at: str | None, min_hours: float, now: datetime) -> timedelta | None:
    """Return how long until the next retrain is allowed, or None when it is allowed now."""
    if last_retrain_at is None or min_hours <= 0:
        return None
    ready = datetime.fromisoformat(last_retrain_at) + timedelta(hours=min_hours)
    return ready - now if ready > now else None


def holdout_frame(
    parts: Sequence[tuple[str, pd.DataFrame]], seen_ids: pd.Series | None, id_column: str
) -> tuple[pd.DataFrame, int]:
    """Return the rows both models are scored on, minus rows the champion trained on, and how many
    were dropped for that reason (scoring a model on its own training rows would flatter it)."""
    frame = pd.concat([part for _, part in parts], ignore_index=True, sort=False)
    if seen_ids is None or id_column not in frame.columns:
        return frame, 0
    seen = frame[id_column].isin(set(seen_ids))
    return frame.loc[~seen].reset_index(drop=True), int(seen.sum())


@dataclass(frozen=True)
class RetrainOutcome:
    """What one `kedro retrain` did and why, with every number the decision used."""

    action: Literal["skipped", "retrained"]
    reason: str
    started_at: str
    finished_at: str
    newest_batch: str | None = None
    trigger: str | None = None
    monitoring_level: str | None = None
    monitoring_run_id: str | None = None
    monitoring_save_version: str | None = None
    training_run_id: str | None = None
    save_version: str | None = None
    training_set: dict[str, Any] | None = None
    holdout: dict[str, Any] | None = None
    champion_version_before: str | None = None
    challenger_version: str | None = None
    champion_version_after: str | None = None
    promoted: bool = False
    decision: dict[str, Any] | None = None
    champion_metrics: dict[str, float] | None = None
    challenger_metrics: dict[str, float] | None = None
    alias_changes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain JSON-ready data."""
        return asdict(self)

    def to_json(self) -> str:
        """Return the outcome as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)


def now_utc() -> datetime:
    """Return the current time in UTC (one place, so the stamps agree)."""
    return datetime.now(UTC)


class RetrainLock:
    """An exclusive, non-blocking lock on a file: of two retrains on one machine, one runs.

    The operating system releases it when the process ends, however it ends, so a crashed
    retrain never leaves a stale lock behind. It does not span machines: a scheduler that runs
    retrains on several machines serialises them itself (the GitHub workflow's `concurrency`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def __enter__(self) -> RetrainLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RetrainRefused(
                f"another retrain is running ({holder}; lock {self.path}): this one stops "
                "without training or promoting. Run it again when that one has finished."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {now_utc().isoformat(timespec='seconds')}")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
