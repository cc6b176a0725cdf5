"""Following a submitted SageMaker job: its status, its CloudWatch log, and how it ended."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})


def _describe(client: Any, kind: str, name: str) -> dict[str, Any]:
    if kind == "training":
        return client.describe_training_job(TrainingJobName=name)
    return client.describe_processing_job(ProcessingJobName=name)


def job_status(description: Mapping[str, Any]) -> str:
    """Return the status field of a DescribeTrainingJob/DescribeProcessingJob answer."""
    return str(description.get("TrainingJobStatus") or description.get("ProcessingJobStatus"))


def job_outcome_lines(kind: str, name: str, description: Mapping[str, Any]) -> list[str]:
    """Return the closing lines for a finished job: its status and, if it failed, why."""
    lines = [f"{kind} job {name}: {job_status(description)}"]
    if description.get("FailureReason"):
        lines.append(f"FailureReason: {description['FailureReason']}")
    if description.get("ExitMessage"):
        lines.append(f"ExitMessage: {description['ExitMessage']}")
    for metric in description.get("FinalMetricDataList") or []:
        lines.append(f"metric {metric.get('MetricName')}={metric.get('Value')}")
    return lines


class LogFollower:
    """Prints a job's CloudWatch log events once each, in order, as they arrive."""

    def __init__(self, logs_client: Any, kind: str, name: str, echo: Callable[[str], Any]) -> None:
        group = "TrainingJobs" if kind == "training" else "ProcessingJobs"
        self._client = logs_client
        self._group = f"/aws/sagemaker/{group}"
        self._prefix = f"{name}/"
        self._echo = echo
        self._seen: set[str] = set()
        self._start = 0

    def flush(self) -> int:
        """Print the events not printed yet; return how many."""
        printed = 0
        kwargs: dict[str, Any] = {
            "logGroupName": self._group,
            "logStreamNamePrefix": self._prefix,
            "startTime": self._start,
        }
        while True:
            try:
                page = self._client.filter_log_events(**kwargs)
            except self._client.exceptions.ResourceNotFoundException:
                return printed  # the job has not written a log yet
            for event in page.get("events", []):
                if event["eventId"] in self._seen:
                    continue
                self._seen.add(event["eventId"])
                self._start = max(self._start, int(event["timestamp"]))
                self._echo(event["message"].rstrip("\n"))
                printed += 1
            token = page.get("nextToken")
            if not token or token == kwargs.get("nextToken"):
                return printed
            kwargs["nextToken"] = token


def wait_for_job(
    boto_session: Any,
    kind: str,
    name: str,
    *,
    echo: Callable[[str], Any] = print,
    poll_seconds: float = 15.0,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """Stream the job's logs until it ends; return its final description."""
    sagemaker_client = boto_session.client("sagemaker")
    follower = LogFollower(boto_session.client("logs"), kind, name, echo)
    started = time.monotonic()
    while True:
        description = _describe(sagemaker_client, kind, name)
        follower.flush()
        if job_status(description) in TERMINAL_STATUSES:
            follower.flush()
            return description
        if timeout_seconds is not None and time.monotonic() - started > timeout_seconds:
            raise TimeoutError(f"{kind} job {name} still {job_status(description)}")
        time.sleep(poll_seconds)
