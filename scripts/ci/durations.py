"""Sum the per-phase timings tests/cpu_durations.py wrote; print the slowest tests and totals.

Usage: scripts/ci/durations.py PREFIX [--top N] [--write tests/durations.tsv]

PREFIX is the CPU_DURATIONS_FILE the run used; every `PREFIX*` file is read (one per xdist
worker). Printed: per file (worker) its CPU and wall seconds, and the N slowest tests by wall
time with their CPU. `--write` stores each test's wall seconds (>= 5 s) for the scheduler's
longest-first order (tests/conftest.py).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

HEADER = """\
# Seconds (wall, 2 xdist workers) per test or module set-up, for ordering the xdist work queue
# longest first (tests/conftest.py). Regenerate from a CI run: scripts/ci/durations.py --write.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    files = sorted(args.prefix.parent.glob(args.prefix.name + "*"))
    if not files:
        raise SystemExit(f"no timing files match {args.prefix}*")
    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    for path in files:
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
        for c, w, _, nodeid in rows:
            wall[nodeid] += float(w)
            cpu[nodeid] += float(c)
        print(
            f"{path.name}: {len(rows)} phases, {sum(float(r[0]) for r in rows):.0f} s CPU, "
            f"{sum(float(r[1]) for r in rows):.0f} s wall"
        )
    print(f"all: {sum(cpu.values()):.0f} s CPU, {sum(wall.values()):.0f} s wall (sum of tests)")
    for nodeid in sorted(wall, key=wall.__getitem__, reverse=True)[: args.top]:
        print(f"{wall[nodeid]:8.1f} s wall {cpu[nodeid]:8.1f} s CPU  {nodeid}")
    if args.write:
        lines = [
            f"{round(wall[n])}\t{n}"
            for n in sorted(wall, key=wall.__getitem__, reverse=True)
            if wall[n] >= 5
        ]
        args.write.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
