"""Benchmark the monitoring pipeline's drift statistics, and Evidently's DataDriftPreset beside it.

    OMP_NUM_THREADS=1 python benchmarks/bench_drift.py   # 1,000,000 x 50, then 100,000 x 50
    python benchmarks/bench_drift.py --rows 200000 --skip-evidently

Data: a synthetic reference and current batch of the same size, 40 numeric columns (normal,
log-normal, uniform and integer-valued, some with missing values) and 10 categorical columns (4 to
20 categories), with drift planted in 12 columns, from obvious to negligible (`PLANTED_DRIFT`).

Timed: `compute_data_drift` (every statistic, the correction and the verdicts) and then the JSON
report plus the self-contained HTML page; the median of 3 runs at 1,000,000 rows and of 5 at
100,000, wall time (perf_counter) and CPU time (process_time, all threads). Peak memory:
tracemalloc's peak during one more, untimed pass of the statistics, and the process's peak
resident set size. The machine may be shared, so every block prints the load average: wall times
stretch with it, CPU times much less. `--package-dir` times another copy of the package (for
example the previous commit's, to compare before and after on the same machine and load); the
thresholds are the template's `monitoring.drift` (conf/base/parameters_monitoring.yml).

Sorting is most of the work. On AMD Zen 4, numpy's AVX-512 sort is several times slower than its
AVX2 one (the AVX-512 compress-store it relies on is microcoded there); the script says so and
`NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"` (inherited by the Evidently run too)
selects the AVX2 sort.

Evidently runs in its own virtual environment, never in the project's (`--evidently-python`,
default /tmp/evidently-venv/bin/python; make it with
`python -m venv /tmp/evidently-venv && /tmp/evidently-venv/bin/pip install evidently "pandas<3"`).
Both tools see the same 100,000-row files; the script prints both times, the speed-up on wall and
on CPU time (Evidently's CPU time: process_time around its run, and the whole subprocess from
getrusage(RUSAGE_CHILDREN), start-up and parquet reads included) and whether the two agree on
which columns drifted. Goals (issue 6): statistics <= 10 s and statistics + HTML
<= 20 s at 1,000,000 rows; >= 50x faster than Evidently at equal data.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO / "template" / "src" / "{{ package_name }}"
PARAMETERS = REPO / "template" / "conf" / "base" / "parameters_monitoring.yml"
N_NUMERIC, N_CATEGORICAL = 40, 10

# column -> what changes in the current batch (the rest of the 50 columns are left alone).
PLANTED_DRIFT = {
    "num_00": "mean +0.5 sd",
    "num_01": "mean +0.5 sd",
    "num_02": "mean +0.25 sd",
    "num_03": "mean +1 sd",
    "num_04": "mean +0.02 sd (negligible)",
    "num_05": "mean +0.02 sd (negligible)",
    "num_06": "sd x 1.5",
    "num_07": "Poisson rate 3 -> 3.6",
    "cat_00": "first category 40% -> 20%",
    "cat_01": "uniform mix -> skewed mix",
    "cat_02": "first category +1 point (negligible)",
    "cat_03": "5% of rows get an unseen category",
}


class Monitoring(types.SimpleNamespace):
    """The package's data drift, report and results modules, and its drift settings model."""


def load_monitoring_package(folder: Path = PACKAGE_DIR) -> Monitoring:
    """Import the monitoring checks (core/monitoring/) straight from a package folder.

    The folder (the template's package by default) becomes a bare package whose __init__ is not
    run: that one imports Kedro's settings, which need the rest of the rendered project.
    """
    package = types.ModuleType("bench_package")
    package.__path__ = [str(folder)]
    sys.modules["bench_package"] = package
    return Monitoring(
        data_drift=importlib.import_module("bench_package.core.monitoring.data_drift"),
        drift_report=importlib.import_module("bench_package.core.monitoring.drift_report"),
        results=importlib.import_module("bench_package.core.monitoring.results"),
        parameters=importlib.import_module("bench_package.core.parameters"),
    )


def drift_settings(monitoring: Monitoring, n_jobs: int = 1):
    """Return the template's `monitoring.drift` settings with `n_jobs` threads."""
    import yaml

    raw = yaml.safe_load(PARAMETERS.read_text())["monitoring"]["drift"]
    return monitoring.parameters.DataDriftSettings(**{**raw, "n_jobs": n_jobs})


