#!/usr/bin/env bash
# The project's test command: unit tests, store and rule tables, the redaction corpus, the
# Android packaging checks and the integration suites that mount the real daemon (root and
# /dev/fuse needed for those; they skip with a message otherwise, and fail under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --workspace --all-targets
cargo test --workspace -- --test-threads=2
