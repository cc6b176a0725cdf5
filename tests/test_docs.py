"""The documentation builds without broken links, and the README's quick start stays true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE_ROOT

pytestmark = [pytest.mark.render, pytest.mark.fast]


def test_docs_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "mkdocs"),
            "build",
            "--strict",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site/index.html").is_file()


def test_readme_quick_start_is_exactly_the_two_make_targets():
    readme = (TEMPLATE_ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^make (\w+)", quick_start, flags=re.MULTILINE)
    assert commands == ["demo", "test"]
    makefile = (TEMPLATE_ROOT / "Makefile").read_text()
    assert re.search(r"^demo: ", makefile, flags=re.MULTILINE)
    assert re.search(r"^test: ", makefile, flags=re.MULTILINE)
    assert "make test" in (TEMPLATE_ROOT / ".ci/run").read_text()


def test_every_decision_record_has_context_decision_consequences():
    records = sorted((TEMPLATE_ROOT / "docs/decisions").glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert len(records) >= 2
    for record in records:
        text = record.read_text()
        for heading in ("## Context", "## Decision", "## Consequences"):
            assert heading in text, f"{record.name} lacks {heading}"
