"""Warnings of our dependencies that a user can do nothing about, silenced by exact message.

Each entry names who warns and when to remove it. Anything not listed still shows.
"""

from __future__ import annotations

import warnings

# (message regex, category, module that warns): `module` is where the warning is attributed.
DEPENDENCY_WARNINGS = (
    # Kedro 1.7's OmegaConfigLoader still calls OmegaConf.register_new_resolver (3 calls per
    # loader, twice per run), which omegaconf 2.4 deprecates. Remove when Kedro calls
    # register_resolver (kedro/config/omegaconf_config.py).
    (r"register_new_resolver\(\) is deprecated", UserWarning, r"kedro\.config\.omegaconf_config"),
)


def ignore_dependency_warnings() -> None:
    """Install a filter for each warning in DEPENDENCY_WARNINGS (and no other)."""
    for message, category, module in DEPENDENCY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
