"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines that `kedro run` (the `__default__` pipeline: data processing, training, evaluation,
# explainability) leaves out. `sample_data` regenerates the bundled raw data. `inference` scores a
# batch with the registry's champion (`make score`). `monitoring` checks a new batch against the
# champion on its own schedule (`kedro run --pipelines monitoring`) and exits non-zero on a
# failing verdict: a drifted batch must fail the monitoring job, not the training run.
# `kedro retrain` runs `retraining` and `retraining_monitoring` (docs/closed-loop.md).
# Pipelines that reuse other pipelines' nodes under new inputs (for `kedro retrain`): their node
# names repeat those of the pipelines they wrap, so tools that combine every pipeline (the
# SageMaker Pipelines compiler) leave them out.
COMPOSED_PIPELINES = frozenset({"retraining", "retraining_monitoring"})
EXCLUDED_FROM_DEFAULT = frozenset(
    {"sample_data", "monitoring", "inference", "retraining", "retraining_monitoring"}
)


def register_pipelines() -> dict[str, Pipeline]:
    """Return every pipeline found under `pipelines/`, plus `__default__` (all but excluded)."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipe for name, pipe in pipelines.items() if name not in EXCLUDED_FROM_DEFAULT),
        start=Pipeline([]),
    )
    return pipelines
