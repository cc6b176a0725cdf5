"""Regenerate the standard library names that copier.yml's `package_name` validator refuses.

Run with the newest supported Python: names are the union of the standard library module names
of every Python this script is run with (append with --merge). They are one alternation of the
`package_name` rule in includes/validators.yml that follows the line `# Regenerate with
scripts/update_reserved_names.py.`
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

VALIDATORS = Path(__file__).resolve().parents[1] / "includes" / "validators.yml"
# The rule's pattern: `'(?x) ^(?!(?: name|name|...\n      name )\Z)'` after the marker comment.
MARKER = re.compile(
    r"(# Regenerate with scripts/update_reserved_names\.py\.\n"
    r"  - pattern: '\(\?x\) \^\(\?!\(\?: )(.*?)( \)\\Z\)')",
    re.DOTALL,
)
INDENT = " " * 6


def alternation(names: list[str], first_line_width: int) -> str:
    """Return `names` joined by `|`, wrapped at 98 columns for the YAML file."""
    lines, line, width = [], "", first_line_width
    for name in names:
        if line and len(line) + len(name) + 1 > width:
            lines.append(line)
            line, width = "", 98 - len(INDENT)
        line += name + "|"
    lines.append(line.rstrip("|"))
    return f"\n{INDENT}".join(lines)


def main() -> None:
    """Rewrite the standard library alternation in includes/validators.yml."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merge", action="store_true", help="keep names already listed")
    args = parser.parse_args()
    text = VALIDATORS.read_text(encoding="utf-8")
    match = MARKER.search(text)
    if match is None:
        sys.exit(f"{VALIDATORS}: the standard library rule was not found after its marker")
    names = {name for name in sys.stdlib_module_names if not name.startswith("_")}
    # sys.stdlib_module_names leaves out the standard library's own test suite, `test`, which
    # every CPython install still ships and a package of that name would shadow.
    names.add("test")
    if args.merge:
        names |= set(re.split(r"[|\s]+", match.group(2).strip()))
    listed = alternation(sorted(names), 98 - len("  - pattern: '(?x) ^(?!(?: "))
    VALIDATORS.write_text(text[: match.start(2)] + listed + text[match.end(2) :], encoding="utf-8")
    print(f"{len(names)} standard library names written to {VALIDATORS}")


if __name__ == "__main__":
    main()
