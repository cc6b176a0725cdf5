"""Regenerate the reserved package names used by copier.yml's `package_name` validator.

Run with the newest supported Python: names are the union of the standard library module names
of every Python this script is run with (append with --merge) plus the libraries a rendered
project imports, which a package of the same name would shadow.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

VALIDATORS = Path(__file__).resolve().parents[1] / "includes" / "validators.jinja"
MARKER = re.compile(r"(\{%- set STDLIB_NAMES = )(\[.*?\])( -%\})", re.DOTALL)


def main() -> None:
    """Rewrite the STDLIB_NAMES list in includes/validators.jinja."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merge", action="store_true", help="keep names already listed")
    args = parser.parse_args()
    text = VALIDATORS.read_text()
    match = MARKER.search(text)
    if match is None:
        sys.exit(f"{VALIDATORS}: STDLIB_NAMES marker not found")
    names = {name for name in sys.stdlib_module_names if not name.startswith("_")}
    # sys.stdlib_module_names leaves out the standard library's own test suite, `test`, which
    # every CPython install still ships and a package of that name would shadow.
    names.add("test")
    if args.merge:
        names |= set(json.loads(match.group(2)))
    listed = json.dumps(sorted(names))
    VALIDATORS.write_text(text[: match.start(2)] + listed + text[match.end(2) :])
    print(f"{len(names)} standard library names written to {VALIDATORS}")


if __name__ == "__main__":
    main()
