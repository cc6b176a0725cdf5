"""Benchmark scoring at 1,000,000 rows: the test-set node and batch scoring, single-threaded.

    OMP_NUM_THREADS=1 python benchmarks/bench_scoring.py            # 1,000,000 rows
    python benchmarks/bench_scoring.py --rows 200000 --skip-baseline

Renders the template (defaults), trains the default model on the bundled reference batch, and
generates `--rows` customers with the sample generator (half-way drift, so scores, missing values
and an unseen payment method are realistic; every row distinct). Then times, with wall time
(perf_counter) and CPU time (process_time):

* test-set scoring: the evaluation pipeline's `predict_test_set` node on the prepared rows;
* batch scoring, in memory: the inference node `score_batch` on a DataFrame;
* batch scoring, chunked from disk: `score_batch` on a CSV reader with `chunksize` (what the
  `scoring_batch` catalog entry does), parse included;
* the baseline: scikit-learn's own `predict_proba` on the same rows (skip with --skip-baseline),
  and the largest absolute difference between the two.

Peak memory: tracemalloc's peak during the chunked batch scoring and during a one-shot scoring of
the same rows read whole, and the process's peak resident set size. The machine may be shared:
the load average is printed with the figures. Goal (issue 17): >= 1M rows in <= 5 s
single-threaded, for test-set and batch scoring alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import render_project


def timed(label: str, rows: int, function):
    """Run `function`, print its wall and CPU time and rows/s; return its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{label:<44} wall {wall:7.2f} s  cpu {cpu:7.2f} s  "
        f"{rows / wall:12,.0f} rows/s (wall)  {rows / cpu:12,.0f} rows/s (cpu)"
    )
    return result


def peak_memory(function) -> float:
    """Return tracemalloc's peak (MB) while `function` runs."""
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunksize", type=int, default=200_000)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    project = render_project(workdir / "churn-prediction")
    sys.path.insert(0, str(project / "src"))
    import numpy as np
    import pandas as pd
    import yaml
    from churn_prediction.core.features import prepare_features
    from churn_prediction.pipelines.evaluation.nodes import predict_test_set
    from churn_prediction.pipelines.inference.nodes import score_batch
    from churn_prediction.pipelines.sample_data.nodes import generate_drifted_batch
    from churn_prediction.pipelines.training.nodes import train_model
    from churn_prediction.registry.champion import ServedModel

    conf = project / "conf/base"
    features = yaml.safe_load((conf / "parameters.yml").read_text())["features"]
    training = yaml.safe_load((conf / "parameters_training.yml").read_text())["training"]
    evaluation = yaml.safe_load((conf / "parameters_evaluation.yml").read_text())["evaluation"]
    inference = yaml.safe_load((conf / "parameters_inference.yml").read_text())["inference"]
    reference = prepare_features(pd.read_csv(project / "data/01_raw/customers.csv"), features)
    model = train_model(reference, features, training)
    served = ServedModel(model, "churn-prediction", "1", "champion", None)

    raw = generate_drifted_batch(args.rows, seed=2024, strength=0.5, id_prefix="X")
    test_set = prepare_features(raw, features)
    # A parquet round trip gives the test set the dtypes the catalog loads (pyarrow strings).
    test_set.to_parquet(workdir / "test_set.parquet")
    test_set = pd.read_parquet(workdir / "test_set.parquet")
    unlabelled = workdir / "batch.csv"
    raw.drop(columns=features["target"]).to_csv(unlabelled, index=False)
    batch = pd.read_csv(unlabelled)
    rows = len(test_set)
    load = os.getloadavg()
    print(f"{rows:,} rows, {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f}")
    print(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}; project rendered in {project}")

    predictions = timed(
        "test set: predict_test_set", rows, lambda: predict_test_set(model, test_set, features)
    )
    timed(
        "batch, in memory: score_batch",
        rows,
        lambda: score_batch(batch, served, features, evaluation, inference),
    )

    def chunked():
        reader = pd.read_csv(unlabelled, chunksize=args.chunksize)
        return score_batch(reader, served, features, evaluation, inference)

    chunked_predictions = timed(f"batch, CSV in chunks of {args.chunksize:,}", rows, chunked)
    whole = score_batch(pd.read_csv(unlabelled), served, features, evaluation, inference)
    same = np.array_equal(chunked_predictions["score"], whole["score"])
    print(f"chunked scores equal one-shot scores: {same}")

    if not args.skip_baseline:
        columns = [*features["numeric"], *features["categorical"]]
        baseline = timed(
            "baseline: model.predict_proba",
            rows,
            lambda: model.predict_proba(test_set[columns])[:, 1],
        )
        difference = float(np.max(np.abs(baseline - predictions["y_score"].to_numpy())))
        print(f"largest |fast - predict_proba|: {difference:.3g}")

    chunked_peak = peak_memory(chunked)
    whole_peak = peak_memory(
        lambda: score_batch(pd.read_csv(unlabelled), served, features, evaluation, inference)
    )
    print(
        f"peak traced memory: chunked {chunked_peak:,.0f} MB, whole batch {whole_peak:,.0f} MB "
        f"(CSV on disk {unlabelled.stat().st_size / 2**20:,.0f} MB)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {rss:,.0f} MB")


if __name__ == "__main__":
    main()
