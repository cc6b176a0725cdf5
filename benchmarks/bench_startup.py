"""Start-up to the first node and what MLflow tracking adds to a run, from inside `kedro run`.

Each run is `kedro run` in a subprocess whose driver records, against the moment the parent
started it: the first node's start, the end of the last node, and the process end. Start-up is the
time to the first node; the tracking overhead is what tracking adds between the last node and the
process end (waiting for the MLflow writer process) plus its difference in start-up, medians over
`--runs` alternating runs with tracking on and off (KEDRO_TRACKING_ENABLED=false). One untimed run
first creates the SQLite store and writes bytecode (into a private PYTHONPYCACHEPREFIX, as an
installed venv has it). Goals (issue 17): start-up <= 1 s, tracking overhead <= 1 s per run.

The floor is what a fresh interpreter of the same environment spends importing Kedro's CLI,
pandas and kedro_datasets.pandas alone: no project, no hook, no node. The start-up goal is
measured against it. A project that registers kedro_datasets.pandas lazily (decision 0039) imports
only its CSVDataset module of that package: the floor's lower variant, printed beside it.

It also prints the run's garbage collection (time and full collections, from `gc.callbacks`) and
the interpreter's teardown: from the last exit handler to the end of the process, as its parent
sees it (decision 0038).

Start-up CPU is also split into phases (medians of the runs with tracking off): importing Kedro's
CLI, the project's settings (its hooks), the rest of the CLI (plugins' entry points), registering
the pipelines, building the catalog, Kedro's warm-up that builds every dataset of the run (and so
imports each dataset type's module), and loading the first node's inputs.

This interpreter's environment (the template's test venv) has packages a rendered project's locks
leave out (flask, which dynaconf imports with every `kedro` command; MLflow's server): for the
figures of a project as installed, `make install` in a render and pass its interpreter:

    python benchmarks/bench_startup.py [--runs 3] [--pipeline __default__] [--project DIR]
        [--python DIR/.venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import project_environment, render_project

# The driver's CPU marks in the order a run reaches them, and what each phase (from the mark
# before it) covers.
PHASES = (
    ("kedro_cli", "import Kedro's CLI (click, dynaconf, omegaconf, rich)"),
    ("settings", "CLI plugins' entry points, the project's settings.py and its hooks"),
    ("session", "project commands, session, context, after_context_created hooks"),
    ("pipelines", "register the pipelines (imports every pipeline's nodes)"),
    ("catalog", "configuration and catalog, after_catalog_created hooks"),
    ("datasets", "before_pipeline_run hooks, warm-up that builds every dataset of the run"),
    ("first_node", "load the first node's inputs"),
)
# Runs inside the child: times the first node, the last node's end, and the exit.
# CPU seconds: `cpu_*` of the run's own process (RUSAGE_SELF), `writer_cpu` of its children (the
# MLflow writer process, waited for before the exit mark).
DRIVER = """
import atexit, gc, json, os, resource, sys, time
started = float(os.environ["BENCH_STARTED"])
collecting = {"since": 0.0, "seconds": 0.0, "full": 0}
def collection(phase, info):
    if phase == "start":
        collecting["since"] = time.perf_counter()
    else:
        collecting["seconds"] += time.perf_counter() - collecting["since"]
        collecting["full"] += info["generation"] == 2
gc.callbacks.append(collection)
def cpu(who=resource.RUSAGE_SELF):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime
marks = {}
def mark(name):
    marks.setdefault("cpu_" + name, cpu())
def marking(owner, attribute, before=None, after=None):
    original = getattr(owner, attribute)
    def wrapper(*args, **kwargs):
        if before:
            mark(before)
        try:
            return original(*args, **kwargs)
        finally:
            if after:
                mark(after)
    setattr(owner, attribute, wrapper)
import kedro.framework.cli.cli as kedro_cli
mark("kedro_cli")
from kedro.framework.context import KedroContext
from kedro.framework.project import _ProjectPipelines
from kedro.pipeline.node import Node
from kedro.runner import ParallelRunner, SequentialRunner, ThreadRunner
marking(kedro_cli, "bootstrap_project", after="settings")
marking(_ProjectPipelines, "_load_data", before="session", after="pipelines")
marking(KedroContext, "_get_catalog", after="catalog")
for runner in (SequentialRunner, ThreadRunner, ParallelRunner):
    marking(runner, "_run", before="datasets")
