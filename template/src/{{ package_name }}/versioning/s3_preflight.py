"""Checks before a run touches S3: storage problems fail fast, with an error saying what to fix.

Without them Kedro reports a missing bucket, rejected credentials or a missing `s3:ListBucket`
permission as "Did not find any versions for ...", because its latest-version lookup lists the
dataset's folder and an empty or failed listing looks the same. The hook runs one short listing per
bucket before any node runs, so a failure writes nothing, and checks every `--load-versions` entry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from .catalog_config_hook import CatalogConfigHook
from .dataset_versions import DatasetVersionError, filesystem_options, locate, require_version

logger = logging.getLogger(__name__)

S3_PROTOCOLS = ("s3", "s3a")
CREDENTIAL_ERRORS = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "InvalidClientTokenId",
    }
)
ACCESS_ERRORS = frozenset({"AccessDenied", "AllAccessDisabled", "403"})
MISSING_BUCKET_ERRORS = frozenset({"NoSuchBucket", "404"})
POLICY_DOC = "docs/s3-versioning.md"


class StorageAccessError(RuntimeError):
    """An S3 bucket of the run is missing, unreachable or refuses the run's credentials."""


def _boto3_client(options: Mapping[str, Any], timeout_seconds: float) -> Any:
    """Return a boto3 S3 client configured like s3fs would be from the same options."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    client_kwargs = dict(options.get("client_kwargs") or {})
    config = Config(
        connect_timeout=timeout_seconds,
        read_timeout=timeout_seconds,
        retries={"max_attempts": 2, "mode": "standard"},
        signature_version=UNSIGNED if options.get("anon") else None,
        **dict(options.get("config_kwargs") or {}),
    )
    session = boto3.Session(
        profile_name=options.get("profile"),
        aws_access_key_id=options.get("key"),
        aws_secret_access_key=options.get("secret"),
        aws_session_token=options.get("token"),
    )
    endpoint = options.get("endpoint_url") or client_kwargs.pop("endpoint_url", None)
    return session.client("s3", endpoint_url=endpoint, config=config, **client_kwargs)


def check_bucket(
    bucket: str, prefix: str, options: Mapping[str, Any], datasets: list[str], timeout: float = 10
) -> None:
    """Raise StorageAccessError unless `bucket` answers a listing of `prefix` (s3:ListBucket)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
    )

    client = _boto3_client(options, timeout)
    endpoint = client.meta.endpoint_url
    where = f"s3://{bucket}/{prefix} at {endpoint}"
    shown = ", ".join(sorted(datasets)[:3]) + (", ..." if len(datasets) > 3 else "")
    needed_by = f"{len(datasets)} dataset(s): {shown}"
    try:
        client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except NoCredentialsError as exc:
        raise StorageAccessError(
            f"No AWS credentials found for {where}. Set AWS_PROFILE, AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run with an IAM role: the catalog uses the default chain."
        ) from exc
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in MISSING_BUCKET_ERRORS:
            message = (
                f"Bucket '{bucket}' does not exist at {endpoint} (needed by {needed_by}). "
                "Create it, or point `storage.root` in conf/aws/globals.yml at an existing one."
            )
        elif code in CREDENTIAL_ERRORS:
            message = (
                f"The S3 endpoint {endpoint} rejected the credentials ({code}) while listing "
                f"s3://{bucket}/{prefix}. Check AWS_PROFILE / AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY (the AWS default credential chain)."
            )
        elif code in ACCESS_ERRORS:
            message = (
                f"Access denied ({code}) listing {where}: the caller needs s3:ListBucket on "
                f"arn:aws:s3:::{bucket} (for the prefix '{prefix}'). Kedro lists each dataset's "
                "folder to find its latest version; without the permission it fails later with "
                f"a misleading 'Did not find any versions'. {POLICY_DOC} has the full policy."
            )
        else:
            message = f"S3 refused listing {where} (needed by {needed_by}): {code}: {exc}"
        raise StorageAccessError(message) from exc
    except (EndpointConnectionError, BotoCoreError) as exc:
        raise StorageAccessError(
            f"Cannot reach the S3 endpoint {endpoint} to list s3://{bucket}/{prefix}: {exc}. "
            "Is the server up? (AWS_ENDPOINT_URL_S3 selects an S3-compatible server.)"
        ) from exc


def _common_prefix(keys: list[str]) -> str:
    parts = [key.split("/") for key in keys]
    common = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    return "/".join(common)


def _connection_failure(error: BaseException) -> bool:
    """Return True if `error` or one of its causes is a lost connection to the storage."""
    from botocore.exceptions import ConnectionError as BotoConnectionError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, BotoConnectionError | ConnectionError | TimeoutError):
            return True
        if "Could not connect to the endpoint" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


class S3PreflightHook(CatalogConfigHook):
    """Fail a run before its first node if S3 is unusable or a `--load-versions` is missing."""

    def __init__(self, timeout_seconds: float = 10) -> None:
        super().__init__()
        self._timeout = timeout_seconds

    def _s3_datasets(self, names: set[str]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        for name in sorted(names):
            entry = self._conf_catalog.get(name)
            if not isinstance(entry, Mapping) or not (entry.get("filepath") or entry.get("path")):
                continue
            protocol, path, options = filesystem_options(entry, self._conf_creds)
            if protocol in S3_PROTOCOLS:
                bucket, _, key = path.partition("/")
                yield name, bucket, key, options

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        """Check every bucket the pipeline reads or writes, then the requested versions."""
        groups: dict[tuple[str, str], tuple[dict[str, Any], list[str], list[str]]] = {}
        for name, bucket, key, options in self._s3_datasets(set(pipeline.datasets())):
            group = groups.setdefault((bucket, repr(sorted(options.items()))), (options, [], []))
            group[1].append(name)
            group[2].append(key)
        for (bucket, _), (options, names, keys) in groups.items():
            check_bucket(bucket, _common_prefix(keys), options, names, self._timeout)

        project_path = Path(run_params.get("project_path") or ".")
        env = run_params.get("env")
        for name, version in self._load_versions.items():
            try:
                location = locate(name, self._conf_catalog, self._conf_creds, project_path)
                require_version(location, version, env)
            except DatasetVersionError as exc:
                raise DatasetVersionError(f"--load-versions {name}:{version}: {exc}") from None

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        """Say what a lost connection to S3 left behind and how to recover."""
        if not _connection_failure(error):
            return
        logger.error(
            "The storage stopped answering during the run. Outputs saved before the failure are "
            "in version %s and are incomplete; earlier versions are untouched (Kedro never "
            "writes into an existing version). Rerun `kedro run --env %s` once the server is "
            "back: it writes a new, complete version.",
            self._save_version,
            run_params.get("env") or "aws",
        )
