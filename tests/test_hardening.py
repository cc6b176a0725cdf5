"""Hardening: fuzzed free-text answers, injected template faults, and secrets in rendered projects.

Renders here start from a plain-folder copy of the template (conftest.copy_template), not from
the git repository, and skip Copier's tasks where the test calls the post-generation check
itself: a fuzzed example then costs one render plus `validate()` (figures in docs/hardening.md).
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import copier
import pytest
import yaml
from conftest import (
    IN_CI,
    PROJECT_ENV,
    TEMPLATE_ROOT,
    VENV_BIN,
    broken_rule,
    copy_template,
    derived_slug,
    pairwise,
    render_from,
)
from copier._main import Worker
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))
import validate_render

pytestmark = pytest.mark.hardening

# ----- Fuzzing ------------------------------------------------------------------------------------

# CI runs the 200 examples; a local run 25 unless FUZZ_EXAMPLES says otherwise.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200" if IN_CI else "25"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Pieces people type or paste that are valid answers but break careless YAML, TOML, JSON or shell,
# and pieces every free-text validator must reject (line breaks, control and invisible characters,
# template delimiters). Valid pieces come three times as often, so most examples render.
VALID_PIECES = [
    "'", '"', "\\", ":", ": ", "#", " #", "- ", "? ", "!", "!!str", "&a", "*a", "|", ">", "%",
    "@", "`", "yes", "no", "null", "~", "true", "NaN", "1e3", "0o17", "---", "...", "[", "]", "{",
    "}", ",", "=", "[project]", '"""', "'''", "\\u0000", "\\n", "$HOME", "$(id)", ";", "&&",
    "<script>", "é", "日本", "🚀", "İ", "\u212a", "ß", "ﬁ", "  ", "${ x }", "{ {", "% }",
]  # fmt: skip
FORBIDDEN_PIECES = [
    "{{", "}}", "{%", "%}", "{#", "#}", "${{ x }}", "\t", "\n", "\r", "\x00", "\x7f", "\x85",
    "\u2028", "\u00a0", "\u200d", "\ufeff",
]  # fmt: skip
WHOLE_ANSWERS = [
    "", " ", "yes", "no", "null", "~", "- item", "true", "3.12", "0x1F", "Churn: Prediction",
    "#hashtag", " leading space", "trailing space ", "key: value # comment", "'quoted'",
    '"double"', "back\\slash", "{{ project_name }}", "{% raw %}", "-", "[a, b]", "{a: b}",
]  # fmt: skip
PRINTABLE = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))
_valid_piece = st.one_of(
    st.sampled_from(VALID_PIECES),
    st.text(PRINTABLE, max_size=6),
    st.text(alphabet="abcdefghij KLMNOP-_.", max_size=12),
)
ANY_TEXT = st.one_of(
    st.lists(st.one_of(_valid_piece, st.sampled_from(FORBIDDEN_PIECES)), max_size=8).map("".join),
    st.sampled_from(WHOLE_ANSWERS),
    st.text(max_size=20),
    # very long answers, on both sides of the length limits
    st.builds(
        lambda unit, count: (unit * count)[:count],
        st.sampled_from(["a", "é ", "🚀", 'x"', "\\", "ab: "]),
        st.integers(min_value=90, max_value=320),
    ),
)
# Nasty but valid: these must render (the filter only keeps pieces from forming a delimiter).
VALID_TEXT = (
    st.lists(_valid_piece, min_size=1, max_size=8)
    .map("".join)
    .filter(lambda text: broken_rule("project_name", text) is None)
)
# Names that start with a letter derive a valid package name more often.
LETTER_FIRST = st.from_regex(r"[A-Za-z][A-Za-z ]{0,12}", fullmatch=True)
# Half the examples have three nasty-but-valid answers and should render; the other half draw
# each answer from anything, which mostly exercises the validators' messages.
ANSWERS = st.one_of(
    st.fixed_dictionaries(
        {
            "project_name": st.builds(lambda head, tail: head + tail, LETTER_FIRST, VALID_TEXT),
            "description": VALID_TEXT,
            "author_name": VALID_TEXT,
        }
    ),
    st.fixed_dictionaries(
        {
            "project_name": st.one_of(
                st.builds(lambda head, tail: head + tail, LETTER_FIRST, ANY_TEXT), ANY_TEXT
            ),
            "description": st.one_of(VALID_TEXT, ANY_TEXT),
            "author_name": st.one_of(VALID_TEXT, ANY_TEXT),
        }
    ),
)


