"""The Kedro hook that records every run in MLflow (and prints metric lines in SageMaker jobs)."""

from __future__ import annotations

import atexit
import json
import logging
import queue
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset

from .. import __version__ as project_version
from . import provenance
from .config import LOCAL_ARTIFACTS, TrackingConfig, redact
from .metric_lines import format_metric_line, metric_lines_wanted, scalar_metrics
from .records import (
    MAX_KEY,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    chunks,
    param_entries,
    safe_name,
    tag_text,
)

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Node, Pipeline
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

PARAMETERS_ARTIFACT = "kedro/parameters.json"
RUN_ARTIFACT = "kedro/run.json"
ERROR_ARTIFACT = "kedro/error.txt"
# Node filters of `kedro run` that `reproduce` passes back to the session unchanged.
RUN_FILTERS = (
    "tags",
    "node_names",
    "from_nodes",
    "to_nodes",
    "from_inputs",
    "to_outputs",
    "namespaces",
    "only_missing_outputs",
)


# A stopped container, job or CI step gets SIGTERM: the run then ends KILLED, as on Ctrl+C.
TERMINATED_EXIT_CODE = 128 + signal.SIGTERM
# How long an interrupted flush may still take to write what is queued before the process ends.
FLUSH_TIMEOUT = 30.0


class Terminated(SystemExit):
    """SIGTERM arrived during a run: unwinds like Ctrl+C, exits 143."""


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


