"""The closed loop's cost: one full `kedro retrain`, and what registration adds to a training run.

Renders the template with its defaults (or uses --project), runs `kedro run` once (champion v1),
then times one full `kedro retrain --force` (monitoring of the newest batch, the retraining
run, the holdout scoring of both models, the decision and the alias move). Registration is
timed inside the project's Python: `register_model` on the trained model, `--repeats` times
(log with signature, example and skops, plus the version), and as a share of a training run.
Wall and CPU time are printed; CPU time hardly moves when other work shares the cores.

    OMP_NUM_THREADS=1 python benchmarks/bench_retrain.py
    python benchmarks/bench_retrain.py --repeats 5 --project /tmp/rendered-project
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import project_environment, render_project

VENV_BIN = Path(sys.executable).parent
REGISTRATION = textwrap.dedent(
    """
    import glob, json, pickle, statistics, sys, time, pandas as pd, yaml
    from {package}.registry.registration import RegistrySettings, register_model
    conf = yaml.safe_load(open("conf/base/parameters_registry.yml"))
    settings = RegistrySettings(**conf["model_registry"])
    model = pickle.load(open(sorted(glob.glob("data/06_models/model.pkl/*/model.pkl"))[-1], "rb"))
    frame = pd.read_parquet(sorted(glob.glob("data/05_model_input/train_set.parquet/*/*"))[-1])
    example = frame[list(model.feature_names_in_)].head(settings.input_example_rows)
    uri = "sqlite:///" + sys.argv[1] + "/mlflow.db"
    times = []
    for _ in range(int(sys.argv[2])):
        started = time.perf_counter()
        register_model(
            uri, "bench-registration", model, example, run_id=None, tags={{}}, settings=settings
        )
        times.append(time.perf_counter() - started)
    print(json.dumps(times))
    """
)


def timed(project: Path, *command: str, check: bool = True) -> tuple[float, float, str]:
    """Return (wall seconds, CPU seconds, stdout) of one command in `project`."""
    env = {**os.environ, **project_environment(), "PYTHONPATH": str(project / "src")}
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        list(command), cwd=project, env=env, capture_output=True, text=True, timeout=3600
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return wall, cpu, result.stdout


def main() -> None:
    """Print the wall and CPU time of a retrain and of one registration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a rendered project (default: render one)")
    parser.add_argument("--repeats", type=int, default=3, help="registrations to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-retrain-") as folder:
        project = args.project or render_project(Path(folder) / "churn-prediction")
        package = next(p.name for p in (project / "src").iterdir() if (p / "settings.py").exists())
        kedro = str(VENV_BIN / "kedro")
        run_wall, run_cpu, _ = timed(project, kedro, "run")
        print(f"kedro run (train + register v1): wall {run_wall:6.1f} s, CPU {run_cpu:6.1f} s")
        wall, cpu, out = timed(
            project, kedro, "retrain", "--force",
            "--params", "retraining.min_hours_between_retrains=0",
        )  # fmt: skip
        verdict = out.strip().splitlines()[-1] if out.strip() else "?"
        print(f"kedro retrain --force (full):    wall {wall:6.1f} s, CPU {cpu:6.1f} s  [{verdict}]")
        script = REGISTRATION.format(package=package)
        _, _, out = timed(
            project, str(VENV_BIN / "python"), "-c", script, str(project), str(args.repeats)
        )
        times = json.loads(out.strip().splitlines()[-1])
        median = sorted(times)[len(times) // 2]
        print(
            f"registration per training run:   median {median:5.2f} s of {len(times)} "
            f"({', '.join(f'{t:.2f}' for t in times)}); {100 * median / run_wall:.0f}% of the "
            "kedro run above"
        )


if __name__ == "__main__":
    main()
