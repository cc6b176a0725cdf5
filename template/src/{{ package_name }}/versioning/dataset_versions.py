"""Versions of the catalog's versioned datasets, on local disk or S3: list them, upload new ones.

Kedro stores version `<ts>` of a dataset whose filepath is `<root>/<layer>/model.pkl` at
`<root>/<layer>/model.pkl/<ts>/model.pkl`, where `<ts>` is the run's UTC timestamp
(`2026-01-31T09.15.02.123Z`); `kedro run --load-versions model:<ts>` loads that one. On S3 each of
those keys may also carry object versions (bucket versioning): this module reports both.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

# Kedro's version folder name: kedro.io.core.generate_timestamp().
KEDRO_VERSION_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")
# fs_args keys kedro-datasets keeps for open() rather than for the filesystem constructor.
_OPEN_ARGS = ("open_args_load", "open_args_save")


class DatasetVersionError(Exception):
    """A dataset cannot be listed or uploaded: unknown, not versioned, or the version is missing."""


@dataclass(frozen=True)
class DatasetVersion:
    """One Kedro version of a dataset."""

    version: str
    url: str
    size_bytes: int
    modified: datetime | None
    # S3 object versions of each key under this Kedro version, newest first (bucket versioning on).
    # More than one id for a key means something overwrote it outside Kedro.
    s3_version_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return the version as JSON-ready values."""
        return {
            "version": self.version,
            "url": self.url,
            "size_bytes": self.size_bytes,
            "modified": self.modified.isoformat() if self.modified else None,
            "s3_version_ids": {key: list(ids) for key, ids in self.s3_version_ids.items()},
        }


@dataclass(frozen=True)
class DatasetLocation:
    """Where a versioned dataset lives: its filesystem and its unversioned path."""

    name: str
    dataset_type: str
    protocol: str
    path: str
    filesystem: Any

    @property
    def basename(self) -> str:
        """Return the file (or folder) name repeated inside each version folder."""
        return PurePosixPath(self.path).name

    def url(self, path: str | None = None) -> str:
        """Return `path` (default: the dataset's path) as a URL with its protocol."""
        path = self.path if path is None else path
        return path if self.protocol == "file" else f"{self.protocol}://{path}"

    def version_path(self, version: str) -> str:
        """Return the path of `version`: `<path>/<version>/<basename>`."""
        return f"{self.path}/{version}/{self.basename}"


def versioned_dataset_names(conf_catalog: Mapping[str, Any]) -> list[str]:
    """Return the names of the catalog entries with `versioned: true`, sorted."""
    return sorted(
        name
        for name, entry in conf_catalog.items()
        if isinstance(entry, Mapping) and entry.get("versioned") is True and "{" not in name
    )


def _credentials_of(entry: Mapping[str, Any], conf_creds: Mapping[str, Any]) -> dict[str, Any]:
    credentials = entry.get("credentials") or {}
    if isinstance(credentials, str):
        if credentials not in conf_creds:
            raise DatasetVersionError(
                f"credentials '{credentials}' are not in conf/<env>/credentials.yml"
            )
        credentials = conf_creds[credentials]
    return dict(credentials)


def filesystem_options(
    entry: Mapping[str, Any], conf_creds: Mapping[str, Any]
) -> tuple[str, str, dict[str, Any]]:
    """Return (protocol, path, fsspec options) of a catalog entry, as kedro-datasets builds them."""
    from kedro.io.core import get_protocol_and_path

    filepath = entry.get("filepath") or entry.get("path")
    if not filepath:
        raise DatasetVersionError(f"catalog entry has no filepath: {dict(entry)}")
    protocol, path = get_protocol_and_path(str(filepath))
    options = copy.deepcopy(dict(entry.get("fs_args") or {}))
    for key in _OPEN_ARGS:
        options.pop(key, None)
    options.update(_credentials_of(entry, conf_creds))
    if protocol == "file":
        options.setdefault("auto_mkdir", True)
    return protocol, path, options


