"""One MLflow run written by a background thread: what the tracking hook records, in order.

The hook (`hook.py`) decides what to record and when; `RunRecorder` owns the MLflow client, the
writer thread and its queue, and never loses a queued record: the run is closed (FINISHED,
FAILED or KILLED) after everything queued before it was written, also at interpreter exit.
"""

from __future__ import annotations

import atexit
import logging
import queue
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractVersionedDataset

from ..core.serialise import json_ready
from . import provenance
from .config import LOCAL_ARTIFACTS, TrackingConfig, redact
from .records import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    chunks,
    param_entries,
    tag_text,
)

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

PARAMETERS_ARTIFACT = "kedro/parameters.json"
RUN_ARTIFACT = "kedro/run.json"
ERROR_ARTIFACT = "kedro/error.txt"
# How long an interrupted flush may still take to write what is queued before the process ends.
FLUSH_TIMEOUT = 30.0


@dataclass(frozen=True)
class TrackedRun:
    """The MLflow run of a `kedro run`: what a later hook (model registration) needs to find it."""

    run_id: str
    tracking_uri: str
    experiment_name: str
    status: str

    def to_dict(self) -> dict[str, str]:
        """Return the run as a JSON-ready mapping (the tracking URI with credentials redacted)."""
        return {
            "run_id": self.run_id,
            "tracking_uri": redact(self.tracking_uri),
            "experiment_name": self.experiment_name,
            "status": self.status,
        }


