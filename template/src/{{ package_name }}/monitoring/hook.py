"""The Kedro hook that delivers the monitoring verdict and ends the run with its exit status.

Before a node that judges the model in service, it checks that the model was trained on the
parameters' features (`ModelFeaturesError`: one line, the version, both column sets, the way out).

After the `decide_monitoring_verdict` node (which runs once every report is saved), the hook
sends the verdict to the enabled channels (alerting.channels) with the credentials of the run's
environment. Under ParallelRunner that node runs in a worker process, whose hooks are copies that
the run's own process never hears from: there the hook leaves the node alone and delivers after
the pipeline instead, from the run's catalog. After the pipeline, once every other hook has
finished (MLflow closes its run), it prints a short summary and exits with the verdict's status:
a failing verdict is an expected outcome, so it ends with `MonitoringVerdictExit` (a
`SystemExit`: status 1) and no traceback.

Settings import this module for every command, so the monitoring code is imported only when a
verdict is delivered.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset

from ..core.monitoring.verdict_exit import MonitoringVerdictExit
from ..run_outputs import load_as_run, ran_in_workers, saved_location

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

VERDICT_OUTPUT = "monitoring_verdict"
REPORT_INPUT = "monitoring_report"
ALERTING_PARAMS = "params:monitoring.alerting"
__all__ = ["MonitoringAlertHook", "MonitoringVerdictExit"]


class MonitoringAlertHook:
    """Deliver the monitoring verdict to its channels; exit with its status at the end."""

    def __init__(self) -> None:
        self._context: KedroContext | None = None
        self._summary: str | None = None
        self._status = 0

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Keep the context: its config loader holds the credentials of the run's environment."""
        self._context = context
        self._summary, self._status = None, 0

    @hook_impl
    def before_node_run(self, inputs: dict[str, Any]) -> None:
        """Refuse, before it runs, a node that would judge a model on tables of other features.

        Monitoring scores the model in service on tables prepared with the parameters' features;
        a champion trained on other columns (the data or the features changed, the new model was
        not promoted yet) cannot be judged there, and the error says so instead of a KeyError.
        """
        features = inputs.get("params:features")
        if features is None:
            return
        from .model_source import MonitoredModel

        judged = [value for value in inputs.values() if isinstance(value, MonitoredModel)]
        if not judged:
            return
        from ..core.features import model_columns
        from ..registry.champion import require_trained_on

        for monitored in judged:
            if monitored.source == "champion":
                described_as = f"the champion ({monitored.name} version {monitored.version})"
            else:
                described_as = (
                    f"the newest trained model (dataset `{monitored.name}`, "
                    f"version {monitored.version})"
                )
            require_trained_on(monitored.model, model_columns(features), described_as)

    @hook_impl
    def after_node_run(
        self, catalog: CatalogProtocol, inputs: dict[str, Any], outputs: dict[str, Any]
    ) -> None:
        """Send the verdict when the node that decides it has run, unless it ran in a worker."""
        if VERDICT_OUTPUT not in outputs or ran_in_workers(catalog):
            return
        self._deliver(
            catalog, inputs[REPORT_INPUT], outputs[VERDICT_OUTPUT], inputs[ALERTING_PARAMS]
        )

    @hook_impl(trylast=True)
    def after_pipeline_run(self, pipeline: Pipeline, catalog: CatalogProtocol) -> None:
        """Print the verdict summary; exit non-zero when the verdict reaches the exit level.

        A verdict that a ParallelRunner worker decided is delivered now (run_outputs.py): this run's
        saved report, the verdict the worker handed back, the run's parameters.
        """
        if ran_in_workers(catalog) and VERDICT_OUTPUT in pipeline.all_outputs():
            self._deliver(
                catalog,
                load_as_run(catalog, pipeline, REPORT_INPUT),
                load_as_run(catalog, pipeline, VERDICT_OUTPUT),
                load_as_run(catalog, pipeline, ALERTING_PARAMS),
            )
        if self._summary is None:
            return
        summary, status = self._summary, self._status
        self._summary, self._status = None, 0
        print(summary, file=sys.stderr, flush=True)
        if status:
            raise MonitoringVerdictExit(status, summary)

    def _deliver(
        self,
        catalog: CatalogProtocol,
        report_data: dict[str, Any],
        verdict_data: dict[str, Any],
        alerting_params: dict[str, Any],
    ) -> None:
        """Send the verdict to its channels; keep the summary and status for the pipeline's end."""
        from ..core.monitoring.results import MonitoringReport, MonitoringVerdict
        from .alerting.channels import deliver
        from .alerting.settings import AlertingSettings
        from .alerting.verdict import Verdict, verdict_summary

        report = MonitoringReport.from_dict(report_data)
        decided = MonitoringVerdict.from_dict(verdict_data)
        settings = AlertingSettings.from_params(alerting_params)
        verdict = Verdict(
            report=report,
            project=self._project_name(),
            environment=settings.environment,
            model_version=_load_version(catalog, "model"),
            report_html=saved_location(catalog, "monitoring_report_html"),
            report_json=saved_location(catalog, REPORT_INPUT),
        )
        results = deliver(verdict, settings, self._credentials())
        # The node decided the status; the hook only applies it, after the other hooks.
        self._status = decided.exit_status
        self._summary = verdict_summary(verdict, results, self._status, settings.exit_nonzero_on)

    def _project_name(self) -> str:
        return self._context._package_name if self._context else __name__.split(".")[0]

    def _credentials(self) -> dict[str, Any]:
        from kedro.config import MissingConfigException

        if self._context is None:
            return {}
        try:
            return dict(self._context.config_loader["credentials"] or {})
        except MissingConfigException:  # no credentials file: the environment may hold the keys
            return {}


def _load_version(catalog: CatalogProtocol, name: str) -> str:
    """Return the version a versioned dataset loads in this run, else "unversioned"."""
    dataset = catalog.get(name) if name in catalog else None
    if isinstance(dataset, AbstractVersionedDataset) and getattr(dataset, "_version", None):
        try:
            return str(dataset.resolve_load_version())
        except Exception:  # no saved version yet: the run's own load said so already
            return "unknown"
    return "unversioned"
