"""Experiment tracking: every `kedro run` recorded as one MLflow run, and reproducible from its id.

- `hook.MlflowTrackingHook` (registered in settings.py) decides what a run records and when: it
  opens the run, logs parameters, metrics, artefacts and provenance tags, and closes the run
  FINISHED, FAILED or KILLED.
- `recorder.RunRecorder` writes one run to MLflow from a background thread, in order.
- `cli` adds `kedro mlflow reproduce <run_id>`.
- `metric_lines`: the `name=value` lines runs print and the SageMaker regexes that read them.
- conf/<env>/tracking.yml configures both (docs/experiment-tracking.md).

MLflow is imported only when a run is recorded, so `kedro --help` and runs with tracking
disabled never pay for it.
"""

from .hook import MlflowTrackingHook

__all__ = ["MlflowTrackingHook"]
