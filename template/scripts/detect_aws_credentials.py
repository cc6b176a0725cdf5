"""Exit 1 if a file holds what looks like an AWS access key id, secret access key or session token.

pre-commit passes the files to check (`.pre-commit-config.yaml`). Credentials belong in
conf/local/ or the AWS default chain (profiles, environment variables, IAM roles), never in git.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Access key ids: a four-letter type prefix (AKIA long-term, ASIA temporary, ...) and 16 more.
ACCESS_KEY_ID = re.compile(
    r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}"
    r"(?![A-Z0-9])"
)
# Secret keys are 40 base64 characters; only flagged next to a name that says what they are.
SECRET_ACCESS_KEY = re.compile(
    r"(?i)secret_?access_?key['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"
)
SESSION_TOKEN = re.compile(r"(?i)session_?token['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9/+=]{100,}")
PATTERNS = {
    "an AWS access key id": ACCESS_KEY_ID,
    "an AWS secret access key": SECRET_ACCESS_KEY,
    "an AWS session token": SESSION_TOKEN,
}


def findings(path: Path) -> list[str]:
    """Return one `path:line: what` line per suspected credential in the file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in PATTERNS.items():
            if pattern.search(line):
                found.append(f"{path}:{number}: looks like {what}")
    return found


def main(paths: list[str]) -> int:
    """Print every finding in `paths`; return 1 if there is any."""
    found = [line for name in paths for line in findings(Path(name))]
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
