"""Fixtures shared by the template's tests: rendering, running rendered projects, services."""

from __future__ import annotations

import atexit
import fcntl
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import copier
import jinja2
import pytest
import yaml
from copier._main import Worker
from copier._types import LazyDict
from warm_kedro import WarmKedro, WarmProcess, command_kind

# CPU seconds per test phase (--cpu-durations=N, CPU_DURATIONS_FILE): tests/cpu_durations.py.
pytest_plugins = ("cpu_durations",)

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
IN_CI = bool(os.environ.get("CI"))

sys.path.insert(0, str(TEMPLATE_ROOT / "scripts"))
from update_transliteration import latin_letters  # noqa: E402

LATIN_LETTERS = latin_letters()
SLUG_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 -_"


def read_env_file(path: Path) -> dict[str, str]:
    """Return the KEY=value lines of `path` (comments and blank lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


# Environment every rendered project runs with in tests: tests/test.env is the one copy, which the
# Makefile, .ci/run and the benchmarks read too.
PROJECT_ENV = read_env_file(TEMPLATE_ROOT / "tests" / "test.env")

# Bytecode. test.env's PYTHONDONTWRITEBYTECODE keeps __pycache__ out of the tooling venv and the
# renders, but then every `kedro run`, rendered pytest or notebook kernel compiles pandas, sklearn,
# scipy, MLflow and Kedro from source again: 7-9 s of CPU per process, several hundred processes
# per suite. A private PYTHONPYCACHEPREFIX keeps the sources' folders as clean and compiles each
# module once (build/pycache, kept between runs; `make clean` removes it). pyc files are written
# atomically and checked against their source's mtime and size, so workers may share the cache.
PYCACHE_PREFIX = Path(
    os.environ.get("TEST_PYCACHE_PREFIX") or TEMPLATE_ROOT / "build" / "pycache"
).resolve()
PROJECT_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
PROJECT_ENV["PYTHONPYCACHEPREFIX"] = str(PYCACHE_PREFIX)
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE_PREFIX)
sys.pycache_prefix = str(PYCACHE_PREFIX)
sys.dont_write_bytecode = False

# The services the tests start (SeaweedFS, moto, MLflow, recording servers) listen on loopback and
# are reached directly, also from a shell with HTTP(S)_PROXY set: botocore and requests would
# otherwise send loopback traffic to the proxy. The test processes pass it to every subprocess.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
for _name in ("NO_PROXY", "no_proxy"):
    _listed = [host.strip() for host in os.environ.get(_name, "").split(",") if host.strip()]
    os.environ[_name] = ",".join(dict.fromkeys([*_listed, *LOOPBACK_HOSTS]))


# One id per test run, shared by the controller and its xdist workers (they inherit the
# environment): resources built once per run, such as the project's Docker image, are named by it.
TEST_RUN_ID = os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:12])
TEST_IMAGE = f"churn-prediction-test:{TEST_RUN_ID}"
TEST_IMAGE_LOCK = Path(tempfile.gettempdir()) / f"churn-prediction-test-{TEST_RUN_ID}.lock"
# The trained default project of the run (trained_run), beside its lock.
SHARED_TRAINED_LOCK = Path(tempfile.gettempdir()) / f"churn-prediction-trained-{TEST_RUN_ID}.lock"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's trained project and Docker image (built once for every worker)."""
    if hasattr(config, "workerinput"):
        return
    if SHARED_TRAINED_LOCK.exists():
        shutil.rmtree(SHARED_TRAINED_LOCK.with_suffix(""), ignore_errors=True)
        SHARED_TRAINED_LOCK.unlink(missing_ok=True)
    if not TEST_IMAGE_LOCK.exists():
        return
    if shutil.which("docker"):
        subprocess.run(["docker", "image", "rm", "-f", TEST_IMAGE], capture_output=True,
                       timeout=300, check=False)  # fmt: skip
    TEST_IMAGE_LOCK.unlink(missing_ok=True)


