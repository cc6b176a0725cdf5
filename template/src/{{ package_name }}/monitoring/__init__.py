"""Monitoring's Kedro side and its I/O: the model in service, alerting, the hook and the CLI.

`model_source.ModelInServiceDataset` (catalog entry `monitored_model`) loads the model monitoring
judges; `alerting/` delivers the verdict to its channels (log, JSON lines, CloudWatch + SNS,
Datadog, PagerDuty); `hook.MonitoringAlertHook` (registered in settings.py) sends the verdict of
the `monitoring` pipeline (pipelines/monitoring/) and ends the run with its exit status; `cli` adds
`kedro monitoring monitors apply` (Datadog monitors as code). The computations themselves are
Kedro-free, in core/monitoring/. Docs: docs/monitoring.md, docs/alerting.md.
"""
