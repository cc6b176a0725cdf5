"""Carry a project's edits to package modules that a release moved; a Copier `after` migration.

`copier update` treats a moved file as "old path deleted, new path added": the new path gets the
release's text and the project's edits to the old path vanish from the working tree (decision
0008). Run in the project after the update, this rebuilds each new path from the project's last
committed copy of the old one (`git show HEAD:<old>`), merged three ways with what the release
changed in the file:

- base: the file as the project's previous template release shipped it (read from the template
  repository at that release), ours: the project's committed copy, theirs: the release's text;
- unedited copy -> the release's text; unchanged by the release -> the project's copy, edits and
  all (a pure move); both changed -> both kept, and a clash is left inline between
  `<<<<<<< before updating` and `>>>>>>> after updating` and recorded as unmerged in git's index,
  as Copier leaves its own conflicts;
- no committed copy of the old path (a project rendered after the move, or one that deleted the
  file) -> nothing to do, so the migration is safe to run more than once.

Only the standard library and git: it runs in Copier's environment, like validate_render.py.

    python carry_moved_files.py --template SRC --from REV --package PKG OLD=NEW [OLD=NEW ...]

OLD and NEW are paths inside the package (`dataset_versions.py=versioning/dataset_versions.py`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Where the package's files live in the template repository (`_subdirectory: template` in
# copier.yml; the package folder is named by the `package_name` answer).
TEMPLATE_PACKAGE = "template/src/{{ package_name }}"
# Copier's own labels for an update conflict (copier/_main.py), so one explanation covers both.
LABELS = ("before updating", "last update", "after updating")
MISSING = "0" * 40


@dataclass(frozen=True)
class Move:
    """One moved module: its old and new path inside the project."""

    old: str
    new: str


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes | None:
    """Return git's standard output, or None when git exits non-zero (a missing object)."""
    result = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    return result.stdout if result.returncode == 0 else None


def released_text(template: Path, revision: str, relative: str) -> bytes | None:
    """Return the file at `relative` (inside the package) as template release `revision` had it."""
    if not revision:
        return None
    return git("show", f"{revision}:{TEMPLATE_PACKAGE}/{relative}", cwd=template)


def merge(ours: bytes, base: bytes, theirs: bytes) -> tuple[bytes, bool]:
    """Return the three-way merge of the project's copy and the release's text, and a clash flag."""
    with tempfile.TemporaryDirectory(prefix="carry-moved-") as folder:
        paths = [Path(folder, name) for name in ("ours", "base", "theirs")]
        for path, data in zip(paths, (ours, base, theirs), strict=True):
            path.write_bytes(data)
        labels = [arg for label in LABELS for arg in ("-L", label)]
        result = subprocess.run(
            ["git", "merge-file", "-p", *labels, *map(str, paths)],
            capture_output=True,
            check=False,
        )
    if result.returncode < 0 or result.returncode > 127:
        raise RuntimeError(f"git merge-file failed: {result.stderr.decode(errors='replace')}")
    return result.stdout, result.returncode > 0


def record_unmerged(path: str, mode: str, base: bytes, ours: bytes, theirs: bytes) -> None:
    """Mark `path` unmerged in git's index (stages 1-3), as Copier marks its own conflicts."""
    path = (git("rev-parse", "--show-prefix") or b"").decode().strip() + path  # from the top
    lines = [f"0 {MISSING}\t{path}"]
    for stage, data in ((1, base), (2, ours), (3, theirs)):
        sha = git("hash-object", "-w", "--stdin", stdin=data)
        if sha is None:
            raise RuntimeError(f"git hash-object failed for {path}")
        lines.append(f"{mode} {sha.decode().strip()} {stage}\t{path}")
    if git("update-index", "--index-info", stdin="\n".join(lines).encode() + b"\n") is None:
        raise RuntimeError(f"git update-index failed for {path}")


def carry(move: Move, template: Path, revision: str, package: str) -> str | None:
    """Rebuild `move.new` from the project's committed `move.old`; return what was done, if any."""
    old, new = Path("src", package, move.old), Path("src", package, move.new)
    ours = git("show", f"HEAD:./{old.as_posix()}")
    if ours is None:
        return None  # never committed at the old path: nothing of the project's to carry
    listing = (git("ls-tree", "HEAD", "--", old.as_posix()) or b"100644").decode()
    mode = listing.split()[0]
    theirs = new.read_bytes() if new.is_file() else None
    base = released_text(template, revision, move.old)
    if old.is_file() and old.read_bytes() == ours:
        old.unlink()  # Copier removes it already; a leftover is removed only if nothing is unsaved
    new.parent.mkdir(parents=True, exist_ok=True)
    if theirs is None or ours == theirs or base == theirs:
        new.write_bytes(ours)  # a pure move (or a release without the file): the project's copy
        return f"{old} -> {new}: your copy"
    if ours == base:
        return f"{old} -> {new}: the release's text (no edits of yours)"
    # base None: the previous release is unknown (not in the template repository); an empty base
    # keeps every line, and lines that differ come back as conflicts rather than silently lost.
    merged, clashed = merge(ours, base or b"", theirs)
    new.write_bytes(merged)
    if clashed:
        record_unmerged(new.as_posix(), mode, base or b"", ours, theirs)
        return f"{old} -> {new}: CONFLICT, resolve the markers (git status lists it as unmerged)"
    return f"{old} -> {new}: your edits merged with the release's changes"


def parse_move(text: str) -> Move:
    """Return the Move an `OLD=NEW` argument names."""
    old, separator, new = text.partition("=")
    if not (separator and old and new):
        raise argparse.ArgumentTypeError(f"expected OLD=NEW (package paths), got {text!r}")
    return Move(old, new)


def main(argv: list[str] | None = None) -> int:
    """Carry every move given on the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, required=True, help="template repository")
    parser.add_argument("--from", dest="revision", default="", help="the project's last release")
    parser.add_argument("--package", required=True, help="the project's package name")
    parser.add_argument("moves", nargs="+", type=parse_move, metavar="OLD=NEW")
    args = parser.parse_args(argv)
    for move in args.moves:
        done = carry(move, args.template, args.revision, args.package)
        if done:
            print(f"Moved by the template: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
