#!/usr/bin/env bash
# Installs everything the build, the demo and the tests need on a fresh Debian 12 machine
# (run as root). Idempotent: a second run installs nothing new.
set -euo pipefail

need_apt=()
for pkg in pkg-config libsqlite3-dev fuse3 libimage-exiftool-perl ffmpeg checkpolicy secilc setools m4 policycoreutils blueprint-tools python3-pip; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! python3 -c 'import PIL, pillow_heif' >/dev/null 2>&1; then
  echo "setup: installing Pillow and pillow-heif" >&2
  python3 -m pip install --quiet Pillow pillow-heif 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages Pillow pillow-heif
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install the Rust toolchain (rustup) first" >&2
  exit 1
fi

# scripts/aosp-versions.sh type-checks the daemon for target_os = "android" when this target is
# there (std only; no NDK needed for `cargo check`). Optional: it says SKIP without it.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx x86_64-linux-android; then
  echo "setup: adding rust target x86_64-linux-android" >&2
  rustup target add x86_64-linux-android >/dev/null 2>&1 \
    || echo "setup: could not add x86_64-linux-android; the android type-check will be skipped" >&2
fi
