"""Project settings: hooks, the configuration loader and its patterns.

See https://docs.kedro.org/en/stable/configure/configuration_basics/ for every setting.
"""

from .datasets.lazy_kedro_datasets import load_groups_lazily
from .monitoring.hook import MonitoringAlertHook
from .parameters_hook import ParametersHook
from .process import freeze_at_exit
from .process_hook import FreezeAfterStartUpHook
from .registry.hook import ModelRegistryHook
from .run_log.run_summary_hook import RunSummaryHook
from .run_log.warning_filters import ignore_dependency_warnings
from .tracking import MlflowTrackingHook
from .versioning.run_manifest_hook import RunManifestHook
from .versioning.s3_preflight import S3PreflightHook

ignore_dependency_warnings()
# The catalog's `pandas.*` types import their own module only, not SQLAlchemy & co (decision 0039).
load_groups_lazily()
# The interpreter's teardown skips walking a run's million objects again (process.py).
freeze_at_exit()

# One tracking hook per process: later hooks read its MLflow run (`tracked_run`).
TRACKING = MlflowTrackingHook()

# Hooks run in last-in-first-out order. RunManifestHook pins unpinned inputs to the newest complete
# run before any node and writes this run's manifest last; the registry hook registers the model
# after the tracking hook has closed the run, in the tracking hook's MLflow writer process; the
# summary comes after that (and lets that process end); MonitoringAlertHook
# (also `trylast`) ends a monitoring run with its exit status after all others. ParametersHook,
# last in the list and `tryfirst`, checks every parameters section before anything else happens.
# FreezeAfterStartUpHook (`trylast`) freezes what `kedro run` loaded once every hook has set it up.
HOOKS = (
    MonitoringAlertHook(),
    RunSummaryHook(TRACKING),
    RunManifestHook(),
    ModelRegistryHook(TRACKING),
    TRACKING,
    S3PreflightHook(),
    ParametersHook(),
    FreezeAfterStartUpHook(),
)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "globals": ["globals*", "globals*/**"],
        "sagemaker": ["sagemaker*", "sagemaker*/**"],
        "tracking": ["tracking*", "tracking*/**"],
        "datadog_monitors": ["datadog_monitors*", "datadog_monitors*/**"],
    },
}
