"""The `monitoring.alerting` settings; their models live with every other section's.

See core/parameters.py: a misspelt key, a string where a number belongs or a missing key fails at
start-up and names the file and the key, so a typo never switches a channel off silently.
"""

from ...core.parameters import (
    AlertingSettings,
    CloudWatchSettings,
    DatadogSettings,
    JsonLinesSettings,
    Level,
    LogSettings,
    PagerDutySettings,
    RetrySettings,
)

__all__ = [
    "AlertingSettings",
    "CloudWatchSettings",
    "DatadogSettings",
    "JsonLinesSettings",
    "Level",
    "LogSettings",
    "PagerDutySettings",
    "RetrySettings",
]