def pytest_configure(config: pytest.Config) -> None:
    """Drop the cached bytecode of earlier sessions' renders and fresh environments (temporary
    folders that are gone): only the libraries' bytecode is worth keeping between runs."""
    if not hasattr(config, "workerinput"):  # the controller (or the only process), once
        temporary = Path(tempfile.gettempdir()).resolve()
        shutil.rmtree(PYCACHE_PREFIX / temporary.relative_to(temporary.anchor), ignore_errors=True)


# The validators' rules, the one copy copier.yml uses too (includes/validators.jinja).
VALIDATOR_RULES: dict[str, list[dict[str, str]]] = yaml.safe_load(
    (TEMPLATE_ROOT / "includes" / "validators.yml").read_text(encoding="utf-8")
)


def broken_rule(question: str, value: str) -> str | None:
    """Return the message Copier shows for `value`, or None when every rule of `question` holds."""
    for rule in VALIDATOR_RULES[question]:
        if re.search(rule["pattern"], value) is None:
            message = rule["message"].replace("{length}", str(len(value)))
            return f"{question} {message.replace('{value}', value)}"
    return None


def derived_slug(project_name: str, max_length: int = 64) -> str:
    """Return the project_slug copier.yml derives from `project_name` (the tests' reference).

    Written from the rule, not from includes/names.jinja: Latin letters spelt as Unicode's
    decomposition spells them (scripts/update_transliteration.py), other letters dropped, words
    joined by hyphens and cut after the last whole word that fits.
    """
    spelt = "".join(
        c if c in SLUG_ALPHABET else LATIN_LETTERS.get(c, "") for c in project_name.lower()
    )
    slug = "-".join(word for word in re.split("[ _-]+", spelt) if word)
    if len(slug) <= max_length:
        return slug
    head = slug[: max_length + 1]
    return head.rsplit("-", 1)[0] if "-" in head else slug[:max_length]