def expected_rejection(answers: dict[str, str]) -> tuple[str, str] | None:
    """Return (question, message) Copier must stop at, in question order, or None.

    The rules are includes/validators.yml's (conftest.broken_rule); the derived names are the
    defaults copier.yml gives, from the reference conftest.derived_slug.
    """
    slug = derived_slug(answers["project_name"])
    values = [
        ("project_name", answers["project_name"]),
        ("project_slug", slug),
        ("package_name", slug.replace("-", "_")),
        ("description", answers["description"]),
        ("author_name", answers["author_name"]),
        ("s3_bucket", slug[:40].rstrip("-") + "-ml-artifacts"),
        ("s3_prefix", slug),
    ]
    for question, value in values:
        if message := broken_rule(question, value):
            return question, message
    return None


def check_rendered_answers(project: Path, answers: dict[str, str]) -> None:
    """Assert that the rendered files parse and give back every answer exactly."""
    assert validate_render.validate(project) == []
    slug = derived_slug(answers["project_name"])
    package = slug.replace("-", "_")
    assert package.isidentifier() and not keyword.iskeyword(package)
    assert (project / "src" / package / "__init__.py").is_file()

    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert {k: recorded[k] for k in answers} == answers
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == slug
    assert pyproject["project"]["description"] == answers["description"]
    assert pyproject["project"]["authors"][0]["name"] == answers["author_name"]
    assert pyproject["tool"]["kedro"]["project_name"] == answers["project_name"]
    assert pyproject["tool"]["kedro"]["package_name"] == package
    devcontainer = json.loads((project / ".devcontainer/devcontainer.json").read_text("utf-8"))
    assert devcontainer["name"] == answers["project_name"]
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {answers['project_name']}\n")
    # A slug such as `yes` or `null` must stay a string where YAML holds it.
    conf = project / "conf" / "base"
    for relative, keys, expected in [
        ("sagemaker.yml", ("tags", "project"), slug),
        ("sagemaker.yml", ("base_job_name",), slug[:30]),
        ("tracking.yml", ("tracking", "experiment_name"), slug),
    ]:
        if (conf / relative).is_file():
            value = yaml.safe_load((conf / relative).read_text(encoding="utf-8"))
            for key in keys:
                value = value[key]
            assert value == expected, f"conf/base/{relative}: {'.'.join(keys)} is {value!r}"


@pytest.fixture
def no_git_index_sync() -> Iterator[None]:
    """Skip the `git` call Copier makes per rendered file to sync executable bits into the
    destination's git index: it does nothing outside a repository, as in the temporary folders
    here, and is a third of a render's time."""
    outside_git = subprocess.run(
        ["git", "rev-parse", "--git-dir"],
        cwd=tempfile.gettempdir(),
        capture_output=True,
        check=False,
    )
    with pytest.MonkeyPatch.context() as patch:
        if outside_git.returncode != 0 and hasattr(Worker, "_sync_git_index_executable_bit"):
            patch.setattr(Worker, "_sync_git_index_executable_bit", lambda *_: None)
        yield


@pytest.mark.usefixtures("no_git_index_sync")
def test_fuzzed_free_text_answers_render_valid_projects_or_get_the_rule(
    plain_template: Path,
) -> None:
    stats: Counter[str] = Counter()
    render_seconds: list[float] = []

    @FUZZ
    @given(answers=ANSWERS)
    @example(answers={"project_name": "Yes", "description": "null", "author_name": "~"})
    @example(answers={"project_name": "null", "description": "- a: b", "author_name": "O'Hara"})
    @example(answers={"project_name": "On", "description": "", "author_name": 'Jo "JJ" \\ Ng'})
    def check(answers: dict[str, str]) -> None:
        expected = expected_rejection(answers)
        with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
            project = Path(folder) / "project"
            started = time.perf_counter()
            try:
                render_from(plain_template, project, **answers)
            except ValueError as error:
                assert expected is not None, f"valid answers rejected: {answers!r}: {error}"
                question, message = expected
                assert f"Validation error for question '{question}': {message}" in str(error)
                stats["rejected"] += 1
                stats[f"rejected at {question}"] += 1
                return
            assert expected is None, f"Copier accepted {answers!r}; expected {expected}"
            check_rendered_answers(project, answers)
            render_seconds.append(time.perf_counter() - started)
            stats["rendered"] += 1

    started = time.perf_counter()
    check()
    elapsed = time.perf_counter() - started
    per_render = sum(render_seconds) / max(len(render_seconds), 1)
    by_question = ", ".join(
        f"{key.removeprefix('rejected at ')} {count}"
        for key, count in sorted(stats.items())
        if key.startswith("rejected at ")
    )
    print(
        f"\nfuzzed examples: {stats['rendered'] + stats['rejected']} in {elapsed:.0f} s; "
        f"renders fuzzed: {stats['rendered']} ({per_render:.2f} s each, validation included); "
        f"rejected with the validator's message: {stats['rejected']} ({by_question})"
    )
    assert stats["rendered"] > 0 and stats["rejected"] > 0


