#!/usr/bin/env bash
# Build an offline stand-in for the official `python:<PYVER>-slim` image and load it into Docker.
#
# Usage: scripts/ci/build_base_image.sh 3.11   (also 3.12, 3.13)
#
# CI has no access to a container registry, only to Debian's and PyPI's package mirrors. So we
# debootstrap a minimal Debian bookworm, copy in the CPython that pyenv already built on this machine
# (installed under /usr/local, as the official image does), and `docker import` the result with the
# same tag. The rendered project's Dockerfile then builds unchanged on top of it.
#
# This machine reaches PyPI through a TLS-terminating proxy, so its CA bundle and pip settings are
# baked into the stand-in image (only here: never into the rendered Dockerfile). Settings that point
# at files which do not exist inside the image (file:// indexes, find-links, constraints) are dropped.
#
# Both the Debian rootfs and the finished image tarball are cached under /var/cache/ci-base-image,
# keyed by the inputs, so a rerun only re-imports (a few seconds).
set -euo pipefail

PYVER="${1:?usage: $0 PYVER (3.11, 3.12 or 3.13)}"
PYENV_ROOT="${PYENV_ROOT:-/root/.pyenv}"
CACHE_DIR="${BASE_IMAGE_CACHE_DIR:-/var/cache/ci-base-image}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
TAG="python:${PYVER}-slim"

# Runtime libraries the stdlib extension modules link against (checked with ldd on lib-dynload),
# plus what the official slim image carries (ca-certificates, netbase, tzdata). No Tk: slim has none.
DEBIAN_PACKAGES="ca-certificates,netbase,tzdata,libssl3,libsqlite3-0,libffi8,libbz2-1.0,liblzma5,\
zlib1g,libncursesw6,libreadline8,libuuid1,libnsl2,libtirpc3,libexpat1,libcrypt1"

log() { printf '[build_base_image %s] %s\n' "$(date +%T)" "$*" >&2; }
elapsed() { echo "$(($(date +%s) - $1))s"; }

export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
mkdir -p "$CACHE_DIR"
# Two CI steps building the same version must not write the same tarball at once.
exec 9>"$CACHE_DIR/.lock"
flock -w 900 9

pydir=$(find "$PYENV_ROOT/versions" -maxdepth 1 -name "${PYVER}.*" -type d | sort -V | tail -n 1)
if [[ -z "$pydir" || ! -x "$pydir/bin/python${PYVER}" ]]; then
    log "no CPython ${PYVER} under $PYENV_ROOT/versions"
    exit 1
fi
full_version=$(basename "$pydir")

command -v debootstrap >/dev/null 2>&1 || {
    log "debootstrap missing: run scripts/ci/start_dockerd.sh first (it installs it)"
    exit 1
}
docker info >/dev/null 2>&1 || {
    log "no Docker daemon at $DOCKER_HOST: run scripts/ci/start_dockerd.sh first"
    exit 1
}

