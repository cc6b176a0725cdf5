"""`copier update` keeps every user edit, runs the migrations, and equals a fresh copy.

The tests build a throwaway git repository of the template with two release tags:

- 1.0.0 is the template's working tree as it is now;
- 2.0.0 is 1.0.0 plus a synthetic release with everything an update has to carry: a changed
  template file next to a user's edit, a changed line the user also changed (a true conflict), a
  renamed rendered file (conf/README.md -> conf/CONFIGURATION.md) and a renamed answer
  (author_name -> maintainer_name), each with its migration, a new question with a default, and
  a change to a `_skip_if_exists` file.

A project rendered at 1.0.0 is committed, edited the way a team edits it, and updated with the
command users run. The migrations are the patterns docs/decisions/0008-update-strategy.md
prescribes for real releases.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pathspec
import pytest
import yaml
from conftest import (
    PROJECT_ENV,
    TEMPLATE_ROOT,
    VENV_BIN,
    assert_suite_passed,
    copy_of,
    derived_suite_selection,
    run_in,
)
from packaging.version import InvalidVersion, Version

pytestmark = [pytest.mark.update, pytest.mark.render]

V1, V2 = "1.0.0", "2.0.0"
PACKAGE = "churn_prediction"
TEAM_AUTHOR = "Data Team"
ANSWERS_FILE = ".copier-answers.yml"
DOCS_PAGE = TEMPLATE_ROOT / "docs" / "updating.md"
# The post-generation task's line on stdout names the folder it checked (hooks/validate_render.py).
HOOK_PASSED = re.compile(r"^Post-generation validation passed in .* s: (.*)$", re.MULTILINE)
INLINE_MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")

# A throwaway identity and no user or system git configuration: commit signing or hooks from the
# machine running the tests must not change what copier sees.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Update Test",
    "GIT_AUTHOR_EMAIL": "update-test@example.com",
    "GIT_COMMITTER_NAME": "Update Test",
    "GIT_COMMITTER_EMAIL": "update-test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

# ----- the synthetic 2.0.0 release ---------------------------------------------------------------
NODES = "template/src/{{ package_name }}/pipelines/training/nodes.py"
PARAMETERS = "template/conf/base/parameters_training.yml"
OLD_CONF_README, NEW_CONF_README = "conf/README.md", "conf/CONFIGURATION.md"
NEW_QUESTION = "drift_check_cadence"
NODES_ADDITION = '''

def count_model_features(features: dict) -> int:
    """Return how many columns the model trains on (added in template 2.0.0)."""
    return len(features["numeric"]) + len(features["categorical"])
'''
README_ADDITION = (
    "\n## Drift checks\n\nThe monitoring pipeline is meant to run {{ drift_check_cadence }} on the "
    "newest batch of customers.\n"
)
CREDENTIALS_ADDITION = "# Template 2.0.0: MLflow server credentials go here too.\n"

# The migration patterns of docs/decisions/0008-update-strategy.md. A renamed answer is renamed in
# the answers file before the update, so `--defaults` keeps the user's value; a renamed file is
# rebuilt after the update from the user's last committed copy of the old path.
RENAME_ANSWER = (
    "import pathlib, re, sys; path, old, new = pathlib.Path(sys.argv[1]), sys.argv[2], "
    "sys.argv[3]; path.write_text(re.sub(rf'(?m)^{old}:', f'{new}:', path.read_text()))"
)
MIGRATIONS = [
    {
        "version": V2,
        "when": "{{ _stage == 'before' }}",
        "command": [
            "{{ _copier_python }}",
            "-c",
            RENAME_ANSWER,
            "{{ _copier_conf.answers_file }}",
            "author_name",
            "maintainer_name",
        ],
    },
    {
        "version": V2,
        "when": "{{ _stage == 'after' }}",
        "command": (
            f"if git cat-file -e HEAD:./{OLD_CONF_README} 2>/dev/null; "
            f"then git show HEAD:./{OLD_CONF_README} > {NEW_CONF_README}; fi"
        ),
    },
]

# ----- the team's edits to the 1.0.0 project -----------------------------------------------------
NODE_EDIT = '    logger.info("team edit: %s uses the churn team settings", __name__)\n'
CATALOG_EDIT = """
# ----- team datasets ---------------------------------------------------------------------------
churn_scores_export:
  type: pandas.CSVDataset
  filepath: ${globals:storage.root}/07_model_output/churn_scores_export.csv
