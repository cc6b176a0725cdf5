"""Monitoring's Kedro wiring outside the pipeline: the verdict's delivery and the monitoring CLI.

`hook.MonitoringAlertHook` (registered in settings.py) delivers the verdict of the `monitoring`
pipeline (pipelines/monitoring/) and ends the run with its exit status; `cli` adds
`kedro monitoring monitors apply` (Datadog monitors as code). Docs: docs/monitoring.md,
docs/alerting.md.
"""
