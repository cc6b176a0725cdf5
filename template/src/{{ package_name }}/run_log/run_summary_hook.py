"""The Kedro hook that ends every run's log with its summary (run_summary.py)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from ..run_outputs import ran_in_workers, saved_location
from .plain_lines import use_plain_lines
from .run_summary import RunSummary, SavedOutput, relative_location

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

    from ..tracking import MlflowTrackingHook

logger = logging.getLogger(__name__)


class RunSummaryHook:
    """Log what ran, where the outputs went and the MLflow run id once a run ends.

    It also owns the shape of the log: whole lines where no terminal shows it (plain_lines.py).

    List it before the tracking hook in settings.HOOKS: hooks run last-in-first-out, so the
    MLflow run has ended (and has its final status) when this hook reads it.
    """

    def __init__(self, tracking: MlflowTrackingHook | None = None) -> None:
        self._tracking = tracking
        self._project_path = "."
        self._env = "local"
        self._save_version = ""
        self._catalog: CatalogProtocol | None = None
        self._pipelines: tuple[str, ...] = ()
        self._pipeline: Pipeline | None = None
        self._nodes_total = 0
        self._nodes_run = 0
        self._saved: list[str] = []
        self._started = 0.0

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        """Log in whole lines without a terminal; remember the project folder and environment.

        `tryfirst`, with the parameters check: Kedro has configured logging (with rich) by now,
        and has logged only which configuration it used and the project's name.
        """
        use_plain_lines()
        self._project_path = str(context.project_path)
        self._env = context.env or "local"

    @hook_impl
    def after_catalog_created(self, save_version: str) -> None:
        """Remember the save version every versioned output of this run is written under."""
        self._save_version = save_version

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        """Start the clock and the list of saved outputs."""
        self._catalog = catalog
        self._pipelines = tuple(run_params.get("pipeline_names") or ["__default__"])
        self._save_version = self._save_version or run_params["run_id"]
        self._pipeline = pipeline
        self._nodes_total = len(pipeline.nodes)
        self._nodes_run = 0
        self._saved = []
        self._started = time.perf_counter()

    @hook_impl
    def after_node_run(self) -> None:
        """Count the node."""
        self._nodes_run += 1

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        """Remember the dataset (its location is looked up once, at the end)."""
        if dataset_name not in self._saved:
            self._saved.append(dataset_name)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Log the summary of a finished run; let the MLflow writer process end."""
        if self._pipeline is not None and self._catalog is not None:
            if ran_in_workers(self._catalog):  # every node ran, and saved, in a worker
                for node in self._pipeline.nodes:
                    self.after_node_run()
                    for name in node.outputs:
                        self.after_dataset_saved(name)
        logger.info("%s", self.summary("finished").text())
        if self._tracking is not None:  # the model registry, before this hook, is done with it
            self._tracking.release_writer()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """Log the summary of a failed run (the error itself is Kedro's to report)."""
        logger.info("%s", self.summary("failed").text())

    def summary(self, status: str) -> RunSummary:
        """Return the summary of the run so far."""
        tracked = self._tracking.tracked_run if self._tracking is not None else None
        return RunSummary(
            status=status,
            pipelines=self._pipelines,
            env=self._env,
            nodes_run=self._nodes_run,
            nodes_total=self._nodes_total,
            seconds=time.perf_counter() - self._started,
            save_version=self._save_version,
            outputs=tuple(self._outputs()),
            mlflow=tracked.to_dict() if tracked is not None else None,
        )

    def _outputs(self) -> list[SavedOutput]:
        outputs = []
        for name in self._saved:
            location = _location(self._catalog, name)
            if location is not None:
                outputs.append(SavedOutput(name, relative_location(location, self._project_path)))
        return outputs


def _location(catalog: CatalogProtocol | None, name: str) -> str | None:
    """Return where a dataset of this run was saved (run_outputs.saved_location), None if it
    has no file or cannot say: a summary never fails a run."""
    if catalog is None:
        return None
    try:
        return saved_location(catalog, name)
    except Exception as error:
        logger.debug("No saved location for %s: %s", name, error)
        return None
