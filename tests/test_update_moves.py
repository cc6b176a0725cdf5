"""`copier update` across the release that moved package modules keeps the project's edits.

The template repository's history holds the template as it was before the move: the parent of
the commit that added `versioning/`. A throwaway repository tags that tree 0.1.0 and the working
tree with the version of the migration in copier.yml that carries the moves. A project rendered
at 0.1.0, edited in three moved modules and committed, is updated with the command users run:

- a module the release only moved comes back at its new path as the project's committed copy;
- a module the release also changed (its relative imports) keeps the edit and gets the change;
- an edit of a line the release changed too is left inline and unmerged, as Copier leaves its
  own conflicts.

The migration (hooks/carry_moved_files.py) is also run directly on small repositories for the
cases an update of the real template does not reach.
"""

from __future__ import annotations

import ast
import difflib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import TEMPLATE_ROOT, copy_of, run_in, skip_or_fail
from packaging.version import Version
from test_update import (
    answers,
    commit_all,
    copier,
    copy_project,
    copy_working_tree,
    git,
    resolve_conflicts_with_template_side,
    succeeded,
)

pytestmark = [pytest.mark.update, pytest.mark.render]

PACKAGE = "churn_prediction"
BEFORE_MOVE = "0.1.0"
TEMPLATE_PACKAGE = "template/src/{{ package_name }}"
# The first file of the move: the commit that added it is the first commit after the old layout.
MOVE_MARKER = f"{TEMPLATE_PACKAGE}/versioning/__init__.py"
SCRIPT = TEMPLATE_ROOT / "hooks" / "carry_moved_files.py"
TEAM_FUNCTION = '''

def team_retention_days() -> int:
    """Return how many days the team keeps old versions (a team edit)."""
    return 90
'''
TEAM_COMMENT = "  # team edit: reviewed"
CONFLICT = re.compile(
    r"^<<<<<<< before updating\n(.*?)^=======\n(.*?)^>>>>>>> after updating\n",
    flags=re.MULTILINE | re.DOTALL,
)


def move_migration() -> dict:
    """Return the copier.yml migration that runs carry_moved_files.py (the module moves)."""
    documents = [d for d in yaml.safe_load_all((TEMPLATE_ROOT / "copier.yml").read_text()) if d]
    migrations = [m for d in documents for m in d.get("_migrations", [])]
    found = [m for m in migrations if any("carry_moved_files.py" in str(p) for p in m["command"])]
    assert len(found) == 1, f"expected one carry_moved_files.py migration, found {len(found)}"
    return found[0]


def moves(migration: dict) -> dict[str, str]:
    """Return old -> new package paths of the migration's OLD=NEW arguments."""
    move = re.compile(r"([\w/]+\.py)=([\w/]+\.py)")
    return dict(m.groups() for p in migration["command"] if (m := move.fullmatch(str(p))))


def test_every_move_points_from_a_gone_path_to_a_shipped_one():
    package = TEMPLATE_ROOT / TEMPLATE_PACKAGE
    listed = moves(move_migration())
    assert listed, "the migration names no OLD=NEW moves"
    for old, new in listed.items():
        assert not (package / old).exists(), f"{old} still ships: it did not move"
        assert (package / new).is_file(), f"{new} (moved from {old}) does not ship"


@dataclass
class MovedUpdate:
    """A project rendered before the move, edited, committed and updated across it."""

    project: Path
    moves: dict[str, str]
    pure: str  # a module the release only moved
    changed: str  # a module the release moved and changed, edited away from the change
    clashing: str  # a module the release moved and changed, edited on a changed line
    committed: dict[str, bytes]  # the project's committed copies of the edited modules
    clash_lines: tuple[str, str]  # the project's line, the release's line
    release_version: str
    update: subprocess.CompletedProcess


