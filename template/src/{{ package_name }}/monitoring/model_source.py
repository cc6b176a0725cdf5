"""The model that monitoring judges: the registry's champion, else the newest trained model.

Catalog entry `monitored_model`: it loads the `champion_model` entry's dataset and, only when the
registry has no champion (nothing registered yet, or tracking disabled), the newest version of
the Kedro `model` dataset, and says which one it took, so the report never leaves it implicit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kedro.io import AbstractDataset, DatasetError


@dataclass(frozen=True)
class MonitoredModel:
    """The model monitoring scores with, and where it came from."""

    model: Any
    # "champion" (the registry's) or "newest_model" (the Kedro model dataset, as a fallback).
    source: str
    name: str
    version: str | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Return where the model came from (without the model), JSON-ready."""
        return {
            "source": self.source,
            "name": self.name,
            "version": self.version,
            "note": self.note,
        }


class ModelInServiceDataset(AbstractDataset[Any, MonitoredModel]):
    """Loads the champion (`champion` config), else the newest model (`fallback`); read-only.

    The first load is kept for the dataset's life (one run's catalog): every node of a run judges
    the same model, even if a promotion moves the champion while the run is going, and the
    registry is read once instead of once per node (each read costs a second or two).
    """

    def __init__(self, champion: dict[str, Any], fallback: dict[str, Any]) -> None:
        self._champion = AbstractDataset.from_config("champion_model", dict(champion))
        self._fallback = AbstractDataset.from_config("model", dict(fallback))
        self._loaded: MonitoredModel | None = None

    def load(self) -> MonitoredModel:
        """Return the champion, or the newest trained model with a note saying why."""
        if self._loaded is None:
            self._loaded = self._load_once()
        return self._loaded

    def _load_once(self) -> MonitoredModel:
        try:
            served = self._champion.load()
        except DatasetError as error:
            model = self._fallback.load()
            version = getattr(self._fallback, "resolve_load_version", lambda: None)()
            return MonitoredModel(
                model=model,
                source="newest_model",
                name="model",
                version=version,
                note=(
                    f"no champion in the registry ({error}); monitored the newest trained "
                    f"model (Kedro dataset `model`, version {version}) instead"
                ),
            )
        return MonitoredModel(
            model=served.model,
            source="champion",
            name=served.name,
            version=str(served.version),
            note=f"the registry's champion: {served.name} version {served.version}",
        )

    def save(self, data: Any) -> None:
        """Refuse: the model in service changes through training and promotion only."""
        raise DatasetError("monitored_model is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"champion": self._champion._describe(), "fallback": self._fallback._describe()}
