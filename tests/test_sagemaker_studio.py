"""scripts/sagemaker_lifecycle.sh: git's GitHub token from Secrets Manager, a kernel from the lock.

Secrets Manager is moto's server on 127.0.0.1 (AWS_ENDPOINT_URL); git runs with a private HOME, so
the test sees exactly what the script configured and can search every file it wrote for the token.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE_ROOT, VENV_BIN, skip_or_fail

pytestmark = [pytest.mark.sagemaker]

SCRIPT = "scripts/sagemaker_lifecycle.sh"
SECRET_ID = "churn-prediction/github-token"  # noqa: S105 - the name of a secret, not one
TOKEN = "ghp_fakeToken0123456789abcdefABCDEF"  # noqa: S105 - a fake token the test looks for


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """Return the URL of a moto server on 127.0.0.1 (a free port), stopped after the module."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - moto[server] is in the dev lock
        skip_or_fail("moto[server] is not installed")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def put_secret(endpoint: str, name: str, value: str) -> None:
    import boto3

    client = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
    )
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)


def script_env(home: Path, endpoint: str, **extra: str) -> dict[str, str]:
    """Return the environment of a fresh SageMaker user: private HOME, moto as AWS."""
    env = {
        "HOME": str(home),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "PYENV_ROOT": os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")),
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "INSTALL_KERNEL": "false",
        # The test venv is shared: no bytecode written into it.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "UV_NATIVE_TLS", "PIP_CERT"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(extra)
    return env


def run(command: list[str], env: dict[str, str], cwd: Path, stdin: str = "", check: bool = True):
    result = subprocess.run(
        command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=600
    )
    if check:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def git_credential_fill(home: Path, env: dict[str, str], host: str = "github.com"):
    return run(
        ["git", "credential", "fill"],
        env,
        home,
        stdin=f"protocol=https\nhost={host}\npath=acme/churn.git\n\n",
        check=False,
    )


@pytest.fixture
def studio_home(tmp_path: Path, default_project: Path) -> tuple[Path, Path]:
    """Return (HOME, project checkout) of a user before the lifecycle script ran."""
    if shutil.which("git") is None:
        skip_or_fail("git is not installed")
    home = tmp_path / "home"
    home.mkdir()
    project = home / "churn-prediction"
    shutil.copytree(default_project, project, symlinks=True)
    return home, project


@pytest.mark.parametrize(
    ("secret", "username"),
    [(TOKEN, "x-access-token"), (json.dumps({"username": "ci-bot", "token": TOKEN}), "ci-bot")],
    ids=["plain-token", "json-secret"],
)
def test_git_gets_the_token_from_secrets_manager_and_never_stores_it(
    studio_home, moto_endpoint, secret, username
):
    home, project = studio_home
    put_secret(moto_endpoint, SECRET_ID, secret)
    env = script_env(home, moto_endpoint, PROJECT_DIR=str(project))
    run(["bash", str(project / SCRIPT)], env, home)

    filled = git_credential_fill(home, env)
    assert filled.returncode == 0, filled.stderr
    assert f"username={username}" in filled.stdout.splitlines()
    assert f"password={TOKEN}" in filled.stdout.splitlines()
    written = [p for p in home.rglob("*") if p.is_file() and not p.is_relative_to(project)]
    assert written, "the script configured nothing"
    for path in written:
        assert TOKEN.encode() not in path.read_bytes(), f"token written to {path}"
    # The helper answers for GitHub only; other hosts get nothing from it.
    other = git_credential_fill(home, env, host="gitlab.example.com")
    assert TOKEN not in other.stdout


def test_the_script_is_idempotent_and_sets_the_kedro_environment(studio_home, moto_endpoint):
    home, project = studio_home
    env = script_env(home, moto_endpoint, PROJECT_DIR=str(project), KEDRO_ENV="sagemaker")
    for _ in range(2):
        run(["bash", str(project / SCRIPT)], env, home)
    bashrc = (home / ".bashrc").read_text().splitlines()
    assert bashrc.count("export KEDRO_ENV=sagemaker") == 1
    helpers = run(
        ["git", "config", "--global", "--get-all", "credential.https://github.com.helper"],
        env,
        home,
    ).stdout.splitlines()
    assert len(helpers) == 1


def test_a_missing_secret_fails_naming_it(studio_home, moto_endpoint):
    home, project = studio_home
    missing = {"GITHUB_TOKEN_SECRET_ID": "no/such-secret"}
    env = script_env(home, moto_endpoint, PROJECT_DIR=str(project), **missing)
    run(["bash", str(project / SCRIPT)], env, home)
    filled = git_credential_fill(home, env)
    assert filled.returncode != 0
    assert "cannot read secret 'no/such-secret'" in filled.stderr


@pytest.mark.slow
def test_the_kernel_is_installed_from_the_lock_with_the_kedro_environment(
    studio_home, moto_endpoint
):
    home, project = studio_home
    version = yaml.safe_load((project / ".copier-answers.yml").read_text())["python_version"]
    found = subprocess.run(
        [str(TEMPLATE_ROOT / "scripts/find_python.sh"), version], capture_output=True, text=True
    )
    if found.returncode != 0:
        skip_or_fail(found.stderr.strip())
    env = script_env(home, moto_endpoint, PROJECT_DIR=str(project), INSTALL_KERNEL="true")
    # The project's Python first on PATH, as on a SageMaker image (pyenv shims need the real HOME).
    env["PATH"] = f"{Path(found.stdout.strip()).parent}{os.pathsep}{env['PATH']}"
    run(["bash", str(project / SCRIPT)], env, home)

    spec = json.loads(
        (home / ".local/share/jupyter/kernels/churn-prediction/kernel.json").read_text()
    )
    python = Path(spec["argv"][0])
    assert python.is_relative_to(home / ".venvs" / "churn-prediction")
    assert spec["env"]["KEDRO_ENV"] == "aws"
    # Every pinned package of the lock is installed at its pinned version.
    pins = dict(
        line.split("==", 1)
        for line in (project / "requirements-dev.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    frozen = run([str(python), "-m", "pip", "list", "--format=json"], env, home, check=False)
    if frozen.returncode != 0:  # a uv venv has no pip: ask uv
        frozen = run(
            [str(VENV_BIN / "uv"), "pip", "list", "--format=json", "--python", str(python)],
            env,
            home,
        )
    installed = {p["name"].lower(): p["version"] for p in json.loads(frozen.stdout)}
    for name in ("kedro", "mlflow-skinny", "ipykernel", "scikit-learn"):
        assert installed[name] == pins[name], name
    # Installed as locked (--no-deps): MLflow's server stays out (decision 0025).
    assert "mlflow" not in installed
    run([str(python), "-c", "import churn_prediction, kedro"], env, home)
