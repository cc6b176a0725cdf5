"""A pairwise covering set of option combinations renders the exact expected file set and passes
validation; the docs ship with every render and every reference to them resolves."""

from __future__ import annotations

import itertools
import json
import re
import sys
import tomllib
from pathlib import Path

import conftest
import pytest
import yaml
from conftest import TEMPLATE_ROOT, pairwise, render, render_from

sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))
from validate_render import validate

pytestmark = [pytest.mark.render, pytest.mark.fast]

EXPECTED_FILES = TEMPLATE_ROOT / "tests" / "expected_files.txt"
OPTIONS = {
    "python_version": ("3.11", "3.12", "3.13"),
    "license": ("MIT", "Apache-2.0", "Proprietary"),
    "ci_provider": ("github", "none"),
    "include_example": (True, False),
}

# Files present only with the sample data, and only with GitHub Actions. Paths use the default
# package name; `expected_files()` substitutes the real one.
EXAMPLE_ONLY = (
    "data/01_raw/customers.csv",
    "data/01_raw/customers_current.csv",
    "data/01_raw/scoring_batch.csv",
    "conf/base/parameters_sample_data.yml",
    "notebooks/example.ipynb",
    "tests/test_run.py",
)
EXAMPLE_ONLY_DIRS = ("src/churn_prediction/pipelines/sample_data/", "data/01_raw/batches/")
GITHUB_ONLY = (
    ".github/workflows/ci.yml",
    ".github/workflows/retrain.yml",
    ".github/workflows/template-update.yml",
)

# No pair of options is invalid. Each option changes its own files (the lock, LICENSE, the
# workflows, the sample), and only ci_provider and include_example change the file set, so a set
# in which every pair of values meets once finds what the full product of 36 would: 9 renders.
MATRIX = [tuple(combination.values()) for combination in pairwise(OPTIONS)]


def rendered_files(project: Path) -> set[str]:
    """Return every file of a rendered project, relative and with `/` separators."""
    return {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}


def template_docs() -> set[str]:
    """Return the files of the template repository's docs/, which every render ships as they are."""
    return {
        p.relative_to(TEMPLATE_ROOT).as_posix()
        for p in (TEMPLATE_ROOT / "docs").rglob("*")
        if p.is_file()
    }


def expected_files(ci_provider: str, include_example: bool) -> set[str]:
    """Return the file set a render with these options must produce exactly."""
    files = set(EXPECTED_FILES.read_text().split()) | template_docs()
    if not include_example:
        files -= set(EXAMPLE_ONLY)
        files = {f for f in files if not f.startswith(EXAMPLE_ONLY_DIRS)}
    if ci_provider != "github":
        files -= set(GITHUB_ONLY)
    return files


@pytest.mark.parametrize(
    ("python_version", "license_", "ci_provider", "include_example"),
    MATRIX,
    ids=[f"py{p}-{lic}-{ci}-{'example' if ex else 'bare'}" for p, lic, ci, ex in MATRIX],
)
def test_pairwise_combinations_render_exactly_and_validate(
    tmp_path, capfd, python_version, license_, ci_provider, include_example
):
    project = render(
        tmp_path / "project",
        python_version=python_version,
        license=license_,
        ci_provider=ci_provider,
        include_example=include_example,
    )

    assert rendered_files(project) == expected_files(ci_provider, include_example)
    assert validate(project) == []
    # The post-generation task ran once, on this project (its line on stdout names the folder).
    passed = re.findall(
        r"^Post-generation validation passed in .* s: (.*)$", capfd.readouterr().out, re.M
    )
    assert passed == [str(project.resolve())]

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={python_version}"
    lock = (project / "requirements.txt").read_text()
    assert lock == (TEMPLATE_ROOT / f"locks/requirements-py{python_version}.txt").read_text()
    license_text = (project / "LICENSE").read_text()
    marker = {"MIT": "MIT License", "Apache-2.0": "Apache License", "Proprietary": "All rights"}
    assert marker[license_] in license_text
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["python_version"] == python_version
    assert answers["include_example"] is include_example
    devcontainer = json.loads((project / ".devcontainer/devcontainer.json").read_text())
    assert devcontainer["build"]["args"]["PYTHON_VERSION"] == python_version
    assert "FROM python:${PYTHON_VERSION}-slim" in (project / "Dockerfile").read_text()


