"""Runs are atomic for readers: unpinned loads see only versions from runs that completed.

Before the first node, every versioned dataset the pipeline reads but does not write (and that
`--load-versions` does not pin) is pinned to its newest version with a run manifest
(run_manifest.py), instead of Kedro's newest folder. After the last output is saved, the hook
writes the run's manifest. A run that fails or is stopped keeps its partial outputs for inspection;
`kedro versions list` marks them INCOMPLETE and the next run skips them, naming them in the log.

Within a SageMaker Pipeline step (`execution_step`), the run writes a part of the execution's
manifest instead; the promotion gate completes the execution (run_manifest.merge_step_parts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from .catalog_config_hook import CatalogConfigHook
from .dataset_versions import locate, versioned_dataset_names
from .run_manifest import (
    MANIFEST_DATASET,
    complete_versions,
    new_manifest,
    newest_complete,
    write_manifest,
    write_step_part,
)

logger = logging.getLogger(__name__)

# The SageMaker Pipeline step this run is part of (None: a run of its own).
_EXECUTION_STEP: ContextVar[str | None] = ContextVar("execution_step", default=None)


@contextmanager
def execution_step(name: str) -> Iterator[None]:
    """Within this block, runs are step `name` of an execution: they write a manifest part."""
    token = _EXECUTION_STEP.set(name)
    try:
        yield
    finally:
        _EXECUTION_STEP.reset(token)


def _pin_load_version(catalog: Any, name: str, version: str) -> None:
    """Make `catalog`'s dataset `name` load `version`, as `--load-versions name:version` would."""
    from kedro.io.core import Version

    dataset = catalog[name]
    current = getattr(dataset, "_version", None)
    if current is None:  # not a versioned dataset after all
        return
    # Kedro keeps the requested versions in the dataset's Version; replacing it (and its cache)
    # is exactly what the catalog does with --load-versions at creation.
    dataset._version = Version(version, current.save)
    dataset._clear_version_cache()


class RunManifestHook(CatalogConfigHook):
    """Pin unpinned versioned inputs to the newest complete run; write the manifest last."""

    def __init__(self) -> None:
        super().__init__()
        self._saved: set[str] = set()

    def _enabled(self) -> bool:
        if MANIFEST_DATASET in versioned_dataset_names(self._conf_catalog):
            return True
        if MANIFEST_DATASET in self._conf_catalog:  # switched off on purpose (conf/sagemaker)
            return False
        logger.warning(
            "No versioned '%s' entry in the catalog: runs are not marked complete and unpinned "
            "loads take Kedro's newest version, even from a failed run (docs/s3-versioning.md).",
            MANIFEST_DATASET,
        )
        return False

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        """Pin each versioned input the run does not write to its newest complete version."""
        self._saved = set()
        if not self._enabled():
            return
        from .dataset_versions import list_versions

        project_path = Path(run_params.get("project_path") or ".")
        env = run_params.get("env")
        versioned = set(versioned_dataset_names(self._conf_catalog)) - {MANIFEST_DATASET}
        readers = sorted((set(pipeline.inputs()) & versioned) - set(self._load_versions))
        if not readers:
            return
        manifests = locate(MANIFEST_DATASET, self._conf_catalog, self._conf_creds, project_path)
        complete = complete_versions(manifests)
        for name in readers:
            location = locate(name, self._conf_catalog, self._conf_creds, project_path)
            resolution = newest_complete(name, list_versions(location), complete, env)
            if resolution is None:  # no versions at all: Kedro's own error names the dataset
                continue
            if resolution.skipped_incomplete:
                logger.warning(
                    "'%s': skipping %d newer version(s) from runs that did not complete (%s); "
                    "loading %s, the newest complete one.",
                    name,
                    len(resolution.skipped_incomplete),
                    ", ".join(resolution.skipped_incomplete),
                    resolution.version,
                )
            _pin_load_version(catalog, name, resolution.version)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        """Remember every dataset the run saved."""
        self._saved.add(dataset_name)

    def _versioned_outputs(self, pipeline: Any) -> set[str]:
        versioned = set(versioned_dataset_names(self._conf_catalog)) - {MANIFEST_DATASET}
        return set(pipeline.all_outputs()) & versioned

    def _write(
        self, run_params: Mapping[str, Any], pipeline: Any, error: BaseException | None
    ) -> None:
        # Every versioned output of the pipeline: a completed run saved them all (this also holds
        # under ParallelRunner, whose dataset hooks run in the worker processes).
        manifest = new_manifest(
            str(self._save_version),
            "run",
            self._versioned_outputs(pipeline),
            pipeline=run_params.get("pipeline_name") or "__default__",
            env=run_params.get("env"),
            run_id=run_params.get("run_id") or run_params.get("session_id"),
            error_after_outputs=f"{type(error).__name__}: {error}" if error else None,
        )
        project_path = Path(run_params.get("project_path") or ".")
        location = locate(MANIFEST_DATASET, self._conf_catalog, self._conf_creds, project_path)
        step = _EXECUTION_STEP.get()
        if step is not None:
            url = write_step_part(location, step, manifest)
            logger.info("Step %s of run %s complete: manifest part %s", step, manifest.version, url)
            return
        url = write_manifest(location, manifest)
        logger.info("Run %s complete: manifest %s", manifest.version, url)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        """Write the run's manifest: every output is saved, so the run's versions are complete."""
        if self._save_version and self._enabled():
            self._write(run_params, pipeline, None)

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Any
    ) -> None:
        """Mark the run complete if it raised after saving every output; else say what is left."""
        if not (self._save_version and self._enabled()):
            return
        unsaved = sorted(self._versioned_outputs(pipeline) - self._saved)
        if not unsaved:
            # e.g. a failing monitoring verdict: raised on purpose after every report was saved.
            self._write(run_params, pipeline, error)
            return
        logger.error(
            "Run %s did not complete (%s not saved): the outputs it saved stay in version %s for "
            "inspection, marked INCOMPLETE by `kedro versions list`; unpinned loads skip them.",
            self._save_version,
            ", ".join(unsaved),
            self._save_version,
        )
