#!/usr/bin/env bash
# Debian packages the test suite uses: headless Chromium (drift report screenshots).
# Docker's engine and the stand-in base image come from start_dockerd.sh / build_base_image.sh.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