def test_expected_file_list_names_the_default_package(default_project):
    """The expected list is written for the default answers; guard that assumption."""
    answers = yaml.safe_load((default_project / ".copier-answers.yml").read_text())
    assert answers["package_name"] == "churn_prediction"
    assert "src/churn_prediction/settings.py" in EXPECTED_FILES.read_text().split()


def test_custom_names_flow_into_every_file(tmp_path):
    project = render(
        tmp_path / "p",
        project_name="Fraud Detection: EU",
        s3_bucket="acme-fraud-ml",
        s3_prefix="teams/fraud",
        aws_region="us-gov-west-1",
    )
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "fraud-detection-eu"
    assert answers["package_name"] == "fraud_detection_eu"
    assert (project / "src/fraud_detection_eu/pipeline_registry.py").is_file()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["kedro"]["package_name"] == "fraud_detection_eu"
    assert pyproject["tool"]["kedro"]["project_name"] == "Fraud Detection: EU"
    assert validate(project) == []


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "answers",
    [{}, {"project_name": "Fraud Detection: EU", "include_example": False, "ci_provider": "none"}],
    ids=["defaults", "other-answers"],
)
def test_one_render_context_per_render_renders_what_copier_renders(
    plain_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answers: dict
) -> None:
    """The tests build Copier's context once per render (conftest.ONE_RENDER_CONTEXT): the files
    must be byte for byte those Copier renders when it builds the context for every path."""
    shared = render_from(plain_template, tmp_path / "shared" / "p", **answers)
    monkeypatch.setattr(conftest, "ONE_RENDER_CONTEXT", False)
    per_path = render_from(plain_template, tmp_path / "per-path" / "p", **answers)
    assert _tree(shared) == _tree(per_path)
    assert len(_tree(shared)) > 200


def test_pairwise_set_covers_every_pair_of_option_values():
    combinations = pairwise(OPTIONS)
    product = list(itertools.product(*OPTIONS.values()))
    for a, b in itertools.combinations(OPTIONS, 2):
        met = {(c[a], c[b]) for c in combinations}
        assert met == set(itertools.product(OPTIONS[a], OPTIONS[b])), (a, b)
    assert len(combinations) < len(product)
    # Every file set (ci_provider x include_example) is among the renders.
    assert len({(c["ci_provider"], c["include_example"]) for c in combinations}) == 4
    print(f"pairwise renders: {len(combinations)} of {len(product)}")


def test_pairwise_covers_pairs_for_other_option_shapes():
    options = {"a": (1, 2, 3, 4), "b": "xyz", "c": (True, False), "d": "pq", "e": (0,)}
    combinations = pairwise(options)
    for a, b in itertools.combinations(options, 2):
        assert {(c[a], c[b]) for c in combinations} == set(
            itertools.product(options[a], options[b])
        )
    assert len(combinations) <= 16


# ----- Docs shipped with the project -------------------------------------------------------------

# A `docs/...` path as text, not part of a longer path or address (`https://x/docs/` is left out).
DOCS_REFERENCE = re.compile(r"(?<![\w/.-])docs/[\w./-]*\w")
# Code blocks and spans hold examples, not links.
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
MARKDOWN_LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s#]+)")


def test_every_docs_page_of_the_template_ships(default_project):
    pages = {
        p.relative_to(TEMPLATE_ROOT).as_posix() for p in (TEMPLATE_ROOT / "docs").rglob("*.md")
    }
    shipped = {
        p.relative_to(default_project).as_posix() for p in (default_project / "docs").rglob("*.md")
    }
    assert "docs/decisions/0006-drift-methods.md" in pages
    assert pages == shipped


def test_every_docs_reference_in_a_render_resolves(default_project):
    references, broken = 0, []
    for path in sorted(default_project.rglob("*")):
        if not path.is_file() or ".git" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        relative = path.relative_to(default_project)
        for match in DOCS_REFERENCE.finditer(text):
            references += 1
            if not (default_project / match.group()).exists():
                broken.append(f"{relative}: {match.group()}")
        if path.suffix == ".md":
            for link in MARKDOWN_LINK.findall(CODE.sub("", text)):
                references += 1
                if not (path.parent / link).exists():
                    broken.append(f"{relative}: link {link}")
    print(f"docs references and Markdown links checked: {references}")
    assert references >= 16
    assert broken == []
