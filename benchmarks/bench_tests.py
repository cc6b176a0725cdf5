"""Wall and CPU time of a tier of the template's own test suite, with the machine's load average.

Goals (issue 17): `make test-fast` <= 3 minutes and `.ci/run` <= 12 minutes on 2 idle cores. The
figures depend on everything else the machine runs, so the load average before and after is
printed beside them; CPU seconds (this pytest and every process it waited for) vary far less
with load than wall time does. Run: make benchmark, or
    .venv/bin/python benchmarks/bench_tests.py [--workers 2] [--cold] [-- PYTEST_ARGS ...]
The default selection is the `fast` tier (`make test-fast`); pass e.g. `-- tests/test_e2e.py`
to time one module. `--cold` gives the tests an empty bytecode cache (tests/conftest.py's
PYCACHE_PREFIX), as on a fresh clone.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import project_environment

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages as one string."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    """Print wall time, CPU time and load average of one pytest run of the chosen tests."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers (1: none)")
    parser.add_argument("--cold", action="store_true", help="start from an empty bytecode cache")
    parser.add_argument("pytest_args", nargs="*", default=["-m", "fast"])
    options = parser.parse_args()

    env = {**os.environ, **project_environment()}
    with tempfile.TemporaryDirectory(prefix="bench-tests-") as scratch:
        if options.cold:
            env["TEST_PYCACHE_PREFIX"] = str(Path(scratch) / "pycache")
        xdist = ["-n", str(options.workers), "--dist", "loadscope"] if options.workers > 1 else []
        command = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", *xdist]
        command += options.pytest_args
        before = load_average()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"pytest {' '.join(options.pytest_args)} ({options.workers} worker(s))")
    print(f"  result: {summary}")
    print(f"  wall {wall:.1f} s, CPU {cpu:.1f} s")
    print(f"  load average before {before}, after {load_average()}")
    print(
        f"  CPU / 2 cores = {cpu / 2:.0f} s: the least wall time 2 idle cores could give "
        "(goals: fast tier <= 180 s, full suite <= 720 s)"
    )
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        sys.exit(result.returncode)


if __name__ == "__main__":
    main()