def quiet_sections(monitoring: Monitoring, rows: int) -> tuple:
    """Return the validation, model drift and concept drift sections of a report with no finding."""
    results, quiet = monitoring.results, {"level": "ok", "summary": "not run", "issues": []}
    validation = results.ValidationResult(
        level="ok",
        summary="not run",
        skipped=[],
        success=True,
        suite_name="benchmark",
        evaluated_expectations=0,
        failed_expectations=0,
        failed_columns=[],
        failures=[],
        n_rows=rows,
    )
    model = results.ModelDrift(
        status="skipped",
        metrics=[],
        current_metrics={},
        baseline_metrics={},
        n_labelled=None,
        prediction_drift=None,
        model=None,
        **quiet,
    )
    return validation, model, results.ConceptDrift(checks={}, **quiet)


def make_batches(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (reference, current) with `rows` rows each and the drift of PLANTED_DRIFT."""
    rng = np.random.default_rng(seed)
    reference, current = {}, {}
    for i in range(N_NUMERIC):
        name, kind = f"num_{i:02d}", i % 4
        shift = {0: 0.5, 1: 0.5, 2: 0.25, 3: 1.0, 4: 0.02, 5: 0.02}.get(i, 0.0)
        scale = 1.5
        if i == 6:
            ref, cur = rng.normal(50, 10, rows), rng.normal(50, 10 * scale, rows)
        elif i == 7:
            ref, cur = rng.poisson(3.0, rows), rng.poisson(3.6, rows)
        elif kind == 0:
            ref, cur = rng.normal(50, 10, rows), rng.normal(50 + 10 * shift, 10, rows)
        elif kind == 1:
            ref = rng.lognormal(2.0, 0.5, rows)
            cur = rng.lognormal(2.0, 0.5, rows) + shift * ref.std()
        elif kind == 2:
            ref, cur = rng.uniform(0, 100, rows), rng.uniform(0, 100, rows) + 28.87 * shift
        else:
            ref, cur = rng.poisson(4.0, rows), rng.poisson(4.0, rows) + shift * 2.0
        ref, cur = ref.astype(np.float64), cur.astype(np.float64)
        if i % 5 == 0:  # some columns have ~1% missing values
            ref[rng.random(rows) < 0.01] = np.nan
            cur[rng.random(rows) < 0.01] = np.nan
        reference[name], current[name] = ref, cur
    for i in range(N_CATEGORICAL):
        name, k = f"cat_{i:02d}", 4 + (i * 16) // (N_CATEGORICAL - 1)
        labels = np.array([f"{name}_v{j:02d}" for j in range(k)] + [f"{name}_new"])
        ref_p = np.full(k + 1, 0.6 / (k - 1))
        ref_p[0], ref_p[-1] = 0.4, 0.0
        cur_p = ref_p.copy()
        if i == 0:
            cur_p[0], cur_p[1:k] = 0.2, 0.8 / (k - 1)
        elif i == 1:
            cur_p[:k] = np.linspace(2.0, 0.2, k)
            cur_p /= cur_p.sum()
        elif i == 2:
            cur_p[0], cur_p[1:k] = 0.41, 0.59 / (k - 1)
        elif i == 3:
            cur_p[:k] *= 0.95
            cur_p[-1] = 0.05
        reference[name] = pd.Series(labels[rng.choice(k + 1, rows, p=ref_p)], dtype="str")
        current[name] = pd.Series(labels[rng.choice(k + 1, rows, p=cur_p)], dtype="str")
    return pd.DataFrame(reference), pd.DataFrame(current)


def columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    numeric = [c for c in frame.columns if c.startswith("num_")]
    return numeric, [c for c in frame.columns if c.startswith("cat_")]


def time_ours(reference, current, monitoring: Monitoring, n_jobs: int) -> dict:
    numeric, categorical = columns(reference)
    settings = drift_settings(monitoring, n_jobs)
    validation, model, concept = quiet_sections(monitoring, len(current))
    started = time.perf_counter()
    cpu_started = time.process_time()
    result = monitoring.data_drift.compute_data_drift(
        reference, current, numeric, categorical, settings
    )
    stats_seconds = time.perf_counter() - started
    stats_cpu = time.process_time() - cpu_started
    report = monitoring.drift_report.build_monitoring_report(validation, result, model, concept)
    json.dumps(report.to_dict())
    page = monitoring.drift_report.render_html_report(report)
    return {
        "stats_seconds": stats_seconds,
        "stats_cpu_seconds": stats_cpu,
        "total_seconds": time.perf_counter() - started,
        "total_cpu_seconds": time.process_time() - cpu_started,
        "html_kib": len(page.encode()) / 1024,
        "drifted": sorted(result.drifted_features),
        "result": result.to_dict(),
    }


def median_of(runs: list[dict]) -> dict:
    """Return the median of each timing over `runs` (the machine may be shared) and the last run."""
    keys = ("stats_seconds", "stats_cpu_seconds", "total_seconds", "total_cpu_seconds")
    return {**runs[-1], **{k: statistics.median(r[k] for r in runs) for k in keys}}


def sort_note() -> str:
    """Return NPY_DISABLE_CPU_FEATURES and, on AMD Zen 4, why it matters: sorting dominates here."""
    setting = os.environ.get("NPY_DISABLE_CPU_FEATURES")
    note = f"NPY_DISABLE_CPU_FEATURES={setting!r}"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return note
    zen4 = (
        "AuthenticAMD" in cpuinfo
        and any(
            line.split(":")[-1].strip() == "25"
            for line in cpuinfo.splitlines()
            if line.startswith("cpu family")
        )
        and " avx512f" in cpuinfo
    )
    if zen4 and not setting:
        note += (
            " (AMD Zen 4: numpy's AVX-512 sort is slow on it; NPY_DISABLE_CPU_FEATURES="
            '"X86_V4 AVX512_ICL AVX512_SPR" selects the AVX2 sort, about 5x faster here)'
        )
    return note


def load_average() -> str:
    return "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1/5/15 min)"


def peak_memory_of_stats(reference, current, monitoring: Monitoring) -> float:
    """Return tracemalloc's peak (MiB) while the statistics run once more."""
    numeric, categorical = columns(reference)
    settings = drift_settings(monitoring)
    tracemalloc.start()
    monitoring.data_drift.compute_data_drift(reference, current, numeric, categorical, settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


EVIDENTLY_SCRIPT = """
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
reference, current = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
numeric = [c for c in reference.columns if c.startswith("num_")]
categorical = [c for c in reference.columns if c.startswith("cat_")]
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
started, cpu_started = time.perf_counter(), time.process_time()
snapshot = Report([DataDriftPreset()]).run(
    current_data=Dataset.from_pandas(current, data_definition=definition),
    reference_data=Dataset.from_pandas(reference, data_definition=definition),
)
result = snapshot.dict()
seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
drifted, methods = [], {}
for metric in result["metrics"]:
    name = metric["metric_name"]
    if name.startswith("ValueDrift("):
        config = metric["config"]
        column = config.get("column")
        threshold = config.get("threshold")
        methods[column] = name
        if threshold is not None and metric["value"] >= threshold:
            drifted.append(column)
import evidently
print("RESULT=" + json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
                              "drifted": sorted(drifted),
                              "methods": methods, "version": evidently.__version__}))
"""


def run_evidently(python: str, reference: pd.DataFrame, current: pd.DataFrame) -> dict | None:
    """Return Evidently's times and drifted columns on the same data, or None if unavailable."""
    if not Path(python).exists():
        print(f"Evidently: not run, {python} does not exist (see this script's docstring).")
        return None
    with tempfile.TemporaryDirectory() as folder:
        ref_path, cur_path = Path(folder) / "reference.parquet", Path(folder) / "current.parquet"
        reference.to_parquet(ref_path)
        current.to_parquet(cur_path)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        completed = subprocess.run(
            [python, "-c", EVIDENTLY_SCRIPT, str(ref_path), str(cur_path)],
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
        )
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        print("Evidently failed:\n" + completed.stderr[-3000:])
        return None
    line = next(x for x in completed.stdout.splitlines()[::-1] if x.startswith("RESULT="))
    result = json.loads(line.removeprefix("RESULT="))
    result["process_cpu_seconds"] = (
        children_after.ru_utime
        + children_after.ru_stime
        - children_before.ru_utime
        - children_before.ru_stime
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs at --rows (median)")
    parser.add_argument("--evidently-rows", type=int, default=100_000)
    parser.add_argument("--runs-small", type=int, default=5, help="our timed runs beside Evidently")
    parser.add_argument("--evidently-runs", type=int, default=1)
    parser.add_argument("--evidently-python", default="/tmp/evidently-venv/bin/python")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--package-dir", type=Path, default=PACKAGE_DIR)
    parser.add_argument(
        "--n-jobs",
        type=int,
        nargs="+",
        default=[1, 2],
        help="thread counts to time (numpy releases the GIL)",
    )
    args = parser.parse_args()

    print(
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"{os.cpu_count()} CPUs, numpy {np.__version__}, pandas {pd.__version__}; "
        f"package {args.package_dir}\n{sort_note()}"
    )
    monitoring = load_monitoring_package(args.package_dir)
    warm_reference, warm_current = make_batches(1000, seed=2)  # imports scipy, fills caches
    monitoring.data_drift.compute_data_drift(
        warm_reference, warm_current, *columns(warm_reference), drift_settings(monitoring)
    )

    started = time.perf_counter()
    reference, current = make_batches(args.rows)
    print(
        f"\n== {args.rows:,} rows x {reference.shape[1]} columns per batch "
        f"({N_NUMERIC} numeric, {N_CATEGORICAL} categorical), reference and current; "
        f"generated in {time.perf_counter() - started:.1f} s"
    )
    for n_jobs in args.n_jobs:
        print(f"n_jobs={n_jobs}, {args.runs} runs, before: {load_average()}")
        runs = [time_ours(reference, current, monitoring, n_jobs) for _ in range(args.runs)]
        ours = median_of(runs)
        print(
            f"  statistics: median wall {ours['stats_seconds']:.2f} s, CPU "
            f"{ours['stats_cpu_seconds']:.2f} s (goal <= 10 s wall); statistics + JSON + HTML: "
            f"median wall {ours['total_seconds']:.2f} s, CPU {ours['total_cpu_seconds']:.2f} s "
            f"(goal <= 20 s); HTML {ours['html_kib']:.0f} KiB"
        )
        print(
            "  runs (wall/CPU s): "
            + ", ".join(f"{r['stats_seconds']:.2f}/{r['stats_cpu_seconds']:.2f}" for r in runs)
            + f"; after: {load_average()}"
        )
    print(f"drifted ({len(ours['drifted'])}): {', '.join(ours['drifted'])}")
    print(f"planted: {', '.join(f'{c} ({d})' for c, d in PLANTED_DRIFT.items())}")
    print(
        f"peak memory: statistics {peak_memory_of_stats(reference, current, monitoring):.0f} "
        f"MiB (tracemalloc); process peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
        f"(includes both {args.rows:,}-row batches)"
    )
    del reference, current

    if args.skip_evidently:
        return
    reference, current = make_batches(args.evidently_rows, seed=1)
    print(f"\n== {args.evidently_rows:,} rows x {reference.shape[1]} columns: ours vs Evidently")
    timings = {}
    for n_jobs in args.n_jobs:
        load_before = load_average()
        runs = [time_ours(reference, current, monitoring, n_jobs) for _ in range(args.runs_small)]
        timings[n_jobs] = ours = median_of(runs)
        print(
            f"ours (n_jobs={n_jobs}, median of {args.runs_small}): statistics wall "
            f"{ours['stats_seconds']:.3f} s, CPU {ours['stats_cpu_seconds']:.3f} s; with JSON + "
            f"HTML wall {ours['total_seconds']:.3f} s, CPU {ours['total_cpu_seconds']:.3f} s "
            f"[{load_before}]"
        )
    ours = timings[args.n_jobs[0]]
    evidently_runs = []
    for _ in range(args.evidently_runs):
        load_before = load_average()
        evidently = run_evidently(args.evidently_python, reference, current)
        if evidently is None:
            return
        evidently_runs.append(evidently)
        print(
            f"Evidently {evidently['version']} DataDriftPreset: wall {evidently['seconds']:.2f} s, "
            f"CPU {evidently['cpu_seconds']:.2f} s (process_time around the run; whole "
            f"subprocess {evidently['process_cpu_seconds']:.2f} s, getrusage) [{load_before}]"
        )
    evidently = {
        **evidently_runs[-1],
        **{
            k: statistics.median(r[k] for r in evidently_runs)
            for k in ("seconds", "cpu_seconds", "process_cpu_seconds")
        },
    }
    for n_jobs, best in timings.items():
        print(
            f"speed-up, ours with n_jobs={n_jobs} (goal >= 50x): wall "
            f"{evidently['seconds'] / best['total_seconds']:.0f}x including our JSON + HTML, "
            f"{evidently['seconds'] / best['stats_seconds']:.0f}x statistics only; CPU "
            f"{evidently['cpu_seconds'] / best['total_cpu_seconds']:.0f}x including our JSON + "
            f"HTML, {evidently['cpu_seconds'] / best['stats_cpu_seconds']:.0f}x statistics only "
            f"({evidently['process_cpu_seconds'] / best['stats_cpu_seconds']:.0f}x against "
            f"Evidently's whole subprocess)"
        )
    ours_set, theirs = set(ours["drifted"]), set(evidently["drifted"])
    print(
        f"agree on {50 - len(ours_set ^ theirs)} of 50 columns; "
        f"both: {sorted(ours_set & theirs)}; only ours: {sorted(ours_set - theirs)}; "
        f"only Evidently: {sorted(theirs - ours_set)}"
    )
    rows = {r["feature"]: r for r in ours["result"]["features"]}
    for column in sorted(ours_set ^ theirs):
        row = rows[column]
        print(
            f"  {column}: ours PSI {row.get('psi')}, W/sd {row.get('wasserstein_normed')}, "
            f"JS {row.get('jensen_shannon')}; Evidently {evidently['methods'].get(column)}"
        )
    print(f"end: {load_average()}")


if __name__ == "__main__":
    main()
