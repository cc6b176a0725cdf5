"""Print the rendered package's shape: files and lines per concept, and who imports whom.

    python scripts/package_figures.py [RENDERED_PROJECT]   # default: a fresh default render

A concept is a pipeline folder (`pipelines/<name>`), a subpackage (`tracking`, `sagemaker` ...)
or a module at the package root. An import edge A -> B means a module of A imports one of B
(absolute `package.B...` or relative). The figures are issue 16's "before" and "after".
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def concept(relative: Path) -> str:
    """Return the concept a package file belongs to (`pipelines/monitoring`, `tracking`, `cli`)."""
    parts = relative.parts
    if parts[0] == "pipelines" and len(parts) > 2:
        return "/".join(parts[:2])
    if len(parts) > 1:
        return parts[0]
    return relative.stem


def imported_concepts(path: Path, package_dir: Path, package: str) -> set[str]:
    """Return the concepts of the package that the module at `path` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_parts = path.relative_to(package_dir).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        targets: list[tuple[str, ...]] = []
        if isinstance(node, ast.Import):
            targets = [tuple(a.name.split(".")) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = tuple((node.module or "").split(".")) if node.module else ()
            if node.level:
                anchor = module_parts[: len(module_parts) - node.level]
                base = (package, *anchor, *base)
            targets = [(*base, a.name) for a in node.names]
        for target in targets:
            if target and target[0] == package and len(target) > 1:
                inner = Path(*target[1:])
                candidates = [inner, *inner.parents][:-1]
                for candidate in candidates:
                    if (package_dir / candidate).is_dir() or (
                        package_dir / candidate.with_suffix(".py")
                    ).is_file():
                        found.add(concept(candidate.with_suffix(".py")))
                        break
    return found


def main() -> None:
    """Print the figures for the project given, or for a fresh default render."""
    if len(sys.argv) > 1:
        project = Path(sys.argv[1])
    else:
        project = Path(tempfile.mkdtemp()) / "p"
        subprocess.run(
            [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet",
             "--skip-tasks", "--vcs-ref", "HEAD", str(ROOT), str(project)],
            check=True,
        )  # fmt: skip
    (package_dir,) = [p for p in (project / "src").iterdir() if (p / "__init__.py").is_file()]
    package = package_dir.name
    files, lines = Counter(), Counter()
    edges: dict[str, set[str]] = defaultdict(set)
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        name = concept(relative)
        files[name] += 1
        lines[name] += len(path.read_text(encoding="utf-8").splitlines())
        edges[name] |= imported_concepts(path, package_dir, package) - {name}
    print(f"package {package}: {sum(files.values())} files, {sum(lines.values())} lines")
    print(f"{'concept':<28} {'files':>5} {'lines':>6}  imports")
    for name in sorted(files):
        print(f"{name:<28} {files[name]:>5} {lines[name]:>6}  {', '.join(sorted(edges[name]))}")
    pipelines = {n for n in files if n.startswith("pipelines/")}
    crossing = sorted((a, b) for a in pipelines for b in edges[a] if b in pipelines)
    print(f"pipeline -> pipeline imports: {len(crossing)}")
    for a, b in crossing:
        print(f"  {a} -> {b}")


if __name__ == "__main__":
    main()
