"""What a new local MLflow store costs: built by MLflow's migrations, or copied from the seed.

A rendered project's `tracking/store_seed.py` (decision 0036) copies a cached empty store instead
of letting MLflow run its schema migrations for every new SQLite store. In one process of the
project's environment (MLflow imported first, not timed), this times `--stores` new stores each
way, each opened by an `MlflowClient` and listed: MLflow building the store; building the seed
once (into an empty XDG_CACHE_HOME); and seeded stores. CPU and wall seconds, medians.

    python benchmarks/bench_store_seed.py [--stores 5] [--project DIR]
        [--python DIR/.venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import project_environment, render_project

CHILD = r"""
import json, os, statistics, sys, time
from pathlib import Path

from mlflow import MlflowClient

package, folder, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store_seed = __import__(f"{package}.tracking.store_seed", fromlist=["seed_new_store"])


def timed(work):
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def new_store(name, seeded):
    path = folder / name / "mlflow.db"
    path.parent.mkdir()
    uri = f"sqlite:///{path.as_posix()}"

    def work():
        if seeded:
            assert store_seed.seed_new_store(uri)
        assert [e.name for e in MlflowClient(tracking_uri=uri).search_experiments()] == ["Default"]

    return timed(work)


new_store("warm-up", seeded=False)  # imports the store's modules, untimed
figures = {"built by MLflow": [new_store(f"built-{i}", False) for i in range(count)]}
figures["seed, first build"] = [new_store("first-seeded", True)]
figures["seeded"] = [new_store(f"seeded-{i}", True) for i in range(count)]
print("BENCH " + json.dumps({
    name: [statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)]
    for name, runs in figures.items()
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=5, help="new stores each way (default 5)")
    parser.add_argument("--project", type=Path, help="an already rendered project")
    parser.add_argument(
        "--python", type=Path, default=Path(sys.executable), help="the project's interpreter"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-seed-") as folder:
        scratch = Path(folder)
        project = args.project or render_project(scratch / "project")
        package = next((project / "src").glob("*/tracking/store_seed.py")).parents[1].name
        env = {**os.environ, **project_environment(), "PYTHONPATH": str(project / "src")}
        env["XDG_CACHE_HOME"] = str(scratch / "user-cache")  # no seed yet
        env.pop("MLFLOW_TRACKING_URI", None)
        stores = scratch / "stores"
        stores.mkdir()
        result = subprocess.run(
            [str(args.python), "-c", CHILD, package, str(stores), str(args.stores)],
            cwd=scratch, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        marks = [line for line in result.stdout.splitlines() if line.startswith("BENCH ")]
        if result.returncode != 0 or not marks:
            sys.exit(f"the benchmark failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    figures = json.loads(marks[-1][len("BENCH ") :])
    print(f"new local MLflow store, opened and listed (medians of {args.stores}; load "
          f"{os.getloadavg()[0]:.1f}):")  # fmt: skip
    for name, (wall, cpu) in figures.items():
        print(f"  {name:<18} {wall:6.3f} s wall {cpu:6.3f} s CPU")
    built, seeded = figures["built by MLflow"][1], figures["seeded"][1]
    print(f"saved per new store: {built - seeded:.2f} s CPU ({built / max(seeded, 1e-3):.0f}x)")


if __name__ == "__main__":
    main()