class RunRecorder:
    """One MLflow run, written by a background thread that runs the hook's requests in order.

    A request that fails is logged as a warning and the run goes on; if the run cannot even be
    opened, later requests are dropped and `finish` returns the error.
    """

    def __init__(
        self,
        config: TrackingConfig,
        project_path: Path,
        catalog: CatalogProtocol,
    ):
        self.config = config
        self.project_path = project_path
        self.catalog = catalog
        self.tracking_uri = config.store_uri(project_path)
        self.client: MlflowClient | None = None
        self.run_id: str | None = None
        self.failure: BaseException | None = None
        self._skipped: list[str] = []
        self._finished = False
        self._finish_lock = threading.Lock()
        self._opened = threading.Event()
        self._requests: queue.Queue[tuple[Callable[..., None], tuple] | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write, name="mlflow-tracking", daemon=True)
        self._writer.start()
        atexit.register(self._at_exit)

    # ----- requests from the hook (any thread) ----------------------------------------------------
    def open(
        self,
        run_name: str,
        tags: Mapping[str, Any],
        params: Mapping[str, Any],
        description: Mapping[str, Any],
    ) -> None:
        """Create the run with its tags, flattened parameters and the two reproduce artefacts."""
        self._requests.put((self._open, (run_name, dict(tags), params, dict(description))))

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log metrics at step 0, stamped now."""
        self._requests.put((self._log_metrics, (dict(metrics), int(time.time() * 1000))))

    def log_dataset_files(self, dataset_name: str) -> None:
        """Log the files `dataset_name` just saved under the artefact folder `<dataset_name>/`."""
        dataset = self.catalog.get(dataset_name) if dataset_name in self.catalog else None
        location = _saved_location(dataset)  # now: the dataset knows this run's save version
        if location is not None:
            self._requests.put((self._log_files, (dataset_name, *location)))

    def finish(self, status: str, error: BaseException | None = None) -> BaseException | None:
        """End the run with `status`, wait for every request, return why it could not be opened."""
        with self._finish_lock:
            if self._finished:
                return self.failure
            self._finished = True
        atexit.unregister(self._at_exit)
        error_text = None
        if error is not None:
            error_text = (
                redact(f"{type(error).__name__}: {error}"),
                redact("".join(traceback.format_exception(error))),
            )
        self._requests.put((self._close, (status, error_text)))
        self._requests.put(None)
        try:
            self._writer.join()
        except BaseException:  # SIGTERM or Ctrl+C while flushing: the close is queued already
            self._writer.join(timeout=FLUSH_TIMEOUT)
            raise
        return self.failure

    def _at_exit(self) -> None:
        self.finish("KILLED")

    def wait_opened(self, timeout: float) -> str | None:
        """Return the run id once the writer has opened the run (None if it could not)."""
        self._opened.wait(timeout)
        return self.run_id

    def tracked_run(self, status: str) -> TrackedRun | None:
        """Return the run as later hooks see it (None when it was never opened)."""
        if self.run_id is None:
            return None
        return TrackedRun(self.run_id, self.tracking_uri, self.config.experiment_name, status)

    # ----- the writer thread ----------------------------------------------------------------------
    def _write(self) -> None:
        while (request := self._requests.get()) is not None:
            action, arguments = request
            if self.failure is not None:
                continue
            try:
                action(*arguments)
            except Exception as error:
                if action == self._open:
                    self.failure = error
                    logger.error(
                        "Could not open an MLflow run at %s: %s",
                        redact(self.tracking_uri),
                        redact(str(error)),
                    )
                else:
                    logger.warning(
                        "MLflow run %s: %s failed: %s",
                        self.run_id,
                        action.__name__,
                        redact(str(error)),
                    )
            finally:
                if action == self._open:
                    self._opened.set()

    def _open(
        self,
        run_name: str,
        tags: dict[str, Any],
        params: Mapping[str, Any],
        description: Mapping[str, Any],
    ) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Param, RunTag

        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment_id = _experiment_id(client, self.config, self.project_path)
        self.run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
        self.client = client
        logger.info(
            "MLflow run %s (experiment %r, %s)",
            self.run_id,
            self.config.experiment_name,
            self.config.display_uri(self.project_path),
        )
        git = provenance.git_state(self.project_path)
        tags.update(git)
        tags.update(provenance.package_versions(self.config.packages))
        tags.update(provenance.sagemaker_job())
        if git["git.commit"] != provenance.UNKNOWN_COMMIT:
            tags["mlflow.source.git.commit"] = git["git.commit"]
        entries, truncated, skipped = param_entries(params)
        if truncated:
            tags["kedro.truncated_params"] = truncated
        if skipped:
            tags["kedro.skipped_params"] = skipped
        tag_items = [RunTag(key, tag_text(value)) for key, value in tags.items()]
        for batch in chunks(tag_items, MAX_PARAMS_PER_BATCH):
            client.log_batch(self.run_id, tags=list(batch))
        param_items = [Param(key, value) for key, value in entries.items()]
        for batch in chunks(param_items, MAX_PARAMS_PER_BATCH):
            client.log_batch(self.run_id, params=list(batch))
        client.log_dict(self.run_id, json_ready(params), PARAMETERS_ARTIFACT)
        client.log_dict(self.run_id, json_ready(description), RUN_ARTIFACT)

    def _log_metrics(self, metrics: Mapping[str, float], stamp: int) -> None:
        from mlflow.entities import Metric

        items = [Metric(name, value, stamp, 0) for name, value in metrics.items()]
        for batch in chunks(items, MAX_METRICS_PER_BATCH):
            self.client.log_batch(self.run_id, metrics=list(batch))

    def _log_files(self, dataset_name: str, fs: Any, path: str) -> None:
        size_mb = fs.du(path, total=True) / 1e6
        if size_mb > self.config.max_artifact_mb:
            self._skipped.append(f"{dataset_name} ({size_mb:.0f} MB)")
            logger.warning(
                "Not logging %s as an artefact: %.0f MB is over tracking.yml's max_file_mb",
                dataset_name,
                size_mb,
            )
            return
        if _is_local(fs):
            self._log_local(Path(path), dataset_name)
            return
        with tempfile.TemporaryDirectory(prefix="mlflow-artefact-") as folder:
            target = Path(folder) / Path(path).name
            fs.get(path, str(target), recursive=fs.isdir(path))
            self._log_local(target, dataset_name)

    def _log_local(self, path: Path, artifact_path: str) -> None:
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path=artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path=artifact_path)

    def _close(self, status: str, error_text: tuple[str, str] | None) -> None:
        if error_text is not None:
            summary, trace = error_text
            self.client.set_tag(self.run_id, "kedro.error", tag_text(summary))
            self.client.log_text(self.run_id, trace, ERROR_ARTIFACT)
        if self._skipped:
            self.client.set_tag(self.run_id, "kedro.skipped_artifacts", tag_text(self._skipped))
        self.client.set_terminated(self.run_id, status=status)
        logger.info("MLflow run %s ended %s", self.run_id, status)


def _experiment_id(client: MlflowClient, config: TrackingConfig, project_path: Path) -> str:
    """Return the configured experiment's id, creating it (artefacts in mlruns/ locally)."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(config.experiment_name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if config.is_local_store():
        location = (project_path / LOCAL_ARTIFACTS).resolve().as_uri()
    try:
        return client.create_experiment(config.experiment_name, artifact_location=location)
    except MlflowException:  # created meanwhile by a concurrent run
        experiment = client.get_experiment_by_name(config.experiment_name)
        if experiment is None:
            raise
        return experiment.experiment_id


def _saved_location(dataset: Any) -> tuple[Any, str] | None:
    """Return (fsspec filesystem, path) of the files a versioned dataset saved in this run."""
    if not isinstance(dataset, AbstractVersionedDataset) or not getattr(dataset, "_version", None):
        return None
    fs = getattr(dataset, "_fs", None)  # kedro-datasets' file datasets all keep one
    if fs is None:
        return None
    from kedro.io.core import get_filepath_str

    path = dataset._get_versioned_path(dataset.resolve_save_version())
    return fs, get_filepath_str(path, getattr(dataset, "_protocol", "file"))


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in {"file", "local"}
