"""The Kedro hook that checks every parameters section before anything runs.

It parses the run's merged parameters (base, the run environment and `--params`) with the strict
models of core/parameters.py once the context exists: before the catalog, the other hooks and any
node. A wrong key ends the run with every problem listed, each naming its file and key, and no
traceback (`InvalidParametersExit`, a `SystemExit`: status 2, as for a wrong command-line option).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

from .core.parameters import ParameterError, parse_parameters, read_parameter_sources

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext


class InvalidParametersExit(SystemExit):
    """Ends a run whose parameters do not fit their models; its text lists each bad key."""

    def __init__(self, error: ParameterError) -> None:
        super().__init__(2)
        self.error = error

    def __str__(self) -> str:
        return f"{self.error}\nNo node has run."


class ParametersHook:
    """Check the run's parameters against core/parameters.py before anything else happens."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        """Parse every section; exit with the list of bad keys if one does not fit."""
        loader = context.config_loader
        try:
            params = loader["parameters"]
        except MissingConfigException:
            return  # no parameter files at all: Kedro warns, and no section is configured
        try:
            parse_parameters(params or {})
            return
        except ParameterError:
            pass
        # Only a bad key has the parameter files read, to name the file that holds each one
        # (every command's start-up would pay 0.03 s otherwise).
        run_env = getattr(loader, "env", None) or getattr(loader, "default_run_env", "")
        envs = [getattr(loader, "base_env", "base"), run_env]
        try:
            parse_parameters(params or {}, read_parameter_sources(loader.conf_source, envs))
        except ParameterError as error:
            stop = InvalidParametersExit(error)
            print(stop, file=sys.stderr, flush=True)
            raise stop from None
