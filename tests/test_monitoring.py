"""The rendered project's monitoring pipeline on the bundled sample data, end to end.

Drift is found on the sample's drifted batch and not on null resamples of the reference; every
bad input gets a message or a flag; the CloudWatch notifier is checked against moto's server on
127.0.0.1; the HTML report is opened in headless Chromium. Code of the rendered project runs in a
subprocess (`python_in`), so projects rendered by other tests never share an import cache.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from conftest import copy_of, run_in, skip_or_fail

pytestmark = pytest.mark.monitoring

PACKAGE = "churn_prediction"
ALPHA = 0.05
NULL_RESAMPLES = 20
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

# Shared by every script: the sample batches prepared as the pipeline prepares them.
PRELUDE = f"""
import json, sys
import numpy as np, pandas as pd, yaml
from {PACKAGE}.core.features import prepare_features
from {PACKAGE}.core.parameters import DataDriftSettings, DataValidationSettings, section
from {PACKAGE}.core.monitoring.expectations import derive_expectation_suite, validate_batch
from {PACKAGE}.core.monitoring.data_drift import compute_data_drift
features = yaml.safe_load(open("conf/base/parameters.yml"))["features"]
monitoring = yaml.safe_load(open("conf/base/parameters_monitoring.yml"))["monitoring"]
reference = prepare_features(pd.read_csv("data/01_raw/customers.csv"), features)
current = prepare_features(pd.read_csv("data/01_raw/customers_current.csv"), features)
NUMERIC, CATEGORICAL = features["numeric"], features["categorical"]
def drift_result(ref, cur, **overrides):
    raw = {{**monitoring["drift"], **overrides}}
    settings = section(DataDriftSettings, raw, "monitoring.drift")
    return compute_data_drift(ref, cur, NUMERIC, CATEGORICAL, settings)
def drift(ref, cur, **overrides):
    return drift_result(ref, cur, **overrides).to_dict()
def emit(value):
    print("RESULT=" + json.dumps(value, default=str))
"""


def python_in(project: Path, script: str, timeout: float = 600) -> object:
    """Run `script` (after PRELUDE) with the project's sources; return what it emitted."""
    result = run_in(project, "python", "-c", PRELUDE + textwrap.dedent(script), timeout=timeout)
    line = next(x for x in result.stdout.splitlines()[::-1] if x.startswith("RESULT="))
    return json.loads(line.removeprefix("RESULT="))


def latest(project: Path, name: str) -> Path:
    """Return the newest version of a monitoring artefact."""
    matches = sorted((project / "data/08_reporting/monitoring").glob(f"{name}/*/{name}"))
    assert matches, f"no version of {name} was written"
    return matches[-1]


