"""`make demo`'s bytecode is shared between clones (scripts/demo_bytecode.py, decision 0037).

A fresh clone's demo venv has a new path, so Python would compile every module again. The demo's
pycache prefix links the venv's site-packages (and the standard library) to a cache keyed by
what is installed. These tests install the demo's lock with the Makefile's own `demo-install`
into two clones and check that the second imports the first's bytecode, that a changed source is
compiled again (never a stale .pyc), and the merge and pruning rules.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import TEMPLATE_ROOT, render

pytestmark = [pytest.mark.e2e]

SCRIPT = TEMPLATE_ROOT / "scripts" / "demo_bytecode.py"


def load_script():
    """Return scripts/demo_bytecode.py as a module."""
    spec = importlib.util.spec_from_file_location("demo_bytecode", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bytecode_env(prefix: Path, cache: Path) -> dict[str, str]:
    """Return a user's environment: bytecode written under `prefix`, the user cache `cache`."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(prefix), "XDG_CACHE_HOME": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def import_verbosely(python: Path, module: str, env: dict[str, str]) -> str:
    """Return `python -v`'s account of importing `module` (where its code object came from)."""
    result = subprocess.run(
        [str(python), "-v", "-c", f"import {module}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stderr


def site_packages(venv: Path) -> Path:
    """Return the venv's site-packages, as its interpreter names it."""
    return Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )


def test_a_fresh_clones_demo_imports_the_bytecode_an_earlier_clone_compiled(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "user-cache"
    clones = {}
    for name in ("first", "second"):
        demo = render(tmp_path / name / "build" / "demo")
        prefix = tmp_path / name / "build" / "demo-pycache"
        result = subprocess.run(
            ["make", "--no-print-directory", "demo-install", f"DEMO_DIR={demo}", f"DEMO_PYCACHE={prefix}"],
            cwd=TEMPLATE_ROOT,
            env=bytecode_env(prefix, cache),
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        clones[name] = (demo / ".venv", prefix)

    first_venv, first_prefix = clones["first"]
    second_venv, second_prefix = clones["second"]
    first_packages, second_packages = site_packages(first_venv), site_packages(second_venv)
    assert first_packages != second_packages
    place = {
        name: prefix / packages.relative_to(packages.anchor)
        for name, prefix, packages in (
            ("first", first_prefix, first_packages),
            ("second", second_prefix, second_packages),
        )
    }
    shared = place["first"].resolve()
    assert place["first"].is_symlink() and place["second"].resolve() == shared
    assert shared.parent == cache / "copier-kedro-mlops" / "demo-bytecode"
    assert re.fullmatch(r"packages-cpython-3\d+-[0-9a-f]{16}", shared.name), shared.name

    # The first clone compiles six (a module of the lock) into the shared folder...
    log = import_verbosely(first_venv / "bin" / "python", "six", bytecode_env(first_prefix, cache))
    compiled = next(shared.glob("six.*.pyc"))
    print(log[-3000:])
    before = compiled.stat()
    # ...and the second, at another path, loads that code object without compiling.
    log = import_verbosely(second_venv / "bin" / "python", "six", bytecode_env(second_prefix, cache))
    assert f"# code object from {str(place['second'] / compiled.name)!r}" in log
    after = compiled.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
