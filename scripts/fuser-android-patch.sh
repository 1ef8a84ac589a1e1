#!/usr/bin/env bash
# Checks android/fuser-patches/*.patch, the fix we ask AOSP to carry in
# external/rust/android-crates-io/crates/fuser/patches/ (SPEC §8: threads on a device).
#
#  1. fuser 0.17.0 is downloaded with cargo (cargo vendor) into target/fuser-android-patch and
#     every patch must apply to it cleanly (patch -p1, as AOSP applies crate patches).
#  2. Soong runs no build.rs and gives libfuser cfgs: ["fuser_mount_impl=\"pure-rust\""]; the
#     copies here get a build.rs that sets exactly that (fuser's own build.rs looks for libfuse
#     when the target is android and fails).
#  3. Host run (needs root and /dev/fuse, else SKIP, or failure under CI=true): the probe in
#     android/fuser-probe mounts a filesystem with the patched crate, n_threads = 4 and cloned
#     fds, stats 64 names from 8 threads, and must see >= 2 session threads serving lookups
#     and >= 2 lookups in flight at once.
#  4. The android cfg, as near as this host gets (no device, no NDK linker), compiling for
#     x86_64-linux-android (real target_os = "android", Rust's android std):
#     - the published crate must fail to compile there (what 0001 fixes);
#     - with 0001 only, the probe library compiled to LLVM IR carries, in the monomorphized
#       Session::run, fuser's refusal "n_threads != 1 is only supported on Linux";
#     - with every patch, the refusal is compiled out and the clone_fd path compiled in.
#     Needs the rust target x86_64-linux-android (scripts/setup.sh adds it); SKIP without it,
#     failure under CI=true.
#  5. With a workspace dir as $1 (scripts/aosp-versions.sh passes its pinned copy), the daemon
#     itself is type-checked for x86_64-linux-android against the patched fuser.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pinned_ws=${1:+$(cd "$1" && pwd)}
scratch=${FUSER_PATCH_DIR:-$root/target/fuser-android-patch}
version=0.17.0
refusal='n_threads != 1 is only supported on Linux'

skip_or_fail() {
  if [ "${CI:-}" = true ]; then
    echo "fuser-android-patch: FAIL: $1 (CI=true)" >&2
    exit 1
  fi
  echo "fuser-android-patch: SKIP: $1"
}

rm -rf "$scratch/probe" "$scratch/vendor" "$scratch/published" "$scratch/unpatched" "$scratch/patched"
mkdir -p "$scratch"
cp -r "$root/android/fuser-probe" "$scratch/probe"

# 1. The crate as published, fetched by cargo.
(cd "$scratch/probe" && cargo vendor --versioned-dirs --quiet "$scratch/vendor" >/dev/null)
# published: as on crates.io; unpatched: builds for android but keeps the thread gates (0001
# only); patched: every patch, as AOSP would carry them.
for d in published unpatched patched; do
  cp -r "$scratch/vendor/fuser-$version" "$scratch/$d"
done
for p in "$root"/android/fuser-patches/*.patch; do
  (cd "$scratch/patched" && patch -p1 --forward --batch --quiet <"$p") \
    || { echo "fuser-android-patch: $(basename "$p") does not apply to fuser $version" >&2; exit 1; }
  echo "fuser-android-patch: $(basename "$p") applies to fuser $version"
done
patch -d "$scratch/unpatched" -p1 --forward --batch --quiet <"$root"/android/fuser-patches/0001-*.patch

# 2. What Soong does instead of running build.rs.
for d in published unpatched patched; do
  cat >"$scratch/$d/build.rs" <<'EOF'
fn main() {
    println!("cargo::rustc-check-cfg=cfg(fuser_mount_impl, values(\"pure-rust\", \"libfuse2\", \"libfuse3\", \"macos-no-mount\"))");
    println!("cargo::rustc-cfg=fuser_mount_impl=\"pure-rust\"");
}
EOF
done
with_fuser() { echo "patch.crates-io.fuser.path=\"$scratch/$1\""; }

# 3. Several threads really serve requests (host, patched crate).
cd "$scratch/probe"
# Warnings of the published crate are not ours to fix here.
export RUSTFLAGS="--cap-lints=allow"
# One target dir for the host and the android builds: shared dependencies are built once.
export CARGO_TARGET_DIR=$scratch/target
cargo build --release --quiet --config "$(with_fuser patched)"
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
  skip_or_fail "multi-threaded probe needs root and /dev/fuse"
else
  mnt=$(mktemp -d "$scratch/mnt.XXXXXX")
  out=$("$CARGO_TARGET_DIR/release/fuser_probe" "$mnt" 4) || { rmdir "$mnt"; exit 1; }
  umount "$mnt" 2>/dev/null || true
  rmdir "$mnt"
  echo "fuser-android-patch: probe with 4 threads: $out"
  python3 - "$out" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
assert r["found"] == 64, f"stat through the mount found {r['found']} of 64 names"
assert r["threads_used"] >= 2, f"only {r['threads_used']} session thread(s) served lookups"
assert r["max_in_flight"] >= 2, "lookups never overlapped: the session serialised them"
assert r["joined"], "session did not end cleanly after unmount"
EOF
fi

# 4. The android cfg: compile for target_os = "android" and look at what was compiled in.
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-linux-android; then
  skip_or_fail "rust target x86_64-linux-android not installed (rustup target add x86_64-linux-android)"
else
  if cargo build --quiet --lib --release \
    --target x86_64-linux-android --config "$(with_fuser published)" 2>/dev/null; then
    echo "fuser-android-patch: published fuser $version now compiles for android; is 0001 still needed?" >&2
    exit 1
  fi
  echo "fuser-android-patch: target_os=android: published fuser $version does not compile (libc::ENOATTR); 0001 fixes it"
  deps=$CARGO_TARGET_DIR/x86_64-linux-android/release/deps
  for d in unpatched patched; do
    rm -f "$deps"/fuser_probe-*.ll
    cargo rustc --quiet --lib --release \
      --target x86_64-linux-android --config "$(with_fuser $d)" -- --emit=llvm-ir
    cat "$deps"/fuser_probe-*.ll >"$scratch/probe-$d.ll"
  done
  ir() { echo "$scratch/probe-$1.ll"; }
  if ! grep -qF "$refusal" $(ir unpatched); then
    echo "fuser-android-patch: unpatched android build lacks the refusal; the check no longer sees it" >&2
    exit 1
  fi
  if grep -qF "$refusal" $(ir patched); then
    echo "fuser-android-patch: patched android build still refuses n_threads > 1" >&2
    exit 1
  fi
  if ! grep -q "clone_fd" $(ir patched); then
    echo "fuser-android-patch: patched android build has no clone_fd path" >&2
    exit 1
  fi
  echo "fuser-android-patch: target_os=android: with 0001 only the session refuses n_threads > 1; with 0002 the refusal is gone and clone_fd is compiled in"

  # 5. The daemon for android, against the pinned AOSP versions and the patched fuser.
  if [ -n "$pinned_ws" ]; then
    (cd "$pinned_ws" && PKG_CONFIG_ALLOW_CROSS=1 CARGO_TARGET_DIR=$scratch/target-android-daemon \
      cargo check --quiet -p mediaproviderd --target x86_64-linux-android --config "$(with_fuser patched)")
    echo "fuser-android-patch: mediaproviderd type-checks for target_os=android with the patched fuser"
  fi
fi
