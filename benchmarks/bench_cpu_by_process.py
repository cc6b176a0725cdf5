"""Where a command's CPU goes, by kind of process: the MLflow writers, the kedro runs, containers.

Runs a command (by default `make test-fast`; `-- bash .ci/run` for a whole CI run) while sampling
every process of the machine from /proc, and prints the CPU seconds of each kind of process
beside the machine's total (from /proc/stat). A process is seen from its start until its last
sample: one that lives less than an interval is missed, and each loses up to an interval's worth
at its end, so the table is a lower bound (the machine's total is exact). Processes that were
running before the command started count only what they spent during it. Linux only. Run:
    .venv/bin/python benchmarks/bench_cpu_by_process.py [--interval 0.5] [-- COMMAND ...]
Goal it serves (issue 17): `.ci/run` <= 12 minutes on 2 cores, where the cores are busy
throughout, so only less work shortens it; this says which work.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

from _common import TEMPLATE_ROOT

TICK = os.sysconf("SC_CLK_TCK")
RENDERED_SUITES = "rendered projects' own test suites"
TEMPLATE_TESTS = "the template's own tests (pytest and its workers)"
# The first kind whose test matches a process's command line (or an ancestor's, for containers).
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("MLflow writer processes (one per tracked run)", (".tracking.writer",)),
    (
        "MLflow servers and their job runners",
        ("mlflow server", "mlflow ui", "mlflow.server", "huey"),  # uvicorn runs mlflow.server
    ),
    ("SeaweedFS and moto servers", ("weed", "moto")),
    (TEMPLATE_TESTS, ("exec(eval(",)),  # pytest-xdist's workers
    (RENDERED_SUITES, ("pytest",)),  # or the template's own pytest: see kind_of
    ("kedro commands (a run's own process)", ("bin/kedro", "sagemaker", "pipeline_driver")),
    ("docker daemon", ("dockerd", "containerd", "docker-")),
    ("copier", ("copier",)),
    ("uv and pip", ("bin/uv", "pip install", "uv pip")),
)
CONTAINERS = "processes in containers (runs and builds)"
SYSTEM = "kernel threads and the machine's own services"


class Process(NamedTuple):
    """One process as sampled: its parent, CPU seconds so far, command line and (for pytest,
    the only kind it tells apart) its working folder."""

    parent: int
    cpu: float
    command: str
    folder: str


def busy_seconds() -> float:
    """Return the machine's busy CPU seconds so far from /proc/stat.

    Busy is user, nice, system, irq and softirq, as .ci/run's `busy_ticks` counts it, so that
    the two print the same figure for a CI run.
    """
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / TICK


def snapshot() -> dict[tuple[int, int], Process]:
    """Return every process by (pid, start tick): a pid can be reused, a start tick with it not.

    The command line has its arguments joined by spaces; a kernel thread shows its name in
    brackets.
    """
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            folder = os.readlink(entry / "cwd") if b"pytest" in command else ""
        except OSError:  # ended meanwhile
            continue
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        text = command.decode(errors="replace") or f"[{name}]"
        processes[(int(entry.name), int(fields[19]))] = Process(int(fields[1]), cpu, text, folder)
    return processes


def kind_of(process: Process, by_pid: dict[int, Process]) -> str:
    """Return the kind of `process` (by its command line, or a container's shim above it)."""
    ancestor, hops = process.parent, 0
    while ancestor in by_pid and hops < 64:
        if "containerd-shim" in by_pid[ancestor].command:
            return CONTAINERS
        ancestor, hops = by_pid[ancestor].parent, hops + 1
    for kind, marks in KINDS:
        if any(mark in process.command for mark in marks):
            # pytest in the template's folder is the template's own (the command above); in a
            # rendered project's folder, that project's suite.
            if kind == RENDERED_SUITES and Path(process.folder) == TEMPLATE_ROOT:
                return TEMPLATE_TESTS
            return kind
    return SYSTEM if process.command.startswith("[") or process.parent in {0, 1, 2} else "other"


def main() -> None:
    """Run the command while sampling, then print its CPU by kind of process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("command", nargs="*", default=["make", "test-fast"])
    options = parser.parse_args()

    first = snapshot()
    busy_before, started = busy_seconds(), time.monotonic()
    process = subprocess.Popen(options.command, cwd=TEMPLATE_ROOT)
    last: dict[tuple[int, int], Process] = {}
    while process.poll() is None:
        last.update(snapshot())
        time.sleep(options.interval)
    last.update(snapshot())
    wall, busy = time.monotonic() - started, busy_seconds() - busy_before

    by_pid = {pid: process for (pid, _), process in last.items()}
    by_kind: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    for key, sampled in last.items():
        spent = sampled.cpu - (first[key].cpu if key in first else 0.0)
        if spent > 0:
            kind = kind_of(sampled, by_pid)
            by_kind[kind] += spent
            count[kind] += 1
    cores = os.sysconf("SC_NPROCESSORS_ONLN")
    print(f"{' '.join(options.command)}: exit {process.returncode}, {wall:.0f} s wall")
    print(
        f"machine CPU: {busy:.0f} s of {cores * wall:.0f} s ({cores} cores), "
        f"{busy / (cores * wall):.0%} busy; seen in processes: {sum(by_kind.values()):.0f} s"
    )
    for kind, seconds in by_kind.most_common():
        print(f"  {seconds:7.0f} s  {seconds / busy:4.0%}  {count[kind]:5d} processes  {kind}")


if __name__ == "__main__":
    main()