class MlflowTrackingHook:
    """Record each `kedro run` as one MLflow run; print metric lines inside SageMaker jobs.

    The run gets every parameter (flattened), the scalars of the metric datasets, the files of
    the versioned datasets the run saves, and tags that say how to run it again: git commit and
    dirty flag, Kedro run id (= save version), load versions, env, pipelines, Python and package
    versions, and the SageMaker job around it. A failing node ends the run FAILED with the error;
    an interrupted (SIGINT) or stopped (SIGTERM) process ends it KILLED. Settings:
    conf/<env>/tracking.yml. Metrics print as `name=value` lines for SageMaker's MetricDefinitions
    inside a training job (metric_lines.metric_lines_wanted), else they are debug log records.

    Later hooks read the run through `tracked_run` (after this hook's after_pipeline_run: listed
    before this hook in settings.HOOKS, which run last-in-first-out) or `wait_for_run_id()`.

    MLflow is written to by one background thread, in the order of the hook calls, from the
    moment the pipeline starts: importing MLflow and talking to its store then overlap with the
    nodes (which spend much of their time in native code) instead of slowing Kedro's start-up,
    whose imports would contend with MLflow's for the GIL and the import locks. The run waits for
    that thread to finish before it ends.
    """

    def __init__(self) -> None:
        self._print_lock = threading.Lock()
        self._config = TrackingConfig.from_conf({})
        self._context: KedroContext | None = None
        self._save_version: str | None = None
        self._run: _RunRecorder | None = None
        self._print_metric_lines = False
        self._previous_sigterm: Any = None
        self._tracked_run: TrackedRun | None = None

    # ----- the run, for later hooks ---------------------------------------------------------------
    @property
    def tracked_run(self) -> TrackedRun | None:
        """Return the MLflow run of the last run that ended (None: untracked, or none ended yet)."""
        return self._tracked_run

    def wait_for_run_id(self, timeout: float = 60.0) -> str | None:
        """Return the id of the MLflow run in progress once it is open (None: untracked/failed)."""
        run = self._run
        return run.wait_opened(timeout) if run is not None else None

    # ----- Kedro hook specifications --------------------------------------------------------------
    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Read tracking.yml of the session's environment."""
        self._context = context
        self._config = TrackingConfig.from_conf(_tracking_conf(context))
        self._print_metric_lines = metric_lines_wanted()

    @hook_impl
    def after_catalog_created(self, save_version: str) -> None:
        """Remember the save version every versioned dataset of this run is written under."""
        self._save_version = save_version

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        """Open the MLflow run with the run's parameters and provenance tags."""
        if self._run is not None:  # a previous session in this process never reached its end
            self._run.finish("KILLED")
            self._run = None
        self._tracked_run = None
        self._handle_sigterm()
        if not self._config.enabled or self._context is None:
            logger.info("Experiment tracking is disabled: metrics are printed, not recorded.")
            return
        context = self._context
        load_versions, digests = _input_versions(pipeline, catalog, run_params)
        pipelines = list(run_params.get("pipeline_names") or ["__default__"])
        save_version = self._save_version or run_params["run_id"]
        run_args = {key: run_params.get(key) for key in RUN_FILTERS if run_params.get(key)}
        runtime_params = run_params.get("runtime_params") or {}
        tags = {
            "mlflow.source.name": "kedro run",
            "mlflow.source.type": "LOCAL",
            "kedro.run_id": run_params["run_id"],
            "kedro.save_version": save_version,
            "kedro.env": run_env(context),
            "kedro.pipelines": ",".join(pipelines),
            "kedro.load_versions": load_versions,
            "kedro.run_args": run_args,
            "kedro.runtime_params": runtime_params,
            "kedro.input_digests": digests,
            "kedro.version": run_params.get("kedro_version", ""),
            "project.version": project_version,
        }
        description = {
            "run_id": run_params["run_id"],
            "env": run_env(context),
            "pipeline_names": pipelines,
            "load_versions": load_versions,
            "run_args": run_args,
            "runtime_params": runtime_params,
            "input_digests": digests,
        }
        # MLflow is imported here, in the main thread, before the writer thread uses it: two
        # threads importing MLflow's protobuf modules at once can leave one half-built ("Couldn't
        # build proto file into descriptor pool"), e.g. a node loading the registry's champion.
        import mlflow  # noqa: F401

        self._run = _RunRecorder(self._config, Path(context.project_path), catalog)
        self._run.open(save_version, tags, context.params, description)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        """Print and log the metrics of a metric dataset; log the files a dataset just saved."""
        prefix = self._config.metric_datasets.get(dataset_name)
        if prefix is not None and isinstance(data, Mapping):
            self.record_metrics(scalar_metrics(data, prefix=prefix))
        run = self._run
        if run is not None and self._config.logs_artifact(dataset_name):
            run.log_dataset_files(dataset_name)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """End the MLflow run as FINISHED; fail the command if the run could not be recorded."""
        run, self._run = self._run, None
        try:
            failure = run.finish("FINISHED") if run is not None else None
        finally:
            self._restore_sigterm()
        if run is None:
            return
        if failure is not None:
            # `from None`: the original error may quote the URI with its credentials.
            raise RuntimeError(
                f"The pipeline ran, but could not be recorded in MLflow at "
                f"{redact(run.tracking_uri)}: {redact(f'{type(failure).__name__}: {failure}')}\n"
                "Start that tracking server, correct tracking_uri (conf/<env>/tracking.yml) or "
                "MLFLOW_TRACKING_URI, or run without tracking: KEDRO_TRACKING_ENABLED=false"
            ) from None
        self._tracked_run = run.tracked_run("FINISHED")

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        """End the MLflow run FAILED, with the error as a tag and its traceback as an artefact."""
        run, self._run = self._run, None
        try:
            if run is not None:
                run.finish("FAILED", error=error)
                self._tracked_run = run.tracked_run("FAILED")
        finally:
            self._restore_sigterm()

    # ----- SIGTERM --------------------------------------------------------------------------------
    def _handle_sigterm(self) -> None:
        """Turn SIGTERM into an exception that unwinds the run (atexit then ends it KILLED)."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # someone else (a job runner, a test harness) handles it already
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_terminated)

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is None:
            return
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        self._previous_sigterm = None

    # ----- metrics --------------------------------------------------------------------------------
    def record_metrics(self, metrics: Mapping[str, float]) -> None:
        """Print each metric as a `name=value` line and log it to the open MLflow run, if any.

        The printed lines are what SageMaker's MetricDefinitions (metric_lines.metric_definitions)
        read from a job's log, so printing and logging are one step and cannot disagree.
        """
        named = {safe_name(name): float(value) for name, value in metrics.items()}
        for name in [name for name in named if len(name) > MAX_KEY]:
            logger.warning("Metric name over %d characters, not recorded: %s", MAX_KEY, name)
            del named[name]
        lines = [format_metric_line(name, value) for name, value in named.items()]
        if self._print_metric_lines:
            with self._print_lock:
                for line in lines:
                    print(line, file=sys.stdout, flush=True)
        else:
            for line in lines:
                logger.debug("metric %s", line)
        run = self._run
        if run is not None:
            run.log_metrics(named)


def _raise_terminated(signum: int, frame: Any) -> None:
    logger.warning("SIGTERM: stopping the run; its MLflow run ends KILLED.")
    raise Terminated(TERMINATED_EXIT_CODE)


def run_env(context: KedroContext) -> str:
    """Return the Kedro environment the session runs in (`local` unless --env said otherwise)."""
    return context.env or getattr(context.config_loader, "default_run_env", "") or "local"


def _tracking_conf(context: KedroContext) -> Mapping[str, Any]:
    """Return the `tracking:` block of conf/<env>/tracking.yml (empty if there is none)."""
    from kedro.config import MissingConfigException

    try:
        conf = context.config_loader["tracking"]
    except (MissingConfigException, KeyError):
        return {}
    return (conf or {}).get("tracking") or {}


class _RunRecorder:
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
        client.log_dict(self.run_id, _jsonable(params), PARAMETERS_ARTIFACT)
        client.log_dict(self.run_id, _jsonable(description), RUN_ARTIFACT)

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


def _input_versions(
    pipeline: Pipeline, catalog: CatalogProtocol, run_params: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Return (load version per versioned input, SHA-256 per unversioned local input file).

    Inputs are the datasets the run reads but does not write. Kedro resolves "latest" once per
    run and caches it in the dataset, so the versions here are the ones the nodes will load.
    """
    versions = dict(run_params.get("load_versions") or {})
    digests: dict[str, str] = {}
    for name in sorted(pipeline.inputs()):
        if name == "parameters" or name.startswith("params:") or name not in catalog:
            continue
        dataset = catalog.get(name)
        if not isinstance(dataset, AbstractVersionedDataset):
            continue
        try:
            if getattr(dataset, "_version", None):
                versions.setdefault(name, dataset.resolve_load_version())
            elif getattr(dataset, "_protocol", "file") == "file":
                digest = provenance.file_digest(Path(str(dataset._filepath)))
                if digest:
                    digests[name] = digest
        except Exception as error:  # the node's own load reports a missing input clearly
            logger.debug("No version or digest for %s: %s", name, error)
    return versions, digests


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


def _jsonable(value: Any) -> Any:
    """Return `value` with anything JSON cannot hold turned into text."""
    return json.loads(json.dumps(value, default=str))
