"""Project settings: hooks, the configuration loader and its patterns.

See https://docs.kedro.org/en/stable/configure/configuration_basics/ for every setting.
"""

from .run_manifest_hook import RunManifestHook
from .s3_preflight import S3PreflightHook
from .tracking import MlflowTrackingHook

# Hooks run in last-in-first-out order.
HOOKS = (RunManifestHook(), MlflowTrackingHook(), S3PreflightHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "globals": ["globals*", "globals*/**"],
        "sagemaker": ["sagemaker*", "sagemaker*/**"],
        "tracking": ["tracking*", "tracking*/**"],
    },
}
