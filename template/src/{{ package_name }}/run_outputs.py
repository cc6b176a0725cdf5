"""What a run saved, read back from its catalog by the hooks of the run's own process.

Under which version a dataset of the run was saved (`save_version`), where it went
(`saved_location`: the run summary, the monitoring alerts), and the data itself (`load_as_run`).

The last matters under ParallelRunner. It runs each node, and the node and dataset hooks around
it, in a worker process on copies of the hooks: the hooks of the run's own process see the
pipeline start and end, and nothing in between. A hook that needs what the nodes saved (the
MLflow run's metrics and files, the model to register, the run summary, the monitoring verdict)
reads it back after the pipeline: the run succeeded, so every node ran and every output was
saved under the run's save version. Kedro gives such a run the catalog its workers share, a
`SharedMemoryDataCatalog`, and the workers get copies of it: the hooks tell by the catalog, on
either side, that the nodes run in workers (`ran_in_workers`). A hook in a worker leaves to the
run's process what that process does at the end, so that nothing is done twice.
"""

from __future__ import annotations

from pathlib import Path
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


def saved_location(catalog: CatalogProtocol, name: str) -> str | None:
    """Return where this run saved dataset `name`, its version's folder included: a local path,
    or a URL with its scheme (`s3://bucket/key`); None for a dataset without a file."""
    dataset = catalog.get(name) if name in catalog else None
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None:
        return None  # a MemoryDataset, or another dataset without a file
    version = save_version(catalog, name)
    if version is not None:
        filepath = dataset._get_versioned_path(version)
    protocol = getattr(dataset, "_protocol", "file")
    if protocol in {"file", "local"}:
        return str(Path(str(filepath)))
    return f"{protocol}://{filepath}"


def load_as_run(catalog: CatalogProtocol, pipeline: Pipeline, name: str) -> Any:
    """Return dataset `name` as the run had it: what it saved, for one of its outputs (under its
    save version), otherwise what it loaded (the version Kedro resolved or pinned for the run)."""
    if name in pipeline.all_outputs():
        return catalog.load(name, version=save_version(catalog, name))
    return catalog.load(name)