@pytest.fixture(scope="module")
def sample_project(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a copy of the trained default project: data, model (the registry's champion) and
    evaluation metrics built."""
    return copy_of(trained_project, tmp_path_factory.mktemp("monitoring"))


@pytest.fixture(scope="module")
def monitored(sample_project: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Return the project after `kedro run --pipelines monitoring`, and that run's result."""
    result = run_in(sample_project, "kedro", "run", "--pipelines", "monitoring", check=False)
    return sample_project, result


# ----- the pipeline, end to end ------------------------------------------------------------------


@pytest.mark.e2e
def test_monitoring_run_fails_on_the_drifted_sample_after_writing_every_report(monitored):
    project, result = monitored
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    # An expected alert ends with a summary and exit status 1, not a traceback.
    assert "Monitoring verdict FAIL" in result.stderr and "Traceback" not in output
    report = json.loads(latest(project, "monitoring_report.json").read_text())
    assert report["level"] == "fail"
    drift = report["sections"]["data_drift"]
    # The generator shifts age, charges and usage and adds a payment method; it leaves region,
    # tenure and support calls alone (pipelines/sample_data/nodes.py).
    assert {"age", "monthly_charges", "data_usage_gb", "payment_method"} <= set(
        drift["drifted_features"]
    )
    assert not {"region", "tenure_months", "support_calls"} & set(drift["drifted_features"])
    assert report["sections"]["model_drift"]["status"] == "measured"
    concept = report["sections"]["concept_drift"]["checks"]
    assert concept["refit_attribution"]["spearman"] < concept["attribution"]["spearman"]
    suite = json.loads(latest(project, "reference_expectation_suite.json").read_text())
    assert suite["meta"]["derived_from_rows"] == 3750
    lines = latest(project, "monitoring_metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {"metric": "MonitoringLevel", "value": 2}.items() <= records[0].items()
    assert any(r["metric"] == "FeaturePSI" and r["tags"]["Feature"] == "age" for r in records)


@pytest.mark.e2e
def test_the_exit_level_is_a_parameter(sample_project):
    result = run_in(
        sample_project,
        "kedro",
        "run",
        "--pipelines",
        "monitoring",
        "--params",
        "monitoring.alerting.exit_nonzero_on=never",
    )
    assert "Monitoring verdict FAIL" in result.stdout + result.stderr


@pytest.mark.e2e
def test_under_parallel_runner_the_verdict_still_alerts_once_and_fails_the_run(sample_project):
    """ParallelRunner runs the verdict's node, and the hooks after it, in a worker process whose
    hooks the run's own process never hears from: the run's process delivers it at the end."""
    result = run_in(
        sample_project, "kedro", "run", "--pipelines", "monitoring",
        "--runner", "ParallelRunner", check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    summary = result.stderr[result.stderr.index("Monitoring verdict FAIL") :]
    assert "Alerts: log sent (logged); jsonl sent (appended by the catalog)" in summary
    assert summary.rstrip().endswith("Exit status 1 (exit_nonzero_on: fail)")
    # The log channel's record (the summary is on stderr), once: not from the worker as well.
    assert result.stdout.count("Monitoring verdict FAIL") == 1
    # The summary names the report this run saved.
    report = re.search(r"Report: (\S+)", summary).group(1)
    assert Path(report) == latest(sample_project, "monitoring_report.html")


# ----- statistics on the sample data -------------------------------------------------------------


def test_drift_is_found_on_the_sample_current_batch(sample_project):
    result = python_in(sample_project, "emit(drift(reference, current))")
    assert result["level"] == "fail"
    rows = {row["feature"]: row for row in result["features"]}
    for feature in ("age", "monthly_charges", "data_usage_gb"):
        assert rows[feature]["drifted"] and rows[feature]["p_value_adjusted"] < 1e-10
    assert rows["payment_method"]["unseen_categories"] == ["digital_wallet"]
    for feature in ("region", "tenure_months", "support_calls"):
        assert not rows[feature]["drifted"], rows[feature]


def test_null_resamples_of_the_reference_alarm_less_often_than_alpha(sample_project):
    script = f"""
    rng = np.random.default_rng(2024)
    alarms = {{"test_and_effect": 0, "test_only": 0}}
    rejected_features = 0
    for _ in range({NULL_RESAMPLES}):
        order = rng.permutation(len(reference))
        # A current-sized sample against the disjoint rest: both come from one distribution.
        batch, rest = reference.iloc[order[:len(current)]], reference.iloc[order[len(current):]]
        for rule in alarms:
            result = drift(rest, batch, decision_rule=rule)
            alarms[rule] += result["level"] != "ok"
            if rule == "test_only":
                rejected_features += len(result["drifted_features"])
    emit({{"alarms": alarms, "rejected_features": rejected_features}})
    """
    result = python_in(sample_project, script)
    for rule, alarms in result["alarms"].items():
        assert alarms / NULL_RESAMPLES <= ALPHA, (rule, result)
    assert result["rejected_features"] / (NULL_RESAMPLES * 9) <= ALPHA


# ----- bad inputs: a message or a flag, never a bare crash ---------------------------------------

BAD_INPUTS = {
    "missing_column": (
        "current.drop(columns=['age'])",
        "columns differ from the reference: missing ['age']",
        "column 'age' is missing from the current batch",
    ),
    "extra_column": (
        "current.assign(promo_code='X1')",
        "unexpected ['promo_code']",
        "column 'promo_code' is in the current batch but not in the reference",
    ),
    "dtype_change": (
        "current.assign(tenure_months=current['tenure_months'].astype(str) + ' months')",
        "column 'tenure_months' has dtype",
        "column 'tenure_months' changed dtype: numeric (float64) in the reference",
    ),
    "all_nan_column": (
        "current.assign(monthly_charges=np.nan)",
        "column 'monthly_charges' is entirely missing (all 2000 values are null)",
        "column 'monthly_charges' has no values in the current batch",
    ),
    "empty_batch": (
        "current.iloc[:0]",
        "too few rows to judge: the batch has 0 row(s), at least 30 needed",
        "the current batch is empty (0 rows",
    ),
    "constant_column": (
        "current.assign(support_calls=2.0)",
        "column 'support_calls' has 1 distinct value(s)",
        "column 'support_calls' is constant in the current batch",
    ),
    "unseen_categories": (
        "current",
        "column 'payment_method': 165 value(s) (8.2%) not seen in the reference: "
        "['digital_wallet']",
        "column 'payment_method' has 1 category never seen in the reference: 'digital_wallet'",
    ),
}


@pytest.fixture(scope="module")
def bad_input_results(sample_project):
    """Return {case: (validation messages, drift messages, drift level)} for every bad input."""
    cases = "\n".join(
        f"    {name!r}: lambda: ({expression})," for name, (expression, _, _) in BAD_INPUTS.items()
    )
    script = f"""
    suite = derive_expectation_suite(reference, NUMERIC, CATEGORICAL,
                                     DataValidationSettings(**monitoring["validation"]),
                                     unique_columns=[features["id_column"]])
    cases = {{
    {cases}
    }}
    out = {{}}
    for name, make in cases.items():
        batch = make()
        validation = validate_batch(batch, suite).to_dict()
        result = drift(reference, batch)
        out[name] = ([f["message"] for f in validation["failures"]],
                     [i["message"] for i in result["issues"]], result["level"],
                     validation["level"])
    emit(out)
    """
    return python_in(sample_project, script)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_input_gets_a_clear_message(bad_input_results, case):
    _, validation_message, drift_message = BAD_INPUTS[case]
    validation, drift_issues, drift_level, validation_level = bad_input_results[case]
    assert drift_level in {"ok", "warn", "fail"}
    assert any(validation_message in m for m in validation), validation
    assert any(drift_message in m for m in drift_issues), drift_issues
    assert validation_level in {"warn", "fail"}
    if case in {"missing_column", "all_nan_column", "empty_batch", "dtype_change"}:
        assert validation_level == "fail"


# ----- CloudWatch against moto's server ----------------------------------------------------------


@pytest.fixture
def moto_endpoint():
    """Return the URL of a moto server on 127.0.0.1 (a free port), stopped after the test."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - moto[server] is in requirements-test.txt
        skip_or_fail("moto[server] is not installed")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_cloudwatch_notifier_sends_the_metrics_and_the_sns_alert(sample_project, moto_endpoint):
    script = f"""
    import boto3
    from datetime import datetime, timezone
    from {PACKAGE}.monitoring.alerting import (
        CloudWatchNotifier, MonitoringAlert, metric_records)
    from {PACKAGE}.core.monitoring.drift_report import build_monitoring_report
    from {PACKAGE}.core.monitoring.results import ConceptDrift, ModelDrift, ValidationResult
    endpoint = {moto_endpoint!r}
    args = dict(region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="testing",
                aws_secret_access_key="testing")
    sns, sqs = boto3.client("sns", **args), boto3.client("sqs", **args)
    topic = sns.create_topic(Name="model-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    quiet = dict(level="ok", summary="fine")
    report = build_monitoring_report(
        ValidationResult(skipped=[], success=True, suite_name="train_set",
                         evaluated_expectations=0, failed_expectations=0, failed_columns=[],
                         failures=[], n_rows=len(current), **quiet),
        drift_result(reference, current),
        ModelDrift(status="skipped", metrics=[], issues=[], current_metrics={{}},
                   baseline_metrics={{}}, n_labelled=None, prediction_drift=None, model=None,
                   **quiet),
        ConceptDrift(checks={{}}, issues=[], **quiet))
    records = metric_records(report)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    alert = MonitoringAlert(report.level, report.headline, report.reasons, records, now)
    notifier = CloudWatchNotifier(
        "ChurnMonitoring", dimensions={{"Model": "churn"}}, sns_topic_arn=topic,
        cloudwatch_client=boto3.client("cloudwatch", **args), sns_client=sns)
    notifier.notify(alert)

    cloudwatch = boto3.client("cloudwatch", **args)
    listed = cloudwatch.list_metrics(Namespace="ChurnMonitoring")["Metrics"]
    psi_age = next(r.value for r in records
                   if r.name == "FeaturePSI" and r.dimensions == {{"Feature": "age"}})
    data = cloudwatch.get_metric_data(
        MetricDataQueries=[{{"Id": "psi", "MetricStat": {{
            "Metric": {{"Namespace": "ChurnMonitoring", "MetricName": "FeaturePSI",
                        "Dimensions": [{{"Name": "Model", "Value": "churn"}},
                                       {{"Name": "Feature", "Value": "age"}}]}},
            "Period": 60, "Stat": "Maximum"}}}}],
        StartTime=now.timestamp() - 600, EndTime=now.timestamp() + 600)
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    emit({{
        "sent": len(records),
        "names": sorted({{(m["MetricName"], tuple(sorted((d["Name"], d["Value"])
                         for d in m["Dimensions"]))) for m in listed}}),
        "psi_age": psi_age,
        "psi_values": data["MetricDataResults"][0]["Values"],
        "sns": json.loads(messages[0]["Body"]),
        "share": report.data_drift.drift_share,
    }})
    """
    result = python_in(sample_project, script)
    names = {(name, tuple(map(tuple, dims))) for name, dims in result["names"]}
    assert len(names) == result["sent"]  # every record arrived as its own metric
    assert ("DatasetDriftShare", (("Model", "churn"),)) in names
    assert ("FeaturePSI", (("Feature", "age"), ("Model", "churn"))) in names
    assert ("MonitoringLevel", (("Model", "churn"),)) in names
    assert result["psi_values"] == [pytest.approx(result["psi_age"])]
    assert result["sns"]["Subject"] == "Model monitoring FAIL"
    assert "Monitoring verdict: FAIL" in result["sns"]["Message"]
    assert "Data drift FAIL" in result["sns"]["Message"]


# ----- the HTML report in a real browser ---------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    skip_or_fail("Debian's chromium is not installed (apt-get install -y chromium)")
    return ""  # pragma: no cover


def _open_in_chromium(page: Path, tmp_path: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [
            _chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,1800",
            *mode,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_console_errors_would_be_caught(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><title>x</title><script>missingFunction()</script>")
    result = _open_in_chromium(page, tmp_path, "--dump-dom")
    assert any("missingFunction is not defined" in m for m in _console_messages(result.stderr))


@pytest.mark.e2e
def test_the_html_report_renders_in_headless_chromium(monitored, tmp_path):
    project, _ = monitored
    page = latest(project, "monitoring_report.html")
    dom = _open_in_chromium(page, tmp_path, "--dump-dom")
    assert _console_messages(dom.stderr) == []
    for heading in ("Data validation", "Data drift", "Model drift", "Concept drift"):
        assert f">{heading}</h2>" in dom.stdout
    assert dom.stdout.index("Verdict: FAIL") < dom.stdout.index(">Data validation</h2>")
    assert dom.stdout.count("<svg") == 9  # one distribution plot per feature

    shot = tmp_path / "report.png"
    result = _open_in_chromium(page, tmp_path, f"--screenshot={shot}")
    assert _console_messages(result.stderr) == []
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1800)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, tables and plots, not a blank page
    verdict_red = (198, 40, 40)  # .fail background: the verdict banner is at the top
    top = image.crop((0, 0, 1280, 300))
    assert any(colour == verdict_red for _, colour in top.getcolors(maxcolors=1 << 20))
