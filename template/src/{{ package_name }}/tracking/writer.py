"""The MLflow writer: applies the tracking hook's requests to one MLflow run, in order.

Kedro-free. `RunWriter` owns the MLflow client and runs the requests (open, metrics, files,
close). It normally lives in a child process (`main`, started by `recorder.WriterProcess`) that
imports MLflow and owns the store, so that neither costs the run's own process CPU time or the
GIL. The parent feeds it over a pipe and it answers over another (see `send`/`receive`):

- parent -> child: `("setup", config, project_path)`, then `(seq, action, arguments)` requests
  in the order of the hook calls. End of file means the parent is done, or gone.
- child -> parent: `("log", logger, level, message, path, line)` for each log record,
  `("state", seq, run_id, skipped, failure)` after each request, `("result", seq, ok, value)`
  after a `call` request, `("done",)` at the end.

After the run's `close`, the child stays until its input closes: a later hook (the model
registry's) can run a Kedro-free function in it with a `call` request, using the MLflow this
process has imported already instead of importing it in the run's process.

When the parent's end of the pipe closes before a `close` request (the run's process was
killed, even with SIGKILL), the child ends the run KILLED itself: a run is never left RUNNING.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import select
import signal
import struct
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..core.serialise import json_ready
from ..process import importing
from . import provenance
from .config import LOCAL_ARTIFACTS, TrackingConfig, redact
from .records import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    chunks,
    param_entries,
    tag_text,
)
from .store_seed import seed_new_store

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

PARAMETERS_ARTIFACT = "kedro/parameters.json"
RUN_ARTIFACT = "kedro/run.json"
ERROR_ARTIFACT = "kedro/error.txt"

OPEN = "open"
METRICS = "metrics"
FILES = "files"
CLOSE = "close"
# Not a record: run a Kedro-free function here, where MLflow is imported (model registration).
CALL = "call"

_LENGTH = struct.Struct(">I")
# After the run's `close`, how long the writer waits for a `call` before it ends on its own (the
# run's process normally closes the pipe itself once its last hook is done).
IDLE_AFTER_CLOSE = 10.0


# ----- the pipe: length-prefixed pickles ----------------------------------------------------------
def encode(message: Any) -> bytes:
    """Return one message (any picklable value) as the bytes `receive` reads back."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def send(stream: IO[bytes], message: Any) -> None:
    """Write one message to `stream` and flush it."""
    stream.write(encode(message))
    stream.flush()


def receive(stream: IO[bytes]) -> Any | None:
    """Return the next message from `stream`, or None at its end (also after a cut-off message)."""
    header = _read_exactly(stream, _LENGTH.size)
    if header is None:
        return None
    payload = _read_exactly(stream, _LENGTH.unpack(header)[0])
    # The pipe joins the run's process and the writer it started, nothing else: both ends are
    # this project's code, so the pickles are trusted.
    return None if payload is None else pickle.loads(payload)  # nosec B301


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        block = stream.read(size - len(data))
        if not block:
            return None
        data += block
    return data


# ----- applying requests --------------------------------------------------------------------------
class RunWriter:
    """One MLflow run, written request by request (in the writer process, or in the run's own).

    A request that fails is logged as a warning and the run goes on; if the run cannot even be
    opened, later requests are skipped and `failure` says why. `run_id` and `skipped` are the
    whole state a successor needs to go on where this writer stopped.
    """

    def __init__(
        self,
        config: TrackingConfig,
        project_path: Path,
        run_id: str | None = None,
        skipped: tuple[str, ...] = (),
    ):
        self.config = config
        self.project_path = project_path
        self.tracking_uri = config.store_uri(project_path)
        self.run_id = run_id
        self.skipped = list(skipped)
        self.failure: str | None = None
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        """Return the MLflow client of the store (created on first use)."""
        if self._client is None:
            from mlflow import MlflowClient

            seed_new_store(self.tracking_uri)
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def apply(self, action: str, arguments: tuple) -> None:
        """Run one request; log (never raise) what fails."""
        if self.failure is not None:
            return
        handler: Callable[..., None] = {
            OPEN: self._open,
            METRICS: self._log_metrics,
            FILES: self._log_files,
            CLOSE: self._close,
        }[action]
        try:
            handler(*arguments)
        except Exception as error:
            if action == OPEN and self.run_id is None:
                self.failure = redact(f"{type(error).__name__}: {error}")
                logger.error(
                    "Could not open an MLflow run at %s: %s",
                    redact(self.tracking_uri),
                    redact(str(error)),
                )
            else:
                logger.warning(
                    "MLflow run %s: %s failed: %s", self.run_id, action, redact(str(error))
                )

    def _open(
        self,
        run_name: str,
        tags: dict[str, Any],
        params: Mapping[str, Any],
        description: Mapping[str, Any],
    ) -> None:
        from mlflow.entities import Param, RunTag

        client = self.client
        if self.run_id is None:  # a successor of a writer that died mid-open keeps its run
            experiment_id = _experiment_id(client, self.config, self.project_path)
            self.run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
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
            self.skipped.append(f"{dataset_name} ({size_mb:.0f} MB)")
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
        if self.run_id is None:
            return
        if error_text is not None:
            summary, trace = error_text
            self.client.set_tag(self.run_id, "kedro.error", tag_text(summary))
            self.client.log_text(self.run_id, trace, ERROR_ARTIFACT)
        if self.skipped:
            self.client.set_tag(self.run_id, "kedro.skipped_artifacts", tag_text(self.skipped))
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


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in {"file", "local"}


