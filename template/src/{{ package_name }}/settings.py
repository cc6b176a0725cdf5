"""Project settings: hooks, the configuration loader and its patterns.

See https://docs.kedro.org/en/stable/configure/configuration_basics/ for every setting.
"""

from .hooks import MetricLinesHook

# Hooks run in last-in-first-out order.
HOOKS = (MetricLinesHook(),)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "globals": ["globals*", "globals*/**"],
        "sagemaker": ["sagemaker*", "sagemaker*/**"],
    },
}
