"""Project pipelines, and the two made of other pipelines (composed here: none imports another)."""

from __future__ import annotations

from importlib import import_module

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline, pipeline

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
# The training run a challenger is made with: the same pipelines `kedro run` runs.
TRAINING_RUN = ("data_processing", "training", "evaluation", "explainability")


def found_or_created(name: str, pipelines: dict[str, Pipeline]) -> Pipeline:
    """Return pipeline `name` as found, else from its own `create_pipeline()`.

    `kedro run --pipelines retraining` makes `find_pipelines` load only the pipelines it names,
    so the pipelines a composed one wraps may be missing from what it found.
    """
    if name in pipelines:
        return pipelines[name]
    return import_module(f"{__package__}.pipelines.{name}").create_pipeline()


def compose(pipelines: dict[str, Pipeline]) -> dict[str, Pipeline]:
    """Return `pipelines` with `retraining` and `retraining_monitoring` (when found) completed.

    `retraining` is its training-set node followed by the training run, whose raw input
    `customers` becomes the policy's rows (`retraining_data`). `retraining_monitoring` is its
    batch-selection node followed by the monitoring pipeline, unchanged but for its batch input
    (`customers_current` becomes `newest_labelled_batch`). Node names stay those of the wrapped
    pipelines.
    """
    composed = dict(pipelines)
    if "retraining" in pipelines:
        training_run = sum(
            (found_or_created(name, pipelines) for name in TRAINING_RUN), start=Pipeline([])
        )
        composed["retraining"] = pipelines["retraining"] + pipeline(
            training_run, inputs={"customers": "retraining_data"}
        )
    if "retraining_monitoring" in pipelines:
        monitoring = found_or_created("monitoring", pipelines)
        composed["retraining_monitoring"] = pipelines["retraining_monitoring"] + pipeline(
            monitoring, inputs={"customers_current": "newest_labelled_batch"}
        )
    return composed


def register_pipelines() -> dict[str, Pipeline]:
    """Return every pipeline found under `pipelines/` (composed), plus `__default__`."""
    pipelines = compose(find_pipelines(raise_errors=True))
    pipelines["__default__"] = sum(
        (pipe for name, pipe in pipelines.items() if name not in EXCLUDED_FROM_DEFAULT),
        start=Pipeline([]),
    )
    return pipelines