# ----- the writer process -------------------------------------------------------------------------
class _ForwardToParent(logging.Handler):
    """Send each log record to the parent, which logs it through its own logging set-up."""

    def __init__(self, stream: IO[bytes]):
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        message = redact(record.getMessage())
        _tell(
            self.stream,
            ("log", record.name, record.levelno, message, record.pathname, record.lineno),
        )


def _tell(stream: IO[bytes], message: Any) -> None:
    """Send `message` to the parent unless it is gone (then the run is closed all the same)."""
    try:
        send(stream, message)
    except OSError:
        pass


def call(module: str, name: str, kwargs: Mapping[str, Any]) -> tuple[bool, Any]:
    """Return (True, result) of `module.name(**kwargs)`, or (False, the error it raised)."""
    try:
        return True, getattr(importlib.import_module(module), name)(**kwargs)
    except Exception as error:
        try:  # the parent must be able to read it back
            pickle.loads(pickle.dumps(error))  # nosec B301 - our own pickle, a round trip
        except Exception:
            error = RuntimeError(f"{type(error).__name__}: {error}")
        return False, error


def preload(modules: tuple[str, ...]) -> None:
    """Import `modules` now (a later `call` needs them), while the run's nodes still run; later
    collections skip them."""
    with importing():
        for module in modules:
            importlib.import_module(module)


def _warm_up(store_scheme: str) -> None:
    """Import what opening and writing a run needs, before the first request arrives."""
    import mlflow.entities
    from mlflow import MlflowClient  # noqa: F401

    if store_scheme in {"sqlite", "postgresql", "mysql", "mssql"}:
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


def main(store_scheme: str = "") -> None:
    """Run the writer process: warm up, then apply requests from stdin until it closes."""
    # The messages go to the parent over the original stdout; anything MLflow prints goes to
    # stderr instead, so it can never corrupt them.
    outbox = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inbox = os.fdopen(os.dup(0), "rb", buffering=0)  # unbuffered: `select` sees what is left
    # Ctrl+C is for the run's process: it ends the run KILLED through a `close` request.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    root = logging.getLogger()
    root.handlers[:] = [_ForwardToParent(outbox)]
    root.setLevel(logging.INFO)
    for noisy in ("alembic", "sqlalchemy"):  # the store's schema set-up talks at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with importing():  # MLflow's modules: later collections skip them
        _warm_up(store_scheme)

    setup = receive(inbox)
    if setup is None:  # the run's process ended before it started a run
        _tell(outbox, ("done",))
        return
    _, config, project_path = setup
    writer = RunWriter(config, project_path)
    closed = False
    while True:
        if closed and not select.select([inbox], [], [], IDLE_AFTER_CLOSE)[0]:
            break  # nothing more after the run's close: a `call` then runs in the parent
        message = receive(inbox)
        if message is None:
            break
        seq, action, arguments = message
        if action == CALL:
            ok, value = call(*arguments)
            try:
                encode(value)
            except Exception as error:  # a result the parent could not read back
                ok, value = False, RuntimeError(f"{arguments[1]}: unpicklable result: {error}")
            _tell(outbox, ("result", seq, ok, value))
            continue
        writer.apply(action, arguments)
        closed = closed or action == CLOSE
        _tell(outbox, ("state", seq, writer.run_id, tuple(writer.skipped), writer.failure))
    if not closed and writer.run_id is not None:
        logger.warning(
            "The run's process ended without closing MLflow run %s: ending it KILLED",
            writer.run_id,
        )
        writer.apply(CLOSE, ("KILLED", None))
    _tell(outbox, ("done",))
    logging.shutdown()
    # Everything is written (each MLflow call commits); skip tearing down MLflow, pandas and
    # sklearn, which takes seconds that the run's process would wait for.
    os._exit(0)


if __name__ == "__main__":
    main(*sys.argv[1:2])
