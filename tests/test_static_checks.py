"""Static checks on rendered projects: Dockerfile, bandit, shell, workflow, YAML, ruff, hooks.

Variants: a pairwise covering array of python_version x ci_provider x include_example (every pair
of values of any two options appears in some variant; `test_variants_cover_every_pair` proves
it). The license changes LICENSE only, which none of these tools reads, so it stays default.
bandit fails on findings of medium or high severity and confidence: the low ones are
`subprocess` with fixed argument lists (git, docker), which the code calls on purpose.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ENV, VENV_BIN, render_from, skip_or_fail

pytestmark = pytest.mark.hardening

VARIANTS = [
    ("3.11", "github", True),
    ("3.11", "none", False),
    ("3.12", "github", False),
    ("3.12", "none", True),
    ("3.13", "github", True),
    ("3.13", "none", False),
]
VARIANT_IDS = [f"py{p}-{ci}-{'example' if ex else 'bare'}" for p, ci, ex in VARIANTS]
OPTIONS = {
    "python_version": ("3.11", "3.12", "3.13"),
    "ci_provider": ("github", "none"),
    "include_example": (True, False),
}
# Hook types that never fetch anything: the hook runs a command already on PATH.
OFFLINE_HOOK_LANGUAGES = {"system", "script", "pygrep", "fail"}
SHELL_SHEBANGS = (b"#!/bin/sh", b"#!/bin/bash", b"#!/usr/bin/env sh", b"#!/usr/bin/env bash")


class RenderedVariants(dict):
    """Rendered projects by variant id, each rendered on first use (treat them as read-only)."""

    def __init__(self, template: Path, folders: pytest.TempPathFactory) -> None:
        super().__init__()
        self.template, self.folders = template, folders

    def __missing__(self, variant_id: str) -> Path:
        python_version, ci_provider, include_example = VARIANTS[VARIANT_IDS.index(variant_id)]
        self[variant_id] = render_from(
            self.template,
            self.folders.mktemp(variant_id) / "churn-prediction",
            python_version=python_version,
            ci_provider=ci_provider,
            include_example=include_example,
        )
        return self[variant_id]


@pytest.fixture(scope="module")
def rendered(plain_template: Path, tmp_path_factory: pytest.TempPathFactory) -> RenderedVariants:
    return RenderedVariants(plain_template, tmp_path_factory)


def tool(name: str) -> str:
    """Return the path of a checker installed from requirements-test.txt."""
    path = VENV_BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            skip_or_fail(f"{name} is not installed (requirements-test.txt)")
        return str(found)
    return str(path)


def run(project: Path, *command: str, env: dict[str, str] | None = None) -> str:
    """Run a checker in `project`; fail with its output unless it exits 0."""
    result = subprocess.run(
        list(command),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **os.environ,
            **PROJECT_ENV,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            **(env or {}),
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output}"
    return output


def test_variants_cover_every_pair() -> None:
    for (a, values_a), (b, values_b) in itertools.combinations(enumerate(OPTIONS.values()), 2):
        pairs = {(variant[a], variant[b]) for variant in VARIANTS}
        assert pairs == set(itertools.product(values_a, values_b))


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_hadolint_clean_at_warning_threshold(rendered: RenderedVariants, variant: str) -> None:
    run(rendered[variant], tool("hadolint"), "--failure-threshold", "warning", "Dockerfile")


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_dockerfile_runs_as_non_root_and_adds_no_remote_files(
    rendered: RenderedVariants, variant: str
) -> None:
    text = (rendered[variant] / "Dockerfile").read_text(encoding="utf-8")
    instructions = re.sub(r"\\\n", " ", text).splitlines()
    users = [line.split()[1] for line in instructions if line.upper().startswith("USER ")]
    assert users, "no USER instruction: the container would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    remote_adds = [
        line for line in instructions if re.match(r"(?i)ADD\s.*\b(?:https?|ftp|git)://", line)
    ]
    assert remote_adds == []


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_bandit_clean_on_src(rendered: RenderedVariants, variant: str) -> None:
    run(
        rendered[variant],
        tool("bandit"),
        "--recursive",
        "src",
        "--quiet",
        "--severity-level",
        "medium",
        "--confidence-level",
        "medium",
    )


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_shellcheck_clean_on_shell_scripts(rendered: RenderedVariants, variant: str) -> None:
    project = rendered[variant]
    scripts = [
        path
        for path in project.rglob("*")
        if path.is_file()
        and (path.suffix in {".sh", ".bash"} or path.read_bytes()[:32].startswith(SHELL_SHEBANGS))
    ]
    if scripts:
        run(project, tool("shellcheck"), *(str(p.relative_to(project)) for p in scripts))


@pytest.mark.parametrize("variant", [v for v in VARIANT_IDS if "-github-" in v])
def test_github_workflow_matches_the_schema(rendered: RenderedVariants, variant: str) -> None:
    project = rendered[variant]
    workflows = sorted((project / ".github" / "workflows").glob("*.y*ml"))
    assert workflows
    run(
        project,
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *(str(w.relative_to(project)) for w in workflows),
    )


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_yamllint_clean_on_conf(rendered: RenderedVariants, variant: str) -> None:
    project = rendered[variant]
    assert (project / ".yamllint.yml").is_file()  # the rendered settings, not yamllint's defaults
    run(project, tool("yamllint"), "--strict", "conf/")


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_ruff_clean(rendered: RenderedVariants, variant: str) -> None:
    project = rendered[variant]
    run(project, tool("ruff"), "check", "--no-cache", ".")
    run(project, tool("ruff"), "format", "--no-cache", "--check", ".")


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_pre_commit_hooks_are_local_only(rendered: RenderedVariants, variant: str) -> None:
    config = yaml.safe_load((rendered[variant] / ".pre-commit-config.yaml").read_text("utf-8"))
    for repository in config["repos"]:
        assert repository["repo"] == "local", f"remote hook repository {repository['repo']}"
        for hook in repository["hooks"]:
            assert hook["language"] in OFFLINE_HOOK_LANGUAGES, hook["id"]
            assert not hook.get("additional_dependencies"), hook["id"]


@pytest.mark.parametrize("variant", VARIANT_IDS)
def test_pre_commit_run_all_files_passes_on_a_fresh_render(
    rendered: RenderedVariants, variant: str, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(rendered[variant], project)
    git = ["git", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "--all"], cwd=project, check=True)
    output = run(
        project,
        tool("pre-commit"),
        "run",
        "--all-files",
        "--show-diff-on-failure",
        env={"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")},
    )
    assert "Passed" in output and "Failed" not in output
