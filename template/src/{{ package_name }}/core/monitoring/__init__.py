"""Monitoring's checks, Kedro-free: data validation, data / prediction / model / concept drift.

Also the report (`drift_report.py`) and the typed results that travel between the nodes
(`results.py`). The monitoring pipeline (pipelines/monitoring/) wires them; alerting and the model
in service (src/<package>/monitoring/) do the I/O. docs/monitoring.md explains each check.
"""
