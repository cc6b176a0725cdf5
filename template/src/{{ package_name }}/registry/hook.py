"""The Kedro hook that registers the model of every successful run in the MLflow model registry.

Registered in settings.py *before* the tracking hook: hooks run last-in-first-out, so this one's
`after_pipeline_run` runs after the tracking hook has closed the run, and finds it FINISHED by
its save version. A failed or interrupted run never reaches `after_pipeline_run`: nothing is
registered.

The first model ever registered becomes champion; later ones become challenger, until the
promotion gate or a person decides. Inside `kedro retrain` (see `deferred_aliases`) no alias
moves at registration: the retrain moves them only once the whole retrain has succeeded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from ..run_outputs import load_as_run, ran_in_workers
from ..tracking.metric_lines import scalar_metrics
from .aliases import CHALLENGER, CHAMPION, alias_version, move_alias
from .registration import (
    RUN_ID_TAG,
    SAVE_VERSION_TAG,
    RegisteredVersion,
    RegistrySettings,
    create_version,
    find_run,
    log_model,
    metric_tags,
    register_model,
    registry_client,
)

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Node, Pipeline

    from ..tracking import MlflowTrackingHook
    from ..tracking.recorder import PendingCall

logger = logging.getLogger(__name__)

AUDIT_LOG = Path("data/09_registry/alias_changes.jsonl")
# Run tags of the tracking hook copied onto the version: data versions, code, environment.
PROVENANCE_TAGS = (
    "kedro.load_versions",
    "kedro.input_digests",
    "kedro.env",
    "kedro.pipelines",
    "git.commit",
    "git.dirty",
    "project.version",
)


# What `register_run_model` imports, loaded by the MLflow writer process ahead of the call
# (skops.io alone takes seconds: it indexes every public type of sklearn, numpy and scipy).
WRITER_PRELOAD = ("mlflow.sklearn", "mlflow.models", "skops.io", __name__)


class _Deferral:
    """What `kedro retrain` learns from the runs it starts: the versions they registered."""

    def __init__(self) -> None:
        self.registered: list[RegisteredVersion] = []


_deferral: _Deferral | None = None


@contextlib.contextmanager
def deferred_aliases() -> Iterator[_Deferral]:
    """Within this block, register without moving any alias; yield what was registered."""
    global _deferral  # noqa: PLW0603 - one retrain per process, and the hook is a singleton
    previous, _deferral = _deferral, _Deferral()
    try:
        yield _deferral
    finally:
        _deferral = previous


def registry_settings(params: Mapping[str, Any]) -> RegistrySettings:
    """Return the validated `model_registry` parameters."""
    return RegistrySettings(**params["model_registry"])


def tracking_settings(context: KedroContext) -> Any:
    """Return the project's TrackingConfig (tracking.yml of the session's environment)."""
    from kedro.config import MissingConfigException

    from ..tracking.config import TrackingConfig

    try:
        conf = context.config_loader["tracking"]
    except (MissingConfigException, KeyError):
        conf = {}
    return TrackingConfig.from_conf((conf or {}).get("tracking") or {})


def registered_model_name(context: KedroContext) -> str:
    """Return the registered model's name (globals.yml `registry.model_name`)."""
    return str(context.config_loader["globals"]["registry"]["model_name"])


