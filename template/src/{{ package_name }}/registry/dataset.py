"""A read-only Kedro dataset that loads the registry's champion (catalog entry `champion_model`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from .champion import NoChampionError, ServedModel, load_champion, redact_uri

LOCAL_STORE = "mlflow.db"

# Runs a function in the MLflow writer process of the run in progress, or here when there is
# none (MlflowTrackingHook.run_in_writer).
RunInWriter = Callable[..., Any]

# The store tracking.yml names for the newest Kedro context of this process, and how to reach
# the writer process of its run (the registry hook sets both when a context is created), so the
# catalog needs no second copy of the tracking URI.
_CONTEXT_REGISTRY: dict[str, Any] = {"uri": None, "run_in_writer": None}


def use_registry_uri(uri: str | None, run_in_writer: RunInWriter | None = None) -> None:
    """Make `uri` the registry of every ChampionModelDataset that names none (None: forget it),
    loaded through `run_in_writer` during a tracked run."""
    _CONTEXT_REGISTRY["uri"] = uri
    _CONTEXT_REGISTRY["run_in_writer"] = run_in_writer


def load_served_model(registry_uri: str, model_name: str) -> ServedModel:
    """Return the champion, loaded in the run's MLflow writer process when there is one.

    The writer has MLflow imported already (decision 0030); loading here would import it in
    this process too, about 3 s of CPU for a monitoring or scoring run. The model comes back
    pickled over the writer's pipe, which joins two processes of this project only.
    """
    run_in_writer = _CONTEXT_REGISTRY["run_in_writer"]
    if run_in_writer is None:  # no tracking hook in this process
        return load_champion(registry_uri, model_name)
    return run_in_writer(load_champion, registry_uri=registry_uri, model_name=model_name)


def default_registry_uri(environ: dict[str, str] | None = None, start: Path | None = None) -> str:
    """Return $MLFLOW_TRACKING_URI, else the project's embedded SQLite store (mlflow.db)."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get("MLFLOW_TRACKING_URI"):
        return environ["MLFLOW_TRACKING_URI"]
    from kedro.utils import find_kedro_project

    root = find_kedro_project(start or Path.cwd()) or Path.cwd()
    return f"sqlite:///{(root / LOCAL_STORE).resolve().as_posix()}"


class ChampionModelDataset(AbstractDataset[None, ServedModel]):
    """Loads the champion version of a registered model as a `ServedModel`; saving is refused."""

    def __init__(self, model_name: str, registry_uri: str | None = None) -> None:
        self._model_name = model_name
        self._registry_uri = registry_uri

    def _uri(self) -> str:
        # The catalog's own URI, else tracking.yml's store (where runs register their models),
        # else $MLFLOW_TRACKING_URI or the project's SQLite store.
        return self._registry_uri or _CONTEXT_REGISTRY["uri"] or default_registry_uri()

    def load(self) -> ServedModel:
        """Return the champion, or raise a DatasetError that says how to get one."""
        try:
            return load_served_model(self._uri(), self._model_name)
        except NoChampionError as error:
            raise DatasetError(str(error)) from None

    def save(self, data: None) -> None:
        """Refuse: the champion changes only through promotion (`kedro model promote`)."""
        raise DatasetError("champion_model is read-only: promote a version to change it")

    def _exists(self) -> bool:
        try:
            self.load()
        except DatasetError:
            return False
        return True

    def _describe(self) -> dict[str, Any]:
        uri = self._registry_uri
        return {"model_name": self._model_name, "registry_uri": redact_uri(uri) if uri else None}