# Pip settings of this machine, minus anything pointing at local files.
pip_conf=$(mktemp)
{
    echo "[global]"
    echo "cert = /etc/ssl/certs/ca-certificates.crt"
    echo "default-timeout = ${PIP_DEFAULT_TIMEOUT:-180}"
    echo "disable-pip-version-check = 1"
    # An index mirror (if this machine uses one) is kept when it is reachable over the network.
    for key in global.index-url global.extra-index-url; do
        value=$(pip config get "$key" 2>/dev/null || true)
        kept=$(tr ' ' '\n' <<<"$value" | grep -E '^https?://' | tr '\n' ' ' | sed 's/ $//' || true)
        [[ -n "$kept" ]] && echo "${key#global.} = $kept"
    done
    [[ -n "${PIP_INDEX_URL:-}" && "${PIP_INDEX_URL}" =~ ^https?:// ]] && echo "index-url = $PIP_INDEX_URL"
} >"$pip_conf"

script_hash=$(sha256sum "$0" | cut -c1-12)
rootfs_key=$(printf '%s|%s|%s' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$DEBIAN_PACKAGES" | sha256sum | cut -c1-12)
image_key=$(cat <(echo "$rootfs_key $full_version $script_hash") "$CA_BUNDLE" "$pip_conf" \
    | sha256sum | cut -c1-12)
rootfs_tar="$CACHE_DIR/debian-${DEBIAN_SUITE}-minbase-${rootfs_key}.tar"
image_tar="$CACHE_DIR/python-${full_version}-slim-${image_key}.tar"

existing=$(docker image inspect -f '{{ index .Config.Labels "ci.stand-in.key" }}' "$TAG" 2>/dev/null || true)
if [[ "$existing" == "$image_key" ]]; then
    log "$TAG is already loaded (key $image_key)"
    rm -f "$pip_conf"
    exit 0
fi

workdir=$(mktemp -d /var/tmp/ci-base-image.XXXXXX)
cleanup() {
    # debootstrap may leave /proc or /sys mounted inside the rootfs when it fails half-way.
    for m in proc sys dev/pts dev; do umount -l "$workdir/rootfs/$m" 2>/dev/null || true; done
    rm -rf "$workdir" "$pip_conf"
}
trap cleanup EXIT

if [[ ! -f "$image_tar" ]]; then
    if [[ ! -f "$rootfs_tar" ]]; then
        start=$(date +%s)
        log "debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR"
        debootstrap --variant=minbase --include="$DEBIAN_PACKAGES" \
            "$DEBIAN_SUITE" "$workdir/rootfs" "$DEBIAN_MIRROR" >"$workdir/debootstrap.log" 2>&1 || {
            tail -n 40 "$workdir/debootstrap.log" >&2
            exit 1
        }
        # Slim the rootfs the way the official images do: no apt lists, caches, docs or man pages.
        rm -rf "$workdir"/rootfs/var/lib/apt/lists/* "$workdir"/rootfs/var/cache/apt/* \
            "$workdir"/rootfs/usr/share/doc/* "$workdir"/rootfs/usr/share/man/* \
            "$workdir"/rootfs/usr/share/info/* "$workdir"/rootfs/var/log/*.log
        tar --numeric-owner -C "$workdir/rootfs" -cf "$rootfs_tar.tmp" .
        mv "$rootfs_tar.tmp" "$rootfs_tar"
        rm -rf "$workdir/rootfs"
        log "rootfs cached at $rootfs_tar in $(elapsed "$start")"
    fi

    start=$(date +%s)
    rootfs="$workdir/rootfs"
    mkdir -p "$rootfs"
    tar --numeric-owner -C "$rootfs" -xpf "$rootfs_tar"

    log "adding CPython $full_version from $pydir"
    mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib" "$rootfs/usr/local/include"
    cp -a "$pydir/bin/python${PYVER}" "$rootfs/usr/local/bin/"
    cp -a "$pydir"/lib/libpython*.so* "$rootfs/usr/local/lib/"
    cp -a "$pydir/include/python${PYVER}" "$rootfs/usr/local/include/" 2>/dev/null || true
    # Stdlib only: the pyenv site-packages holds this machine's dev tools, not what slim ships.
    tar -C "$pydir/lib" \
        --exclude="python${PYVER}/site-packages/*" \
        --exclude="python${PYVER}/test" --exclude="python${PYVER}/idlelib" \
        --exclude="python${PYVER}/tkinter" --exclude="python${PYVER}/turtledemo" \
        --exclude='lib-dynload/_tkinter*' --exclude='__pycache__' --exclude='*.pyc' \
        --exclude='libpython*.a' \
        -cf - "python${PYVER}" | tar -C "$rootfs/usr/local/lib" -xf -
    # Build-time paths recorded by pyenv would point at a prefix that does not exist in the image.
    grep -rlIF "$pydir" "$rootfs/usr/local/lib/python${PYVER}" 2>/dev/null \
        | xargs -r sed -i "s#${pydir}#/usr/local#g"
    ln -sf "python${PYVER}" "$rootfs/usr/local/bin/python3"
    ln -sf python3 "$rootfs/usr/local/bin/python"

    install -m 0644 "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    install -m 0644 "$pip_conf" "$rootfs/etc/pip.conf"

    chroot "$rootfs" /sbin/ldconfig
    # ensurepip installs the pip wheel bundled with this CPython; no network needed.
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
        /usr/local/bin/python3 -m ensurepip --default-pip >"$workdir/ensurepip.log" 2>&1 || {
        cat "$workdir/ensurepip.log" >&2
        exit 1
    }
    ln -sf "pip${PYVER}" "$rootfs/usr/local/bin/pip3"
    ln -sf pip3 "$rootfs/usr/local/bin/pip"
    find "$rootfs/usr/local" -depth -name '__pycache__' -type d -exec rm -rf '{}' +
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin \
        sh -c 'python --version && pip --version && python -c "import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, readline"' \
        >&2
    tar --numeric-owner -C "$rootfs" -cf "$image_tar.tmp" .
    mv "$image_tar.tmp" "$image_tar"
    rm -rf "$rootfs"
    # Older tarballs for the same version are stale now.
    find "$CACHE_DIR" -maxdepth 1 -name "python-${full_version}-slim-*.tar" ! -name "$(basename "$image_tar")" \
        -delete
    log "image tarball cached at $image_tar in $(elapsed "$start")"
fi

start=$(date +%s)
docker import \
    --change "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV PYTHON_VERSION=${full_version}" \
    --change "LABEL ci.stand-in.key=${image_key}" \
    --change "LABEL org.opencontainers.image.description=offline-stand-in-for-${TAG}" \
    --change 'CMD ["python3"]' \
    "$image_tar" "$TAG" >/dev/null
log "imported $TAG in $(elapsed "$start"); size $(docker image inspect -f '{{ .Size }}' "$TAG") bytes"
