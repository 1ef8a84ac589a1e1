#!/usr/bin/env bash
# Provider-half benchmark (SPEC §10, §11): a 100-row page sorted by date_taken from a
# 1,000,000-row store, for several callers, through the same query code the CLI and the query
# socket run. Medians of 41 runs, warm page cache. Called by scripts/bench.sh; runs alone too.
#   scripts/bench_query.sh [ROWS] [DB]     (defaults: 1000000, /tmp/mpd-query-bench.db — kept
#                                          and reused, since filling it takes a minute or two)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
db=${2:-/tmp/mpd-query-bench.db}
cargo build --release -q -p mediaprovider_policy --example query_bench
echo "query benchmark ($rows rows; target: < 5 ms per page):" >&2
"$PWD/target/release/examples/query_bench" "$rows" "$db"
