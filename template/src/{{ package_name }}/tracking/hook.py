"""The Kedro hook that records every run in MLflow (and prints metric lines in SageMaker jobs)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset

from .. import __version__ as project_version
from ..process import is_run_command
from ..run_outputs import load_as_run, ran_in_workers
from . import provenance
from .config import TrackingConfig, redact
from .metric_lines import format_metric_line, metric_lines_wanted, scalar_metrics
from .recorder import PendingCall, RunRecorder, TrackedRun, WriterProcess
from .records import (
    MAX_KEY,
    safe_name,
)
from .writer import preload

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Node, Pipeline

logger = logging.getLogger(__name__)

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


class Terminated(SystemExit):
    """SIGTERM arrived during a run: unwinds like Ctrl+C, exits 143."""


class _StopRequest:
    """The stop signal (SIGINT or SIGTERM) that arrived during the run, if any.

    Set by the hook's handlers, checked before each node and before the run may end FINISHED. A
    handler's exception is raised wherever the main thread happens to be, and it can be lost
    there: Python reports and then ignores an exception raised inside a finalizer (`__del__`, a
    weakref callback), and library code may catch it. A stop that landed there must still never
    end in a complete run: the exception is raised again at the next of those checks.
    """

    def __init__(self) -> None:
        self._signum: int | None = None

    def set(self, signum: int) -> None:
        self._signum = signum

    def clear(self) -> None:
        self._signum = None

    def is_set(self) -> bool:
        return self._signum is not None

    def exception(self) -> BaseException:
        """Return what the signal raises: KeyboardInterrupt (Ctrl+C) or Terminated (exit 143)."""
        if self._signum == signal.SIGINT:
            return KeyboardInterrupt()
        return Terminated(TERMINATED_EXIT_CODE)


_STOP_REQUESTED = _StopRequest()


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

    MLflow is written to by a child process (recorder.WriterProcess, started when the context of
    a `kedro run` is created, else when a run begins), in the order of the hook calls: importing
    MLflow and talking to its store happen on another core, without the run's GIL, while Kedro
    loads the pipelines and the nodes run. The run waits for that process to write everything
    before it ends; this process never imports MLflow for tracking.
    """

    def __init__(self) -> None:
        self._print_lock = threading.Lock()
        self._config = TrackingConfig.from_conf({})
        self._context: KedroContext | None = None
        self._save_version: str | None = None
        self._run: RunRecorder | None = None
        self._print_metric_lines = False
        self._previous_handlers: dict[int, Any] = {}
        self._tracked_run: TrackedRun | None = None
        self._writer: WriterProcess | None = None
        self._ended_run: RunRecorder | None = None  # its writer process serves `run_in_writer`
        self._pipeline: Pipeline | None = None

    # ----- the run, for later hooks ---------------------------------------------------------------
    @property
    def tracked_run(self) -> TrackedRun | None:
        """Return the MLflow run of the last run that ended (None: untracked, or none ended yet)."""
        return self._tracked_run

    def wait_for_run_id(self, timeout: float = 60.0) -> str | None:
        """Return the id of the MLflow run in progress once it is open (None: untracked/failed)."""
        run = self._run
        return run.wait_opened(timeout) if run is not None else None

    def run_in_writer(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        """Return `function(**kwargs)`, run in the writer process of the run in progress, else
        of the run that just ended.

        For the datasets that load the champion during a run, and for hooks after this one (the
        model registry): the writer process has MLflow imported already, so the run's process
        need not import it. `function` is a module-level function whose arguments and result
        pickle; without a writer process (or in a worker forked from this process) it runs here.
        """
        run = self._run or self._ended_run
        return run.call(function, **kwargs) if run is not None else function(**kwargs)

    def start_in_writer(self, function: Callable[..., Any], **kwargs: Any) -> PendingCall | None:
        """Return a handle on `function(**kwargs)`, started in the writer of the run in progress.

        It runs after every record requested so far (the run is open by then) while the nodes
        go on; None when no run is being tracked or its writer process is gone.
        """
        run = self._run
        return run.call_later(function, **kwargs) if run is not None else None

    def preload_in_writer(self, *modules: str) -> None:
        """Have the writer process import `modules` while the nodes run (for `run_in_writer`)."""
        run = self._run
        if run is not None:
            run.call_soon(preload, modules=modules)

    def release_writer(self) -> None:
        """Let the writer process of the run that just ended exit (the last hook is done)."""
        run, self._ended_run = self._ended_run, None
        if run is not None:
            run.release()

    # ----- Kedro hook specifications --------------------------------------------------------------
    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Read tracking.yml of the session's environment; start the MLflow writer process."""
        self._context = context
        self._config = TrackingConfig.from_conf(_tracking_conf(context))
        self._print_metric_lines = metric_lines_wanted()
        if self._config.enabled and self._writer is None and is_run_command():
            # Now, before Kedro loads the pipelines: the writer imports MLflow meanwhile. Other
            # sessions (`kedro versions`, a notebook, a test) may never run a pipeline: theirs
            # starts in before_pipeline_run, if they do, instead of costing seconds of CPU for
            # nothing.
            self._writer = WriterProcess(self._config.store_uri(Path(context.project_path)))

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
            self._run.release()
            self._run = None
        if self._ended_run is not None:
            self._ended_run.release()
            self._ended_run = None
        self._tracked_run = None
        self._pipeline = pipeline
        _STOP_REQUESTED.clear()
        self._handle_stop_signals()
        writer, self._writer = self._writer, None
        if not self._config.enabled or self._context is None:
            if writer is not None:
                writer.discard()
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
        self._run = RunRecorder(self._config, Path(context.project_path), catalog, writer)
        self._run.open(save_version, tags, context.params, description)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        """Print and log the metrics of a metric dataset; log the files a dataset just saved."""
        self._record_saved(dataset_name, data)

    def _record_saved(self, name: str, data: Any, *, print_lines: bool = True) -> None:
        """Record a dataset the run saved: the scalars of a metric dataset (printed as metric
        lines unless `print_lines` is False), the files of one logged as an artefact."""
        prefix = self._config.metric_datasets.get(name)
        if prefix is not None and isinstance(data, Mapping):
            self.record_metrics(scalar_metrics(data, prefix=prefix), print_lines=print_lines)
        run = self._run
        if run is not None and self._config.logs_artifact(name):
            run.log_dataset_files(name)

    @hook_impl
    def before_node_run(self) -> None:
        """Stop before the next node if a stop signal arrived but its exception was swallowed."""
        if _STOP_REQUESTED.is_set():
            raise _STOP_REQUESTED.exception()

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """End the MLflow run as FINISHED; fail the command if the run could not be recorded."""
        if self._run is not None and not _STOP_REQUESTED.is_set():
            pipeline, catalog = self._pipeline, self._run.catalog
            if pipeline is not None and ran_in_workers(catalog):
                self._record_saved_in_workers(pipeline, catalog)
        run, self._run = self._run, None
        if _STOP_REQUESTED.is_set():
            # Every node returned, but the process was asked to stop: raising here also keeps
            # the later hooks (registration, the run manifest) from completing the run.
            try:
                if run is not None:
                    run.finish("KILLED")
                    run.release()
                    self._tracked_run = run.tracked_run("KILLED")
            finally:
                self._restore_stop_signals()
            raise _STOP_REQUESTED.exception()
        try:
            failure = run.finish("FINISHED") if run is not None else None
        finally:
            self._restore_stop_signals()
        if run is None:
            return
        if failure is not None:
            run.release()
            # `failure` is the writer's text of the error, credentials redacted.
            raise RuntimeError(
                f"The pipeline ran, but could not be recorded in MLflow at "
                f"{redact(run.tracking_uri)}: {redact(failure)}\n"
                "Start that tracking server, correct tracking_uri (conf/<env>/tracking.yml) or "
                "MLFLOW_TRACKING_URI, or run without tracking: KEDRO_TRACKING_ENABLED=false"
            )
        self._ended_run = run
        self._tracked_run = run.tracked_run("FINISHED")

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        """End the MLflow run FAILED, with the error as a tag and its traceback as an artefact."""
        run, self._run = self._run, None
        try:
            if run is not None:
                run.finish("FAILED", error=error)
                run.release()
                self._tracked_run = run.tracked_run("FAILED")
        finally:
            self._restore_stop_signals()

    # ----- SIGINT and SIGTERM ------------------------------------------------------------------
    def _handle_stop_signals(self) -> None:
        """Turn SIGTERM into an exception that unwinds the run (atexit then ends it KILLED), and
        note SIGINT before Python's KeyboardInterrupt, so that neither can be lost."""
        if threading.current_thread() is not threading.main_thread():
            return
        # Only the interpreter's own defaults are replaced: a job runner, a notebook kernel or a
        # test harness that installed a handler keeps it.
        defaults = {signal.SIGTERM: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}
        for signum, default in defaults.items():
            if signal.getsignal(signum) is default:
                self._previous_handlers[signum] = signal.signal(signum, _raise_stop)

    def _restore_stop_signals(self) -> None:
        handlers, self._previous_handlers = self._previous_handlers, {}
        if threading.current_thread() is threading.main_thread():
            for signum, handler in handlers.items():
                signal.signal(signum, handler)

    def _record_saved_in_workers(self, pipeline: Pipeline, catalog: CatalogProtocol) -> None:
        """Record the metrics and files that the nodes saved in ParallelRunner's workers.

        Their dataset hooks ran on the workers' copies of this hook, which cannot reach the MLflow
        writer process (run_outputs.py); their metric lines were printed there already. Only the
        metric datasets are read back: the files are logged from where they were saved.
        """
        for node in pipeline.nodes:
            for name in node.outputs:
                metrics = name in self._config.metric_datasets
                data = load_as_run(catalog, pipeline, name) if metrics else None
                self._record_saved(name, data, print_lines=False)

    # ----- metrics --------------------------------------------------------------------------------
    def record_metrics(self, metrics: Mapping[str, float], *, print_lines: bool = True) -> None:
        """Print each metric as a `name=value` line and log it to the open MLflow run, if any.

        The printed lines are what SageMaker's MetricDefinitions (metric_lines.metric_definitions)
        read from a job's log, so printing and logging are one step and cannot disagree.
        `print_lines=False` only logs: for metrics whose lines another process printed.
        """
        named = {safe_name(name): float(value) for name, value in metrics.items()}
        for name in [name for name in named if len(name) > MAX_KEY]:
            logger.warning("Metric name over %d characters, not recorded: %s", MAX_KEY, name)
            del named[name]
        lines = [format_metric_line(n, v) for n, v in named.items()] if print_lines else []
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


def _raise_stop(signum: int, frame: Any) -> None:
    _STOP_REQUESTED.set(signum)
    if signum == signal.SIGTERM:
        logger.warning("SIGTERM: stopping the run; its MLflow run ends KILLED.")
    raise _STOP_REQUESTED.exception()


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