"""
CONF_README_EDIT = "\nTeam note: the aws environment reads the bucket name from globals.yml.\n"
CREDENTIALS_EDIT = "team_tracking:\n  token: local-only-placeholder\n"
OWN_FILE = f"src/{PACKAGE}/pipelines/training/reviewed_features.py"
OWN_FILE_TEXT = (
    '"""Features the churn team reviewed by hand (a file of the team\'s own)."""\n\n'
    'REVIEWED_FEATURES = ("tenure_months", "contract_type")\n'
)


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` with the test identity and return its standard output."""
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}:\n{result.stderr}")
    return result.stdout


def commit_all(project: Path, message: str) -> None:
    """Stage every change of `project` (a git repository, created if needed) and commit it."""
    if not (project / ".git").exists():
        git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--no-verify", "--message", message)


def copier(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the copier command line in `cwd`, as a user does, and capture its output."""
    env = {**os.environ, **PROJECT_ENV, **GIT_ENV}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(VENV_BIN / "copier"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Return `result` after checking its exit status, with its output in the failure message."""
    assert result.returncode == 0, (
        f"{' '.join(map(str, result.args))} exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
    )
    return result


def copy_project(template: Path, ref: str, destination: Path, *data: str) -> Path:
    """Render `template` at `ref` into `destination` (absolute) with defaults and `-d` data."""
    copy_and_hook_runs(template, ref, destination, *data)
    return destination


def copy_and_hook_runs(template: Path, ref: str, destination: Path, *data: str) -> list[str]:
    """Render like copy_project; return the folders the post-generation task checked."""
    options = [arg for pair in data for arg in ("--data", pair)]
    result = succeeded(
        copier(
            destination.parent,
            "copy", "--trust", "--defaults", "--vcs-ref", ref, *options,
            str(template), str(destination),
        )
    )  # fmt: skip
    return HOOK_PASSED.findall(result.stdout)


def answers(project: Path) -> dict:
    """Return the project's recorded copier answers."""
    return yaml.safe_load((project / ANSWERS_FILE).read_text())


def release_tags(repository: Path) -> list[str]:
    """Return the repository's PEP 440 release tags, oldest first (what copier compares)."""
    versions = []
    for tag in git(repository, "tag", "--list").split():
        try:
            versions.append((Version(tag), tag))
        except InvalidVersion:
            continue
    return [tag for _, tag in sorted(versions)]


# ----- building the template repository ---------------------------------------------------------
def copy_working_tree(destination: Path) -> None:
    """Copy the template's working tree (tracked and untracked, not ignored) to `destination`."""
    listing = git(TEMPLATE_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for relative in filter(None, listing.split("\0")):
        source = TEMPLATE_ROOT / relative
        target = destination / relative
        if source.is_symlink():  # template/docs -> ../docs: the docs ship through it
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.readlink(source))
            continue
        if not source.is_file():
            continue  # deleted in the working tree
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def numeric_leaves(text: str) -> list[tuple[int, str, str, str]]:
    """Return (line index, indent+key, value, rest) of every `key: <number>` line of a YAML text."""
    pattern = re.compile(r"^(\s+[A-Za-z_]\w*: )(-?\d+(?:\.\d+)?)(.*)$")
    return [
        (index, match[1], match[2], match[3])
        for index, line in enumerate(text.splitlines())
        if (match := pattern.match(line))
    ]


def scaled(value: str, factor: int) -> str:
    """Return the YAML number `value` multiplied by `factor`, keeping int or float."""
    if "." in value:
        return f"{float(value) * factor:g}" if float(value) else "0.5"
    return str(int(value) * factor or factor)


def conflict_and_edit_lines(text: str) -> tuple[tuple, tuple]:
    """Return the parameter lines the conflict and the user's clean edit use (far enough apart)."""
    leaves = numeric_leaves(text)
    assert len(leaves) >= 2, f"{PARAMETERS} needs two numeric parameters for this test"
    first, last = leaves[0], leaves[-1]
    assert last[0] - first[0] >= 3, f"{PARAMETERS}: its numeric parameters are too close together"
    return first, last


def replace_line(text: str, index: int, line: str) -> str:
    """Return `text` with line `index` replaced by `line`."""
    lines = text.splitlines(keepends=True)
    lines[index] = line + "\n"
    return "".join(lines)


def make_release_2(root: Path) -> None:
    """Turn the 1.0.0 copy at `root` into the synthetic 2.0.0 release."""
    template = root / "template"
    nodes = root / NODES
    nodes.write_text(nodes.read_text() + NODES_ADDITION)

    parameters = root / PARAMETERS
    text = parameters.read_text()
    (index, key, value, rest), _ = conflict_and_edit_lines(text)
    parameters.write_text(replace_line(text, index, f"{key}{scaled(value, 2)}{rest}"))

    git(root, "mv", f"template/{OLD_CONF_README}", f"template/{NEW_CONF_README}")

    readme = template / "README.md.jinja"
    readme.write_text(readme.read_text().rstrip("\n") + "\n" + README_ADDITION)
    credentials = template / "conf/local/credentials.yml"
    credentials.write_text(credentials.read_text() + CREDENTIALS_ADDITION)

    # The answer rename: every use of the old name, in the questions and in the files.
    for path in [root / "copier.yml", *template.rglob("*"), *(root / "includes").rglob("*")]:
        if path.is_file() and b"author_name" in (data := path.read_bytes()):
            path.write_text(re.sub(r"\bauthor_name\b", "maintainer_name", data.decode()))

    # Copier merges the documents of copier.yml, the later one winning: the new question and the
    # release's migrations go in a second document, so the first stays as the lead wrote it.
    config = root / "copier.yml"
    existing = [doc for doc in yaml.safe_load_all(config.read_text()) if doc]
    migrations = next((d["_migrations"] for d in reversed(existing) if "_migrations" in d), [])
    extra = {
        "_migrations": [*migrations, *MIGRATIONS],
        NEW_QUESTION: {
            "type": "str",
            "help": "How often the drift checks run",
            "default": "weekly",
            "choices": ["daily", "weekly", "monthly"],
        },
    }
    config.write_text(
        config.read_text().rstrip("\n") + "\n---\n" + yaml.safe_dump(extra, sort_keys=False)
    )


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a git repository of the template tagged 1.0.0 (as is) and 2.0.0 (synthetic)."""
    root = tmp_path_factory.mktemp("template-repo")
    copy_working_tree(root)
    commit_all(root, "release 1.0.0: the template as it is")
    git(root, "tag", V1)
    make_release_2(root)
    commit_all(root, "release 2.0.0: synthetic changes, renames and a new question")
    git(root, "tag", V2)
    return root


# ----- a project with the team's edits, updated ---------------------------------------------------
def rendered(template_path: str) -> str:
    """Return where the template file `template_path` lands in a default project."""
    path = template_path.removeprefix("template/").replace("{{ package_name }}", PACKAGE)
    return path.removesuffix(".jinja")


def edit_first_node(path: Path) -> str:
    """Add a statement at the top of the module's first function; return the added line."""
    text = path.read_text()
    assert re.search(r"(?m)^logger = ", text), f"{path} no longer defines a module `logger`"
    function = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef))
    after = function.body[0].end_lineno  # the docstring's last line
    lines = text.splitlines(keepends=True)
    path.write_text("".join([*lines[:after], NODE_EDIT, *lines[after:]]))
    return NODE_EDIT


@dataclass
class EditedUpdate:
    """A project rendered at 1.0.0, edited and committed, then updated to 2.0.0."""

    project: Path
    copy_hook_runs: list[str]
    update_hook_runs: list[str]
    check_before: dict
    update: subprocess.CompletedProcess
    conflict_lines: tuple[str, str, str]  # 1.0.0 line, the user's line, 2.0.0's line
    parameter_edit: str
    own_file_before: bytes


@pytest.fixture(scope="module")
def edited_update(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> EditedUpdate:
    """Render 1.0.0, make a team's edits, commit, and run `copier update --trust --defaults`."""
    workspace = tmp_path_factory.mktemp("edited")
    project = workspace / "churn-prediction"
    copy_hook_runs = copy_and_hook_runs(template_repo, V1, project, f"author_name={TEAM_AUTHOR}")
    commit_all(project, "project from copier-kedro-mlops 1.0.0")

    edit_first_node(project / rendered(NODES))
    parameters = project / rendered(PARAMETERS)
    text = parameters.read_text()
    conflicting, edited = conflict_and_edit_lines(text)
    c_index, c_key, c_value, c_rest = conflicting
    e_index, e_key, e_value, e_rest = edited
    conflict_lines = (
        f"{c_key}{c_value}{c_rest}",
        f"{c_key}{scaled(c_value, 3)}{c_rest}",
        f"{c_key}{scaled(c_value, 2)}{c_rest}",
    )
    parameter_edit = f"{e_key}{int(float(e_value)) + 1}{e_rest}"
    text = replace_line(text, c_index, conflict_lines[1])
    parameters.write_text(replace_line(text, e_index, parameter_edit))
    with (project / "conf/base/catalog.yml").open("a") as catalog:
        catalog.write(CATALOG_EDIT)
    with (project / OLD_CONF_README).open("a") as conf_readme:
        conf_readme.write(CONF_README_EDIT)
    with (project / "conf/local/credentials.yml").open("a") as credentials:
        credentials.write(CREDENTIALS_EDIT)  # git-ignored: it never reaches a commit
    (project / OWN_FILE).write_text(OWN_FILE_TEXT)
    commit_all(project, "team edits")

    check = succeeded(copier(project, "check-update", "--output-format", "json"))
    update = copier(project, "update", "--trust", "--defaults")
    return EditedUpdate(
        project=project,
        copy_hook_runs=copy_hook_runs,
        update_hook_runs=HOOK_PASSED.findall(update.stdout),
        check_before=json.loads(check.stdout),
        update=update,
        conflict_lines=conflict_lines,
        parameter_edit=parameter_edit,
        own_file_before=OWN_FILE_TEXT.encode(),
    )


def test_update_moves_the_project_to_the_new_release(edited_update):
    assert edited_update.check_before == {
        "update_available": True,
        "current_version": V1,
        "latest_version": V2,
    }
    succeeded(edited_update.update)
    recorded = answers(edited_update.project)
    assert recorded["_commit"] == V2


def test_answers_file_records_everything_to_update_without_questions(edited_update, template_repo):
    recorded = answers(edited_update.project)
    config = {}
    for document in yaml.safe_load_all((template_repo / "copier.yml").read_text()):
        config.update(document or {})
    questions = {name: spec for name, spec in config.items() if not name.startswith("_")}

    def spec(name: str) -> dict:
        return questions[name] if isinstance(questions[name], dict) else {}

    # Derived values (`when: false`) and secrets are never stored; a question behind a Jinja
    # condition is stored when it was asked; every other answer must be there.
    never = {n for n in questions if spec(n).get("when") is False or spec(n).get("secret")}
    never |= set(config.get("_secret_questions", []))
    conditional = {n for n in questions if isinstance(spec(n).get("when"), str)}
    always = set(questions) - never - conditional
    assert Path(recorded["_src_path"]) == template_repo
    assert recorded["_commit"] == V2
    assert always | {"_src_path", "_commit"} <= set(recorded)
    assert set(recorded) <= always | conditional | {"_src_path", "_commit"}


def test_template_changes_are_applied(edited_update):
    project = edited_update.project
    nodes = (project / rendered(NODES)).read_text()
    assert "def count_model_features(features: dict) -> int:" in nodes
    assert "meant to run weekly on the newest batch" in (project / "README.md").read_text()
    assert answers(project)[NEW_QUESTION] == "weekly"


def test_migrations_carry_renamed_files_and_answers(edited_update):
    project = edited_update.project
    assert not (project / OLD_CONF_README).exists()
    moved = (project / NEW_CONF_README).read_text()
    assert moved.startswith("# Configuration")  # the template's text ...
    assert moved.endswith(CONF_README_EDIT)  # ... with the team's note, moved along
    recorded = answers(project)
    assert "author_name" not in recorded
    assert recorded["maintainer_name"] == TEAM_AUTHOR  # not reset to the default by --defaults
    assert f'name = "{TEAM_AUTHOR}"' in (project / "pyproject.toml").read_text()


def test_every_user_edit_survives(edited_update):
    project = edited_update.project
    nodes = (project / rendered(NODES)).read_text()
    assert NODE_EDIT in nodes
    ast.parse(nodes)  # merged with the template's new function, still valid Python
    parameters = (project / rendered(PARAMETERS)).read_text()
    assert edited_update.parameter_edit + "\n" in parameters
    catalog = (project / "conf/base/catalog.yml").read_text()
    assert catalog.endswith(CATALOG_EDIT)
    assert "churn_scores_export" in yaml.safe_load(catalog)
    credentials = (project / "conf/local/credentials.yml").read_text()
    assert credentials.endswith(CREDENTIALS_EDIT)  # `_skip_if_exists`: the template's change ...
    assert CREDENTIALS_ADDITION not in credentials  # ... never lands in the user's copy


def test_users_own_file_is_untouched(edited_update):
    project = edited_update.project
    assert (project / OWN_FILE).read_bytes() == edited_update.own_file_before
    assert git(project, "status", "--porcelain", "--", OWN_FILE) == ""


def shipped_as_released(project: Path, path: Path, template_repo: Path) -> bool:
    """Return whether `path` is a docs page identical to the template repository's own copy."""
    relative = path.relative_to(project)
    released = template_repo / relative
    return (
        relative.parts[0] == "docs"
        and released.is_file()
        and released.read_bytes() == path.read_bytes()
    )


def test_true_conflict_is_inline_and_reported(edited_update, template_repo, tmp_path):
    project = edited_update.project
    original, users, templates = edited_update.conflict_lines
    parameters = rendered(PARAMETERS)
    text = (project / parameters).read_text()
    block = re.search(
        r"^<<<<<<< before updating\n(.*?)^=======\n(.*?)^>>>>>>> after updating\n",
        text,
        flags=re.MULTILINE | re.DOTALL,
    )
    assert block, f"no inline conflict in {parameters}:\n{text}"
    assert users in block[1].splitlines() and original not in block[1].splitlines()
    assert block[2].splitlines() == [templates]
    # Reported, not resolved: copier exits 0 and says nothing, but git holds the file as
    # unmerged, refuses a commit, and `git diff --check` flags the markers even once staged.
    assert git(project, "diff", "--name-only", "--diff-filter=U").split() == [parameters]
    assert "both modified:   " + parameters in git(project, "status")
    attempt = tmp_path / project.name  # a copy: a commit that wrongly succeeded would change it
    shutil.copytree(project, attempt, symlinks=True)
    git_env = {**os.environ, **GIT_ENV}
    commit = subprocess.run(
        ["git", "commit", "--message", "update"], cwd=attempt, env=git_env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert commit.returncode != 0 and "unmerged files" in commit.stderr
    git(attempt, "add", "--all")
    check = subprocess.run(
        ["git", "diff", "--cached", "--check"], cwd=attempt, env=git_env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert check.returncode != 0 and f"{parameters}:" in check.stdout
    # docs/updating.md and decision 0008 show the markers to the reader: shipped docs count only
    # when they differ from the release's page.
    with_markers = [
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if ".git" not in path.parts
        and path.is_file()
        and INLINE_MARKERS[0].encode() in path.read_bytes()
        and not shipped_as_released(project, path, template_repo)
    ]
    assert with_markers == [parameters]
    assert not list(project.rglob("*.rej"))


def test_tasks_run_once_per_copy_and_once_per_update(edited_update):
    project = str(edited_update.project.resolve())
    assert edited_update.copy_hook_runs == [project]
    assert edited_update.update_hook_runs == [project]


def resolve_conflicts_with_template_side(project: Path) -> None:
    """Keep the template's side of every inline conflict, as a reviewer accepting it would."""
    conflict = re.compile(
        r"^<<<<<<< before updating\n.*?^=======\n(.*?)^>>>>>>> after updating\n",
        flags=re.MULTILINE | re.DOTALL,
    )
    for relative in git(project, "diff", "--name-only", "--diff-filter=U").split():
        path = project / relative
        path.write_text(conflict.sub(r"\1", path.read_text()))
        git(project, "add", "--", relative)


@pytest.mark.e2e
def test_updated_project_passes_its_own_tests(edited_update, tmp_path, default_project):
    project = copy_of(edited_update.project, tmp_path)
    resolve_conflicts_with_template_side(project)
    # The update changes files (merged nodes, parameters, catalog, a moved page), not the data the
    # derived feature specs feed the nodes: each test runs once, and the self-contained modules
    # only where their code differs from the default render's (conftest.derived_suite_selection).
    selection = derived_suite_selection(project, default_project)
    command = ("pytest", "-q", "-x", "-p", "no:cacheprovider", *selection)
    result = run_in(project, *command, timeout=900, fresh_process=False)
    assert_suite_passed(result, derived=False)


# ----- update equals fresh copy ----------------------------------------------------------------
def tree(root: Path) -> dict[str, tuple[bytes, bool] | None]:
    """Return every path of a project (None for folders) with its bytes and executable bit.

    `.git` is left out, and so is the answers file's `_commit` line, the only line an update
    and a fresh copy may legitimately differ in.
    """
    snapshot: dict[str, tuple[bytes, bool] | None] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] == ".git":
            continue
        if path.is_dir():
            snapshot[relative.as_posix()] = None
            continue
        content = path.read_bytes()
        if relative.as_posix() == ANSWERS_FILE:
            content = re.sub(rb"(?m)^_commit: .*\n", b"", content)
        snapshot[relative.as_posix()] = (content, os.access(path, os.X_OK))
    return snapshot


def skip_if_exists(copier_yml: str) -> pathspec.PathSpec:
    """Return the `_skip_if_exists` patterns of a copier.yml text (merged over its documents)."""
    documents = [d for d in yaml.safe_load_all(copier_yml) if d]
    patterns = [pattern for d in documents for pattern in d.get("_skip_if_exists", [])]
    kind = "gitignore" if Version(pathspec.__version__) >= Version("1") else "gitwildmatch"
    return pathspec.PathSpec.from_lines(kind, patterns)  # as copier matches them


def assert_update_equals_fresh(before: dict, updated: Path, fresh: Path, kept) -> None:
    """Fail with a readable diff unless the update gave exactly the fresh copy's tree.

    The one designed exception: a `_skip_if_exists` file (`kept`) that existed before the update
    stays as it was (`before`), whatever the new release ships.
    """
    left, right = tree(updated), tree(fresh)
    for path, entry in before.items():
        if entry is not None and path in right and kept.match_file(path):
            right[path] = entry
    problems = [f"only after update: {p}" for p in sorted(left.keys() - right.keys())]
    problems += [f"only in fresh copy: {p}" for p in sorted(right.keys() - left.keys())]
    for path in sorted(left.keys() & right.keys()):
        if left[path] == right[path]:
            continue
        problems.append(f"differs: {path}")
        try:
            diff = difflib.unified_diff(
                right[path][0].decode().splitlines(),
                left[path][0].decode().splitlines(),
                "fresh copy",
                "after update",
                lineterm="",
            )
            problems.extend(list(diff)[:40])
        except UnicodeDecodeError:
            problems.append("  (binary content)")
    assert not problems, "\n".join(problems)


def workflow_steps() -> dict[str, dict]:
    """Return the steps, by id, of the scheduled update workflow shown in docs/updating.md."""
    block = re.search(
        r"`\.github/workflows/template-update\.yml`; any other GitHub project can copy it from "
        r"here:\n\n```yaml\n(.*?)\n```",
        DOCS_PAGE.read_text(),
        flags=re.DOTALL,
    )
    assert block, f"{DOCS_PAGE} no longer shows .github/workflows/template-update.yml"
    # The workflow rendered projects ship is the one the docs show.
    shipped = next(TEMPLATE_ROOT.glob("template/.github/*/template-update.yml.jinja")).read_text()
    assert block[1].strip() in shipped
    workflow = yaml.safe_load(block[1])
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"] and "workflow_dispatch" in triggers
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    (job,) = workflow["jobs"].values()
    actions = [step.get("uses", "") for step in job["steps"]]
    assert any(action.startswith("peter-evans/create-pull-request@") for action in actions)
    return {step["id"]: step for step in job["steps"] if "id" in step}


def run_workflow_step(step: dict, project: Path, workspace: Path) -> dict[str, str]:
    """Run a workflow step's script in `project` as GitHub Actions would; return its outputs."""
    outputs = workspace / f"{step['id']}.outputs"
    outputs.write_text("")
    env = {**os.environ, **PROJECT_ENV, **GIT_ENV, "GITHUB_OUTPUT": str(outputs)}
    env["RUNNER_TEMP"] = str(workspace)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    succeeded(result)
    # GITHUB_OUTPUT holds `name=value` lines and `name<<DELIMITER ... DELIMITER` blocks.
    parsed, lines = {}, iter(outputs.read_text().splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delimiter = line.split("<<", 1)
            parsed[name] = "\n".join(iter(lines.__next__, delimiter))
        elif "=" in line:
            name, value = line.split("=", 1)
            parsed[name] = value
    return parsed


@dataclass
class UneditedUpdate:
    """A 1.0.0 project updated to 2.0.0 by the documented workflow, and a fresh 2.0.0 copy."""

    before: dict
    updated: Path
    fresh: Path
    check_outputs: dict[str, str]
    update_outputs: dict[str, str]


@pytest.fixture(scope="module")
def unedited_update(template_repo: Path, tmp_path_factory) -> UneditedUpdate:
    """Render 1.0.0, commit, update it with the docs' workflow steps; render 2.0.0 fresh."""
    workspace = tmp_path_factory.mktemp("unedited")
    updated = copy_project(template_repo, V1, workspace / "updated", f"author_name={TEAM_AUTHOR}")
    commit_all(updated, "project from copier-kedro-mlops 1.0.0")
    before = tree(updated)
    steps = workflow_steps()
    check_outputs = run_workflow_step(steps["check"], updated, workspace)
    update_outputs = run_workflow_step(steps["update"], updated, workspace)
    fresh = copy_project(template_repo, V2, workspace / "fresh", f"maintainer_name={TEAM_AUTHOR}")
    return UneditedUpdate(before, updated, fresh, check_outputs, update_outputs)


def test_update_equals_fresh_copy(unedited_update, template_repo):
    kept = skip_if_exists((template_repo / "copier.yml").read_text())
    assert kept.match_file("conf/local/credentials.yml")  # 2.0.0 changed it: the exception is used
    u = unedited_update
    assert (u.updated / "docs/updating.md").is_file()  # the docs ship, and update like the rest
    assert_update_equals_fresh(u.before, u.updated, u.fresh, kept)


def test_documented_workflow_finds_and_applies_the_release(unedited_update):
    assert unedited_update.check_outputs["available"] == "true"
    assert unedited_update.check_outputs["latest"] == V2
    assert unedited_update.update_outputs["has_conflicts"] == "false"
    assert unedited_update.update_outputs["conflicted_files"] == ""
    assert answers(unedited_update.updated)["_commit"] == V2


def test_documented_workflow_flags_conflicts_for_the_pull_request(edited_update, tmp_path):
    # A clone holds the edited project's last commit: the state before `copier update` ran.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(edited_update.project), str(clone))
    steps = workflow_steps()
    assert run_workflow_step(steps["check"], clone, tmp_path)["available"] == "true"
    outputs = run_workflow_step(steps["update"], clone, tmp_path)
    assert outputs["has_conflicts"] == "true"
    assert outputs["conflicted_files"].split() == [rendered(PARAMETERS)]
    # Staged for the pull-request action, markers and all; `git diff --check` still flags them.
    assert not git(clone, "diff", "--name-only", "--diff-filter=U")
    check = subprocess.run(
        ["git", "diff", "--cached", "--check"], cwd=clone, capture_output=True, text=True,
        env={**os.environ, **GIT_ENV}, check=False,
    )  # fmt: skip
    assert check.returncode != 0 and rendered(PARAMETERS) in check.stdout


def update_real_releases(workspace: Path) -> tuple[str, dict, Path, Path, str]:
    """Return (label, tree before, updated, fresh copy, new copier.yml) for the real releases.

    With two or more release tags the oldest is updated to the newest; with one, that tag is
    updated to the working tree (what the next release will hold).
    """
    tags = release_tags(TEMPLATE_ROOT)
    newest = tags[-1] if len(tags) > 1 else "HEAD"
    updated = copy_project(TEMPLATE_ROOT, tags[0], workspace / "updated")
    commit_all(updated, f"project from copier-kedro-mlops {tags[0]}")
    before = tree(updated)
    succeeded(copier(updated, "update", "--trust", "--defaults", "--vcs-ref", newest))
    fresh = copy_project(TEMPLATE_ROOT, newest, workspace / "fresh")
    if newest == "HEAD":
        config = (TEMPLATE_ROOT / "copier.yml").read_text()
    else:
        config = git(TEMPLATE_ROOT, "show", f"{newest}:copier.yml")
    return f"{tags[0]} -> {newest}", before, updated, fresh, config


def test_oldest_release_updates_to_the_newest(unedited_update, tmp_path):
    """Doodba's check: the whole path from the oldest release to the newest equals a fresh copy.

    Until the template has a release tag there is no real path; the synthetic 1.0.0 -> 2.0.0
    path (which `unedited_update` already built) stands in for it and must hold the same way.
    """
    if release_tags(TEMPLATE_ROOT):
        label, before, updated, fresh, config = update_real_releases(tmp_path)
    else:
        label = f"synthetic {V1} -> {V2}"
        before, updated, fresh = (
            unedited_update.before,
            unedited_update.updated,
            unedited_update.fresh,
        )
        config = (Path(answers(updated)["_src_path"]) / "copier.yml").read_text()
        assert answers(updated)["_commit"] == V2
    assert not list(updated.rglob("*.rej")), label
    assert not git(updated, "diff", "--name-only", "--diff-filter=U"), label
    assert_update_equals_fresh(before, updated, fresh, skip_if_exists(config))
