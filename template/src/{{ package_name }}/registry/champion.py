"""The model in service: the one way scoring, monitoring and retraining load "the champion".

The MLflow model registry holds every trained model as a version of one registered model named
after the project; the alias ``champion`` marks the version in service and ``challenger`` the
newest candidate. Consumers call :func:`load_champion` and never resolve aliases themselves, so
the rule for "which model is live" has one home.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click

CHAMPION = "champion"
CHALLENGER = "challenger"


class NoChampionError(LookupError):
    """Raised when the registry has no champion for the model (nothing trained or promoted)."""


class ModelFeaturesError(click.ClickException):
    """Raised when a model is judged on tables built from features it was not trained on.

    A ClickException: `kedro` prints its message as one line and exits 1, with no traceback;
    the run still fails like any other (tracked FAILED, never complete).
    """


def require_trained_on(model: Any, columns: Sequence[str], described_as: str) -> None:
    """Raise ModelFeaturesError unless the model was fitted on exactly the set of `columns`.

    `described_as` names the model in the message, e.g. "the champion (churn version 3)".
    """
    from ..core.features import trained_columns

    trained = trained_columns(model)
    if trained is None or set(trained) == set(columns):
        return
    not_trained = [column for column in columns if column not in trained]
    not_wanted = [column for column in trained if column not in columns]
    raise ModelFeaturesError(
        f"{described_as} was trained on column(s) {trained}, but parameters `features` name "
        f"{list(columns)} (not in the model: {not_trained}; not in the parameters: "
        f"{not_wanted}). Train a model on the current features (`kedro run`) and make it the "
        "champion (`kedro model list`, then `kedro model promote <version>`), or set `features` "
        "back to the model's columns."
    )


@dataclass(frozen=True)
class ServedModel:
    """A model loaded from the registry, with the name and version that identify it."""

    model: Any
    name: str
    version: str
    alias: str
    run_id: str | None


def redact_uri(uri: str) -> str:
    """Return `uri` without any user name or password (safe to print)."""
    parts = urlsplit(uri)
    if not parts.username and not parts.password:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def load_model_by_alias(registry_uri: str, model_name: str, alias: str) -> ServedModel:
    """Return the registered model version that `alias` points to, loaded as a Python object."""
    from mlflow.exceptions import MlflowException

    from .registration import load_version, registry_client

    client = registry_client(registry_uri)
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException as error:
        raise NoChampionError(
            f"the registry at {redact_uri(registry_uri)} has no {alias!r} version of model "
            f"{model_name!r}: train one first (`kedro run`)"
        ) from error
    model = load_version(registry_uri, model_name, str(version.version))
    return ServedModel(model, model_name, str(version.version), alias, version.run_id)


def load_champion(registry_uri: str, model_name: str) -> ServedModel:
    """Return the champion of `model_name` (raises NoChampionError when there is none)."""
    return load_model_by_alias(registry_uri, model_name, CHAMPION)
