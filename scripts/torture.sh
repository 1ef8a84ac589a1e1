#!/usr/bin/env bash
# The torture harness (issue 10): mounts the real daemon over a scratch lower tree (a small
# tmpfs, for ENOSPC), registers K apps with a spread of permissions and drives random operations
# from each app's uid in parallel, SIGKILLs and restarts the daemon M times, injects EIO for
# marked names, and checks every answer against the policy library's own decisions.
#
#   scripts/torture.sh [--seconds N] [--apps K] [--kills M] [--seed S] [--no-passthrough]
#                      [--threads N] [--lower-mib N (0: plain dir)] [--no-eio]
#
# Needs root and /dev/fuse (prints SKIP otherwise; fails under CI=true). Prints its seed first
# and one JSON summary line on stdout at the end; every violation is printed at once with the
# shortest operation log that shows it; the whole log is in /tmp/mpd-torture-<seed>.log.
# Exit status: 0 clean, 1 violations, 2 the harness could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build --quiet -p mediaproviderd --bin mediaproviderd -p mediaproviderd_tests --bin torture
export MEDIAPROVIDERD_BIN="$target_dir/debug/mediaproviderd"
exec "$target_dir/debug/torture" "$@"
