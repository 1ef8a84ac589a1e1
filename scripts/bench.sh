#!/usr/bin/env bash
# The project's benchmark (SPEC §10). Not part of the tests (timings never are). Root and
# /dev/fuse needed.
#
#   scripts/bench.sh [--reps N] [--size MiB] [--runtime S] [--rows LIST]
#   scripts/bench.sh --scale N [--tree DIR]
#
# Configurations, interleaved (every rep runs each configuration once, in turn) and reported
# as medians over the reps: native (the lower ext4 dir), mpd (mediaproviderd, passthrough),
# mpd-nopt (--no-passthrough), mpd-redacted (a reader without ACCESS_MEDIA_LOCATION), and
# libfuse's passthrough_hp built from ../shared/peers (hp, hp-nopt) as the peer column.
# Cache state, the same for every configuration: before each fio run all caches are dropped
# and the lower file is read once (lower page cache warm, every FUSE cache cold); metadata
# rows start from a fresh mount with caches dropped ("cold") or right after a first pass
# ("warm"). Rows: fio, meta (create/ls/openclose/rename/unlink), find, gallery, mixed, decision.
#
# --scale N builds an N-file tree (1,000 dirs) under --tree (default /work/mpd-scale-tree; on
# disk, not tmpfs) and reports scan rate, time to a usable mount, RSS after a traversal and the
# find ratio; the tree is kept for reuse (delete it with rm -rf when done).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
reps=3 size_mb=256 runtime=3 scale= tree=/work/mpd-scale-tree rows="fio meta find gallery mixed decision"
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --size) size_mb=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --tree) tree=$2; shift 2 ;;
    *) echo "usage: scripts/bench.sh [--reps N] [--size MiB] [--runtime S] [--rows LIST] | --scale N [--tree DIR]" >&2; exit 2 ;;
  esac
done
for t in fio setpriv python3; do command -v $t >/dev/null || { apt-get install -y -qq fio >/dev/null 2>&1 || true; }; done
cargo build --release -q -p mediaproviderd
bin=$repo/target/release/mediaproviderd
# App uids cannot use root's pyenv shims: the system interpreter runs the workloads.
py=/usr/bin/python3; [ -x $py ] || py=python3
ops="$py $repo/scripts/bench_ops.py"
APP=10700 READER=10701   # MANAGE_EXTERNAL_STORAGE app; READ_MEDIA_IMAGES reader (redacted)

