#!/usr/bin/env bash
# Print the file list of a default render (review the diff before committing it as
# tests/expected_files.txt: the test asserts a render gives exactly that set). docs/ is left out:
# it is the template repository's docs/ as it is, which tests/test_render.py adds to the set.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
"${root}/.venv/bin/copier" copy --trust --defaults --quiet --skip-tasks --vcs-ref HEAD "${root}" "${tmp}/p" >/dev/null 2>&1
(cd "${tmp}/p" && find . -type f -not -path './docs/*' | sed 's|^\./||' | LC_ALL=C sort)
