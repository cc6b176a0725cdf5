"""Experiment tracking: every `kedro run` recorded as one MLflow run, and reproducible from its id.

- `hook.MlflowTrackingHook` (registered in settings.py) opens the run, logs parameters, metrics,
  artefacts and provenance tags, and closes the run FINISHED or FAILED.
- `cli` adds `kedro mlflow reproduce <run_id>`.
- `metric_lines`: the `name=value` lines runs print and the SageMaker regexes that read them.
- conf/<env>/tracking.yml configures both (docs/experiment-tracking.md).

MLflow is imported only when a run is recorded, so `kedro --help` and runs with tracking
disabled never pay for it.
"""

from .hook import MlflowTrackingHook

__all__ = ["MlflowTrackingHook"]
