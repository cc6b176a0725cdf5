"""Kedro project package: pipelines, hooks and the SageMaker entrypoint."""

import os

from .process import pause_for_run_start_up

__version__ = "0.1.0"

# No usage data leaves the project's processes unless the team opts in (docs/experiment-tracking.md,
# "Usage telemetry"). MLflow 3 starts reporting, over the network, as soon as it is imported. Every
# `kedro` command, run, SageMaker job and notebook imports this package before MLflow, and child
# processes (the MLflow writer) inherit the value. A value already set wins:
# MLFLOW_DISABLE_TELEMETRY=false opts in. Kedro's own telemetry is switched off by `.telemetry`.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

# `kedro run` imports this package first of the project (for settings.py): from here to its first
# node it collects no garbage, which its start-up hardly makes; settings.py's
# FreezeAfterStartUpHook turns the collector on again
# (docs/decisions/0038-freeze-what-lives-as-long-as-the-process.md).
pause_for_run_start_up()
