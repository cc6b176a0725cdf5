"""One MLflow run, written by a child process: what the tracking hook records, in order.

The hook (`hook.py`) decides what to record and when; `RunRecorder` hands each request to the
writer process (`writer.py`), which imports MLflow and owns the store, so neither costs the run's
own process CPU time or the GIL while the nodes run. No record is lost:

- the run is closed (FINISHED, FAILED or KILLED) after everything requested before it was
  written: `finish` waits for the writer, also at interpreter exit (Ctrl+C, SIGTERM);
- if the writer process dies, the run's process writes every request it had not confirmed
  itself when the run ends (the same code, `writer.RunWriter`, going on with the same run);
- if the run's process dies (even SIGKILL), the writer sees its pipe close and ends the run
  KILLED: a run is never left RUNNING.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractVersionedDataset

from .config import TrackingConfig, redact
from .writer import CALL, CLOSE, FILES, METRICS, OPEN, RunWriter, encode, receive

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol

logger = logging.getLogger(__name__)

# How long an interrupted flush may still take to write what is queued before the process ends.
FLUSH_TIMEOUT = 30.0
# The writer's numeric work is a few rows (the model's signature and MLflow's check that the
# logged model serves its input example): one thread each. Left to the defaults, OpenMP started
# a thread per core and spun them, which made that check 0.8 s instead of 0.14 s on 2 cores.
WRITER_THREADS = {
    name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
}
# `python -c` program of the writer process: import this very copy of the package, run writer.main.
_BOOTSTRAP = (
    "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
    "importlib.import_module(sys.argv[2]).main(sys.argv[3])"
)


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


class WriterProcess:
    """A started writer process (`writer.main`) that warms up (imports MLflow) until it is used.

    Started as soon as a `kedro run` knows tracking is on, so that importing MLflow overlaps with
    Kedro loading the pipelines, on another core (other sessions start it when a run begins). It
    runs in its own session: Ctrl+C in a terminal reaches the run's process only, which then
    closes the run through the pipe.
    """

    def __init__(self, tracking_uri: str):
        package_root = Path(__file__).resolve().parents[2]
        scheme = tracking_uri.split(":", 1)[0].split("+", 1)[0]
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            [sys.executable, "-c", _BOOTSTRAP, str(package_root), f"{__package__}.writer", scheme],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
            env={**os.environ, **WRITER_THREADS},
        )

    def discard(self) -> None:
        """Let an unused writer process end (it sees its input close and exits)."""
        try:
            self.process.stdin.close()
        except OSError:
            pass


class RunRecorder:
    """One MLflow run, written by a writer process that runs the hook's requests in order.

    A request that fails is logged as a warning and the run goes on; if the run cannot even be
    opened, later requests are dropped and `finish` returns the reason.
    """

    def __init__(
        self,
        config: TrackingConfig,
        project_path: Path,
        catalog: CatalogProtocol,
        process: WriterProcess | None = None,
    ):
        self.config = config
        self.project_path = project_path
        self.catalog = catalog
        self.tracking_uri = config.store_uri(project_path)
        self.run_id: str | None = None
        self.failure: str | None = None
        self._skipped: tuple[str, ...] = ()
        self._requests: list[tuple[int, str, tuple]] = []
        self._unsent: list[tuple[int, str, tuple]] = []  # could not be pickled: written here
        self._applied = -1  # the last record request the writer process confirmed
        self._results: dict[int, tuple[bool, Any] | None] = {}  # answers to `call` requests
        self._changed = threading.Condition()
        self._released = False
        self._request_lock = threading.Lock()
        self._finish_lock = threading.Lock()
        self._finished = False
        self._opened = threading.Event()
        self._ended = threading.Event()
        self._process = (process or WriterProcess(self.tracking_uri)).process
        # A worker forked from this process (Kedro's ParallelRunner on Linux) inherits the
        # recorder but not its two threads: nothing there would send a call or read its answer.
        self._owner_pid = os.getpid()
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._outbox.put(("setup", config, project_path))
        threading.Thread(target=self._send_all, name="mlflow-writer-in", daemon=True).start()
        threading.Thread(target=self._read_all, name="mlflow-writer-out", daemon=True).start()
        atexit.register(self._at_exit)

    @property
    def writer_pid(self) -> int:
        """Return the process id of the writer process."""
        return self._process.pid

    # ----- requests from the hook (any thread) ----------------------------------------------------
    def open(
        self,
        run_name: str,
        tags: Mapping[str, Any],
        params: Mapping[str, Any],
        description: Mapping[str, Any],
    ) -> None:
        """Create the run with its tags, flattened parameters and the two reproduce artefacts."""
        self._request(OPEN, (run_name, dict(tags), params, dict(description)))

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Log metrics at step 0, stamped now."""
        self._request(METRICS, (dict(metrics), int(time.time() * 1000)))

    def log_dataset_files(self, dataset_name: str) -> None:
        """Log the files `dataset_name` just saved under the artefact folder `<dataset_name>/`."""
        dataset = self.catalog.get(dataset_name) if dataset_name in self.catalog else None
        location = _saved_location(dataset)  # now: the dataset knows this run's save version
        if location is not None:
            self._request(FILES, (dataset_name, *location))

    def _request(self, action: str, arguments: tuple) -> int:
        with self._request_lock:
            request = (len(self._requests), action, arguments)
            self._requests.append(request)
            self._outbox.put(request)
            return request[0]

    def _wait_until(self, condition: Callable[[], bool]) -> None:
        with self._changed:
            while not condition() and not self._ended.is_set():
                self._changed.wait(timeout=1.0)

    def finish(self, status: str, error: BaseException | None = None) -> str | None:
        """End the run with `status`, wait until all is written, return why it could not open.

        The writer process stays for `call` until `release` (at the latest at exit).
        """
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
        close = self._request(CLOSE, (status, error_text))
        try:
            self._wait_until(lambda: self._applied >= close)
        except BaseException:  # SIGTERM or Ctrl+C while flushing: the close is queued already
            self.release(timeout=FLUSH_TIMEOUT)
            raise
        if self._applied < close:
            self._write_the_rest()
        elif self._unsent:
            self._write_here(self._unsent)
        atexit.register(self.release)
        return self.failure

    def _at_exit(self) -> None:
        self.finish("KILLED")
        self.release()

    def call(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        """Return `function(**kwargs)`, run in the writer process, where MLflow is imported.

        `function` must be a module-level function of a Kedro-free module, and its arguments and
        result picklable. If the writer process is gone (or the arguments cannot be pickled),
        it runs in this process instead. Its exception is raised here.
        """
        pending = self.call_later(function, **kwargs)
        answer = pending.answer() if pending is not None else None
        if answer is None:  # no writer, it died, or the request could not be pickled
            return function(**kwargs)
        ok, value = answer
        if not ok:
            raise value
        return value

    def _takes_calls(self) -> bool:
        """Return True while the writer process serves calls from this process: it is not
        released or gone, and this is not a worker forked from the process that started it."""
        return not (self._released or self._ended.is_set()) and os.getpid() == self._owner_pid

    def call_later(self, function: Callable[..., Any], **kwargs: Any) -> PendingCall | None:
        """Return a handle on `function(**kwargs)`, queued for the writer process, not awaited.

        None when the writer process is gone already, or in a forked worker. Unlike `call`,
        nothing falls back to this process: the caller decides what to do when there is no
        handle or `PendingCall.answer` is None.
        """
        if not self._takes_calls():
            return None  # gone, or a forked worker's copy: the caller runs it where it is
        seq = self._request(CALL, (function.__module__, function.__qualname__, kwargs))
        return PendingCall(self, seq)

    def _answer(self, seq: int) -> tuple[bool, Any] | None:
        self._wait_until(lambda: seq in self._results)
        with self._changed:
            return self._results.pop(seq, None)

    def call_soon(self, function: Callable[..., Any], **kwargs: Any) -> None:
        """Run `function(**kwargs)` in the writer process without waiting (e.g. imports)."""
        if self._takes_calls():
            self._request(CALL, (function.__module__, function.__qualname__, kwargs))

    def release(self, timeout: float | None = None) -> None:
        """Let the writer process end (after everything sent to it) and wait for it."""
        atexit.unregister(self.release)
        with self._request_lock:
            if not self._released:
                self._released = True
                self._outbox.put(None)  # then the pipe closes: the writer applies all and ends
        self._ended.wait(timeout)
        try:
            self._process.wait(timeout=FLUSH_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.debug("The MLflow writer process %s is still ending", self._process.pid)

    def wait_opened(self, timeout: float) -> str | None:
        """Return the run id once the writer has opened the run (None if it could not)."""
        self._opened.wait(timeout)
        return self.run_id

    def tracked_run(self, status: str) -> TrackedRun | None:
        """Return the run as later hooks see it (None when it was never opened)."""
        if self.run_id is None:
            return None
        return TrackedRun(self.run_id, self.tracking_uri, self.config.experiment_name, status)

    # ----- the two threads that talk to the writer process ----------------------------------------
    def _send_all(self) -> None:
        """Feed the writer process the requests in order; close its input after the last."""
        stdin = self._process.stdin
        try:
            while (message := self._outbox.get()) is not None:
                try:
                    payload = encode(message)
                except Exception as error:  # e.g. a filesystem that cannot be pickled
                    logger.debug("Running %s in the run's process: %s", message[1], error)
                    if message[1] == CALL:
                        with self._changed:
                            self._results[message[0]] = None
                            self._changed.notify_all()
                    else:
                        self._unsent.append(message)
                    continue
                stdin.write(payload)
                stdin.flush()
        except OSError:  # the writer died: `_read_all` sees it, `finish` writes the rest
            pass
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def _read_all(self) -> None:
        """Relay the writer's log records and note what it confirmed, until it ends."""
        try:
            while (message := receive(self._process.stdout)) is not None:
                if message[0] == "log":
                    _relog(*message[1:])
                    continue
                if message[0] == "done":
                    break
                with self._changed:
                    if message[0] == "state":
                        _, self._applied, self.run_id, self._skipped, self.failure = message
                        if self.run_id is not None or self.failure is not None:
                            self._opened.set()
                    elif message[0] == "result":
                        self._results[message[1]] = (message[2], message[3])
                    self._changed.notify_all()
        finally:
            self._opened.set()
            with self._changed:
                self._ended.set()
                self._changed.notify_all()

    def _write_the_rest(self) -> None:
        """Write, from this process, every request the writer process did not confirm."""
        code = self._process.poll()
        unsent = {request[0] for request in self._unsent}
        rest = [
            r for r in self._requests if r[1] != CALL and (r[0] > self._applied or r[0] in unsent)
        ]
        logger.warning(
            "The MLflow writer process ended early (exit code %s): writing its last %d "
            "request(s) from the run's process",
            code,
            len(rest),
        )
        self._write_here(rest)

    def _write_here(self, requests: list[tuple[int, str, tuple]]) -> None:
        """Apply `requests` in this process, going on with the writer process's run."""
        writer = RunWriter(self.config, self.project_path, self.run_id, self._skipped)
        writer.failure = self.failure
        for _, action, arguments in requests:
            writer.apply(action, arguments)
        self.run_id, self.failure = writer.run_id, writer.failure
        self._opened.set()


@dataclass(frozen=True)
class PendingCall:
    """A `call_later` request: its answer is read (and waited for) once, with `answer`."""

    recorder: RunRecorder
    seq: int

    def answer(self) -> tuple[bool, Any] | None:
        """Return (True, result) or (False, error); None if the writer process ended first."""
        return self.recorder._answer(self.seq)


def _relog(name: str, level: int, message: str, path: str, line: int) -> None:
    """Log a record of the writer process through this process's logging set-up."""
    target = logging.getLogger(name)
    if target.isEnabledFor(level):
        target.handle(target.makeRecord(name, level, path, line, message, None, None))


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
