"""A Kedro dataset that saves matplotlib figures (PNG), importing matplotlib only when it saves."""

from __future__ import annotations

import base64
import os
import warnings
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any, NoReturn

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)


class FigureDataset(AbstractVersionedDataset[Any, NoReturn]):
    """Saves a figure, a list or a dict of figures exactly as kedro-datasets' MatplotlibDataset.

    Kedro builds every dataset of the pipeline before the first node runs, and
    `kedro_datasets.matplotlib` imports `matplotlib.pyplot` when its module loads: half a second of
    every `kedro run`, even one that draws no figure. This class takes the same arguments and
    keeps the same files, versions and fsspec filesystem (which the tracking hook and
    `kedro versions` read), and hands each save to a MatplotlibDataset built for that save's
    version, so kedro-datasets still writes the files.
    """

    def __init__(
        self,
        *,
        filepath: str | os.PathLike,
        fs_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        version: Version | None = None,
        overwrite: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        own_fs_args = deepcopy(fs_args) or {}
        own_fs_args.pop("open_args_save", None)
        if protocol == "file":
            own_fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        # The same arguments give the same (cached) filesystem instance as the one that saves.
        self._fs = fsspec.filesystem(protocol, **(deepcopy(credentials) or {}), **own_fs_args)
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )
        if overwrite and version is not None:
            # MatplotlibDataset's rule and message: a versioned path never exists before a save.
            warnings.warn(
                "Setting 'overwrite=True' is ineffective if versioning is enabled, since the "
                "versioned path must not already exist; overriding flag with 'overwrite=False' "
                "instead.",
                stacklevel=2,
            )
            overwrite = False
        self._saver_args = {
            "filepath": str(filepath),
            "fs_args": fs_args,
            "credentials": credentials,
            "save_args": save_args,
            "overwrite": overwrite,
            "metadata": metadata,
        }

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "save_args": self._saver_args["save_args"] or {},
            "version": self._version,
        }

    def load(self) -> NoReturn:
        """Raise: figures are written, never read back."""
        raise DatasetError(f"Loading not supported for '{self.__class__.__name__}'")

    def save(self, data: Any) -> None:
        """Write `data` (a Figure, a list or a dict of them) at this run's save version."""
        from kedro_datasets.matplotlib import MatplotlibDataset

        # The save version this dataset resolved (the session's, as for every versioned
        # dataset); the load side is left to this dataset's own consistency check.
        version = None if self._version is None else Version(None, self.resolve_save_version())
        MatplotlibDataset(version=version, **self._saver_args).save(data)
        self._invalidate_cache()

    def _exists(self) -> bool:
        return self._fs.exists(get_filepath_str(self._get_load_path(), self._protocol))

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    def preview(self) -> str:
        """Return the saved PNG, base64-encoded (what Kedro-Viz shows for a figure dataset)."""
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, mode="rb") as image:
            return base64.b64encode(image.read()).decode("utf-8")