def test_a_file_broken_after_a_clean_check_is_reported_at_every_check(
    plain_template: Path, tmp_path: Path
) -> None:
    """The check remembers clean texts (many renders in one process); never a problem."""
    project = render_from(plain_template, tmp_path / "project")
    assert validate_render.validate(project) == []
    parameters = project / "conf" / "base" / "parameters.yml"
    registry = next((project / "src").glob("*/pipeline_registry.py"))
    clean_parameters, clean_registry = parameters.read_text(), registry.read_text()
    parameters.write_text(clean_parameters + "\nbroken:\n  first: 1\n second: 2\n")
    registry.write_text(clean_registry + "\n# {% if include_example %}\ndef broken(:\n")
    registry_name = str(registry.relative_to(project))
    for _ in range(2):
        problems = validate_render.validate(project)
        assert sorted(p.split(":")[0] for p in problems) == sorted(
            ["conf/base/parameters.yml", registry_name, registry_name]
        ), problems
        assert any("conf/base/parameters.yml: does not parse" in p for p in problems)
        assert any("Jinja syntax survived rendering" in p for p in problems)
    # The same clean text under another name of the same kind is clean there too.
    parameters.write_text(clean_parameters)
    registry.write_text(clean_registry)
    (project / "conf" / "base" / "parameters_copy.yml").write_text(clean_parameters)
    assert validate_render.validate(project) == []


# ----- Fault injection ----------------------------------------------------------------------------


def _append(relative: str, text: str) -> Callable[[Path], None]:
    def inject(template: Path) -> None:
        path = template / relative
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    return inject


def _write_bytes(relative: str, data: bytes) -> Callable[[Path], None]:
    def inject(template: Path) -> None:
        (template / relative).write_bytes(data)

    return inject


def _remove(relative: str) -> Callable[[Path], None]:
    def inject(template: Path) -> None:
        path = template / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return inject