class ModelRegistryHook:
    """Register the model a successful `kedro run` saved as a new registry version."""

    def __init__(self, tracking: MlflowTrackingHook | None = None) -> None:
        # Registration runs in the tracking hook's MLflow writer process, which has MLflow
        # imported already (decision 0030); without a tracking hook, in this process.
        self._tracking = tracking
        self._context: KedroContext | None = None
        self._settings: RegistrySettings | None = None
        self._save_version: str | None = None
        self._reset()

    def _reset(self) -> None:
        self._model: Any = None
        self._example_source: Any = None
        self._metrics: dict[str, float] = {}
        self._logging: PendingCall | None = None  # the model being logged by the writer

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Remember the context; champion_model loads from the store runs register in, in the
        run's MLflow writer process when there is one.

        Registry settings are validated when a run saves a model.
        """
        from .dataset import use_registry_uri

        self._context = context
        use_registry_uri(
            tracking_settings(context).store_uri(Path(context.project_path)),
            self._tracking.run_in_writer if self._tracking is not None else None,
        )

    @hook_impl
    def after_catalog_created(self, save_version: str) -> None:
        """Remember the save version the run writes under (the version's provenance)."""
        self._save_version = save_version

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Forget anything a previous session of this process left behind."""
        self._reset()
        self._save_version = self._save_version or run_params["run_id"]
        if self._context is not None:
            self._settings = registry_settings(self._context.params)

    @hook_impl
    def before_node_run(self, node: Node, inputs: dict[str, Any]) -> None:
        """Keep the training frame of the node that makes the model (for the input example)."""
        settings = self._settings
        if settings is None or settings.model_dataset not in node.outputs:
            return
        if self._tracking is not None:  # the writer imports what registering needs meanwhile
            self._tracking.preload_in_writer(*WRITER_PRELOAD)
        import pandas as pd

        for value in inputs.values():
            if isinstance(value, pd.DataFrame):
                self._example_source = value
                return

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        """Keep the saved model and the scalars of the metric datasets."""
        settings = self._settings
        if settings is None:
            return
        if dataset_name == settings.model_dataset:
            self._model = data
            self._start_logging(data, settings)
        prefix = settings.metric_datasets.get(dataset_name)
        if prefix is not None and isinstance(data, Mapping):
            self._metrics.update(scalar_metrics(data, prefix=prefix))

    def _start_logging(self, model: Any, settings: RegistrySettings) -> None:
        """Have the writer log `model` into the run's experiment while the later nodes run.

        Logging (serialising, checking requirements, writing the artefacts) is most of what
        registering costs; done here, only creating the version is left after the last node.
        A run that then fails leaves that LoggedModel (tagged with its save version) and no
        version.
        """
        context, tracking = self._context, self._tracking
        self._logging = None
        if tracking is None or context is None:
            return
        config = tracking_settings(context)
        if not config.enabled:
            return
        self._logging = tracking.start_in_writer(
            log_run_model,
            registry_uri=config.store_uri(Path(context.project_path)),
            experiment_name=config.experiment_name,
            save_version=str(self._save_version),
            model=model,
            input_example=_input_example(model, self._example_source, settings.input_example_rows),
            settings=settings,
        )

    def _keep_saved_in_workers(self, pipeline: Pipeline, catalog: CatalogProtocol) -> None:
        """Replay, for this hook, the model node and the saves that ran in ParallelRunner's
        workers, whose copies of it kept them there: with the data read back (run_outputs.py)."""
        settings = self._settings
        if settings is None:
            return
        kept = {settings.model_dataset, *settings.metric_datasets}
        for node in pipeline.nodes:
            if settings.model_dataset in node.outputs:
                inputs = {name: load_as_run(catalog, pipeline, name) for name in node.inputs}
                self.before_node_run(node, inputs)
            for name in kept & set(node.outputs):
                self.after_dataset_saved(name, load_as_run(catalog, pipeline, name))

    @hook_impl
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        """Register the run's model (only reached when every node succeeded)."""
        if ran_in_workers(catalog):
            self._keep_saved_in_workers(pipeline, catalog)
        model, context, settings = self._model, self._context, self._settings
        metrics, example_source = self._metrics, self._example_source
        logging_call = self._logging
        self._reset()
        if model is None or context is None or settings is None:
            return
        tracking = tracking_settings(context)
        if not tracking.enabled:
            logger.info("Tracking is disabled: the model is not registered in MLflow.")
            return
        project_path = Path(context.project_path)
        arguments = {
            "registry_uri": tracking.store_uri(project_path),
            "experiment_name": tracking.experiment_name,
            "name": registered_model_name(context),
            "save_version": self._save_version or run_params["run_id"],
            "kedro_run_id": run_params["run_id"],
            "metrics": metrics,
            "settings": settings,
            "audit_log": project_path / AUDIT_LOG,
            "move_aliases": _deferral is None,
        }
        model_uri = _logged_model_uri(logging_call)
        if model_uri is not None:  # logged during the run: only the version is left to create
            arguments.update(model=None, input_example=None, model_uri=model_uri)
        else:  # the registration logs the model itself
            rows = settings.input_example_rows
            arguments.update(model=model, input_example=_input_example(model, example_source, rows))
        if self._tracking is not None:
            registered = self._tracking.run_in_writer(register_run_model, **arguments)
        else:
            registered = register_run_model(**arguments)
        if _deferral is not None:
            _deferral.registered.append(registered)


def register_run_model(
    *,
    registry_uri: str,
    experiment_name: str,
    name: str,
    save_version: str,
    kedro_run_id: str,
    model: Any,
    input_example: Any,
    metrics: Mapping[str, float],
    settings: RegistrySettings,
    audit_log: Path,
    move_aliases: bool,
    model_uri: str | None = None,
) -> RegisteredVersion:
    """Return the new registry version of a run's model (champion if first, else challenger).

    Kedro-free, with picklable arguments: it runs in the MLflow writer process. With
    `model_uri` (the model `log_run_model` logged during the run) it only creates the version;
    otherwise it logs `model` first.
    """
    client = registry_client(registry_uri)
    run_id = find_run(client, experiment_name, save_version)
    tags = {SAVE_VERSION_TAG: save_version, RUN_ID_TAG: kedro_run_id}
    if run_id is not None:
        run_tags = client.get_run(run_id).data.tags
        tags.update({key: run_tags[key] for key in PROVENANCE_TAGS if key in run_tags})
    tags.update(metric_tags(metrics))
    if model_uri is not None:
        registered = create_version(registry_uri, name, model_uri, run_id=run_id, tags=tags)
    else:
        registered = register_model(
            registry_uri, name, model, input_example, run_id=run_id, tags=tags, settings=settings
        )
    if not move_aliases:
        return registered
    if alias_version(client, name, CHAMPION) is None:
        move_alias(
            client, name, CHAMPION, registered.version, kind="first_model",
            reason="the first model registered becomes champion", audit_log=audit_log,
        )  # fmt: skip
    else:
        move_alias(
            client, name, CHALLENGER, registered.version, kind="registered",
            reason="newly trained: challenger until promoted (`kedro model promote`)",
            audit_log=audit_log,
        )  # fmt: skip
    return registered


def log_run_model(
    *,
    registry_uri: str,
    experiment_name: str,
    save_version: str,
    model: Any,
    input_example: Any,
    settings: RegistrySettings,
) -> str:
    """Return the URI of `model` logged into the experiment of the open run of `save_version`.

    Kedro-free, with picklable arguments: it runs in the MLflow writer process, after the
    request that opened the run. The LoggedModel carries the save version as a tag, so one
    left by a run that then failed (no version points to it) can be traced to that run.
    """
    client = registry_client(registry_uri)
    run_id = find_run(client, experiment_name, save_version)
    if run_id is None:
        raise RuntimeError(f"no MLflow run of save version {save_version!r} to log the model for")
    tags = {SAVE_VERSION_TAG: save_version}
    return log_model(
        registry_uri, model, input_example, run_id=run_id, settings=settings, tags=tags
    )


def _logged_model_uri(call: PendingCall | None) -> str | None:
    """Return the URI of the model the writer logged during the run, or None (log it now)."""
    if call is None:
        return None
    answer = call.answer()
    if answer is None:
        return None  # the writer process ended: the registration logs the model itself
    ok, value = answer
    if not ok:
        logger.warning("Logging the model during the run failed (%s): logging it again", value)
        return None
    return str(value)


def _input_example(model: Any, frame: Any, rows: int) -> Any:
    """Return the first rows of the model's input columns, or None when they are unknown."""
    from ..core.features import trained_columns

    columns = trained_columns(model)
    if frame is None or columns is None:
        return None
    return frame[columns].head(rows).reset_index(drop=True)
