"""Experiment tracking: every `kedro run` recorded as one MLflow run, and reproducible from its id.

- `hook.MlflowTrackingHook` (registered in settings.py) decides what a run records and when: it
  opens the run, logs parameters, metrics, artefacts and provenance tags, and closes the run
  FINISHED, FAILED or KILLED.
- `recorder.RunRecorder` hands one run's records, in order, to a writer process
  (`writer.main`), which imports MLflow and owns the store; `writer.RunWriter` writes them.
- `cli` adds `kedro mlflow reproduce <run_id>`.
- `metric_lines`: the `name=value` lines runs print and the SageMaker regexes that read them.
- conf/<env>/tracking.yml configures both (docs/experiment-tracking.md).

MLflow is imported only by the writer process, so `kedro --help`, runs with tracking disabled and
the run's own process never pay for it. The hook is imported on first use: the writer process
imports this package without Kedro.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hook import MlflowTrackingHook

__all__ = ["MlflowTrackingHook"]


def __getattr__(name: str) -> Any:
    if name == "MlflowTrackingHook":
        from .hook import MlflowTrackingHook

        return MlflowTrackingHook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
