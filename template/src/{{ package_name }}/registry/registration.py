"""Registering a trained model as a new version of the project's registered model (Kedro-free).

A version carries what is needed to trust and reproduce it: the Kedro save version its files
were written under, the data versions it was trained on, the git commit, and its evaluation
metrics (tags `metric.<name>`). Which alias it gets is decided elsewhere (aliases.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from ..core.parameters import RegistrySettings
from ..tracking.store_seed import seed_new_store

logger = logging.getLogger(__name__)

# The artefact folder of the logged model (MLflow 3 calls it the model's name).
MODEL_ARTIFACT = "model"
METRIC_TAG_PREFIX = "metric."
SAVE_VERSION_TAG = "kedro.save_version"
RUN_ID_TAG = "kedro.run_id"


@dataclass(frozen=True)
class RegisteredVersion:
    """A model version just created in the registry."""

    name: str
    version: str
    run_id: str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Return the version as plain JSON-ready data."""
        return asdict(self)


def registry_client(registry_uri: str) -> Any:
    """Return an MlflowClient whose tracking and registry stores are both `registry_uri`."""
    from mlflow import MlflowClient

    seed_new_store(registry_uri)
    return MlflowClient(tracking_uri=registry_uri, registry_uri=registry_uri)


def metric_tags(metrics: Mapping[str, float]) -> dict[str, str]:
    """Return `metric.<name>` tags with the values in full precision."""
    return {f"{METRIC_TAG_PREFIX}{name}": repr(float(value)) for name, value in metrics.items()}


def tagged_metrics(tags: Mapping[str, str]) -> dict[str, float]:
    """Return the metrics a version's `metric.<name>` tags hold (the inverse of metric_tags)."""
    return {
        key.removeprefix(METRIC_TAG_PREFIX): float(value)
        for key, value in tags.items()
        if key.startswith(METRIC_TAG_PREFIX)
    }


def pip_requirements(settings: RegistrySettings) -> list[str]:
    """Return the pinned packages that load the model (saves MLflow a slow inference pass)."""
    names = ["scikit-learn", "numpy", "pandas"]
    names.append("skops" if settings.serialization_format == "skops" else "cloudpickle")
    return [f"{name}=={metadata.version(name)}" for name in names]


def find_run(client: Any, experiment_name: str, save_version: str) -> str | None:
    """Return the id of the MLflow run that recorded Kedro save version `save_version`."""
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{SAVE_VERSION_TAG}` = '{save_version}'",
        max_results=1,
    )
    return found[0].info.run_id if found else None


def ensure_registered_model(client: Any, name: str) -> None:
    """Create the registered model `name` unless it exists (a concurrent creation is fine)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(
                name, description="Every successful training run of this project, one version each."
            )
        except MlflowException:
            client.get_registered_model(name)  # created meanwhile; anything else raises here


@contextlib.contextmanager
def using_store(uri: str, experiment_id: str | None = None) -> Iterator[None]:
    """Point MLflow's fluent API (tracking, registry, experiment) at `uri` within the block.

    MLflow keeps these as module globals and mirrors them in environment variables; both are
    put back exactly afterwards, so nothing leaks into later sessions of the same process
    (the tracking settings read MLFLOW_TRACKING_URI).
    """
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")
    environment = {name: os.environ.get(name) for name in names}
    uris = tracking_utils._tracking_uri, registry_utils._registry_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment_id is not None:
        os.environ["MLFLOW_EXPERIMENT_ID"] = experiment_id
    try:
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = uris
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_version(registry_uri: str, model_name: str, version: str) -> Any:
    """Return version `version` of `model_name` loaded as a Python object."""
    import mlflow.sklearn

    with using_store(registry_uri):
        return mlflow.sklearn.load_model(f"models:/{model_name}/{version}")


@contextlib.contextmanager
def _quiet_pip_lookup() -> Iterator[None]:
    """Silence MLflow's "Failed to resolve installed pip version" while logging a model.

    uv's virtual environments have no pip; the requirements are pinned (`pip_requirements`), so
    the conda.yaml's unversioned pip line is harmless and the warning is noise in every run.
    """
    environment_logger = logging.getLogger("mlflow.utils.environment")
    level = environment_logger.level
    environment_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        environment_logger.setLevel(level)


def register_model(
    registry_uri: str,
    model_name: str,
    model: Any,
    input_example: Any,
    *,
    run_id: str | None,
    tags: Mapping[str, str],
    settings: RegistrySettings,
) -> RegisteredVersion:
    """Return the new version of `model_name` holding `model`, logged with signature and example.

    The model is logged as an MLflow LoggedModel in the run's experiment and the version links
    to the run by `run_id`, so the run is not reopened (its status and end time stay as the
    run left them).
    """
    model_uri = log_model(registry_uri, model, input_example, run_id=run_id, settings=settings)
    return create_version(registry_uri, model_name, model_uri, run_id=run_id, tags=tags)


def log_model(
    registry_uri: str,
    model: Any,
    input_example: Any,
    *,
    run_id: str | None,
    settings: RegistrySettings,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Return the `models:/m-...` URI of `model` logged with its signature and input example.

    The LoggedModel goes into run `run_id`'s experiment, with `tags`, but is not linked to the
    run (no `run_id=`; nothing here starts a fluent run MLflow could link it to): MLflow would
    list a linked model's files among the run's own artefacts under its name, `model`, which is
    also the Kedro model dataset's folder, and resolve them through the default store. The
    version links the run by run id instead (`create_version`).
    """
    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = None
    if input_example is not None:
        signature = infer_signature(input_example, model.predict_proba(input_example)[:, 1])
    client = registry_client(registry_uri)
    experiment_id = client.get_run(run_id).info.experiment_id if run_id else None
    with using_store(registry_uri, experiment_id), _quiet_pip_lookup():
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=input_example,
            serialization_format=settings.serialization_format,
            skops_trusted_types=list(settings.skops_trusted_types) or None,
            pip_requirements=pip_requirements(settings),
            tags=dict(tags) if tags else None,
        )
    return str(info.model_uri)


def create_version(
    registry_uri: str,
    model_name: str,
    model_uri: str,
    *,
    run_id: str | None,
    tags: Mapping[str, str],
) -> RegisteredVersion:
    """Return the new version of `model_name` whose source is the logged model `model_uri`."""
    client = registry_client(registry_uri)
    with using_store(registry_uri):
        ensure_registered_model(client, model_name)
        # Inside the block: MLflow resolves the `models:/m-...` source through the fluent store.
        version = client.create_model_version(
            model_name, source=model_uri, run_id=run_id, tags=dict(tags)
        )
    logger.info("Registered %s version %s (run %s)", model_name, version.version, run_id)
    return RegisteredVersion(model_name, str(version.version), run_id, model_uri)
