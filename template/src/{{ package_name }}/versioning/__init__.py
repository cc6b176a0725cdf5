"""Versioning: which dataset versions exist, which runs completed, and checks before S3 is touched.

Kedro-free: `dataset_versions` (list and upload the versions of the catalog's versioned datasets,
locally or on S3) and `run_manifest` (a run's manifest: a version is complete once it exists).
Kedro wiring: `run_manifest_hook` (pins unpinned loads to the newest complete run, writes the
manifest last), `s3_preflight` (a bucket or permission problem fails before any node runs),
`catalog_config_hook` (their shared base) and `cli_versions` (`kedro versions list|upload`).
Docs: docs/s3-versioning.md; decisions 0003 and 0014.
"""