original = Node.run
def run(self, inputs=None):
    if "first_node" not in marks:
        marks["first_node"], marks["cpu_first_node"] = time.time() - started, cpu()
    try:
        return original(self, inputs)
    finally:
        marks["last_node_end"] = time.time() - started
Node.run = run
def done():
    ends = {"exit": time.time() - started, "cpu_exit": cpu(),
            "writer_cpu": cpu(resource.RUSAGE_CHILDREN),
            "gc_seconds": collecting["seconds"], "gc_full": collecting["full"]}
    print("BENCH " + json.dumps({**marks, **ends}))
atexit.register(done)
sys.argv = ["kedro", "run", *sys.argv[1:]]
kedro_cli.main()
"""


# The floor under any project of this stack: a fresh interpreter that imports only what every
# `kedro run` of a pandas project imports, each step's CPU after the one before.
FLOOR = """
import json, resource
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
marks = {"interpreter": cpu()}
import kedro.framework.cli.cli
marks["kedro_cli"] = cpu()
import pandas
marks["pandas"] = cpu()
DATASETS
marks["kedro_datasets_pandas"] = cpu()
print(json.dumps(marks))
"""
RELEASED_DATASETS = "import kedro_datasets.pandas"
# As settings.py does it (datasets/lazy_kedro_datasets.py), then the module a CSV input needs.
LAZY_DATASETS = """
from PACKAGE.datasets.lazy_kedro_datasets import load_groups_lazily
load_groups_lazily()
import kedro_datasets.pandas.csv_dataset
"""
FLOOR_STEPS = (
    ("interpreter", "the interpreter itself"),
    ("kedro_cli", "Kedro's CLI (click, dynaconf, omegaconf, rich)"),
    ("pandas", "pandas (numpy, pyarrow)"),
    ("kedro_datasets_pandas", "kedro_datasets.pandas (every pandas dataset, sqlalchemy's too)"),
)


def child_environment(project: Path, pycache: Path) -> dict[str, str]:
    """Return the environment of a child process in the project, bytecode under `pycache`."""
    env = {**os.environ, **project_environment(), "PYTHONPATH": str(project / "src")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def floor(
    python: Path, project: Path, pycache: Path, runs: int, datasets: str = RELEASED_DATASETS
) -> dict[str, float]:
    """Return the median CPU seconds of each FLOOR_STEPS step, in the project's environment,
    importing the pandas datasets with `datasets`."""
    env = child_environment(project, pycache)
    script = FLOOR.replace("DATASETS", datasets)
    samples = []
    for _ in range(runs + 1):  # the first one writes bytecode
        result = subprocess.run(
            [str(python), "-c", script], cwd=project, env=env, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        samples.append(json.loads(result.stdout.strip().splitlines()[-1]))
    steps, before = {}, 0.0
    for name, _ in FLOOR_STEPS:
        steps[name] = statistics.median(s[name] for s in samples[1:]) - before
        before += steps[name]
    return steps


def timed_run(
    python: Path, project: Path, pipeline: str, tracking: bool, pycache: Path
) -> dict[str, float]:
    """Return the marks (seconds since the parent started the child) of one `kedro run`."""
    env = child_environment(project, pycache)
    env["KEDRO_TRACKING_ENABLED"] = "true" if tracking else "false"
    env["BENCH_STARTED"] = repr(time.time())
    result = subprocess.run(
        [str(python), "-c", DRIVER, "--pipelines", pipeline],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    ended = time.time() - float(env["BENCH_STARTED"])
    marks = [line for line in result.stdout.splitlines() if line.startswith("BENCH ")]
    if result.returncode != 0 or not marks:
        sys.exit(f"kedro run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return {**json.loads(marks[-1][len("BENCH ") :]), "ended": ended}


def phase_shares(runs: list[dict[str, float]]) -> list[tuple[str, float, str]]:
    """Return (phase, median CPU seconds, what it covers) for the PHASES every run reached."""
    reached = [(name, what) for name, what in PHASES if all(f"cpu_{name}" in m for m in runs)]
    shares = []
    for index, (name, what) in enumerate(reached):
        previous = reached[index - 1][0] if index else None
        share = statistics.median(
            m[f"cpu_{name}"] - (m[f"cpu_{previous}"] if previous else 0.0) for m in runs
        )
        shares.append((name, share, what))
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per variant (default 3)")
    parser.add_argument("--pipeline", default="__default__", help="pipeline to run")
    parser.add_argument("--project", type=Path, help="an already rendered project")
    parser.add_argument(
        "--python",
        type=Path,
        default=Path(sys.executable),
        help="interpreter whose environment runs kedro (default: this one), e.g. a project's "
        ".venv/bin/python after `make install`",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        project = args.project or render_project(Path(scratch) / "churn-prediction")
        pycache = Path(scratch) / "pycache"
        print(f"project: {project}, python: {args.python}, load {os.getloadavg()[0]:.1f}")
        warm = timed_run(args.python, project, args.pipeline, True, pycache)
        print(f"warm-up run (tracking on): exit at {warm['exit']:.2f} s")
        marks: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for index in range(args.runs):
            for tracking in (index % 2 == 0, index % 2 != 0):
                mark = timed_run(args.python, project, args.pipeline, tracking, pycache)
                marks[tracking].append(mark)
                print(
                    f"run {index + 1}, tracking {'on ' if tracking else 'off'}: first node "
                    f"{mark['first_node']:.2f} s ({mark['cpu_first_node']:.2f} s CPU), last node "
                    f"done {mark['last_node_end']:.2f} s, exit {mark['exit']:.2f} s; CPU of the "
                    f"run's process {mark['cpu_exit']:.2f} s, of the MLflow writer "
                    f"{mark['writer_cpu']:.2f} s; load {os.getloadavg()[0]:.1f}"
                )

        def median(tracking: bool, key: str) -> float:
            return statistics.median(m[key] for m in marks[tracking])

        def tail(tracking: bool) -> float:
            return statistics.median(m["exit"] - m["last_node_end"] for m in marks[tracking])

        start_on, start_off = median(True, "first_node"), median(False, "first_node")
        print(f"start-up to the first node: {start_on:.2f} s tracking on, {start_off:.2f} s off")
        print(
            f"start-up CPU to the first node: {median(True, 'cpu_first_node'):.2f} s tracking on, "
            f"{median(False, 'cpu_first_node'):.2f} s off (goal <= 1 s)"
        )
        print("start-up CPU by phase, tracking off (median s):")
        for name, share, what in phase_shares(marks[False]):
            print(f"  {share:5.2f}  {name:<10}  {what}")
        cpu_on, cpu_off = median(True, "cpu_exit"), median(False, "cpu_exit")
        print(
            f"CPU of the run's process: {cpu_on:.2f} s tracking on, {cpu_off:.2f} s off "
            f"({cpu_on - cpu_off:+.2f} s); MLflow writer process: "
            f"{median(True, 'writer_cpu'):.2f} s CPU (on another core)"
        )
        print(f"last node to exit: {tail(True):.2f} s tracking on, {tail(False):.2f} s off")
        print(
            f"garbage collection in the run's process: {median(False, 'gc_seconds'):.2f} s, "
            f"{median(False, 'gc_full'):.0f} full collections (tracking off)"
        )
        teardown = statistics.median(m["ended"] - m["exit"] for m in marks[False])
        print(f"exit handlers done to process end (the interpreter's teardown): {teardown:.2f} s")
        overhead = (start_on - start_off) + (tail(True) - tail(False))
        total = median(True, "exit") - median(False, "exit")
        print(f"tracking overhead (start-up + final flush): {overhead:+.2f} s (goal <= 1 s)")
        print(f"tracking overhead (whole run, noisier): {total:+.2f} s")
        steps = floor(args.python, project, pycache, args.runs)
        print(
            f"floor: {sum(steps.values()):.2f} s CPU to import what any `kedro run` of a pandas "
            "project imports, before any of the project's code:"
        )
        for name, what in FLOOR_STEPS:
            print(f"  {steps[name]:5.2f}  {what}")
        lazy = next((project / "src").glob("*/datasets/lazy_kedro_datasets.py"), None)
        if lazy is not None:
            package = lazy.parents[1].name
            lower = floor(
                args.python, project, pycache, args.runs, LAZY_DATASETS.replace("PACKAGE", package)
            )
            print(
                f"the floor with kedro_datasets.pandas registered lazily, as this project does "
                f"(decision 0039): {sum(lower.values()):.2f} s CPU (CSVDataset's module alone "
                f"{lower['kedro_datasets_pandas']:.2f} s)"
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
