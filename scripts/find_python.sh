#!/usr/bin/env bash
# Print the path of a Python interpreter of the version given (e.g. 3.12): the one on PATH, else
# one pyenv installed, else fail with a message naming what to install.
set -euo pipefail
version="${1:?usage: find_python.sh X.Y}"
if command -v "python${version}" >/dev/null 2>&1 && "python${version}" --version >/dev/null 2>&1; then
    command -v "python${version}"
    exit 0
fi
if command -v pyenv >/dev/null 2>&1; then
    for candidate in "$(pyenv root)/versions/${version}".*/bin/"python${version}"; do
        if [ -x "${candidate}" ]; then
            echo "${candidate}"
            exit 0
        fi
    done
fi
echo "find_python.sh: no Python ${version} found; install it (e.g. pyenv install ${version})" >&2
exit 1
