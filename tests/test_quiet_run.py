"""The default `kedro run` of a rendered project: a log without warnings, in whole lines where no
terminal shows it, ending with its summary.

Metric lines (`name=value`, read by SageMaker's MetricDefinitions) are printed inside training jobs
only; a local run keeps them out of the log (test_sagemaker.py and test_docker.py check the jobs).

The run is conftest's trained_run: as in CI (a container, `| tee`), no terminal and no COLUMNS.
"""

from __future__ import annotations

import re

import pytest
from conftest import registry

pytestmark = [pytest.mark.e2e, pytest.mark.tracking]

# Rich prints the level name; Python warnings that bypass logging print their category.
WARNING_LINE = re.compile(r"\bWARNING\b|\b[A-Z][A-Za-z]*Warning\b")
# The plain handler's records: date, time, level, logger, message (run_log/plain_lines.py).
PLAIN_RECORD = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)
METRIC_LINE = re.compile(r"^[A-Za-z0-9_.:/-]+=[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?$", re.MULTILINE)


def test_the_default_run_logs_no_warning(trained_run):
    warnings = [line for line in trained_run["log"].splitlines() if WARNING_LINE.search(line)]
    assert warnings == [], "\n".join(warnings)


def test_the_default_run_prints_no_metric_lines_outside_sagemaker(trained_run):
    assert METRIC_LINE.findall(trained_run["log"]) == []


def test_the_run_ends_with_a_summary_naming_outputs_and_the_mlflow_run(trained_run):
    project, log = trained_run["project"], trained_run["log"]
    client = registry(project)
    (experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
    (run,) = client.search_runs([experiment.experiment_id])
    summary = log[log.index("Run finished: pipeline __default__") :]
    save_version = run.data.tags["kedro.save_version"]
    assert f"save version {save_version}" in summary
    assert f"MLflow run {run.info.run_id} FINISHED" in summary
    # Every folder named holds files of this run's save version.
    folders = re.findall(r"^\s*(data/[^\s:]+)/:", summary, flags=re.MULTILINE)
    assert folders
    for folder in folders:
        assert list((project / folder).glob(f"*/{save_version}/*")) or any(
            (project / folder).iterdir()
        ), folder
    assert "data/06_models/: model" in summary


def test_without_a_terminal_every_record_is_one_whole_line(trained_run):
    """Rich would cut each record over lines of 80 columns. Only Kedro's first two records, logged
    before any of the project's code runs, still come from it."""
    lines = trained_run["log"].splitlines()
    first = next(i for i, line in enumerate(lines) if PLAIN_RECORD.match(line))
    assert first <= 12, "\n".join(lines[: first + 1])
    summary = next(i for i, line in enumerate(lines) if "Run finished: pipeline" in line)
    # Up to the summary (a message with line breaks), each line is a record of its own.
    stray = [line for line in lines[first:summary] if not PLAIN_RECORD.match(line)]
    assert stray == [], "\n".join(stray)
    nodes = [line for line in lines[first:summary] if "Running node:" in line]
    assert nodes
    assert all(line.endswith("]") for line in nodes), nodes  # each ends with the node's outputs
