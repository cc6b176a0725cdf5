"""Share the demo venv's bytecode between clones: link its place under the pycache prefix to a
cache keyed by what is installed.

Usage (with the demo venv's interpreter, isolated and writing no bytecode of its own):

    DEMO/.venv/bin/python -I -B scripts/demo_bytecode.py PYCACHE_PREFIX [CACHE_ROOT]

`make demo` keeps its bytecode under a pycache prefix (DEMO_PYCACHE), where a module's .pyc
sits at the prefix plus the source's absolute path. A fresh clone puts the demo venv at a new
path, so Python compiled every module the demo imports again: about 4,700 modules, 13-14 s of
CPU, a third of the demo. Yet the venv's site-packages holds the same files in every clone: uv
hard-links them from its cache (same content, same mtime), and a .pyc is checked against its
source's mtime and size only, never against its path. So this script makes the prefix's
site-packages folder (and the interpreter's standard library folder) a symbolic link to a shared
folder under CACHE_ROOT (default `${XDG_CACHE_HOME:-~/.cache}/copier-kedro-mlops/demo-bytecode`),
named by the interpreter and the installed distributions. A clone with the same lock finds the
bytecode an earlier clone wrote; a source that differs (another mtime or size) is compiled
again by Python, as always, and its .pyc replaced atomically. The project's own code (an
editable install: a path in a .pth file) stays per clone. The KEEP newest folders are kept.
docs/decisions/0037-shared-demo-bytecode.md.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

KEEP = 3


def default_cache_root() -> Path:
    """Return the shared folder's parent under the user's cache directory."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "copier-kedro-mlops" / "demo-bytecode"


def installed_key(site_packages: Path) -> str:
    """Return a key naming this interpreter and the distributions installed in `site_packages`."""
    distributions = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in metadata.distributions(path=[str(site_packages)])
    )
    identity = [sys.implementation.cache_tag, sys.version, os.path.realpath(sys.base_prefix)]
    digest = hashlib.sha256("\n".join(identity + distributions).encode()).hexdigest()
    return f"packages-{sys.implementation.cache_tag}-{digest[:16]}"


def under_prefix(prefix: Path, source_dir: Path) -> Path:
    """Return where Python keeps the bytecode of `source_dir`'s modules under `prefix`.

    As importlib does: the absolute path, symbolic links not resolved.
    """
    absolute = Path(os.path.abspath(source_dir))
    return prefix / absolute.relative_to(absolute.anchor)


def link(place: Path, shared: Path) -> str:
    """Make `place` a symbolic link to `shared`; return what was done.

    A real folder at `place` (bytecode compiled there first: the render's own Python, when it is
    the demo's interpreter, or a demo before this script) is merged into `shared`: a .pyc is
    valid wherever it lies, as it is checked against its source alone.
    """
    shared.mkdir(parents=True, exist_ok=True)
    outcome = "linked to"
    if place.is_symlink():
        if Path(os.readlink(place)) == shared:
            return "shared with"
        place.unlink()
    elif place.is_dir():
        for path in sorted(place.rglob("*.pyc")):
            target = shared / path.relative_to(place)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        shutil.rmtree(place)
        outcome = "merged into"
    place.parent.mkdir(parents=True, exist_ok=True)
    try:
        place.symlink_to(shared, target_is_directory=True)
    except FileExistsError:  # another demo linked it at the same moment
        return "shared with"
    return outcome


def prune(root: Path, keep: int, current: set[Path]) -> list[Path]:
    """Remove all but the `keep` most recently used shared folders of each kind; return them."""
    removed = []
    for kind in ("stdlib-*", "packages-*"):
        folders = sorted(
            (path for path in root.glob(kind) if path.is_dir() and not path.is_symlink()),
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        removed += [path for path in folders[keep:] if path not in current]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    prefix = Path(argv[1]).absolute()
    root = Path(argv[2]).absolute() if len(argv) == 3 else default_cache_root()
    # The folders as the modules' __file__ names them (the .pyc path is built from it).
    site_packages = Path(sysconfig.get_paths()["purelib"])
    stdlib = Path(os.__file__).parent
    tag = sys.implementation.cache_tag
    stdlib_digest = hashlib.sha256(str(stdlib).encode()).hexdigest()[:16]
    shared = {
        site_packages: root / installed_key(site_packages),
        stdlib: root / f"stdlib-{tag}-{stdlib_digest}",
    }
    for source_dir, target in shared.items():
        try:
            outcome = link(under_prefix(prefix, source_dir), target)
            os.utime(target)  # the most recently used are kept
        except OSError as error:  # an unwritable cache: this clone compiles its own, as before
            print(f"bytecode of {source_dir}: not shared ({error})")
            continue
        print(f"bytecode of {source_dir}: {outcome} {target}")
    prune(root, KEEP, set(shared.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