# ---- the peer: passthrough_hp from the libfuse tarball, built once in a scratch dir ----------
peer_dir=${MPD_BENCH_PEER_DIR:-$repo/target/bench-peer}
hp=$peer_dir/passthrough_hp
build_peer() {
  [ -x "$hp" ] && return 0
  local tgz
  tgz=$(ls "$repo"/../shared/peers/libfuse-*.tar.gz 2>/dev/null | head -n1) || true
  [ -n "$tgz" ] || { echo "SKIP peer column: no ../shared/peers/libfuse-*.tar.gz" >&2; return 1; }
  for t in meson ninja; do command -v $t >/dev/null || apt-get install -y -qq meson ninja-build >/dev/null 2>&1 || true; done
  command -v meson >/dev/null || { echo "SKIP peer column: meson not installable" >&2; return 1; }
  rm -rf "$peer_dir/src" && mkdir -p "$peer_dir/src"
  tar -xzf "$tgz" -C "$peer_dir/src"
  local src; src=$(ls -d "$peer_dir"/src/*/ | head -n1)
  if (cd "$src" && meson setup BUILD -Dexamples=true -Dutils=false -Dtests=false -Duseroot=false \
        -Dbuildtype=release >"$peer_dir/build.log" 2>&1 && ninja -C BUILD example/passthrough_hp >>"$peer_dir/build.log" 2>&1); then
    cp "$src/BUILD/example/passthrough_hp" "$hp"
    # It links the tarball's libfuse3.so: keep it beside the binary.
    cp -P "$src"/BUILD/lib/libfuse3.so* "$peer_dir/" 2>/dev/null || true
  else
    echo "SKIP peer column: passthrough_hp did not build (see $peer_dir/build.log)" >&2; return 1
  fi
}
have_peer=0; build_peer && have_peer=1

work=$(mktemp -d /work/mpd-bench.XXXXXX 2>/dev/null || mktemp -d /tmp/mpd-bench.XXXXXX)
lower=$work/lower mnt=$work/mnt db=$work/media.db stats=$work/stats.json
mkdir -p "$lower" "$mnt"; chmod 755 "$work"
# The lower tree lives on a fresh ext4 image: an aged filesystem full of recently deleted
# inodes makes ext4's inode allocator scan (seen here: native create 955 µs/file on /work vs
# 26 µs on a fresh ext4), which would swamp every metadata row with the lower's own cost.
lower_fs=plain
if command -v mkfs.ext4 >/dev/null && truncate -s 8G "$work/lower.img" \
   && mkfs.ext4 -q -F "$work/lower.img" && mount -o loop "$work/lower.img" "$lower"; then
  lower_fs="fresh ext4 image (loop)"
else
  echo "NOTE: lower is a plain directory on $(df --output=target "$work" | tail -n1) (no loop ext4)" >&2
fi
chmod 755 "$lower"
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  umount -l "$mnt" 2>/dev/null || true
  [ "$lower_fs" = plain ] || umount "$lower" 2>/dev/null || umount -l "$lower" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
results=$work/results.jsonl   # one {"row","config","rep","value"} per measurement

mounted() { grep -q " $mnt fuse" /proc/mounts; }
wait_mount() { for _ in $(seq 200); do mounted && return 0; sleep 0.05; done; echo "mount failed" >&2; tail "$work/daemon.log" >&2; exit 1; }
up() { # config [extra serve args]
  local c=$1; shift
  case $c in
    native|"") return 0 ;;
    mpd|mpd-redacted) "$bin" serve --lower "$lower" --mount "$mnt" --db "$db" --stats "$stats" "$@" 2>>"$work/daemon.log" & pid=$! ;;
    mpd-nopt) "$bin" serve --lower "$lower" --mount "$mnt" --db "$db" --stats "$stats" --no-passthrough "$@" 2>>"$work/daemon.log" & pid=$! ;;
    hp) LD_LIBRARY_PATH=$peer_dir "$hp" --foreground -o allow_other "$lower" "$mnt" 2>>"$work/hp.log" & pid=$! ;;
    hp-nopt) LD_LIBRARY_PATH=$peer_dir "$hp" --foreground --nopassthrough -o allow_other "$lower" "$mnt" 2>>"$work/hp.log" & pid=$! ;;
  esac
  wait_mount
}
down() {
  [ -z "$pid" ] && return 0
  kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
  mounted && umount -l "$mnt" 2>/dev/null || true
}
dir_of() { [ "$1" = native ] && echo "$lower" || echo "$mnt"; }
uid_of() { case $1 in mpd*) echo $APP ;; *) echo 0 ;; esac; }
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }
record() { # row config rep json
  python3 -c '
import json, sys
try:
    v = json.loads(sys.argv[4])
except ValueError:
    v = None
print(json.dumps({"row": sys.argv[1], "config": sys.argv[2], "rep": int(sys.argv[3]), "value": v}))' "$@" >>"$results"
}
dropcaches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
mpd_stats() { rm -f "$stats"; kill -USR1 "$pid"; for _ in $(seq 100); do [ -s "$stats" ] && break; stat "$mnt/.probe$RANDOM" >/dev/null 2>&1 || true; sleep 0.02; done; cat "$stats"; }
configs() { local c="native mpd"; [ $have_peer = 1 ] && c="$c hp"; echo "$c"; }

"$bin" app add --db "$db" --package com.bench.app --uid $APP --grant MANAGE_EXTERNAL_STORAGE >/dev/null
"$bin" app add --db "$db" --package com.bench.reader --uid $READER --grant READ_MEDIA_IMAGES >/dev/null
for i in $(seq 0 7); do "$bin" app add --db "$db" --package com.bench.mix$i --uid $((10710 + i)) --grant MANAGE_EXTERNAL_STORAGE >/dev/null; done
# The store is the daemon's: let the first mount create the default dirs.
up mpd; down

# ---- scale mode ------------------------------------------------------------------------------
if [ -n "$scale" ]; then
  per=$(( (scale + 999) / 1000 ))
  mkdir -p "$tree"
  if [ ! -f "$tree/.complete-$scale" ]; then
    echo "building $scale files in 1,000 dirs under $tree ..." >&2
    python3 - "$tree" "$per" <<'PY'
import os, sys
root, per = sys.argv[1], int(sys.argv[2])
exts = [".jpg", ".mp4", ".txt", ".pdf", ".mp3"]
for d in range(1000):
    dd = f"{root}/Download/s{d:03d}"
    os.makedirs(dd, exist_ok=True)
    for f in range(per):
        with open(f"{dd}/f{f:05d}{exts[f % 5]}", "wb") as fh:
            fh.write(b"x" * 16)
PY
    touch "$tree/.complete-$scale"
  fi
  sdb=$work/scale.db
  "$bin" app add --db "$sdb" --package com.bench.app --uid $APP --grant MANAGE_EXTERNAL_STORAGE >/dev/null
  dropcaches
  t0=$(date +%s%N)
  "$bin" serve --lower "$tree" --mount "$mnt" --db "$sdb" --stats "$stats" 2>"$work/scale.log" & pid=$!
  wait_mount
  # Usable: a lookup and an open of a file deep in the tree answer.
  as $APP cat "$mnt/Download/s999/f00000.jpg" >/dev/null
  t1=$(date +%s%N)
  for _ in $(seq 1200); do grep -q "reconciled .* in the background" "$work/scale.log" && break; sleep 0.5; done
  recon=$(grep -o "reconciled .* in the background" "$work/scale.log" | tail -1)
  dropcaches
  mt=$(as $APP $ops walk "$mnt/Download")
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status); hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  st=$(mpd_stats)
  down
  dropcaches
  nt=$(as 0 $ops walk "$tree/Download")
  dropcaches
  "$bin" serve --lower "$tree" --mount "$mnt" --db "$sdb" 2>>"$work/scale.log" & pid=$!; wait_mount
  mf=$(as $APP $ops find "$mnt/Download"); down
  dropcaches; nf=$(as 0 $ops find "$tree/Download")
  python3 - "$scale" "$(( (t1 - t0) / 1000000 ))" "$recon" "$mt" "$nt" "$rss" "$hwm" "$mf" "$nf" "$st" <<'PY'
import json, sys
n, usable_ms, recon, mt, nt, rss, hwm, mf, nf, st = sys.argv[1:]
mt, nt, mf, nf, st = map(json.loads, (mt, nt, mf, nf, st))
print(json.dumps({"scale": int(n), "usable_after_start_ms": int(usable_ms), "reconcile": recon,
  "walk_lstat_ms": {"mpd": mt["ms"], "native": nt["ms"], "ratio": round(mt["ms"] / nt["ms"], 2), "files": mt["files"]},
  "find_ls_ms": {"mpd": mf["ms"], "native": nf["ms"], "ratio": round(mf["ms"] / nf["ms"], 2)},
  "rss_after_traversal_mib": round(int(rss) / 1024, 1), "rss_peak_mib": round(int(hwm) / 1024, 1),
  "daemon_stats_after_traversal": st}, indent=1))
PY
  exit 0
fi

# ---- fixtures in the lower tree ----------------------------------------------------------------
mkdir -p "$lower/Download/io" "$lower/DCIM/Camera" "$lower/Download/tree"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$lower/Download/io/data.bin"
gps=$(ls "$repo"/../shared/corpus/exiftool/GPS.jpg 2>/dev/null || true)
if [ -n "$gps" ]; then
  cp "$gps" "$lower/DCIM/gps.jpg"; head -c "$((size_mb * 1024 * 1024))" /dev/urandom >> "$lower/DCIM/gps.jpg"
  python3 -c 'import shutil,sys; [shutil.copyfile(sys.argv[1], f"{sys.argv[2]}/IMG_{i}.jpg") for i in range(10000)]' "$gps" "$lower/DCIM/Camera"
fi
python3 - "$lower/Download/tree" <<'PY'
import os, sys
for d in range(1000):
    dd = f"{sys.argv[1]}/d{d:03d}"
    os.makedirs(dd, exist_ok=True)
    for f in range(100):
        open(f"{dd}/f{f:03d}.txt", "wb").close()
PY
chmod -R a+rX "$lower"
up mpd; as $APP ls "$mnt/Download/tree" >/dev/null; sleep 2; down   # index once (reconcile)

fio_run() { # dir file rw bs uid jobs
  local out
  out=$(as "$5" fio --name=j --filename="$1/$2" --rw="$3" --bs="$4" --ioengine=psync --direct=0 \
      --size="${size_mb}m" --runtime="$runtime" --time_based --invalidate=0 --fallocate=none \
      --numjobs="$6" --group_reporting --iodepth=1 --output-format=json 2>/dev/null) || { echo null; return; }
  python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; k="read" if j["read"]["io_bytes"] else "write"; print(round(j[k]["bw_bytes"]/1048576,1))' <<<"$out"
}
warm_lower() { cat "$lower/$1" > /dev/null; }

for rep in $(seq 1 "$reps"); do
  echo "rep $rep/$reps" >&2
  # -- fio: passthrough rows ------------------------------------------------------------------
  if [[ " $rows " == *" fio "* ]]; then
    for c in $(configs); do
      up "$c"; d=$(dir_of "$c"); u=$(uid_of "$c")
      for jobs in 1 4; do
        for j in "read 128k" "randread 4k" "write 128k" "randwrite 4k"; do
          set -- $j; dropcaches; warm_lower Download/io/data.bin
          record "fio $1-$2 x$jobs" "$c" "$rep" "$(fio_run "$d" Download/io/data.bin "$1" "$2" "$u" "$jobs")"
        done
      done
      down
    done
    # daemon-served and redacted reads
    for c in mpd-nopt mpd-redacted $([ $have_peer = 1 ] && echo hp-nopt); do
      up "$c"
      for j in "read 128k" "randread 4k"; do
        set -- $j
        if [ "$c" = mpd-redacted ]; then
          [ -n "$gps" ] || continue
          dropcaches; warm_lower DCIM/gps.jpg
          record "served $1-$2" "$c" "$rep" "$(fio_run "$mnt" DCIM/gps.jpg "$1" "$2" $READER 1)"
        else
          dropcaches; warm_lower Download/io/data.bin
          record "served $1-$2" "$c" "$rep" "$(fio_run "$mnt" Download/io/data.bin "$1" "$2" "$(uid_of "$c")" 1)"
        fi
      done
      down
    done
  fi
  # -- metadata: create / ls -l cold+warm / open+close / rename / unlink ------------------------
  if [[ " $rows " == *" meta "* ]]; then
    for c in $(configs); do
      up "$c"; d=$(dir_of "$c"); u=$(uid_of "$c"); sub=Download/m$rep$c
      mkdir -p "$lower/$sub"; chmod 777 "$lower/$sub"
      [ "$c" = mpd ] && before=$(mpd_stats)
      record "create 10000" "$c" "$rep" "$(as "$u" $ops create "$d/$sub" 10000)"
      [ "$c" = mpd ] && record "create round trips" "$c" "$rep" "{\"before\":$before,\"after\":$(mpd_stats)}"
      down; dropcaches; up "$c"
      record "ls -l cold" "$c" "$rep" "$(as "$u" $ops ls "$d/$sub")"
      record "ls -l warm" "$c" "$rep" "$(as "$u" $ops ls "$d/$sub")"
      record "open+close" "$c" "$rep" "$(as "$u" $ops openclose "$d/$sub" 2000)"
      record "rename dir" "$c" "$rep" "$(as "$u" $ops rename "$d/$sub" "$d/$sub.r")"
      [ "$c" = mpd ] && before=$(mpd_stats)
      record "unlink 10000" "$c" "$rep" "$(as "$u" $ops unlink "$d/$sub.r" 10000)"
      [ "$c" = mpd ] && record "unlink round trips" "$c" "$rep" "{\"before\":$before,\"after\":$(mpd_stats)}"
      down; rm -rf "$lower/$sub" "$lower/$sub.r"
    done
  fi
  # -- find -ls over 100,000 files in 1,000 dirs, fresh mount, caches dropped ---------------------
  if [[ " $rows " == *" find "* ]]; then
    for c in $(configs); do
      dropcaches; up "$c"
      record "find -ls 100k" "$c" "$rep" "$(as "$(uid_of "$c")" $ops find "$(dir_of "$c")/Download/tree")"
      down
    done
  fi
  # -- gallery: list DCIM/Camera (10,000 photos), stat each, read 64 KiB of each, redacted ------
  if [[ " $rows " == *" gallery "* ]] && [ -n "$gps" ]; then
    for c in native mpd-redacted $([ $have_peer = 1 ] && echo hp); do
      dropcaches; up "$c"
      u=$READER; [ "$c" = mpd-redacted ] || u=0
      record "gallery 10000" "$c" "$rep" "$(as $u $ops gallery "$(dir_of "$c")/DCIM/Camera")"
      down
    done
  fi
  # -- 8 apps at once, mixed metadata ops: --threads 4 vs --threads 1 --------------------------
  if [[ " $rows " == *" mixed "* ]]; then
    for t in 1 4; do
      up mpd --threads $t
      outs=()
      for i in $(seq 0 7); do as $((10710 + i)) $ops mixed "$mnt/Download/mix$i" 5 >"$work/mix$i" & outs+=($!); done
      wait "${outs[@]}"
      record "mixed 8 apps" "mpd-threads$t" "$rep" "$(cat "$work"/mix? | python3 -c 'import json,sys; print(json.dumps({"ops": sum(json.loads(l)["ops"] for l in sys.stdin)}))')"
      down
    done
  fi
done

# -- policy decision with every store lookup, 1,000,000-file store --------------------------------
if [[ " $rows " == *" decision "* ]]; then
  cargo build --release -q -p mediaprovider_policy --example store_bench
  "$repo/target/release/examples/store_bench" 1000000 "$work/store" >"$work/decision.txt" 2>&1 || true
fi

python3 - "$results" "$work/decision.txt" "$lower_fs" <<'PY'
import json, statistics, sys, collections
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    r = json.loads(line)
    rows[r["row"]][r["config"]].append(r["value"])
def med(vals, key=None):
    xs = [v[key] if key else v for v in vals if v is not None and (key is None or key in v)]
    return statistics.median(xs) if xs else None
out = {"lower": sys.argv[3], "raw": {k: dict(v) for k, v in rows.items()}, "median": {}, "ratio": {}}
for row, cfgs in rows.items():
    if "round trips" in row:
        per = {}
        for b in cfgs["mpd"]:
            for k, v in b["after"].items():
                if isinstance(v, (int, float)) and k in b["before"]:
                    per.setdefault(k, []).append((v - b["before"][k]) / 10000)
        out["median"][row] = {k: round(statistics.median(v), 2) for k, v in per.items() if statistics.median(v) > 0}
        continue
    m = {}
    for c, vals in cfgs.items():
        if isinstance(vals[0], dict):
            m[c] = {k: med(vals, k) for k in vals[0]}
        else:
            m[c] = med(vals)
    out["median"][row] = m
    base = m.get("native")
    if base is not None:
        for c, v in m.items():
            if c == "native":
                continue
            key = None
            if isinstance(v, dict):
                key = next((k for k in ("per_file_us", "ms", "open_close_us") if k in v), None)
            a, b = (v[key], base[key]) if key else (v, base)
            if a and b:
                out["ratio"].setdefault(row, {})[c] = round(a / b, 2)
    if "hp" in m and "mpd" in m and isinstance(m["mpd"], dict) and "per_file_us" in m["mpd"]:
        out["ratio"].setdefault(row, {})["mpd/hp"] = round(m["mpd"]["per_file_us"] / m["hp"]["per_file_us"], 2)
    if "hp-nopt" in m:
        for c in ("mpd-nopt", "mpd-redacted"):
            if c in m and m[c] and m["hp-nopt"]:
                out["ratio"].setdefault(row, {})[c + "/hp-nopt"] = round(m[c] / m["hp-nopt"], 2)
    if "mpd-threads1" in m:
        out["ratio"][row] = {"threads4/threads1": round(m["mpd-threads4"]["ops"] / m["mpd-threads1"]["ops"], 2)}
try:
    out["decision"] = open(sys.argv[2]).read().strip().splitlines()
except OSError:
    pass
print(json.dumps(out, indent=1))
PY

# Provider half (SPEC §11): a query page from a 1,000,000-row store.
scripts/bench_query.sh