COPY_COMMAND = [str(VENV_BIN / "copier"), "copy", "--trust", "--defaults", "--quiet"]
PACKAGE_DIR = "template/src/{{ package_name }}"
CATALOG = "template/conf/base/catalog.yml"
# name: (how to break the template copy, substrings the failed copy's output must contain)
FAULTS: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "undefined variable": (
        _append("template/README.md.jinja", "\nOwner: {{ owner_team }}\n"),
        ("README.md.jinja", "'owner_team' is undefined"),
    ),
    "broken YAML indent": (
        _append("template/conf/base/parameters.yml", "\nbroken:\n  first: 1\n second: 2\n"),
        ("conf/base/parameters.yml: does not parse",),
    ),
    "Python syntax error": (
        _append(f"{PACKAGE_DIR}/pipeline_registry.py", "\ndef broken(:\n    pass\n"),
        ("src/churn_prediction/pipeline_registry.py: does not parse",),
    ),
    "missing required file": (
        _remove(f"{PACKAGE_DIR}/settings.py"),
        ("src/churn_prediction/settings.py: required file is missing",),
    ),
    "catalog type that does not exist": (
        _append(CATALOG, "\nbroken_dataset:\n  type: pandas.NoSuchDataset\n  filepath: x.csv\n"),
        ("conf/base/catalog.yml: dataset 'broken_dataset'", "is not a kedro-datasets type"),
    ),
    "catalog type whose extra is not installed": (
        _append(CATALOG, "\nsheet:\n  type: pandas.ExcelDataset\n  filepath: data/x.xlsx\n"),
        ("conf/base/catalog.yml: dataset 'sheet'", "needs the kedro-datasets extra"),
    ),
    "project dataset class that does not exist": (
        _append(CATALOG, "\ncustom:\n  type: churn_prediction.nosuch.NoSuch\n  filepath: x\n"),
        ("conf/base/catalog.yml: dataset 'custom'", "not found under src/"),
    ),
    "leftover {% in a file copied verbatim": (
        _append("template/conf/base/parameters.yml", "# {% if include_example %}\n"),
        ("conf/base/parameters.yml: line", "Jinja syntax survived rendering"),
    ),
    "leftover }} in Markdown": (
        _append("template/conf/README.md", "\nSee {{ docs_url }}.\n"),
        ("conf/README.md: line", "Jinja syntax survived rendering"),
    ),
    "bad JSON": (
        _append("template/.devcontainer/devcontainer.json.jinja", ",\n"),
        (".devcontainer/devcontainer.json: does not parse",),
    ),
    "bad TOML (duplicate table)": (
        _append("template/pyproject.toml.jinja", '\n[project]\nname = "again"\n'),
        ("pyproject.toml: does not parse",),
    ),
    "unpinned lock line": (
        _append("locks/requirements-py3.12.txt", "requests>=2\n"),
        ("requirements.txt: requirement not pinned with '==': requests>=2",),
    ),
    "missing lock for the Python version": (
        _remove("locks/requirements-dev-py3.12.txt"),
        ("requirements-dev.txt: is empty",),
    ),
    "non-UTF-8 file": (
        _write_bytes("template/conf/notes.md", "Caf\u00e9 notes\n".encode("latin-1")),
        ("conf/notes.md: is not valid UTF-8 text",),
    ),
    "missing CI workflow": (
        _remove("template/.github"),
        (".github/workflows/ci.yml: required file is missing",),
    ),
}


# The faults copied with the `copier` command (its exit status and output): a render error and a
# failed post-generation check. The others go through Copier's API in the test's process, the
# same render and the same check in its own process, without starting Copier again (~1.8 s each).
THROUGH_THE_COMMAND = ("undefined variable", "broken YAML indent")


def copy_in_process(
    template: Path, destination: Path, capfd: pytest.CaptureFixture[str]
) -> tuple[bool, str]:
    """Return (failed, what was raised and printed) of copying `template` as COPY_COMMAND does:
    defaults, quiet, trusted (the post-generation check runs)."""
    capfd.readouterr()
    try:
        copier.run_copy(str(template), destination, defaults=True, quiet=True, unsafe=True)
    except Exception as error:
        failed, raised = True, f"{type(error).__name__}: {error}"
    else:
        failed, raised = False, ""
    printed = capfd.readouterr()
    return failed, "\n".join((raised, printed.out, printed.err))


def test_injected_template_faults_fail_the_copy_naming_the_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Each broken template copy must fail `copier copy --trust` with a message naming the file."""
    env = {**os.environ, **PROJECT_ENV, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    missed = []
    started = time.perf_counter()
    for number, (name, (inject, expected)) in enumerate(FAULTS.items()):
        template = copy_template(tmp_path / f"fault{number}" / "template")
        inject(template)
        destination = tmp_path / f"fault{number}" / "project"
        if name in THROUGH_THE_COMMAND:
            result = subprocess.run(
                [*COPY_COMMAND, str(template), str(destination)],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
            failed, output = result.returncode != 0, result.stdout + result.stderr
        else:
            failed, output = copy_in_process(template, destination, capfd)
        if not failed or not all(text in output for text in expected):
            missed.append(f"{name}: failed {failed}, expected {expected} in\n{output}")
    caught = len(FAULTS) - len(missed)
    print(
        f"\nfaults injected: {len(FAULTS)}, caught: {caught} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    assert len(FAULTS) >= 10 and set(THROUGH_THE_COMMAND) <= set(FAULTS)
    assert caught == len(FAULTS), "\n\n".join(missed)


def test_copy_into_a_relative_destination_passes_the_check(
    plain_template: Path, tmp_path: Path
) -> None:
    """`copier copy --trust <template> my-project` (what the README shows) must not fail."""
    env = {**os.environ, **PROJECT_ENV}
    result = subprocess.run(
        [*COPY_COMMAND, str(plain_template), "my-project"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Post-generation validation passed" in result.stdout


# ----- Secrets ------------------------------------------------------------------------------------

# Independent of the rendered project's own scripts/detect_aws_credentials.py, on purpose.
SECRET_PATTERNS = {
    "access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA)[A-Z0-9]{16}"),
    # A secret access key is 40 base64 characters; flagged when a key name says "secret".
    "secret access key": re.compile(
        r"(?i)secret[\w\"' ]{0,30}[:=]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
    ),
    # Session tokens are hundreds of base64 characters.
    "session token": re.compile(
        r"(?i)(?:session|security)_?token[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{100,}"
    ),
}
# Every pair of python x ci x example values (the license changes one text file): each file set
# (ci x example) is among them, and each Python's locks.
SECRET_VARIANTS = pairwise(
    {
        "python_version": ("3.11", "3.12", "3.13"),
        "ci_provider": ("github", "none"),
        "include_example": (True, False),
    }
)
MUST_BE_IGNORED = [
    "conf/local/credentials.yml",
    "conf/local/mlflow.yml",
    "mlruns/0/meta.yaml",
    "mlartifacts/1/model.pkl",
    "mlflow.db",
]


def secret_findings(project: Path) -> list[str]:
    """Return `file:line: kind` for every credential-looking string in the project's files."""
    found = []
    for path in sorted(p for p in project.rglob("*") if p.is_file() and ".git" not in p.parts):
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            found += [
                f"{path.relative_to(project)}:{number}: {kind}"
                for kind, pattern in SECRET_PATTERNS.items()
                if pattern.search(line)
            ]
    return found


