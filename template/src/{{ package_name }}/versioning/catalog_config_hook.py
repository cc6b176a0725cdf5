"""A base for hooks that need the run's resolved catalog configuration and versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro.framework.hooks import hook_impl


class CatalogConfigHook:
    """Keeps what Kedro says when it builds the run's catalog (S3 preflight, run manifest)."""

    def __init__(self) -> None:
        self._conf_catalog: Mapping[str, Any] = {}
        self._conf_creds: Mapping[str, Any] = {}
        self._load_versions: Mapping[str, str] = {}
        self._save_version: str | None = None

    @hook_impl
    def after_catalog_created(
        self,
        conf_catalog: dict[str, Any],
        conf_creds: dict[str, Any],
        save_version: str,
        load_versions: dict[str, str],
    ) -> None:
        """Keep the resolved catalog config (each dataset's location and options) and versions."""
        self._conf_catalog = conf_catalog or {}
        self._conf_creds = conf_creds or {}
        self._load_versions = load_versions or {}
        self._save_version = save_version
