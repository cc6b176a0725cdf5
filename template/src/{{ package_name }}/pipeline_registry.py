"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines that `kedro run` (the `__default__` pipeline) leaves out: `sample_data` regenerates the
# bundled raw data and only runs when asked for by name.
EXCLUDED_FROM_DEFAULT = frozenset({"sample_data"})


def register_pipelines() -> dict[str, Pipeline]:
    """Return every pipeline found under `pipelines/`, plus `__default__` (all but excluded)."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (pipe for name, pipe in pipelines.items() if name not in EXCLUDED_FROM_DEFAULT),
        start=Pipeline([]),
    )
    return pipelines
