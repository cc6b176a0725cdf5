"""Post-generation check of a rendered project; Copier runs it as a task after every copy/update.

Fails (exit 1) with one line per problem, each naming the file, when:
- Jinja syntax survived rendering (`{{`, `{%`, `{#`, `}}`), except GitHub Actions `${{ }}` and
  the pages of docs/, which ship verbatim from the template repository;
- a YAML, TOML or JSON file does not parse, or a Python file does not compile;
- a required file is missing, or a lock file is empty or not fully pinned;
- the Kedro catalog names a dataset type that does not exist, or whose kedro-datasets extra the
  project does not install.

It uses only the standard library and PyYAML (a Copier dependency), so it runs in Copier's own
environment, and it imports nothing from the rendered project.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SKIPPED_DIRS = {".git", ".venv", "__pycache__", "mlruns", ".pytest_cache", ".ruff_cache"}
TEXT_SUFFIXES = {
    ".py",
    ".yml",
    ".yaml",
    ".toml",
    ".json",
    ".md",
    ".txt",
    ".cfg",
    ".ini",
    ".sh",
    ".ipynb",
    ".html",
    ".jinja",
    "",
}
# Block and comment ends count only after white space or `-` (` %}`, `-%}`), so a Python format
# spec such as `{share:.1%}` is not mistaken for one.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#|[\s-]%\}|[\s-]#\}")
GITHUB_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
# A lone `}}` is a leftover in these files; in Python and JSON it is ordinary nesting.
CLOSING_BRACES_SUSPECT = {".yml", ".yaml", ".toml", ".md", ".txt", ".cfg", ".ini", ""}
REQUIRED_FILES = (
    ".copier-answers.yml",
    ".dockerignore",
    ".gitignore",
    "Dockerfile",
    "Makefile",
    "README.md",
    "pyproject.toml",
    "requirements.txt",
    "requirements-dev.txt",
    "conf/base/catalog.yml",
    "conf/base/globals.yml",
    "conf/base/parameters.yml",
    "conf/local/credentials.yml",
    ".devcontainer/devcontainer.json",
    "tests/conftest.py",
    "src/{package}/__init__.py",
    "src/{package}/__main__.py",
    "src/{package}/pipeline_registry.py",
    "src/{package}/settings.py",
)
# The template repository's docs/ ships as it is (template/docs links to it): the Jinja and GitHub
# expressions in its pages are examples for the reader, not leftovers of a render.
VERBATIM_DIRS = {"docs"}
KEDRO_TYPES = {"MemoryDataset", "CachedDataset", "SharedMemoryDataset", "LambdaDataset"}
# libyaml's parser where PyYAML has it (its wheels do): the same documents, several times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Texts already found clean in this process, by suffix, place and content digest. Copier runs this
# check once per process; the template's tests validate hundreds of renders in one, and most of
# their files are byte-identical from render to render. Only a clean result is remembered: a
# problem is found (and named after its file) again every time.
_CLEAN: set[tuple[str, bool, bytes]] = set()


def project_files(root: Path) -> Iterator[Path]:
    """Yield every file of the rendered project, skipping tool and VCS folders."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            yield Path(folder, name)