def test_secret_scan_finds_planted_credentials(tmp_path: Path) -> None:
    """The scan is not vacuous: it finds each kind of credential when one is there."""
    key_id = "AKIA" + "IOSFODNN7" + "EXAMPLE"
    secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
    (tmp_path / "a.py").write_text(f'KEY = "{key_id}"\n')
    (tmp_path / "b.yml").write_text(f"aws_secret_access_key: {secret}\n")
    (tmp_path / "c.ini").write_text("[default]\naws_session_token = " + "FwoGZX" * 20 + "\n")
    kinds = {line.rsplit(": ", 1)[1] for line in secret_findings(tmp_path)}
    assert kinds == set(SECRET_PATTERNS)


@pytest.mark.parametrize(
    "answers",
    SECRET_VARIANTS,
    ids=[
        f"py{a['python_version']}-{a['ci_provider']}-{a['include_example']}"
        for a in SECRET_VARIANTS
    ],
)
def test_rendered_project_holds_no_credentials_and_ignores_local_stores(
    plain_template: Path, tmp_path: Path, answers: dict
) -> None:
    project = render_from(
        plain_template,
        tmp_path / "project",
        sagemaker_role_arn="arn:aws:iam::123456789012:role/SageMakerExecutionRole",
        **answers,
    )
    assert secret_findings(project) == []

    git = ["git", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    for path in MUST_BE_IGNORED:
        ignored = subprocess.run([*git, "check-ignore", "-q", path], cwd=project, check=False)
        assert ignored.returncode == 0, f"{path} is not git-ignored"
    kept_out = [*MUST_BE_IGNORED, "data/01_raw/customers.csv", ".git/config"]
    assert dockerignore_excludes(project, kept_out) == dict.fromkeys(kept_out, True)


def dockerignore_excludes(project: Path, paths: list[str]) -> dict[str, bool]:
    """Return, per path, whether .dockerignore keeps it out of the build context.

    Docker's rules: each pattern is a path glob (`**` any number of folders) matched against the
    path or any of its parent folders; a later `!pattern` re-includes; the last match wins.
    """
    patterns = [
        line.strip()
        for line in (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    def matches(pattern: str, path: str) -> bool:
        pattern = pattern.strip("/")
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        return any(re.fullmatch(regex, c) or fnmatchcase(c, pattern) for c in candidates)

    result = {}
    for path in paths:
        excluded = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            if matches(pattern.lstrip("!"), path):
                excluded = not negated
        result[path] = excluded
    return result


def test_copier_validation_error_is_a_value_error(plain_template: Path, tmp_path: Path) -> None:
    """The fuzz test relies on Copier raising ValueError for a rejected answer."""
    with pytest.raises(ValueError, match="Validation error for question 'package_name'"):
        copier.run_copy(
            str(plain_template),
            tmp_path / "p",
            data={"package_name": "json"},
            defaults=True,
            quiet=True,
            skip_tasks=True,
            pretend=True,
        )
