"""The exception that ends a monitoring run with its verdict's exit status (no traceback).

Its own small module: the monitoring hook raises it and `kedro retrain` catches it, and both
import it at start-up cost of nothing (no pandas, no results).
"""


class MonitoringVerdictExit(SystemExit):
    """Ends a run whose verdict reached the exit level; its text is the verdict summary."""

    def __init__(self, status: int, summary: str) -> None:
        super().__init__(status)
        self.summary = summary

    def __str__(self) -> str:
        return self.summary
