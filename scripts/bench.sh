#!/usr/bin/env bash
# The project's benchmark (SPEC §10): one run, four configurations, reported as ratios to the
# lower filesystem: native, mediaproviderd (passthrough), mediaproviderd --no-passthrough, and
# redacted reads. Not part of the tests (timings never are). Needs root and /dev/fuse.
#   scripts/bench.sh [SIZE_MiB]      (default 512)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-512}
command -v fio >/dev/null || { apt-get update -qq && apt-get install -y -qq fio >/dev/null; }
cargo build --release -q -p mediaproviderd
cargo build --release -q -p mediaprovider_policy --example store_bench
bin=$PWD/target/release/mediaproviderd
work=$(mktemp -d /tmp/mpd-bench.XXXXXX)
lower=$work/lower mnt=$work/mnt db=$work/media.db
mkdir -p "$lower/Download" "$lower/DCIM/meta" "$mnt"
chmod 755 "$work"
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  umount -l "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$lower/Download/data.bin"
for i in $(seq 1 10000); do printf 'x' > "$lower/DCIM/meta/f$i.jpg"; done
chmod -R a+rX "$lower"
# A location-bearing JPEG padded to the data size, for redacted reads.
jpg=$(find ../shared/corpus -iname '*.jpg' 2>/dev/null | head -n1 || true)
if [ -n "$jpg" ]; then
  cp "$jpg" "$lower/DCIM/gps.jpg"
  head -c "$((size_mb * 1024 * 1024))" /dev/urandom >> "$lower/DCIM/gps.jpg"
fi
"$bin" app add --db "$db" --package com.bench.owner --uid 10700 --grant MANAGE_EXTERNAL_STORAGE >/dev/null
"$bin" app add --db "$db" --package com.bench.viewer --uid 10701 --grant READ_MEDIA_IMAGES >/dev/null

fio_run() { # dir file rw bs uid
  local out
  out=$(setpriv --reuid "$5" --regid "$5" --clear-groups fio --name=j --filename="$1/$2" --rw="$3" --bs="$4" \
      --ioengine=psync --direct=0 --size="${size_mb}m" --runtime=5 --invalidate=0 --fallocate=none \
      --numjobs=1 --iodepth=1 --output-format=json 2>/dev/null)
  python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; k="read" if j["read"]["io_bytes"] else "write"; print(round(j[k]["bw_bytes"]/1048576,1))' <<<"$out"
}
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; cat "$lower/Download/data.bin" > /dev/null; }
open_close_us() { # dir uid
  setpriv --reuid "$2" --regid "$2" --clear-groups /usr/bin/python3 - "$1" <<'PY'
import os, sys, time
d = sys.argv[1] + "/DCIM/meta"
names = [f"{d}/f{i}.jpg" for i in range(1, 2001)]
for n in names:  # warm the dentries: measure open+close, not the first lookup
    os.stat(n)
t = time.perf_counter()
for n in names:
    os.close(os.open(n, os.O_RDONLY))
print(round((time.perf_counter() - t) / len(names) * 1e6, 1))
PY
}
ls_ms() { # dir uid
  local t0 t1
  t0=$(date +%s%N); setpriv --reuid "$2" --regid "$2" --clear-groups ls -l "$1/DCIM/meta" > /dev/null; t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
mount_daemon() {
  "$bin" serve --lower "$lower" --mount "$mnt" --db "$db" "$@" 2>>"$work/daemon.log" &
  pid=$!
  for _ in $(seq 100); do grep -q " $mnt fuse" /proc/mounts && return 0; sleep 0.1; done
  echo "mount failed" >&2; cat "$work/daemon.log" >&2; exit 1
}
unmount_daemon() { kill -TERM "$pid"; wait "$pid" || true; pid=; }

declare -A R
measure() { # name dir
  local jobs=("read 128k" "randread 4k" "write 128k" "randwrite 4k")
  for j in "${jobs[@]}"; do set -- $j; drop; R["$NAME $1-$2"]=$(fio_run "$DIR" Download/data.bin "$1" "$2" 0); done
}
NAME=native DIR=$lower; measure
R["native open+close us"]=$(open_close_us "$lower" 10700)
sync; echo 3 > /proc/sys/vm/drop_caches; R["native ls -l ms"]=$(ls_ms "$lower" 10700)

mount_daemon
R["startup"]=$(grep -o 'reconciled .*' "$work/daemon.log" | tail -1)
NAME=passthrough DIR=$mnt; measure
R["passthrough open+close us"]=$(open_close_us "$mnt" 10700)
R["passthrough rss MiB"]=$(( $(awk '/VmRSS/ {print $2}' /proc/$pid/status) / 1024 ))
if [ -n "$jpg" ]; then
  drop; R["redacted read-128k"]=$(fio_run "$mnt" DCIM/gps.jpg read 128k 10701)
  drop; R["entitled read-128k of the same file"]=$(fio_run "$mnt" DCIM/gps.jpg read 128k 0)
fi
unmount_daemon
mount_daemon; sync; echo 3 > /proc/sys/vm/drop_caches
R["passthrough ls -l ms"]=$(ls_ms "$mnt" 10700)
unmount_daemon
mount_daemon --no-passthrough
NAME=daemon DIR=$mnt; measure
unmount_daemon

python3 - "$(declare -p R)" <<'PY'
import re, sys, json
pairs = dict(re.findall(r'\["([^"]+)"\]="([^"]*)"', sys.argv[1]))
out = {"raw": pairs, "ratio_to_native": {}}
for k, v in pairs.items():
    m = re.match(r"(passthrough|daemon) (.+)", k)
    if m and f"native {m.group(2)}" in pairs:
        try:
            out["ratio_to_native"][k] = round(float(v) / float(pairs[f"native {m.group(2)}"]), 2)
        except (ValueError, ZeroDivisionError):
            pass
print(json.dumps(out, indent=1))
PY
echo "store benchmark:" >&2
"$PWD/target/release/examples/store_bench" 100000 "$work/store"
# Provider half (SPEC §11): query page from a 1,000,000-row store.
scripts/bench_query.sh
