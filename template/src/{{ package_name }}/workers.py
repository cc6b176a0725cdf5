"""What the nodes that ParallelRunner ran in its worker processes did, for the run's own hooks.

ParallelRunner runs each node, and the node and dataset hooks around it, in a worker process on
copies of the hooks. The hooks of the run's own process see the pipeline start and end, and
nothing in between: no node run, no dataset saved. A hook that needs what the nodes saved (the
MLflow run's metrics and files, the model to register, the run summary, the monitoring verdict)
learns it after the pipeline from the run's catalog: the run succeeded, so every node ran and
every output was saved under the run's save version.

Kedro gives such a run the catalog its workers share, a `SharedMemoryDataCatalog`, and the
workers get copies of it: the hooks tell by the catalog, on either side, that the nodes run
elsewhere. A hook in a worker leaves to the run's process what that process does at the end,
so that nothing is done twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kedro.io import AbstractVersionedDataset, SharedMemoryDataCatalog

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline


def ran_in_workers(catalog: CatalogProtocol) -> bool:
    """Return True when the run's nodes run in ParallelRunner's worker processes."""
    return isinstance(catalog, SharedMemoryDataCatalog)


def save_version(catalog: CatalogProtocol, name: str) -> str | None:
    """Return the version this run saves a versioned dataset under (None: not versioned)."""
    dataset = catalog.get(name) if name in catalog else None
    if isinstance(dataset, AbstractVersionedDataset) and getattr(dataset, "_version", None):
        return str(dataset.resolve_save_version())
    return None


def load_as_run(catalog: CatalogProtocol, pipeline: Pipeline, name: str) -> Any:
    """Return dataset `name` as the run had it: what it saved, for one of its outputs (under its
    save version), otherwise what it loaded (the version Kedro resolved or pinned for the run)."""
    if name in pipeline.all_outputs():
        return catalog.load(name, version=save_version(catalog, name))
    return catalog.load(name)