def leftover_jinja(path: Path, text: str) -> list[str]:
    """Return one problem per line of `text` that still holds Jinja syntax."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        scrubbed = GITHUB_EXPRESSION.sub("", line) if path.suffix in {".yml", ".yaml"} else line
        closing_braces = "}}" in scrubbed and path.suffix in CLOSING_BRACES_SUSPECT
        if JINJA_LEFTOVER.search(scrubbed) or closing_braces:
            problems.append(f"line {number}: Jinja syntax survived rendering: {line.strip()[:80]}")
    return problems


def parse_problem(path: Path, text: str) -> str | None:
    """Return why a structured file does not parse, or None if it does."""
    try:
        if path.suffix in {".yml", ".yaml"}:
            list(yaml.load_all(text, Loader=SAFE_LOADER))
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in {".json", ".ipynb"}:
            json.loads(text)
        elif path.suffix == ".py":
            compile(text, str(path), "exec", dont_inherit=True)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError, SyntaxError) as error:
        return f"does not parse: {str(error).splitlines()[0]}"
    return None


def lock_problems(path: Path, text: str) -> list[str]:
    """Return problems of a pinned lock file: empty, or a requirement without `==`."""
    requirements = [
        line.split("#")[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]
    if not requirements:
        return ["is empty: the template has no lock for this Python version (run scripts/lock.py)"]
    return [f"requirement not pinned with '==': {req}" for req in requirements if "==" not in req]


def installed_extras(pyproject: dict) -> set[str]:
    """Return the kedro-datasets extras the project depends on."""
    extras: set[str] = set()
    for requirement in pyproject.get("project", {}).get("dependencies", []):
        match = re.match(r"kedro-datasets\[([^\]]+)\]", requirement.replace(" ", ""))
        if match:
            extras.update(match.group(1).split(","))
    return extras


def custom_type_problem(root: Path, dataset_type: str) -> str | None:
    """Return why a project-local dataset type (`package.module.Class`) cannot be found."""
    *module, cls = dataset_type.split(".")
    module_file = root / "src" / Path(*module).with_suffix(".py")
    if not module_file.is_file():
        module_file = root / "src" / Path(*module) / "__init__.py"
    if not module_file.is_file():
        return f"module {'.'.join(module)} not found under src/"
    tree = ast.parse(module_file.read_text())
    if not any(isinstance(n, ast.ClassDef) and n.name == cls for n in tree.body):
        return f"class {cls} not defined in {module_file.relative_to(root)}"
    return None


def catalog_problems(root: Path, package: str, catalog_file: Path) -> list[str]:
    """Return one problem per catalog entry whose `type` will not import in the project."""
    manifest = json.loads((HERE / "dataset_types.json").read_text())["types"]
    extras = installed_extras(tomllib.loads((root / "pyproject.toml").read_text()))
    catalog = yaml.load(catalog_file.read_text(), Loader=SAFE_LOADER) or {}  # noqa: S506 - safe
    problems = []
    for name, entry in catalog.items():
        if name.startswith("_") or not isinstance(entry, dict) or "type" not in entry:
            continue
        dataset_type = str(entry["type"]).removeprefix("kedro_datasets.")
        if dataset_type.startswith("${") or dataset_type.removeprefix("kedro.io.") in KEDRO_TYPES:
            continue
        if dataset_type.split(".")[0] == package:
            reason = custom_type_problem(root, dataset_type)
        elif dataset_type not in manifest:
            reason = "is not a kedro-datasets type"
        elif manifest[dataset_type]["extra"] and manifest[dataset_type]["extra"] not in extras:
            reason = (
                f"needs the kedro-datasets extra '{manifest[dataset_type]['extra']}', "
                "which pyproject.toml does not install"
            )
        else:
            reason = None
        if reason:
            problems.append(f"dataset '{name}': type '{entry['type']}' {reason}")
    return problems


def validate(root: Path) -> list[str]:
    """Return every problem found in the rendered project at `root`, as `path: message`."""
    problems: list[str] = []
    answers_file = root / ".copier-answers.yml"
    answers = yaml.safe_load(answers_file.read_text()) if answers_file.is_file() else {}
    package = (answers or {}).get("package_name", "")
    for relative in REQUIRED_FILES:
        if not (root / relative.format(package=package)).is_file():
            problems.append(f"{relative.format(package=package)}: required file is missing")
    if (answers or {}).get("ci_provider") == "github":
        if not (root / ".github/workflows/ci.yml").is_file():
            problems.append(".github/workflows/ci.yml: required file is missing")

    for path in project_files(root):
        relative = path.relative_to(root)
        if path.suffix not in TEXT_SUFFIXES or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(f"{relative}: is not valid UTF-8 text")
            continue
        verbatim = relative.parts[0] in VERBATIM_DIRS
        key = (path.suffix, verbatim, hashlib.blake2b(text.encode()).digest())
        if key not in _CLEAN:
            found = [] if verbatim else [f"{relative}: {p}" for p in leftover_jinja(path, text)]
            if reason := parse_problem(path, text):
                found.append(f"{relative}: {reason}")
            if not found:
                _CLEAN.add(key)
            problems += found
        if path.name in {"requirements.txt", "requirements-dev.txt"} and path.parent == root:
            problems += [f"{relative}: {p}" for p in lock_problems(path, text)]

    for catalog_file in sorted((root / "conf").glob("*/catalog*.yml")):
        try:
            problems += [
                f"{catalog_file.relative_to(root)}: {p}"
                for p in catalog_problems(root, package, catalog_file)
            ]
        except (yaml.YAMLError, tomllib.TOMLDecodeError, OSError):
            continue  # already reported as a parse problem or a missing file
    return problems


def main() -> int:
    """Validate the project folder given on the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="rendered project folder")
    args = parser.parse_args()
    started = time.perf_counter()
    project = args.project.resolve()
    problems = validate(project)
    elapsed = time.perf_counter() - started
    if problems:
        print(f"Post-generation validation failed ({len(problems)} problem(s)):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    # The folder tells the reader (and the tests) which copy was checked: `copier update` renders
    # two more in temporary folders, which copier.yml's task condition leaves out.
    print(f"Post-generation validation passed in {elapsed:.2f} s: {project}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
