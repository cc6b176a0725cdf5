"""Project hooks."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from kedro.framework.hooks import hook_impl

from .metric_lines import format_metric_line, scalar_metrics


class MetricLinesHook:
    """Print every scalar of the metric datasets as `name=value` lines when they are saved.

    These lines are what SageMaker's MetricDefinitions read from a training job's log.
    """

    def __init__(self, datasets: Iterable[str] = ("evaluation_metrics",)) -> None:
        self._datasets = frozenset(datasets)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        """Print the metric lines of `data` if `dataset_name` is a metric dataset."""
        if dataset_name in self._datasets and isinstance(data, Mapping):
            for name, value in scalar_metrics(data).items():
                print(format_metric_line(name, value), file=sys.stdout, flush=True)
