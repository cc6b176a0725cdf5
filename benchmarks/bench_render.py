"""Render time of the template beside `kedro new`, and wall time of the default `kedro run`.

Prints medians of repeated runs (5 renders each, 3 pipeline runs). Run: make benchmark, or
    .venv/bin/python benchmarks/bench_render.py [--repeats 5] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import project_environment

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, **project_environment()}


def timed(command: list[str], cwd: Path) -> float:
    """Return the wall time in seconds of one command, which must succeed."""
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - started


def copier_copy(destination: Path) -> list[str]:
    """Return the command that renders the template's working tree with defaults."""
    return [
        str(BIN / "copier"),
        "copy",
        "--trust",
        "--defaults",
        "--quiet",
        "--vcs-ref",
        "HEAD",
        str(ROOT),
        str(destination),
    ]


def median_render(command_for: callable, repeats: int) -> float:
    """Return the median time of `repeats` renders into fresh temporary folders."""
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            times.append(timed(command_for(Path(tmp)), Path(tmp)))
    return statistics.median(times)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    copier_time = median_render(lambda tmp: copier_copy(tmp / "project"), args.repeats)
    kedro_time = median_render(
        lambda tmp: [
            str(BIN / "kedro"),
            "new",
            "--name",
            "bench",
            "--tools",
            "none",
            "--example",
            "n",
            "--telemetry",
            "no",
        ],
        args.repeats,
    )
    print(
        f"copier copy --defaults --trust (median of {args.repeats}): {copier_time:.2f} s"
        " (includes the post-generation check)"
    )
    print(f"kedro new --tools none --example n (median of {args.repeats}): {kedro_time:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        subprocess.run(
            copier_copy(project),
            env=ENV,
            check=True,
            capture_output=True,
        )
        ENV["PYTHONPATH"] = str(project / "src")
        runs = []
        for _ in range(args.runs):
            runs.append(timed([str(BIN / "kedro"), "run"], project))
            shutil.rmtree(project / "mlruns", ignore_errors=True)
        print(
            f"default kedro run, whole pipeline (median of {args.runs}): "
            f"{statistics.median(runs):.2f} s  (runs: {', '.join(f'{t:.2f}' for t in runs)})"
        )


if __name__ == "__main__":
    main()
