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
from pathlib import Path

import pytest
from conftest import TEMPLATE_ROOT, VENV_BIN, render

pytestmark = [pytest.mark.e2e]

SCRIPT = TEMPLATE_ROOT / "scripts" / "demo_bytecode.py"


def load_script():
    """Return scripts/demo_bytecode.py as a module."""
    spec = importlib.util.spec_from_file_location("demo_bytecode", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def uv_cache() -> str:
    """Return uv's package cache as this environment has it (before XDG_CACHE_HOME moves)."""
    return subprocess.run(
        [str(VENV_BIN / "uv"), "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()


def bytecode_env(prefix: Path, cache: Path) -> dict[str, str]:
    """Return a user's environment: bytecode written under `prefix`, the user cache `cache`.

    uv keeps its own, warm package cache (under XDG_CACHE_HOME it would start empty and
    download the lock).
    """
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(prefix), "XDG_CACHE_HOME": str(cache)}
    env["UV_CACHE_DIR"] = os.environ.get("UV_CACHE_DIR") or uv_cache()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_python(
    python: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Return the finished `python *args` (it must succeed), its output captured as text."""
    return subprocess.run([str(python), *args], env=env, capture_output=True, text=True, check=True)


def import_verbosely(python: Path, module: str, env: dict[str, str]) -> str:
    """Return `python -v`'s account of importing `module` (where its code object came from)."""
    return run_python(python, "-v", "-c", f"import {module}", env=env).stderr


def site_packages(venv: Path) -> Path:
    """Return the venv's site-packages, as its interpreter names it."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(run_python(venv / "bin" / "python", "-c", code).stdout.strip())


def test_a_fresh_clones_demo_imports_the_bytecode_an_earlier_clone_compiled(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "user-cache"
    clones = {}
    for name in ("first", "second"):
        demo = render(tmp_path / name / "build" / "demo")
        prefix = tmp_path / name / "build" / "demo-pycache"
        result = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "demo-install",
                f"DEMO_DIR={demo}",
                f"DEMO_PYCACHE={prefix}",
            ],
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
    under_prefix = load_script().under_prefix
    place = {
        "first": under_prefix(first_prefix, first_packages),
        "second": under_prefix(second_prefix, second_packages),
    }
    shared = place["first"].resolve()
    assert place["first"].is_symlink() and place["second"].resolve() == shared
    assert shared.parent == cache / "copier-kedro-mlops" / "demo-bytecode"
    assert re.fullmatch(r"packages-cpython-3\d+-[0-9a-f]{16}", shared.name), shared.name

    # The first clone compiles six (a module of the lock) into the shared folder...
    first_env, second_env = bytecode_env(first_prefix, cache), bytecode_env(second_prefix, cache)
    log = import_verbosely(first_venv / "bin" / "python", "six", first_env)
    compiled = next(shared.glob("six.*.pyc"))
    assert f"created {str(place['first'] / compiled.name)!r}" in log
    before = compiled.stat()
    # ...and the second, at another path, loads that code object without compiling.
    log = import_verbosely(second_venv / "bin" / "python", "six", second_env)
    assert f"code object from {str(place['second'] / compiled.name)!r}" in log
    assert "created" not in log
    after = compiled.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    # A source that differs (here in size, with the same mtime) is compiled again, never run
    # from the other clone's bytecode. The file is replaced, not written in place: it is a hard
    # link into uv's cache.
    source = second_packages / "six.py"
    stat = source.stat()
    changed = source.with_name("six.py.new")
    changed.write_text(source.read_text(encoding="utf-8") + "\nCHANGED_IN_THIS_CLONE = True\n")
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(changed, source)
    changed_here = "import six; print(six.CHANGED_IN_THIS_CLONE)"
    result = run_python(second_venv / "bin" / "python", "-c", changed_here, env=second_env)
    assert result.stdout.strip() == "True"
    changed_there = "import six; print(hasattr(six, 'CHANGED_IN_THIS_CLONE'))"
    result = run_python(first_venv / "bin" / "python", "-c", changed_there, env=first_env)
    assert result.stdout.strip() == "False"


def test_a_folder_compiled_before_the_link_is_merged_into_the_shared_one(tmp_path: Path) -> None:
    demo_bytecode = load_script()
    place = tmp_path / "prefix" / "venv" / "site-packages"
    (place / "pkg").mkdir(parents=True)
    (place / "pkg" / "mod.cpython-312.pyc").write_bytes(b"compiled by the render")
    shared = tmp_path / "cache" / "packages-cpython-312-0123456789abcdef"
    (shared / "pkg").mkdir(parents=True)
    (shared / "pkg" / "other.cpython-312.pyc").write_bytes(b"compiled by an earlier clone")

    assert demo_bytecode.link(place, shared) == "merged into"
    assert place.is_symlink() and place.resolve() == shared.resolve()
    assert (shared / "pkg" / "mod.cpython-312.pyc").read_bytes() == b"compiled by the render"
    assert (
        shared / "pkg" / "other.cpython-312.pyc"
    ).read_bytes() == b"compiled by an earlier clone"
    assert demo_bytecode.link(place, shared) == "shared with"
    # A link to another key (the lock changed) is moved to the new one.
    newer = tmp_path / "cache" / "packages-cpython-312-fedcba9876543210"
    assert demo_bytecode.link(place, newer) == "linked to"
    assert place.resolve() == newer.resolve()


def test_only_the_most_recently_used_shared_folders_are_kept(tmp_path: Path) -> None:
    demo_bytecode = load_script()
    for index in range(5):
        for kind in ("packages", "stdlib"):
            folder = tmp_path / f"{kind}-cpython-312-{index:016x}"
            folder.mkdir()
            os.utime(folder, (1_000_000 + index, 1_000_000 + index))
    oldest_in_use = {tmp_path / f"packages-cpython-312-{0:016x}"}

    removed = demo_bytecode.prune(tmp_path, 3, oldest_in_use)

    kept = sorted(path.name for path in tmp_path.iterdir())
    assert kept == sorted(
        [f"packages-cpython-312-{i:016x}" for i in (0, 2, 3, 4)]
        + [f"stdlib-cpython-312-{i:016x}" for i in (2, 3, 4)]
    )
    assert len(removed) == 3


def test_the_key_names_the_interpreter_and_every_installed_distribution(tmp_path: Path) -> None:
    demo_bytecode = load_script()
    packages = tmp_path / "site-packages"

    def install(name: str, version: str) -> None:
        info = packages / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")

    install("alpha", "1.0")
    one = demo_bytecode.installed_key(packages)
    assert demo_bytecode.installed_key(packages) == one
    assert re.fullmatch(rf"packages-{sys.implementation.cache_tag}-[0-9a-f]{{16}}", one)
    install("beta", "2.0")
    two = demo_bytecode.installed_key(packages)
    (packages / "beta-2.0.dist-info").rename(packages / "beta-2.1.dist-info")
    (packages / "beta-2.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: beta\nVersion: 2.1\n"
    )
    three = demo_bytecode.installed_key(packages)
    assert len({one, two, three}) == 3


def test_an_unusable_cache_leaves_the_clone_its_own_bytecode(tmp_path: Path) -> None:
    """A cache that cannot hold folders (here a file is in the way; root writes anywhere else):
    the demo goes on and compiles its own bytecode, as before."""
    blocked = tmp_path / "cache-is-a-file"
    blocked.write_text("not a folder\n")
    prefix = tmp_path / "prefix"
    result = subprocess.run(
        [sys.executable, "-I", "-B", str(SCRIPT), str(prefix), str(blocked / "demo-bytecode")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("not shared (") == 2, result.stdout
    assert not any(path.is_symlink() for path in prefix.rglob("*"))
