#!/usr/bin/env bash
# Start a Docker daemon that never creates its default bridge network.
#
# Idempotent: installs docker.io and debootstrap from Debian's packages when they are missing,
# reuses a daemon that already answers, and waits (bounded) for `docker info`.
# Network rule: dockerd runs with --bridge=none --iptables=false --ip-masq=false, so builds use
# `--network host` and containers `--network none` (or host).
set -euo pipefail

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
DOCKER_HOST_SOCKET="${DOCKER_HOST_SOCKET:-unix:///var/run/docker.sock}"
WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"

log() { printf '[start_dockerd] %s\n' "$*" >&2; }

export DOCKER_HOST="$DOCKER_HOST_SOCKET"

if docker info >/dev/null 2>&1; then
    log "daemon already running at $DOCKER_HOST"
    exit 0
fi

need_install=()
command -v dockerd >/dev/null 2>&1 || need_install+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_install+=(debootstrap)
if ((${#need_install[@]})); then
    log "installing ${need_install[*]}"
    start=$(date +%s)
    export DEBIAN_FRONTEND=noninteractive
    # Wait for another apt run (a parallel install step) instead of failing on its lock.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${need_install[@]}" >/dev/null
    log "installed in $(($(date +%s) - start))s"
fi

# A stale pid file from a killed daemon stops a new one from starting.
if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi

log "starting dockerd (log: $DOCKERD_LOG)"
start=$(date +%s)
nohup dockerd \
    --host "$DOCKER_HOST_SOCKET" \
    --bridge=none \
    --iptables=false \
    --ip-masq=false \
    --ip6tables=false \
    >>"$DOCKERD_LOG" 2>&1 </dev/null &
echo $! >/var/run/dockerd-ci.pid

for ((i = 0; i < WAIT_SECONDS; i++)); do
    if docker info >/dev/null 2>&1; then
        log "daemon ready after $(($(date +%s) - start))s (pid $(cat /var/run/dockerd-ci.pid))"
        exit 0
    fi
    if ! kill -0 "$(cat /var/run/dockerd-ci.pid)" 2>/dev/null; then
        log "dockerd exited; last log lines:"
        tail -n 30 "$DOCKERD_LOG" >&2
        exit 1
    fi
    sleep 1
done
log "dockerd did not answer within ${WAIT_SECONDS}s; last log lines:"
tail -n 30 "$DOCKERD_LOG" >&2
exit 1