def locate(
    name: str,
    conf_catalog: Mapping[str, Any],
    conf_creds: Mapping[str, Any],
    project_path: Path,
) -> DatasetLocation:
    """Return the location of the versioned dataset `name` from the resolved catalog config."""
    import fsspec

    entry = conf_catalog.get(name)
    versioned = versioned_dataset_names(conf_catalog)
    if not isinstance(entry, Mapping):
        raise DatasetVersionError(
            f"'{name}' is not a catalog entry; versioned datasets: {', '.join(versioned)}"
        )
    if entry.get("versioned") is not True:
        raise DatasetVersionError(
            f"'{name}' is not versioned in this environment (versioned: "
            f"{entry.get('versioned', False)}), so it has no versions; versioned datasets: "
            f"{', '.join(versioned)}"
        )
    protocol, path, options = filesystem_options(entry, conf_creds)
    if protocol == "file" and not PurePosixPath(path).is_absolute():
        path = (project_path / path).resolve().as_posix()
    return DatasetLocation(
        name=name,
        dataset_type=str(entry.get("type", "")),
        protocol=protocol,
        path=path.rstrip("/"),
        filesystem=fsspec.filesystem(protocol, **options),
    )


def _modified(info: Mapping[str, Any]) -> datetime | None:
    value = info.get("LastModified") or info.get("mtime") or info.get("created")
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _s3_version_ids(location: DatasetLocation) -> dict[str, dict[str, tuple[str, ...]]]:
    """Return {Kedro version: {key below it: S3 VersionIds newest first}}; empty if unversioned."""
    bucket, _, key_prefix = location.path.partition("/")
    found: dict[str, dict[str, list[str]]] = {}
    request = {"Bucket": bucket, "Prefix": f"{key_prefix}/"}
    while True:
        try:
            page = location.filesystem.call_s3("list_object_versions", **request)
        except Exception:  # no s3:ListBucketVersions: report the Kedro versions only
            return {}
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if item.get("VersionId") in (None, "null"):
                continue
            relative = item["Key"][len(key_prefix) + 1 :]
            version, _, rest = relative.partition("/")
            marker = "" if "Size" in item else " (delete marker)"
            found.setdefault(version, {}).setdefault(rest, []).append(item["VersionId"] + marker)
        if not page.get("IsTruncated"):
            break
        request["KeyMarker"] = page["NextKeyMarker"]
        request["VersionIdMarker"] = page["NextVersionIdMarker"]
    return {
        version: {key: tuple(ids) for key, ids in keys.items()} for version, keys in found.items()
    }


def list_versions(location: DatasetLocation) -> list[DatasetVersion]:
    """Return every Kedro version of the dataset, newest first (the order Kedro picks latest in)."""
    filesystem = location.filesystem
    filesystem.invalidate_cache(location.path)
    files = filesystem.find(location.path, detail=True)
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for path, info in files.items():
        relative = PurePosixPath(path).relative_to(location.path).parts
        if len(relative) > 1 and relative[1] == location.basename:
            grouped.setdefault(relative[0], []).append(info)
    object_versions = _s3_version_ids(location) if location.protocol in ("s3", "s3a") else {}
    versions = []
    for version in sorted(grouped, reverse=True):
        infos = grouped[version]
        stamps = [stamp for stamp in (_modified(info) for info in infos) if stamp is not None]
        versions.append(
            DatasetVersion(
                version=version,
                url=location.url(location.version_path(version)),
                size_bytes=sum(int(info.get("size") or 0) for info in infos),
                modified=max(stamps) if stamps else None,
                s3_version_ids=object_versions.get(version, {}),
            )
        )
    return versions


def require_version(location: DatasetLocation, version: str, env: str | None = None) -> None:
    """Raise DatasetVersionError naming the newest versions if `version` does not exist."""
    if location.filesystem.exists(location.version_path(version)):
        return
    available = [item.version for item in list_versions(location)]
    newest = ", ".join(available[:5]) if available else "none yet"
    hint = "" if KEDRO_VERSION_PATTERN.match(version) else " (expected YYYY-MM-DDTHH.MM.SS.mmmZ)"
    raise DatasetVersionError(
        f"'{location.name}' has no version '{version}'{hint} at {location.url()}. "
        f"Newest versions: {newest}. List them all with "
        f"`kedro versions list {location.name}{f' --env {env}' if env else ''}`."
    )


def upload_version(location: DatasetLocation, source: Path) -> str:
    """Copy a local file or folder into a new version of the dataset; return the version."""
    from kedro.io.core import generate_timestamp

    if not source.exists():
        raise DatasetVersionError(f"{source} does not exist")
    version = generate_timestamp()
    target = location.version_path(version)
    filesystem = location.filesystem
    if filesystem.exists(target):
        raise DatasetVersionError(f"{location.url(target)} already exists: nothing was written")
    if location.protocol == "file":
        filesystem.makedirs(str(PurePosixPath(target).parent), exist_ok=True)
    filesystem.put(str(source), target, recursive=source.is_dir())
    filesystem.invalidate_cache(location.path)
    return version