def pairwise(options: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Return combinations of `options` in which every pair of values of two options appears.

    Greedy: take the combination of the full product that covers the most pairs not yet covered,
    until none is left (the first one wins a tie, so the result is the same on every run).
    """
    names = list(options)
    product = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*options.values())
    ]

    def pairs(combination: dict[str, Any]) -> set[tuple]:
        return {(a, combination[a], b, combination[b]) for a, b in itertools.combinations(names, 2)}

    uncovered = set().union(*(pairs(c) for c in product))
    chosen = []
    while uncovered:
        best = max(product, key=lambda c: len(pairs(c) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


# Jinja compiles every template source to Python per Environment, and Copier makes a new
# Environment per render and compiles each file path (and the answers file's name, once per path)
# from a string: compiling is a third of a render's CPU. Sources are the template's, never the
# answers (they are data), so the code for a source is the same in every render whose Environment
# is configured the same: the key holds every setting code generation reads, and an Environment
# whose autoescape or finalize is a function keys by its own identity (no sharing).
_COMPILED: dict[tuple[Any, ...], Any] = {}
_COMPILED_LIMIT = 50_000
_jinja_compile = jinja2.Environment.compile


def _environment_key(env: jinja2.Environment) -> tuple[Any, ...]:
    """Return what Jinja's code generation depends on in `env`."""
    autoescape = env.autoescape if isinstance(env.autoescape, bool) else id(env)
    finalize = None if env.finalize is None else id(env)
    return (
        type(env), env.block_start_string, env.block_end_string, env.variable_start_string,
        env.variable_end_string, env.comment_start_string, env.comment_end_string,
        env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks,
        env.newline_sequence, env.keep_trailing_newline, tuple(sorted(env.extensions)),
        env.optimized, env.is_async, autoescape, finalize,
    )  # fmt: skip


def _compile_once(
    self: jinja2.Environment,
    source: Any,
    name: str | None = None,
    filename: str | None = None,
    raw: bool = False,
    defer_init: bool = False,
) -> Any:
    """Return Jinja's compiled code for `source`, compiled once per equally configured env."""
    if not isinstance(source, str):
        return _jinja_compile(self, source, name, filename, raw, defer_init)
    key = (_environment_key(self), source, name, filename, raw, defer_init)
    code = _COMPILED.get(key)
    if code is None:
        code = _jinja_compile(self, source, name, filename, raw, defer_init)
        if len(_COMPILED) < _COMPILED_LIMIT:
            _COMPILED[key] = code
    return code


jinja2.Environment.compile = _compile_once  # type: ignore[method-assign]


# Copier builds the Jinja context again for every path part and every file it renders (about
# 2,200 times per render of this template, each walking all answers twice and rendering the
# answers file's name): a third of a render's CPU. While it renders the files, the answers are
# final and the phase is RENDER, so the context is the same each time: one is built per render and
# each caller gets its own copy. test_render.py renders with and without this and compares trees,
# so a Copier release that changes any of it fails there first.
_copier_render_template = Worker._render_template


def _render_template_with_one_context(self: Worker) -> None:
    """Run Copier's `_render_template` with `_render_context` built once for the whole render."""
    if not ONE_RENDER_CONTEXT:
        return _copier_render_template(self)
    context = self._render_context()
    # Copier writes into a context's `_copier_conf` (answers_relpath blanks `answers_file`):
    # each caller gets fresh copies of the mutable parts, from the untouched lazy functions.
    lazy_conf = dict(context["_copier_conf"]._pending)

    def fresh_context() -> dict[str, Any]:
        return {
            **context,
            "_copier_conf": LazyDict(dict(lazy_conf)),
            "_copier_answers": dict(context["_copier_answers"]),
        }

    self._render_context = fresh_context  # the instance's, shadowing the method
    try:
        return _copier_render_template(self)
    finally:
        del self._render_context


ONE_RENDER_CONTEXT = True
Worker._render_template = _render_template_with_one_context  # type: ignore[method-assign]


def render(destination: Path, **answers: Any) -> Path:
    """Render the template's working tree into `destination` with defaults plus `answers`."""
    copier.run_copy(
        str(TEMPLATE_ROOT),
        destination,
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref="HEAD",
    )
    return destination


# Top-level folders of the template repository that are not part of the template.
NOT_TEMPLATE = {".git", ".venv", ".hypothesis", ".pytest_cache", ".ruff_cache", "build", "site"}


def copy_template(destination: Path) -> Path:
    """Copy the template's working tree, without .git and tool folders, to `destination`.

    Copier renders a plain folder in place instead of cloning a git repository first, so a render
    from the copy takes about half the time: fuzzing and fault injection render from copies.
    """

    def ignored(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == TEMPLATE_ROOT
        return {n for n in names if n == "__pycache__" or (top and n in NOT_TEMPLATE)}

    shutil.copytree(TEMPLATE_ROOT, destination, ignore=ignored, symlinks=True)
    return destination


def render_from(template: Path, destination: Path, **answers: Any) -> Path:
    """Render a plain template folder (see copy_template) with defaults plus `answers`, no tasks."""
    copier.run_copy(
        str(template), destination, data=answers, defaults=True, quiet=True, skip_tasks=True
    )
    return destination


@pytest.fixture(scope="session")
def plain_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a plain-folder copy of the template taken once per session (treat as read-only)."""
    return copy_template(tmp_path_factory.mktemp("template") / "copier-kedro-mlops")


def project_env(project: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment a rendered project's commands run with."""
    env = {**os.environ, **PROJECT_ENV}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(project / "src")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(extra or {})
    return env


_warm_kedro: WarmKedro | None = None


def warm_kedro() -> WarmKedro:
    """Return this test process's warm `kedro` server (tests/warm_kedro.py), started once."""
    global _warm_kedro
    if _warm_kedro is None or _warm_kedro.process.poll() is not None:
        folder = Path(tempfile.mkdtemp(prefix="warm-kedro-"))
        server_env = project_env(folder)
        _warm_kedro = WarmKedro(VENV_BIN, server_env, folder)
        atexit.register(_warm_kedro.close)
    return _warm_kedro


def run_in(
    project: Path,
    *command: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
    fresh_process: bool | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command` in `project` (kedro, pytest, ruff ... from this venv) and capture output.

    A `kedro`, `python -m` or `python -c` command runs in a process forked from a warm interpreter
    (tests/warm_kedro.py says what that gives and what it cannot), unless `fresh_process` or its
    environment asks for a fresh one: a test about what a command logs, or about the process
    start itself, asks. A rendered suite (`pytest`) runs fresh unless `fresh_process` is False:
    the default render's suite runs as a user runs it, so an import-time warning fails it; the
    other renders' suites, which import the same libraries, fork.
    """
    if fresh_process is None:
        fresh_process = command[0] == "pytest"
    full_env = project_env(project, env)
    if not fresh_process and _forks(command, full_env):
        output = Path(tempfile.mkdtemp(prefix="kedro-output-")) / "command"
        try:
            result = warm_kedro().run(command, project, full_env, output, timeout)
        finally:
            output.parent.rmdir()
    else:
        result = subprocess.run(
            _from_venv(command),
            cwd=project,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} exited {result.returncode} in {project}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


def start_in(
    project: Path, *command: str, output: Path, env: Mapping[str, str] | None = None
) -> WarmProcess | subprocess.Popen[bytes]:
    """Start `command` in `project` as run_in runs it, its stdout and stderr into `output`, and
    return it running: a warm process (tests/warm_kedro.py) where run_in would fork one."""
    full_env = project_env(project, env)
    if _forks(command, full_env):
        return warm_kedro().start(command, project, full_env, output)
    with output.open("wb") as sink:
        return subprocess.Popen(
            _from_venv(command), cwd=project, env=full_env, stdout=sink, stderr=subprocess.STDOUT
        )


def _forks(command: Sequence[str], env: Mapping[str, str]) -> bool:
    """Return whether `command` runs forked from the warm server (started only if it can)."""
    return command_kind(command) is not None and warm_kedro().runs_warm(command, env)


def _from_venv(command: Sequence[str]) -> list[str]:
    """Return `command` with its executable from this venv where the venv has it."""
    executable = VENV_BIN / command[0]
    return [str(executable) if executable.exists() else command[0], *command[1:]]


# The rendered suite runs each feature-spec test for three specs (template/tests/conftest.py):
# the configured one and two derived from it, `numeric_only` and `many_features`. The default
# render's suite (test_e2e) runs all three. The other renders whose suite runs (the bare skeleton,
# the updated project, bring-your-own-data) differ from the default render in what the project is
# made of (no example pipeline, the update's merged files, the user's `features`), never in the
# node and core code the derived specs exercise (byte-identical): there every test runs once,
# against the render's own `features`, and the derived specs are deselected (not skipped).
DERIVED_SPECS = ("numeric_only", "many_features")
CONFIGURED_SPEC_ONLY = ("-k", " and ".join(f"not {spec}" for spec in DERIVED_SPECS))

# Some rendered test modules carry `pytestmark = pytest.mark.self_contained`: they build every
# input themselves (a store in tmp_path, their own catalog and parameters) and read nothing of the
# project's configuration or data, so their outcome is a function of their own code and the
# package code they import. Where all of that is byte-identical to the default render's (the
# package name aside), their run in the default render's suite covers this render too, and the
# other renders deselect them. Where any of it differs, they run there as well.
SELF_CONTAINED_MARK = "pytestmark = pytest.mark.self_contained"


def _package(project: Path) -> str:
    (init,) = (project / "src").glob("*/__init__.py")
    return init.parent.name


def _module_file(project: Path, module: str) -> Path | None:
    for root in (project / "src", project):
        base = root / Path(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _imported_modules(path: Path, module: str) -> set[str]:
    """Return every module `path` (module `module`) imports anywhere, relative ones resolved."""
    import ast

    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                stem = f"{base}.{node.module}" if node.module else base
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    return found


def self_contained_sources(project: Path) -> dict[str, str]:
    """Return {path: text} of the self-contained test modules, tests/conftest.py and every
    package module they import, transitively (parent packages' __init__ included), with the
    package name replaced by a placeholder so that renders under other names compare equal."""
    package = _package(project)
    tests = sorted(
        path
        for path in (project / "tests").rglob("test_*.py")
        if SELF_CONTAINED_MARK in path.read_text(encoding="utf-8")
    )
    files: set[Path] = {project / "tests/conftest.py", *tests}
    queue = [(path, ".".join(path.relative_to(project).with_suffix("").parts)) for path in tests]
    seen: set[str] = set()
    while queue:
        path, module = queue.pop()
        for name in _imported_modules(path, module):
            if name.split(".")[0] not in (package, "tests") or name in seen:
                continue
            seen.add(name)
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                found = _module_file(project, ".".join(parts[:depth]))
                if found is not None and found not in files:
                    files.add(found)
                    queue.append((found, ".".join(parts[:depth])))
    return {
        str(path.relative_to(project)).replace(package, "<package>"): path.read_text(
            encoding="utf-8"
        ).replace(package, "<package>")
        for path in sorted(files)
    }


def derived_suite_selection(project: Path, default_project: Path) -> tuple[str, ...]:
    """Return the pytest selection for a render other than the default one: the configured
    spec only (CONFIGURED_SPEC_ONLY), and not the self-contained modules when their code is the
    default render's (see SELF_CONTAINED_MARK)."""
    sources = self_contained_sources(project)
    assert len(sources) > 1, f"no self-contained test module in {project}"
    if sources == self_contained_sources(default_project):
        return (*CONFIGURED_SPEC_ONLY, "-m", "not self_contained")
    return CONFIGURED_SPEC_ONLY


def assert_suite_passed(result: subprocess.CompletedProcess[str], *, derived: bool) -> None:
    """Assert a rendered suite's summary: passed, nothing failed or skipped; when `derived` is
    False, the derived specs' tests were deselected (the -k above still matches their ids)."""
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and " failed" not in summary, summary
    # A quiet suite, as a quiet run: a new dependency warning is silenced in the package's
    # run_log/warning_filters.py (with when to remove it), or fixed where our code causes it.
    assert " warning" not in summary, _warnings_summary(result.stdout)
    assert " skipped" not in summary, f"every role is covered by one spec: no skips ({summary})"
    assert (" deselected" in summary) is not derived, summary


def _warnings_summary(output: str) -> str:
    """Return the "warnings summary" section of a pytest output (or its last lines)."""
    start = output.find("warnings summary")
    return output[start:][:6000] if start >= 0 else output[-3000:]


def find_python(version: str) -> str:
    """Return the path of a Python `version` interpreter (scripts/find_python.sh finds it)."""
    return subprocess.run(
        [str(TEMPLATE_ROOT / "scripts/find_python.sh"), version],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def skip_or_fail(reason: str) -> None:
    """Skip outside CI; in CI a missing service is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a project rendered once per session with every default answer."""
    return render(tmp_path_factory.mktemp("default") / "churn-prediction")


def copy_of(project: Path, folder: Path) -> Path:
    """Return a private copy of `project` at `folder`/<its name>, symlinks kept as symlinks.

    A copy of the trained project (trained_run) records its own MLflow runs and registry
    versions in its own store; their files go under the original's mlruns (the experiment's
    artifact location is absolute), each in a folder of its own run or model id, so copies never
    see each other's runs.
    """
    destination = folder / project.name
    shutil.copytree(project, destination, symlinks=True)
    return destination


def model_name(project: Path) -> str:
    """Return the name the project registers its model under (conf/base/globals.yml)."""
    globals_yml = yaml.safe_load((project / "conf/base/globals.yml").read_text())
    return globals_yml["registry"]["model_name"]


def registry(project: Path) -> Any:
    """Return an MLflow client of the project's local store (tracking and registry)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def fresh_project(default_project: Path, tmp_path: Path) -> Path:
    """Return a private copy of the default project that a test may change or run in."""
    return copy_of(default_project, tmp_path)


@pytest.fixture(scope="session")
def trained_run() -> dict[str, Any]:
    """Return a default project after its first default `kedro run`, and that run's log.

    The run is the one a user's first `kedro run` is: every default answer, the default
    pipeline (data processing, training, evaluation, explainability), MLflow tracking with the
    model registered as champion. As in CI (a container, `| tee`), no terminal and no COLUMNS.
    Shared by every module that needs a trained project, on every xdist worker: the first
    worker to ask trains it under a lock, the others find it (the run's controller removes it).
    Treat it as read-only, and run in a copy (`copy_of`).
    """
    with SHARED_TRAINED_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        folder = SHARED_TRAINED_LOCK.with_suffix("")
        project, log = folder / "churn-prediction", folder / "first-run.log"
        if not log.exists():
            shutil.rmtree(folder, ignore_errors=True)
            render(project)
            result = run_in(project, "kedro", "run", env={"COLUMNS": ""}, fresh_process=True)
            log.write_text(result.stdout + result.stderr)
    return {"project": project, "log": log.read_text()}


@pytest.fixture(scope="session")
def trained_project(trained_run: dict[str, Any]) -> Path:
    """Return the shared trained default project (see trained_run; treat as read-only)."""
    return trained_run["project"]


# pytest-xdist runs with `--dist loadscope` (Makefile): each module runs on one worker, so its
# module fixtures (a trained project, an MLflow server, SeaweedFS, the Docker image) are built
# once. The modules below only share session fixtures (a render, the trained project of the run),
# so their tests go one by one to whichever worker is free: a long module such as test_e2e (the
# rendered suite, the bare skeleton, a fresh environment) no longer holds one worker for a quarter
# of the run while the other waits. (`--dist loadgroup` with xdist_group marks would say the same,
# but xdist 3.8 groups by renaming `item._nodeid`, which pytest 9 no longer reads.)
SPREAD_MODULES = frozenset(
    {
        "test_docs",
        "test_e2e",
        "test_hardening",
        "test_reliability",
        "test_render",
        "test_validators",
    }
)


# Expected seconds per test (tests/durations.tsv, from an earlier CI run): the work queue starts
# with the longest scopes, so that neither worker is left with a long test when the other is done
# (longest-first is what keeps the critical path short with two workers).
DURATIONS_FILE = TEMPLATE_ROOT / "tests" / "durations.tsv"
DEFAULT_SECONDS = 3.0


def expected_seconds(path: Path = DURATIONS_FILE) -> dict[str, float]:
    """Return {node id or module path: seconds} from `path` (empty when it is missing)."""
    if not path.exists():
        return {}
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    return {row[1]: float(row[0]) for row in rows if len(row) == 2 and not row[0].startswith("#")}


def longest_first(
    workqueue: Mapping[str, Mapping[str, bool]], seconds: Mapping[str, float]
) -> list[str]:
    """Return the scopes of `workqueue` ordered by their expected seconds, longest first."""

    def cost(scope: str) -> float:
        tests = sum(seconds.get(nodeid, DEFAULT_SECONDS) for nodeid in workqueue[scope])
        return tests + seconds.get(scope, 0.0)  # a module's own set-up, when listed

    return sorted(workqueue, key=cost, reverse=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Return loadscope scheduling whose scope is the test itself in SPREAD_MODULES, with the
    longest scopes first."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SpreadScheduling(LoadScopeScheduling):
        ordered = False  # whether the work queue is in longest-first order yet

        def _split_scope(self, nodeid: str) -> str:
            module = Path(nodeid.split("::", 1)[0]).stem
            return nodeid if module in SPREAD_MODULES else super()._split_scope(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            # The first assignment comes once the queue holds every scope: order it then.
            if not self.ordered:
                for scope in longest_first(self.workqueue, expected_seconds()):
                    self.workqueue.move_to_end(scope)
                self.ordered = True
            super()._assign_work_unit(node)

    return SpreadScheduling(config, log)
