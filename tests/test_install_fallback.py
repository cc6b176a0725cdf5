"""The rendered Makefile installs the lock with pip where uv is absent and cannot be installed.

Every other test installs with uv (the fast path). Here uv is taken off PATH and `pip install uv`
is made to fail, which is what a machine without uv and without access to it looks like; the
Makefile must then install the same lock with pip. A whole lock takes pip minutes, so the lock is
cut to a few of its own pure-Python lines: what is tested is the branch, not pip's speed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT_ENV, find_python, render

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Pure-Python packages of the lock, small enough to download or take from pip's cache quickly.
FEW = ("six", "python-dateutil", "cachetools")


def path_without_uv() -> str:
    """Return PATH with every folder that holds a `uv` executable left out."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(f for f in folders if f and not (Path(f) / "uv").exists())


def test_without_uv_make_install_installs_the_lock_with_pip(tmp_path: Path) -> None:
    project = render(tmp_path / "churn-prediction")
    lock = (project / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    pinned = {
        m["name"]: m["version"]
        for line in lock
        if (m := re.match(r"(?P<name>[A-Za-z0-9_.-]+)==(?P<version>\S+)$", line))
    }
    kept = [f"{name}=={pinned[name]}" for name in FEW]
    (project / "requirements-dev.txt").write_text("\n".join(kept) + "\n", encoding="utf-8")
    # A constraint no uv release meets: `pip install uv` fails as it would without the index.
    no_uv = tmp_path / "no-uv.txt"
    no_uv.write_text("uv==0.0.0\n", encoding="utf-8")

    python = find_python("3.12")
    search_path = path_without_uv()
    assert shutil.which("uv", path=search_path) is None
    env = {
        **os.environ,
        **PROJECT_ENV,
        "PATH": search_path,
        "PIP_CONSTRAINT": str(no_uv),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        ["make", "install", f"PYTHON={python}"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "uv could not be installed: installing the lock with pip" in output
    venv = project / ".venv"
    assert not (venv / "bin" / "uv").exists()

    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        env={**env, "PIP_CONSTRAINT": ""},
    ).stdout.lower()
    for name in FEW:
        assert f"{name}=={pinned[name]}".lower() in listed, listed
    # The project itself is installed (editable, from the same Makefile line).
    package = next(p.name for p in (project / "src").iterdir() if (p / "__init__.py").exists())
    shown = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {package}; print({package}.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in env.items() if k != "PYTHONPATH"},
    ).stdout
    assert str(project / "src" / package) in shown