def tree_before_the_move(destination: Path) -> None:
    """Extract the template as it was before the move into `destination`, or skip (fail in CI)."""
    added = git(TEMPLATE_ROOT, "log", "--diff-filter=A", "--format=%H", "--", MOVE_MARKER).split()
    if not added:
        skip_or_fail(f"no commit adds {MOVE_MARKER}: the template's git history is not here")
    before = f"{added[-1]}^"
    check = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{before}^{{commit}}"],
        cwd=TEMPLATE_ROOT, capture_output=True, check=False,
    )  # fmt: skip
    if check.returncode != 0:
        skip_or_fail(f"{before} is not in this clone (a shallow clone?)")
    archive = destination.parent / "before-move.tar"
    git(TEMPLATE_ROOT, "archive", "--format=tar", f"--output={archive}", before)
    destination.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-f", str(archive), "-C", str(destination)], check=True)
    archive.unlink()


def package_text(root: Path, relative: str) -> str:
    """Return a package module of the template repository at `root`."""
    return (root / TEMPLATE_PACKAGE / relative).read_text()


def rendered(relative: str) -> str:
    """Return where a package path lands in a default project."""
    return f"src/{PACKAGE}/{relative}"


@pytest.fixture(scope="module")
def moved_update(tmp_path_factory: pytest.TempPathFactory) -> MovedUpdate:
    """Tag the template before and after the move, render before, edit, commit, update."""
    migration = move_migration()
    release_version = str(migration["version"])
    assert Version(BEFORE_MOVE) < Version(release_version)
    listed = moves(migration)
    workspace = tmp_path_factory.mktemp("moves")
    repo = workspace / "template"
    tree_before_the_move(repo)
    commit_all(repo, "the template before the move")
    git(repo, "tag", BEFORE_MOVE)
    old_texts = {old: package_text(repo, old) for old in listed}
    for entry in repo.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    copy_working_tree(repo)
    commit_all(repo, "the release that moves modules")
    git(repo, "tag", release_version)

    changed_by_release = sorted(
        o for o, n in listed.items() if old_texts[o] != package_text(repo, n)
    )
    pure_moves = sorted(o for o, n in listed.items() if old_texts[o] == package_text(repo, n))
    assert pure_moves and len(changed_by_release) >= 2, (
        "this test needs a module the release only moved and two it moved and changed; "
        f"only moved: {pure_moves}, moved and changed: {changed_by_release}"
    )
    pure, changed, clashing = pure_moves[0], changed_by_release[0], changed_by_release[1]

    project = copy_project(repo, BEFORE_MOVE, workspace / "churn-prediction")
    commit_all(project, f"project from the template at {BEFORE_MOVE}")
    for old in (pure, changed):
        with (project / rendered(old)).open("a") as module:
            module.write(TEAM_FUNCTION)
    # The project edits a line the release replaced: the first line of the first block of lines
    # the release replaced, whose new first line is what the release side of the clash shows.
    new_lines = package_text(repo, listed[clashing]).splitlines()
    old_lines = old_texts[clashing].splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    index, replaced = next(
        (i1, new_lines[j1]) for tag, i1, _, j1, _ in matcher.get_opcodes() if tag == "replace"
    )
    path = project / rendered(clashing)
    lines = path.read_text().splitlines(keepends=True)
    project_line = old_lines[index] + TEAM_COMMENT
    lines[index] = project_line + "\n"
    path.write_text("".join(lines))
    commit_all(project, "team edits in three modules")
    committed = {old: (project / rendered(old)).read_bytes() for old in (pure, changed, clashing)}

    update = copier(project, "update", "--trust", "--defaults")
    return MovedUpdate(
        project=project,
        moves=listed,
        pure=pure,
        changed=changed,
        clashing=clashing,
        committed=committed,
        clash_lines=(project_line, replaced),
        release_version=release_version,
        update=update,
    )


def test_update_reaches_the_release_that_moves(moved_update):
    succeeded(moved_update.update)
    assert answers(moved_update.project)["_commit"] == moved_update.release_version


