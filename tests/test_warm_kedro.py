"""The warm interpreter that runs the tests' `kedro` and `python -m` commands (warm_kedro.py):
each command is a process of its own with what a fresh process would have been given."""

from __future__ import annotations

import json
import signal
import textwrap
import time
from pathlib import Path

import pytest
from conftest import VENV_BIN, project_env, run_in, start_in, warm_kedro

pytestmark = pytest.mark.fast

# A module that reports what its process was given, then does what its arguments ask.
REPORTER = """
import json, os, subprocess, sys, time

if sys.argv[1] == "wait":
    open("started", "w").close()
    time.sleep(300)
writer_code = (
    "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
    "importlib.import_module(sys.argv[2]).main(sys.argv[3])"
)
writer = subprocess.run(
    [sys.executable, "-c", writer_code, os.getcwd(), "fake.tracking.writer", "file"],
    input="through the pipe\\n", capture_output=True, text=True, start_new_session=True,
)
other = subprocess.run([sys.executable, "-c", "import sys; print(sys.executable)"],
                       capture_output=True, text=True)
print(json.dumps({
    "argv": sys.argv, "path": sys.path[:2], "cwd": os.getcwd(), "pid": os.getpid(),
    "ppid": os.getppid(), "setting": os.environ.get("WARM_TEST_SETTING"),
    "writer": writer.stdout, "writer_code": writer.returncode,
    "other": other.stdout.strip(),
}))
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[2]))
"""
# A stand-in for the project's MLflow writer: echoes its input, says where it runs.
WRITER = """
import os, sys

def main(scheme):
    line = sys.stdin.readline().strip()
    sys.stdout.write(f"{line} {scheme} {os.getppid()} {os.getsid(0) == os.getpid()}\\n")
    sys.exit(4)
"""


@pytest.fixture
def module_folder(tmp_path: Path) -> Path:
    (tmp_path / "reporter.py").write_text(textwrap.dedent(REPORTER))
    writer = tmp_path / "fake" / "tracking"
    writer.mkdir(parents=True)
    for package in (tmp_path / "fake", writer):
        (package / "__init__.py").write_text("")
    (writer / "writer.py").write_text(textwrap.dedent(WRITER))
    return tmp_path


def test_a_warm_command_is_its_own_process_with_its_arguments_folder_and_environment(
    module_folder: Path,
):
    server = warm_kedro()
    command = ("python", "-m", "reporter", "report", "3")
    env = {"WARM_TEST_SETTING": "from the test"}
    assert server.runs_warm(command, project_env(module_folder, env))
    result = run_in(module_folder, *command, env=env, check=False)
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip() == "to stderr"
    report = json.loads(result.stdout)
    # As `python -m reporter` started in the folder with PYTHONPATH=<folder>/src.
    assert report["argv"] == [str(module_folder / "reporter.py"), "report", "3"]
    assert report["path"] == [str(module_folder), str(module_folder / "src")]
    assert report["cwd"] == str(module_folder)
    assert report["setting"] == "from the test"
    assert report["ppid"] == server.process.pid  # forked by the server, not by this process
    # The writer-shaped child is forked from the server too, in a session of its own, on the
    # pipes its parent gave it, and its exit status comes back.
    assert report["writer"].split() == [
        "through", "the", "pipe", "file", str(server.process.pid), "True"
    ]  # fmt: skip
    assert report["writer_code"] == 4
    # Any other use of sys.executable runs the real interpreter.
    assert Path(report["other"]).resolve() == (VENV_BIN / "python").resolve()
    # The next command is another process, with its own environment.
    again = json.loads(run_in(module_folder, *command, check=False).stdout)
    assert again["pid"] != report["pid"] and again["setting"] is None
    # `python -c CODE ARGS` as Python gives it: sys.argv[0] is "-c", the current folder first.
    code = "import json, os, sys; print(json.dumps([sys.argv, sys.path[0], os.getppid()]))"
    argv, first, parent = json.loads(run_in(module_folder, "python", "-c", code, "x").stdout)
    assert argv == ["-c", "x"] and first == "" and parent == server.process.pid


def test_a_warm_command_can_be_stopped_and_timed_out(module_folder: Path):
    process = start_in(
        module_folder, "python", "-m", "reporter", "wait", "0", output=module_folder / "log"
    )
    while not (module_folder / "started").exists():
        assert process.poll() is None, (module_folder / "log").read_text()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == -signal.SIGTERM
    (module_folder / "started").unlink()
    with pytest.raises(Exception, match="timed out after 1"):
        run_in(module_folder, "python", "-m", "reporter", "wait", "0", timeout=1)


def test_a_startup_setting_that_differs_from_the_server_asks_for_a_fresh_process(
    module_folder: Path,
):
    server = warm_kedro()
    for setting in ({"PYTHONHASHSEED": "7"}, {"OMP_NUM_THREADS": "2"}, {"HOME": "/nowhere"}):
        assert not server.runs_warm(["kedro", "run"], project_env(module_folder, setting))
    result = run_in(
        module_folder, "python", "-m", "reporter", "report", "0", env={"PYTHONHASHSEED": "7"}
    )
    assert json.loads(result.stdout)["ppid"] != server.process.pid
