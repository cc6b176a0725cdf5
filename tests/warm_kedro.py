"""`kedro` commands in processes forked from a warm interpreter: the libraries are imported once.

Each of the tests' `kedro run` processes spent 3-6 s of CPU importing the same libraries (scipy,
scikit-learn, shap, matplotlib, pandas, Great Expectations, MLflow) before its first node, and
each tracked run's MLflow writer process 2-4 s more. A `WarmKedro` server imports them once; for
each command it forks a child, and the child becomes the command's process. The child is a
process of its own, with its own pid, exit status, signals, interpreter shutdown (threads joined,
atexit handlers run) and stdout and stderr. It takes the command's folder and environment, and its
`sys.argv` and `sys.path` are those of the `kedro` script started there with PYTHONPATH set, as
`run_in` starts it. The project's own code is imported in the child only: no project is ever
imported in the server.

The run's MLflow writer process (`python -c <bootstrap> ... <package>.tracking.writer`, started
by the project's `tracking/recorder.py` with `sys.executable`) is forked from the same server: a
command's `sys.executable` is a small launcher (`python` in the server's folder) that passes its
arguments, environment, folder, session and standard streams (the run's pipes, over a Unix socket)
to the server, forwards the signals it gets to the forked writer and exits with its status. Any
other use of `sys.executable` (a multiprocessing spawn, a script) becomes the real interpreter.

What a warm child cannot give, a fresh process gives (`run_in(..., fresh_process=True)`):
- Warnings issued while a library is imported are issued in the server, once, not in the child's
  log: a test about what a run logs runs in a fresh process.
- Settings read when the interpreter or a library starts (PYTHON*, OpenMP's, BLAS's and
  matplotlib's variables, the locale, HOME, TMPDIR) are the server's: a command or writer whose
  environment changes one of them runs in a fresh process, as `runs_warm` decides.

Run as a script, this module is the server: it reads `kedro` requests (JSON lines) on stdin and
answers on stdout with the child's pid, then its exit status; writers ask on the Unix socket.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import select
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# What the rendered project's commands import before and during their nodes (`python -X
# importtime` of `kedro run`, its monitoring and retraining pipelines, and `kedro model list`),
# and what their MLflow writers import beyond it: the SQLite store (SQLAlchemy, Alembic's
# migrations) and skops, the registry's model format (2-3 s of CPU per tracked run otherwise).
PRELOAD = (
    "kedro.config",
    "kedro.framework.cli",
    "kedro.framework.session",
    "kedro.runner",
    "kedro_datasets.pandas",
    "kedro_datasets.matplotlib",
    "kedro_datasets.json",
    "kedro_datasets.pickle",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "sklearn.ensemble",
    "sklearn.metrics",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.preprocessing",
    "matplotlib.pyplot",
    "shap",
    "great_expectations",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.pyfunc.loaders",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "alembic.migration",
    "alembic.autogenerate",
    "skops.io",
    "git",
)

# The console scripts a server runs, by name: their module and function, as their
# entry points name them. A suite's tests may check the processes they start (the MLflow writer's
# pid, say): under `pytest`, sys.executable stays the real interpreter.
SCRIPTS = {"kedro": ("kedro.framework.cli", "main"), "pytest": ("pytest", "console_main")}

# Environment variables read when the interpreter or a preloaded library starts: a command that
# sets one of them differently from the server runs in a fresh process. PYTHONPATH is the
# exception, as the child puts it on sys.path itself.
STARTUP_VARIABLE = re.compile(
    r"PYTHON(?!PATH$)\w*|OMP_\w+|MKL_\w+|OPENBLAS_\w+|NUMBA_\w+|MPL\w*|LD_\w+|LANG|LC_\w+|TZ|HOME"
    r"|TMPDIR|TEMP|TMP|MLFLOW_DISABLE_TELEMETRY|DO_NOT_TRACK|KEDRO_DISABLE_TELEMETRY"
)


def _startup_settings(env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if STARTUP_VARIABLE.fullmatch(key)}


def command_kind(command: Sequence[str]) -> str | None:
    """Return how a server runs `command`: "script" (a console script of SCRIPTS), "module"
    (`python -m`) or "code" (`python -c`); None if it cannot."""
    if command and command[0] in SCRIPTS:
        return "script"
    if len(command) > 2 and command[0] == "python":
        return {"-m": "module", "-c": "code"}.get(command[1])
    return None


class WarmKedro:
    """A server process (this module run as a script) that forks a process per command: `kedro`
    (the console script), `python -m MODULE` or `python -c CODE`."""

    def __init__(self, bin_folder: Path, env: Mapping[str, str], folder: Path):
        self.bin_folder = bin_folder
        self.folder = folder
        self.env = {key: value for key, value in env.items() if key != "PYTHONPATH"}
        self._startup = _startup_settings(self.env)
        self.log = folder / "server.log"
        self._lock = threading.Lock()
        python = bin_folder / "python"
        launcher = folder / "python"
        launcher.write_text(f"#!{python} -IS\n" + LAUNCHER.format(python=str(python),
                            server=str(folder / "writers.sock")))  # fmt: skip
        launcher.chmod(0o755)
        with self.log.open("w") as log_file:
            self.process = subprocess.Popen(
                [str(python), __file__, str(folder)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=self.env,
                cwd=folder,
            )
        self._replies = b""
        self._next_id = 0
        self._pids: dict[int, int] = {}
        self._ends: dict[int, dict[str, float]] = {}

    def runs_warm(self, command: Sequence[str], env: Mapping[str, str]) -> bool:
        """Return whether `command` with `env` can run in a child of this server."""
        return command_kind(command) is not None and _startup_settings(env) == self._startup

    def start(
        self,
        command: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        stdout: Path,
        stderr: Path | None = None,
    ) -> WarmProcess:
        """Start `command` (see runs_warm) in a forked child; stderr None: into stdout's file."""
        kind = command_kind(command)
        if kind == "script":
            argv = [str(self.bin_folder / command[0]), *command[1:]]
        else:  # `-m MODULE ...` or `-c CODE ...`, as a writer's launcher sends its arguments
            argv = list(command[1:])
        with self._lock:
            self._next_id += 1
            number = self._next_id
            request = {
                "id": number,
                "kind": kind,
                "argv": argv,
                "cwd": str(cwd),
                "env": dict(env),
                "stdout": str(stdout),
                "stderr": None if stderr is None else str(stderr),
            }
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            while number not in self._pids:
                self._pump(deadline=None)
            return WarmProcess(self, number, self._pids.pop(number), list(command))

    def run(
        self,
        command: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        output: Path,
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        """Run `command` in a forked child and return what subprocess.run would."""
        stdout, stderr = output.with_suffix(".stdout"), output.with_suffix(".stderr")
        process = self.start(command, cwd, env, stdout, stderr)
        timed_out = False
        try:
            try:
                returncode = process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                returncode, timed_out = process.wait(), True
            output_text, error_text = _read(stdout), _read(stderr)
        finally:
            stdout.unlink(missing_ok=True)
            stderr.unlink(missing_ok=True)
        if timed_out:
            raise subprocess.TimeoutExpired(list(command), timeout, output_text, error_text)
        return subprocess.CompletedProcess(list(command), returncode, output_text, error_text)

    def _ended(self, number: int, deadline: float | None) -> dict[str, float] | None:
        """Return the end of request `number`, or None if it has not ended by `deadline`."""
        with self._lock:
            while number not in self._ends:
                try:
                    self._pump(deadline)
                except TimeoutError:
                    return None
            return self._ends.pop(number)

    def _pump(self, deadline: float | None) -> None:
        """Read the server's next reply, waiting until `deadline` at most (then TimeoutError)."""
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        while b"\n" not in self._replies:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([descriptor], [], [], wait)
            if not ready:
                raise TimeoutError
            chunk = os.read(descriptor, 65536)
            if not chunk:
                raise RuntimeError(
                    f"the warm kedro server stopped (exit {self.process.poll()}); its log, "
                    f"{self.log}:\n{self.log.read_text()[-4000:]}"
                )
            self._replies += chunk
        line, self._replies = self._replies.split(b"\n", 1)
        reply = json.loads(line)
        if "pid" in reply:
            self._pids[reply["id"]] = reply["pid"]
        else:
            _count_cpu(reply)
            self._ends[reply["id"]] = reply

    def close(self) -> None:
        """Stop the server: it exits when its requests end."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class WarmProcess:
    """A started command of a WarmKedro server, with the parts of subprocess.Popen tests use."""

    def __init__(self, server: WarmKedro, number: int, pid: int, args: list[str]):
        self.server = server
        self.number = number
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """Return the exit status if the process has ended, else None."""
        return self._wait(deadline=time.monotonic())

    def wait(self, timeout: float | None = None) -> int:
        """Return the exit status once the process ends (TimeoutExpired after `timeout`)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        code = self._wait(deadline)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def _wait(self, deadline: float | None) -> int | None:
        if self.returncode is None:
            ended = self.server._ended(self.number, deadline)
            if ended is not None:
                self.returncode = int(ended["returncode"])
        return self.returncode

    def send_signal(self, number: int) -> None:
        """Send signal `number` to the process unless it has ended."""
        if self.poll() is None:
            os.kill(self.pid, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


# The launcher a command's `sys.executable` names (run with -I -S: no site, no PYTHON* settings,
# so that it starts in milliseconds). It hands the MLflow writer to the server and execs the real
# interpreter for anything else, or when the server cannot take the writer.
LAUNCHER = """\
import json, os, signal, socket, struct, sys

PYTHON, SERVER = {python!r}, {server!r}
args = sys.argv[1:]
if not (len(args) >= 4 and args[0] == "-c" and args[3].endswith(".tracking.writer")):
    os.execv(PYTHON, [PYTHON, *args])
request = json.dumps({{"argv": args, "cwd": os.getcwd(), "env": dict(os.environ),
                      "new_session": os.getsid(0) == os.getpid()}}).encode()
with socket.socket(socket.AF_UNIX) as server:
    server.connect(SERVER)
    socket.send_fds(server, [struct.pack("!I", len(request))], [0, 1, 2])
    server.sendall(request)
    replies = server.makefile("rb")
    started = json.loads(replies.readline())
    if "refused" in started:
        os.execv(PYTHON, [PYTHON, *args])
    # The writer has the run's pipes now: this process's copies would keep them open after it.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, lambda number, _: os.kill(started["pid"], number))
    code = json.loads(replies.readline())["returncode"]
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""

# CPU seconds of the children this process's servers reaped: they are not this process's
# children, so tests/cpu_durations.py adds them to what getrusage reports.
_children_cpu = 0.0


def children_cpu() -> float:
    """Return the CPU seconds of every command run by this process's servers so far."""
    return _children_cpu


def _count_cpu(reply: dict[str, float]) -> None:
    global _children_cpu
    _children_cpu += reply["cpu"]


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _preload() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in PRELOAD:
            importlib.import_module(name)
    if threading.active_count() != 1:  # a fork keeps the calling thread only
        names = [thread.name for thread in threading.enumerate()]
        raise RuntimeError(f"preloading started threads, which a fork would lose: {names}")


class _Server:
    """The server's loop: `kedro` requests on stdin, writers on a Unix socket, ended children."""

    def __init__(self, folder: Path, replies: int):
        self.replies = replies
        self.startup = _startup_settings(os.environ)
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(folder / "writers.sock"))
        self.listener.listen()
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector = selectors.DefaultSelector()
        self.selector.register(0, selectors.EVENT_READ, self._command)
        self.selector.register(self.listener, selectors.EVENT_READ, self._writer)
        self.selector.register(self.wake_read, selectors.EVENT_READ, self._reap)
        self.requests = b""
        self.waiting: dict[int, socket.socket | int] = {}  # a writer's launcher or a request id
        self.writers_cpu = 0.0  # reaped writers' CPU, sent with the next command's end

    def serve(self) -> tuple[str, dict, list[int]]:
        """Answer until stdin ends (then exit); in each forked child, return what it runs."""
        while True:
            for key, _ in self.selector.select():
                forked = key.data()
                if forked is not None:
                    return forked

    def _fork(self) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child keeps none of the server's descriptors
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.selector.close()
            self.listener.close()
            for descriptor in (self.wake_read, self.wake_write, self.replies):
                os.close(descriptor)
            for connection in self.waiting.values():
                if isinstance(connection, socket.socket):
                    connection.close()
        return pid

    def _command(self) -> tuple[str, dict, list[int]] | None:
        chunk = os.read(0, 65536)
        if not chunk:
            sys.exit(0)
        self.requests += chunk
        if b"\n" not in self.requests:
            return None
        line, self.requests = self.requests.split(b"\n", 1)
        request = json.loads(line)
        pid = self._fork()
        if pid == 0:
            return request["kind"], request, []
        self.waiting[pid] = request["id"]
        _reply(self.replies, id=request["id"], pid=pid)
        return None

    def _writer(self) -> tuple[str, dict, list[int]] | None:
        connection, _ = self.listener.accept()
        connection.settimeout(30)  # a launcher killed mid-request must not stop the server
        streams: list[int] = []
        try:
            with connection.makefile("rb") as stream:
                header, streams, _, _ = socket.recv_fds(connection, 4, 3)
                request = json.loads(stream.read(struct.unpack("!I", header)[0]))
        except (OSError, ValueError, struct.error):
            for descriptor in streams:
                os.close(descriptor)
            connection.close()
            return None
        connection.settimeout(None)
        if _startup_settings(request["env"]) != self.startup:
            connection.sendall(b'{"refused": "startup settings differ"}\n')
            connection.close()
            for descriptor in streams:
                os.close(descriptor)
            return None
        pid = self._fork()
        if pid == 0:
            connection.close()
            return "writer", request, streams
        for descriptor in streams:
            os.close(descriptor)
        self.waiting[pid] = connection
        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        return None

    def _reap(self) -> None:
        try:
            while os.read(self.wake_read, 4096):
                pass
        except BlockingIOError:
            pass
        while self.waiting:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = self.waiting.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            if isinstance(connection, int):  # a command: its end, with the writers' CPU so far
                _reply(self.replies, id=connection, returncode=code, cpu=cpu + self.writers_cpu)
                self.writers_cpu = 0.0
            else:
                self.writers_cpu += cpu
                try:
                    connection.sendall(json.dumps({"returncode": code}).encode() + b"\n")
                except OSError:
                    pass  # the launcher was killed: nobody waits for this writer
                connection.close()
        return None


def _reply(replies: int, **reply: float) -> None:
    os.write(replies, json.dumps(reply).encode() + b"\n")


def _become(kind: str, request: dict, streams: Sequence[int], folder: Path) -> None:
    """Make this child the process that `kind`'s request would have started."""
    if kind != "writer":
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        stdout = os.open(request["stdout"], flags, 0o600)
        stderr = (
            os.dup(stdout)
            if request["stderr"] is None
            else os.open(request["stderr"], flags, 0o600)
        )
        streams = (os.open(os.devnull, os.O_RDONLY), stdout, stderr)
    for target, descriptor in enumerate(streams):
        os.dup2(descriptor, target)
        os.close(descriptor)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    search_path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if kind == "script":
        # The script's folder first, then PYTHONPATH, then the interpreter's own entries.
        sys.argv = request["argv"]
        sys.path[:1] = [os.path.dirname(sys.argv[0]), *search_path]
        if os.path.basename(sys.argv[0]) != "pytest":
            sys.executable = str(folder / "python")
        else:  # a suite's own processes stay real; a plugin the server imported (anyio) cannot
            # have its asserts rewritten, which pytest would warn about in every forked suite
            sys.argv[1:1] = ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    elif kind == "module":
        # `python -m MODULE ARGS`: the current folder first; runpy sets sys.argv[0].
        sys.argv = ["-m", *request["argv"][2:]]
        sys.path[:1] = [os.getcwd(), *search_path]
        sys.executable = str(folder / "python")
    else:
        # `python -c CODE ARGS`, a command or the writer as its launcher was asked: sys.argv is
        # ["-c", *ARGS] and the current folder comes first.
        sys.argv = ["-c", *request["argv"][2:]]
        sys.path[:1] = ["", *search_path]
        if kind == "code":
            sys.executable = str(folder / "python")
        elif request["new_session"]:
            os.setsid()


if __name__ == "__main__":
    # Replies go out on a copy of the original stdout; anything else written to fd 1 (a library
    # printing as it is imported) goes to the server's log, fd 2.
    replies = os.dup(1)
    os.dup2(2, 1)
    _preload()
    folder = Path(sys.argv[1])
    kind, request, streams = _Server(folder, replies).serve()
    _become(kind, request, streams, folder)
    del replies, folder, streams
    if kind == "script":
        module, function = SCRIPTS[os.path.basename(sys.argv[0])]
        sys.exit(getattr(importlib.import_module(module), function)())
    if kind == "module":
        import runpy

        runpy.run_module(request["argv"][1], run_name="__main__", alter_sys=True)
        sys.exit(0)
    code = compile(request["argv"][1], "<string>", "exec")
    exec(code, {"__name__": "__main__"})  # noqa: S102 - what `python -c` does with its program
