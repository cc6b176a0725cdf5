"""pytest plugin: the CPU seconds each test's set-up, call and teardown took, slowest first.

CPU (user + system of the test process and of every child process it waited for) varies far
less with the machine's load than wall time, so it is the figure to compare on a shared machine.
tests/conftest.py loads it; `--cpu-durations=N` prints the N slowest phases (one process; under
xdist the workers measure and nothing is printed), and `CPU_DURATIONS_FILE=path` writes every
phase as TSV (CPU seconds, wall seconds, phase, node id; `path.gw0` ... per xdist worker).
scripts/ci/durations.py sums those files (.ci/run prints the slowest tests with it).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import warm_kedro


def _cpu() -> float:
    """Return the CPU seconds of this process and its waited-for children so far, with the
    commands that a warm server forked for it (tests/warm_kedro.py)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    forked = warm_kedro.children_cpu()
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + forked


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-durations", type=int, default=0, help="print the N slowest phases by CPU"
    )


_PHASES: list[tuple[float, float, str, str]] = []


def _measure(item: pytest.Item, phase: str) -> Iterator[None]:
    cpu, wall = _cpu(), time.monotonic()
    yield
    _PHASES.append((_cpu() - cpu, time.monotonic() - wall, phase, item.nodeid))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    yield from _measure(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    yield from _measure(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield from _measure(item, "teardown")


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("CPU_DURATIONS_FILE")
    if target and _PHASES:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        path = Path(f"{target}.{worker}" if worker else target)
        lines = [f"{c:.2f}\t{w:.2f}\t{p}\t{n}" for c, w, p, n in _PHASES]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    count = terminalreporter.config.getoption("cpu_durations")
    if not _PHASES or count <= 0:
        return
    total = sum(c for c, _, _, _ in _PHASES)
    terminalreporter.write_sep("=", f"slowest {count} phases by CPU (total {total:.1f} s)")
    for cpu, wall, phase, nodeid in sorted(_PHASES, reverse=True)[:count]:
        terminalreporter.write_line(f"{cpu:8.2f}s cpu {wall:8.2f}s wall  {phase:<8} {nodeid}")
