"""Helpers shared by the benchmark scripts (run them as `python benchmarks/bench_<name>.py`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]


def project_environment() -> dict[str, str]:
    """Return the test environment of tests/test.env (its one copy); values already set win."""
    lines = (TEMPLATE_ROOT / "tests" / "test.env").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key: os.environ.get(key, value) for key, value in pairs}


def render_project(destination: Path, **answers: Any) -> Path:
    """Return the folder of a fresh render of the template's working tree (defaults + answers).

    The post-generation check is tested elsewhere; the benchmarks only need the files.
    """
    from copier import run_copy

    run_copy(
        str(TEMPLATE_ROOT),
        str(destination),
        data=answers,
        defaults=True,
        unsafe=True,
        skip_tasks=True,
        quiet=True,
        vcs_ref="HEAD" if (TEMPLATE_ROOT / ".git").exists() else None,
    )
    return destination
