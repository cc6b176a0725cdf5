"""Regenerate the pinned locks a rendered project ships, for every supported Python.

The rendered project's pyproject.toml is the single source of dependency ranges: this script
renders the template with defaults, then resolves the runtime lock (requirements.txt) and the dev
lock (requirements-dev.txt, runtime + test/lint tools) with uv for Linux.

MLflow's server (the `mlflow` package: flask, gunicorn, graphene...) is excluded on purpose: the
project needs only its client, `mlflow-skinny`, and sagemaker-train's requirement of the full
package would otherwise bring flask into every `kedro` command (dynaconf imports it whenever it is
installed). The locks are complete without it, so they are installed with `--no-deps`
(docs/decisions/0025-mlflow-skinny-in-the-locks.md).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import copier

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "locks"
PYTHONS = ("3.11", "3.12", "3.13")
COMPILE_COMMAND = "python scripts/lock.py  (in the copier-kedro-mlops template repository)"
# Required by a dependency (sagemaker-train) but not needed by the project: left out of the locks.
EXCLUDED = ("mlflow",)
NOTE = (
    "# Complete: install it with --no-deps. Left out on purpose although sagemaker-train requires\n"
    f"# it: {', '.join(EXCLUDED)} (MLflow's server and UI; mlflow-skinny is the same client, and\n"
    "# `make mlflow-ui` installs the server into an environment of its own).\n"
)


def compile_lock(project: Path, python: str, output: Path, extras: list[str]) -> None:
    """Resolve the project's dependencies for one Python into a pinned lock file."""
    excludes = project.parent / "excludes.txt"
    excludes.write_text("".join(f"{name}\n" for name in EXCLUDED))
    command = [
        sys.executable,
        "-m",
        "uv",
        "pip",
        "compile",
        str(project / "pyproject.toml"),
        "--python-version",
        python,
        "--python-platform",
        "x86_64-manylinux_2_28",
        "--output-file",
        str(output),
        "--custom-compile-command",
        COMPILE_COMMAND,
        "--excludes",
        str(excludes),
        "--no-annotate",
        "--quiet",
    ]
    for extra in extras:
        command += ["--extra", extra]
    subprocess.run(command, check=True)
    marker = f"#    {COMPILE_COMMAND}\n"
    text = output.read_text()
    if marker not in text:
        sys.exit(f"{output}: uv's header line naming {COMPILE_COMMAND!r} is missing")
    text = text.replace(marker, marker + NOTE, 1)
    output.write_text(text)
    excluded = [name for name in EXCLUDED if f"\n{name}==" in text]
    if excluded:
        sys.exit(f"{output}: {', '.join(excluded)} should have been left out")
    if "s3fs==" not in text or "s3fs==0." in text:
        sys.exit(f"{output}: s3fs did not resolve to a 2025+ release; check the botocore pins")


def main() -> None:
    """Render the template once per Python version and write both locks for each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python", action="append", choices=PYTHONS, help="only these versions")
    args = parser.parse_args()
    LOCKS.mkdir(exist_ok=True)
    for python in args.python or PYTHONS:
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp) / "project"
            copier.run_copy(
                str(ROOT),
                project,
                data={"python_version": python},
                defaults=True,
                unsafe=True,
                skip_tasks=True,
                quiet=True,
                vcs_ref="HEAD",
            )
            compile_lock(project, python, LOCKS / f"requirements-py{python}.txt", [])
            compile_lock(project, python, LOCKS / f"requirements-dev-py{python}.txt", ["dev"])
        print(f"locks written for Python {python}")


if __name__ == "__main__":
    main()
