"""Seconds to a first green run: `make demo` with an empty and a warm uv cache, and a rendered
project's `make install && make run` with a warm cache.

`make demo` renders the template, installs the project's dev lock into a fresh venv (uv), runs the
pipeline and the monitoring job. The tooling venv is this interpreter's (as after `make install`);
--tooling also times a fresh tooling venv in the cold run. The cold run gets a new, empty
UV_CACHE_DIR; the warm runs reuse it. Bytecode is written as on a user's machine
(under a private PYTHONPYCACHEPREFIX). Goals (issue 17): cold <= 60 s, warm <= 30 s, a rendered
project's install + run <= 30 s warm.

    python benchmarks/bench_demo.py [--warm-runs 2] [--tooling] [--keep-cache DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
GOALS = {"cold demo": 60.0, "warm demo": 30.0, "project install + run (warm)": 30.0}


def environment(cache: Path, pycache: Path) -> dict[str, str]:
    """Return the environment of a user's shell with `cache` as uv's cache.

    Bytecode is written as on a user's machine, but under `pycache` (PYTHONPYCACHEPREFIX): the
    tooling venv may be shared and is never written to.
    """
    env = {**os.environ, "UV_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def timed(command: list[str], cwd: Path, env: dict[str, str], label: str) -> float:
    """Return the wall seconds of `command`; exit with its output when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        output = f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        sys.exit(f"{label} failed ({result.returncode}):\n{output}")
    # CPU time hardly moves when other work shares the cores; wall time does.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"  {label}: {seconds:.1f} s wall, {cpu:.1f} s CPU, load {os.getloadavg()[0]:.1f}")
    return seconds


def make_demo(scratch: Path, env: dict[str, str], tooling: bool, label: str) -> float:
    """Return the wall seconds of one `make demo` into a new folder under `scratch`."""
    demo = scratch / f"demo-{time.monotonic_ns()}"
    command = ["make", "-C", str(ROOT), "demo", f"DEMO_DIR={demo}"]
    venv = scratch / f"tooling-{time.monotonic_ns()}"
    if tooling:
        command.append(f"VENV={venv}")
    else:
        # The repository's tooling venv exists and is never written to: only the demo's own
        # steps are timed (make must not consider .venv out of date).
        command += ["-o", ".venv/.installed"]
    seconds = timed(command, ROOT, env, label)
    shutil.rmtree(demo, ignore_errors=True)
    shutil.rmtree(venv, ignore_errors=True)
    return seconds


def project_install_and_run(scratch: Path, env: dict[str, str]) -> float:
    """Return the wall seconds of `make install && make run` in a fresh render (warm cache)."""
    project = scratch / "project"
    subprocess.run(
        [str(VENV / "bin" / "copier"), "copy", "--trust", "--defaults", "--quiet", "--vcs-ref",
         "HEAD", "-d", "python_version=3.12", str(ROOT), str(project)],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    python = subprocess.run(
        [str(ROOT / "scripts" / "find_python.sh"), "3.12"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    uv = shutil.which("uv") or str(VENV / "bin" / "uv")
    install = timed(
        ["make", "install", f"PYTHON={python}", f"UV={uv}"], project, env, "make install"
    )
    run = timed(["make", "run"], project, env, "make run")
    return install + run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=2, help="warm demos to time (default 2)")
    parser.add_argument("--tooling", action="store_true", help="cold run: fresh tooling venv too")
    parser.add_argument("--keep-cache", type=Path, help="use (and keep) this uv cache folder")
    parser.add_argument(
        "--warm-only", action="store_true", help="skip the cold run (with --keep-cache: warm)"
    )
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        scratch = Path(folder)
        cache = args.keep_cache or scratch / "uv-cache"
        env = environment(cache, scratch / "pycache")
        print(f"load average {os.getloadavg()[0]:.1f}, uv cache {cache}")
        if not args.warm_only:
            label = "make demo, empty uv cache"
            figures["cold demo"] = make_demo(scratch, env, args.tooling, label)
        warm = [
            make_demo(scratch, env, False, f"make demo, warm uv cache #{index + 1}")
            for index in range(args.warm_runs)
        ]
        figures["warm demo"] = min(warm) if warm else float("nan")
        figures["project install + run (warm)"] = project_install_and_run(scratch, env)
    print(f"load average after {os.getloadavg()[0]:.1f}")
    for name, seconds in figures.items():
        verdict = "ok" if seconds <= GOALS[name] else "over"
        print(f"{name}: {seconds:.1f} s (goal <= {GOALS[name]:.0f} s: {verdict})")


if __name__ == "__main__":
    main()