def test_old_paths_are_gone_and_new_ones_are_there(moved_update):
    project = moved_update.project
    for old, new in moved_update.moves.items():
        assert not (project / rendered(old)).exists(), old
        assert (project / rendered(new)).is_file(), new


def test_a_module_only_moved_is_the_projects_committed_copy(moved_update):
    u = moved_update
    moved = (u.project / rendered(u.moves[u.pure])).read_bytes()
    assert moved == u.committed[u.pure]
    assert TEAM_FUNCTION.encode() in moved


def test_a_module_moved_and_changed_keeps_the_edit_and_gets_the_change(moved_update):
    u = moved_update
    text = (u.project / rendered(u.moves[u.changed])).read_text()
    release = package_text(TEMPLATE_ROOT, u.moves[u.changed])
    assert text == release + TEAM_FUNCTION
    ast.parse(text)


def test_a_clash_is_inline_and_unmerged(moved_update):
    u = moved_update
    path = rendered(u.moves[u.clashing])
    text = (u.project / path).read_text()
    block = CONFLICT.search(text)
    assert block, f"no inline conflict in {path}"
    project_line, release_line = u.clash_lines
    assert project_line in block[1].splitlines()
    assert release_line in block[2].splitlines()
    assert git(u.project, "diff", "--name-only", "--diff-filter=U").split() == [path]


def test_unedited_moved_modules_are_the_releases_text(moved_update):
    u = moved_update
    for old, new in u.moves.items():
        if old in u.committed:
            continue
        shipped = package_text(TEMPLATE_ROOT, new)
        assert (u.project / rendered(new)).read_text() == shipped, new


def test_the_updated_project_imports_its_settings_and_commands(moved_update, tmp_path):
    project = copy_of(moved_update.project, tmp_path)
    resolve_conflicts_with_template_side(project)
    run_in(project, "python", "-c", f"import {PACKAGE}.settings, {PACKAGE}.cli")


# ----- the migration's own cases, on a small repository --------------------------------------
def carry(project: Path, *args: str) -> str:
    """Run carry_moved_files.py in `project` and return its output."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=project, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def small_project(root: Path, committed: dict[str, str]) -> Path:
    """Return a git repository at `root` with `committed` (path -> text) in its last commit."""
    for relative, text in committed.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    commit_all(root, "project")
    return root


def test_a_project_without_the_old_path_is_left_alone(tmp_path):
    project = small_project(tmp_path / "p", {"src/pkg/sub/mod.py": "VALUE = 1\n"})
    output = carry(project, f"--template={tmp_path}", "--package=pkg", "mod.py=sub/mod.py")
    assert output == ""
    assert (project / "src/pkg/sub/mod.py").read_text() == "VALUE = 1\n"
    assert git(project, "status", "--porcelain") == ""


@pytest.mark.parametrize("folder", ["", "projects/churn"], ids=["repository", "subfolder"])
def test_an_unknown_previous_release_loses_no_line(tmp_path, folder):
    # Without the previous release's text, the project's copy and the release's text are merged
    # over an empty base: a line they disagree on comes back as a conflict, never dropped. A
    # project may also be a folder of a larger repository: the index is written from its top.
    committed = {Path(folder, "src/pkg/mod.py").as_posix(): "A = 1\nB = 2\n"}
    repository = small_project(tmp_path / "repo", committed)
    project = repository / folder
    (project / "src/pkg/mod.py").unlink()
    (project / "src/pkg/sub").mkdir()
    (project / "src/pkg/sub/mod.py").write_text("A = 1\nB = 3\n")
    output = carry(
        project, f"--template={tmp_path}", "--from=0.0.1", "--package=pkg", "mod.py=sub/mod.py"
    )
    assert "CONFLICT" in output
    block = CONFLICT.search((project / "src/pkg/sub/mod.py").read_text())
    assert block and "B = 2" in block[1] and "B = 3" in block[2]
    unmerged = git(repository, "diff", "--name-only", "--diff-filter=U").split()
    assert unmerged == [str(Path(folder, "src/pkg/sub/mod.py").as_posix())]
