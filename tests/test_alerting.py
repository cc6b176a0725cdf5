"""Monitoring alerts of a rendered project: Datadog, PagerDuty, monitors as code, a clean exit.

A loopback HTTP server (127.0.0.1, ephemeral port) stands in for Datadog and PagerDuty and
records every request. The rendered project's own unit tests check the exact payloads; here the
real commands run: `kedro run --pipelines monitoring` (every channel down, then every channel up)
and `kedro monitoring monitors apply` (dry run, create, then update).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from conftest import copy_of, run_in

pytestmark = pytest.mark.monitoring

ENV = "alerting_test"
SECRETS = {
    "DD_API_KEY": "ddapikey-0123456789abcdef",
    "DD_APP_KEY": "ddappkey-fedcba9876543210",
    "PAGERDUTY_ROUTING_KEY": "pdroutingkey-0123456789abcdef",
}


class Loopback:
    """Requests seen, monitors stored and the status every request gets (None: normal)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.monitors: dict[int, dict[str, Any]] = {}
        self.fail_with: int | None = None
        self.url = ""

    def on(self, method: str, path: str) -> list[dict[str, Any]]:
        """Return the bodies of the requests of `method` whose path starts with `path`."""
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(path)]

    def answer(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        """Return (status, JSON body) the way Datadog or PagerDuty would."""
        if self.fail_with:
            return self.fail_with, {"errors": ["unavailable"]}
        if path == "/api/v1/monitor" and method == "GET":
            wanted = set(query["monitor_tags"][0].split(","))
            return 200, [m for m in self.monitors.values() if wanted <= set(m["tags"])]
        if path == "/api/v1/monitor" and method == "POST":
            monitor_id = 500 + len(self.monitors)
            self.monitors[monitor_id] = {**body, "id": monitor_id}
            return 200, self.monitors[monitor_id]
        if path.startswith("/api/v1/monitor/") and method == "PUT":
            monitor_id = int(path.rsplit("/", 1)[1])
            self.monitors[monitor_id] = {**body, "id": monitor_id}
            return 200, self.monitors[monitor_id]
        if path == "/v2/enqueue":
            return 202, {"status": "success", "dedup_key": body["dedup_key"]}
        return 202, {"errors": [], "status": "ok"}


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    """Yield a recording server on 127.0.0.1 (ephemeral port)."""
    state = Loopback()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            parsed = urlparse(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            state.requests.append(
                {
                    "method": self.command,
                    "path": parsed.path,
                    "body": body,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                }
            )
            status, answer = state.answer(self.command, parsed.path, parse_qs(parsed.query), body)
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _serve

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def project(
    trained_project: Path, tmp_path_factory: pytest.TempPathFactory, loopback: Loopback
) -> Path:
    """Return a trained project with a Kedro env whose channels all point at the loopback."""
    project = copy_of(trained_project, tmp_path_factory.mktemp("alerting"))
    monitoring = yaml.safe_load((project / "conf/base/parameters_monitoring.yml").read_text())
    alerting = monitoring["monitoring"]["alerting"]
    alerting["environment"] = "ci"
    alerting["datadog"].update(enabled=True, api_url=loopback.url)
    alerting["pagerduty"].update(enabled=True, events_url=f"{loopback.url}/v2/enqueue")
    alerting["retry"].update(attempts=2, timeout_seconds=2.0, backoff_seconds=0.05)
    (project / "conf" / ENV).mkdir()
    (project / "conf" / ENV / "parameters_monitoring.yml").write_text(yaml.safe_dump(monitoring))
    return project


def monitoring_run(project: Path, *command: str) -> Any:
    """Run the monitoring pipeline in the test env with the keys in the environment."""
    return run_in(project, *command, "--env", ENV, env=SECRETS, check=False, timeout=900)


def report_versions(project: Path) -> list[Path]:
    folder = project / "data/08_reporting/monitoring/monitoring_report.html"
    return sorted(folder.glob("*/monitoring_report.html"))


def test_the_rendered_alerting_tests_pass(project):
    result = run_in(
        project,
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/pipelines/monitoring/test_alert_channels.py",
        fresh_process=False,
    )
    assert " passed" in result.stdout and "failed" not in result.stdout
    assert "skipped" not in result.stdout


@pytest.mark.e2e
def test_every_channel_down_still_writes_the_report_and_exits_1_cleanly(project, loopback):
    loopback.requests.clear()
    loopback.fail_with = 503
    before = report_versions(project)
    result = monitoring_run(project, "kedro", "run", "--pipelines", "monitoring")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    assert "Traceback" not in output
    summary = result.stderr[result.stderr.index("Monitoring verdict FAIL") :]
    assert "datadog FAILED" in summary and "pagerduty FAILED" in summary
    assert "HTTP 503" in summary and "gave up after 2 attempts" in summary
    assert summary.rstrip().endswith("Exit status 1 (exit_nonzero_on: fail)")
    assert len(report_versions(project)) == len(before) + 1
    # Two attempts at the series, then PagerDuty's first event twice; nothing else waited.
    assert len(loopback.on("POST", "/api/v2/series")) == 2
    assert len(loopback.on("POST", "/v2/enqueue")) == 2
    for secret in SECRETS.values():
        assert secret not in output


@pytest.mark.e2e
def test_a_healthy_run_sends_series_event_and_incidents(project, loopback):
    loopback.requests.clear()
    loopback.fail_with = None
    # The project's console entry point (`python -m <package>`) behaves as `kedro run`.
    result = monitoring_run(
        project, "python", "-m", "churn_prediction", "--pipelines", "monitoring"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-4000:]
    assert "Traceback" not in output
    assert "datadog sent" in result.stderr and "pagerduty sent" in result.stderr
    features = yaml.safe_load((project / "conf/base/parameters.yml").read_text())["features"]
    [series] = loopback.on("POST", "/api/v2/series")
    assert series["headers"]["dd-api-key"] == SECRETS["DD_API_KEY"]
    psi_features = {
        tag.split(":", 1)[1]
        for s in series["body"]["series"]
        if s["metric"] == "model_monitoring.feature.p_value"
        for tag in s["tags"]
        if tag.startswith("feature:")
    }
    assert psi_features == {f.lower() for f in [*features["numeric"], *features["categorical"]]}
    assert all(
        "env:ci" in s["tags"] and "project:churn_prediction" in s["tags"]
        for s in series["body"]["series"]
    )
    [event] = loopback.on("POST", "/api/v1/events")
    assert event["body"]["alert_type"] == "error"
    pages = [r["body"] for r in loopback.on("POST", "/v2/enqueue")]
    triggered = {p["dedup_key"] for p in pages if p["event_action"] == "trigger"}
    assert "churn_prediction/ci/data_drift" in triggered
    report_html = next(p for p in pages if p["event_action"] == "trigger")["payload"][
        "custom_details"
    ]["report_html"]
    assert report_html == str(report_versions(project)[-1])


def test_monitors_apply_creates_once_then_updates(project, loopback):
    loopback.requests.clear()
    loopback.fail_with = None
    apply = ("kedro", "monitoring", "monitors", "apply")
    dry = monitoring_run(project, *apply, "--dry-run")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Dry run: 4 to create, 0 to update" in dry.stdout
    assert loopback.on("POST", "/api/v1/monitor") == []

    first = monitoring_run(project, *apply)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Done: created 4, updated 0" in first.stdout
    created = loopback.on("POST", "/api/v1/monitor")
    assert len(created) == 4
    assert all("@pagerduty-model-monitoring" in r["body"]["message"] for r in created)

    loopback.requests.clear()
    second = monitoring_run(project, *apply)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Done: created 0, updated 4" in second.stdout
    assert loopback.on("POST", "/api/v1/monitor") == []
    assert sorted(r["path"] for r in loopback.on("PUT", "/api/v1/monitor/")) == [
        f"/api/v1/monitor/{i}" for i in sorted(loopback.monitors)
    ]
    assert len(loopback.monitors) == 4


def test_monitors_apply_without_keys_says_what_is_missing(project):
    result = run_in(project, "kedro", "monitoring", "monitors", "apply", "--env", ENV, check=False)
    assert result.returncode == 1
    assert "need an API key and an application key" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_processing_job_reports_the_verdict_as_its_failure_reason(project, tmp_path):
    # The SageMaker entrypoint turns the hook's exit into the job's failure message.
    script = """
import sys
from churn_prediction.monitoring import hook as monitoring_hook
from churn_prediction.sagemaker import entrypoint

def process(*args):
    raise monitoring_hook.MonitoringVerdictExit(1, "Monitoring verdict FAIL: drift")

entrypoint.process = process
print("STATUS", entrypoint.main(["process", "--pipeline", "monitoring"]))
"""
    result = run_in(project, "python", "-c", script, env={"SAGEMAKER_ROOT": str(tmp_path)})
    assert "STATUS 1" in result.stdout
    message = (tmp_path / "output" / "message").read_text()
    assert message == "MonitoringVerdictExit: Monitoring verdict FAIL: drift"
    assert "Traceback" not in result.stderr
