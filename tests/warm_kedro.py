"""`kedro` commands in processes forked from a warm interpreter: the libraries are imported once.

Each of the tests' `kedro run` processes spent 3-6 s of CPU importing the same libraries (scipy,
scikit-learn, shap, matplotlib, pandas, Great Expectations, MLflow) before its first node, about a
third of the suite's CPU. A `WarmKedro` server imports them once; for each command it forks a
child, and the child becomes the command's process. The child is a process of its own, with its
own pid, exit status, signals, interpreter shutdown (threads joined, atexit handlers run) and
stdout and stderr. It takes the command's folder and environment, and its `sys.argv` and
`sys.path` are those of the `kedro` script started there with PYTHONPATH set, as `run_in` starts it.
The project's own code is imported in the child only: no project is ever imported in the server.

What a warm child cannot give, a fresh process gives (`run_in(..., fresh_process=True)`):
- Warnings issued while a library is imported are issued in the server, once, not in the child's
  log: a test about what a run logs runs in a fresh process.
- Settings read when the interpreter or a library starts (PYTHON*, OpenMP's and matplotlib's
  variables, the locale, HOME, TMPDIR) are the server's: a command whose environment changes one
  of them runs in a fresh process, as `runs_warm` decides.

Run as a script, this module is the server: it reads requests (JSON lines) on stdin and answers
on stdout with the child's pid, then its exit status.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# What the rendered project's commands import before and during their nodes (`python -X
# importtime` of `kedro run`, its monitoring and retraining pipelines, and `kedro model list`).
PRELOAD = (
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
)

# Environment variables read when the interpreter or a preloaded library starts: a command that
# sets one of them differently from the server runs in a fresh process. PYTHONPATH is the
# exception, as the child puts it on sys.path itself.
STARTUP_VARIABLE = re.compile(
    r"PYTHON(?!PATH$)\w*|OMP_\w+|MKL_\w+|OPENBLAS_\w+|NUMBA_\w+|MPL\w*|LD_\w+|LANG|LC_\w+|TZ|HOME"
    r"|TMPDIR|TEMP|TMP|MLFLOW_DISABLE_TELEMETRY|DO_NOT_TRACK|KEDRO_DISABLE_TELEMETRY"
)


def _startup_settings(env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if STARTUP_VARIABLE.fullmatch(key)}


class WarmKedro:
    """A server process (this module run as a script) that forks a process per `kedro` command."""

    def __init__(self, kedro: Path, env: Mapping[str, str], log: Path):
        self.kedro = kedro
        self.env = {key: value for key, value in env.items() if key != "PYTHONPATH"}
        self.log = log
        self._lock = threading.Lock()
        with log.open("w") as log_file:
            self.process = subprocess.Popen(
                [str(kedro.parent / "python"), __file__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=self.env,
                cwd=log.parent,
            )
        self._replies = b""

    def runs_warm(self, env: Mapping[str, str]) -> bool:
        """Return whether a command with `env` can run in a child of this server."""
        return _startup_settings(env) == _startup_settings(self.env)

    def run(
        self,
        cwd: Path,
        args: Sequence[str],
        env: Mapping[str, str],
        output: Path,
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        """Run `kedro *args` in `cwd` with `env` in a forked child, as subprocess.run would."""
        stdout, stderr = output.with_suffix(".stdout"), output.with_suffix(".stderr")
        request = {
            "argv": [str(self.kedro), *args],
            "cwd": str(cwd),
            "env": dict(env),
            "stdout": str(stdout),
            "stderr": str(stderr),
        }
        command = ["kedro", *args]
        with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            deadline = time.monotonic() + timeout
            pid = int(self._reply(deadline=None)["pid"])
            try:
                ended = self._reply(deadline)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                _count_cpu(self._reply(deadline=None))
                raise subprocess.TimeoutExpired(
                    command, timeout, _read(stdout), _read(stderr)
                ) from None
            _count_cpu(ended)
        result = subprocess.CompletedProcess(
            command, int(ended["returncode"]), _read(stdout), _read(stderr)
        )
        stdout.unlink()
        stderr.unlink()
        return result

    def _reply(self, deadline: float | None) -> dict[str, float]:
        """Return the server's next reply line, waiting until `deadline` at most."""
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
        return json.loads(line)

    def close(self) -> None:
        """Stop the server: it exits when its requests end."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


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
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in PRELOAD:
            importlib.import_module(name)
    if threading.active_count() != 1:  # a fork keeps the calling thread only
        names = [thread.name for thread in threading.enumerate()]
        raise RuntimeError(f"preloading started threads, which a fork would lose: {names}")


def _serve(replies: int) -> dict:
    """Answer requests until stdin ends (then exit); in each forked child, return its request."""
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            return request
        _reply(replies, pid=pid)
        _, status, usage = os.wait4(pid, 0)
        _reply(
            replies,
            returncode=os.waitstatus_to_exitcode(status),
            cpu=usage.ru_utime + usage.ru_stime,
        )
    sys.exit(0)


def _reply(replies: int, **reply: float) -> None:
    os.write(replies, json.dumps(reply).encode() + b"\n")


def _become(request: dict, replies: int) -> None:
    """Make this child the process `subprocess.run` would have started for the request."""
    os.close(replies)
    streams = (
        os.open(os.devnull, os.O_RDONLY),
        os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    )
    for target, descriptor in enumerate(streams):
        os.dup2(descriptor, target)
        os.close(descriptor)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = request["argv"]
    # The script's folder first, then PYTHONPATH, then the interpreter's own entries.
    search_path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:1] = [os.path.dirname(sys.argv[0]), *search_path]
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    # Replies go out on a copy of the original stdout; anything else written to fd 1 (a library
    # printing as it is imported) goes to the server's log, fd 2.
    replies = os.dup(1)
    os.dup2(2, 1)
    _preload()
    _become(_serve(replies), replies)
    from kedro.framework.cli import main

    sys.exit(main())
