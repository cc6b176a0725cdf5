"""What MLflow tracking adds to the default `kedro run`: wall time with and without it.

Renders the template with its defaults (or uses --project), then runs the default pipeline
`--runs` times with tracking on and as often with it off (KEDRO_TRACKING_ENABLED=false: the hook
stays registered but only prints metric lines, the state of a project without tracking),
alternating the two so that load on the machine hits both alike. One untimed run first creates
the SQLite store, writes bytecode (into a private PYTHONPYCACHEPREFIX) and warms the file cache.
Prints each run's wall and CPU time and the medians.

    OMP_NUM_THREADS=1 python benchmarks/bench_tracking.py
    python benchmarks/bench_tracking.py --runs 3 --project /tmp/rendered-project
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import project_environment, render_project

VENV_BIN = Path(sys.executable).parent
# The sample's current batch drifts on purpose; monitoring would fail the run otherwise.
RUN_ARGS = ("run", "--params", "monitoring.alerting.exit_nonzero_on=never")
ENVIRONMENT = project_environment()


def timed_run(project: Path, tracking: bool, pycache: Path) -> tuple[float, float]:
    """Return (wall seconds, CPU seconds) of one default `kedro run` in `project`.

    CPU time (user + system of the run and its children, the MLflow writer process included) is
    what tracking costs the machine; unlike wall time it hardly moves when other work shares the
    cores. Wall time is what it costs the person waiting: the writer runs on another core.
    """
    env = {**os.environ, **ENVIRONMENT, "PYTHONPATH": str(project / "src")}
    env.pop("MLFLOW_TRACKING_URI", None)
    # Bytecode in a private folder, as an installed venv has it: without it every run compiles
    # every module again (~15 s of CPU), which would swamp what is measured.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["KEDRO_TRACKING_ENABLED"] = "true" if tracking else "false"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        [str(VENV_BIN / "kedro"), *RUN_ARGS],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"kedro run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _listed(seconds: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per variant (default 5)")
    parser.add_argument("--project", type=Path, help="an already rendered project")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as scratch:
        project = args.project or render_project(Path(scratch) / "churn-prediction")
        print(f"project: {project}, load average {os.getloadavg()[0]:.1f}")
        pycache = Path(scratch) / "pycache"
        wall, cpu = timed_run(project, True, pycache)
        print(f"warm-up (tracking on, creates mlflow.db): {wall:.2f} s wall, {cpu:.2f} s CPU")
        walls: dict[bool, list[float]] = {True: [], False: []}
        cpus: dict[bool, list[float]] = {True: [], False: []}
        for index in range(args.runs):
            for tracking in (index % 2 == 0, index % 2 != 0):
                wall, cpu = timed_run(project, tracking, pycache)
                walls[tracking].append(wall)
                cpus[tracking].append(cpu)
                state = "on " if tracking else "off"
                print(f"run {index + 1}, tracking {state}: {wall:.2f} s wall, {cpu:.2f} s CPU")
        for label, values in (("wall", walls), ("CPU", cpus)):
            on, off = statistics.median(values[True]), statistics.median(values[False])
            print(f"median {label} with tracking:    {on:.2f} s  ({_listed(values[True])})")
            print(f"median {label} without tracking: {off:.2f} s  ({_listed(values[False])})")
            print(f"tracking overhead ({label}):      {on - off:+.2f} s ({(on - off) / off:+.1%})")
        print("goal (issue 17): wall overhead <= 1 s (the CPU overhead is mostly the writer's)")
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
