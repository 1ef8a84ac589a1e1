#!/usr/bin/env bash
# Builds and tests the workspace against the crate versions AOSP vendors
# (android/aosp-versions.toml), so a Soong build cannot break where the host build passes
# (SPEC §8). Cargo.lock stays on the newest versions; this checks the other end.
#
# How: the tracked tree is copied to a scratch dir (target/aosp-versions/ws, with ../shared
# linked beside it), every listed crate's requirement in the copy's manifests is rewritten to
# `=VERSION`, Cargo re-resolves the copied Cargo.lock minimally, and the workspace is built
# and tested there with its own target dir (kept between runs). The pinned versions are read
# back from the resolved Cargo.lock and printed, and a crate that did not resolve to its pin
# fails the run.
# Then scripts/fuser-android-patch.sh checks the fuser patches for android and type-checks the
# daemon for target_os = "android" against these versions plus those patches.
#
# usage: scripts/aosp-versions.sh [ARGS FOR cargo test ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
versions_file=$root/android/aosp-versions.toml
scratch=${AOSP_VERSIONS_DIR:-$root/target/aosp-versions}
ws=$scratch/ws

# name=version pairs from the [versions] table.
mapfile -t pins < <(sed -n '/^\[versions\]/,/^\[/{s/^\([a-z0-9_-]*\) *= *"\([^"]*\)".*/\1=\2/p}' "$versions_file")
if [ ${#pins[@]} -eq 0 ]; then
  echo "aosp-versions: no versions in $versions_file" >&2
  exit 1
fi

# Fresh copy of the tree (tracked and new files, never target/).
rm -rf "$ws"
mkdir -p "$ws"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$root" && git ls-files -z --cached --others --exclude-standard \
    | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$ws"
else
  tar -C "$root" --exclude=./target -cf - . | tar -xf - -C "$ws"
fi
# Tests find the corpus and tools at <workspace>/../shared.
if [ -d "$root/../shared" ]; then
  ln -sfn "$(cd "$root/../shared" && pwd)" "$scratch/shared"
fi

# Pin: `name = "REQ"` and `name = { version = "REQ", ... }` become "=VERSION".
manifests=("$ws/Cargo.toml" "$ws"/*/Cargo.toml)
pinned=()
for pin in "${pins[@]}"; do
  name=${pin%%=*} version=${pin#*=}
  hit=0
  for m in "${manifests[@]}"; do
    if grep -Eq "^$name *= *(\"|\\{ *version *= *\")" "$m"; then
      sed -Ei "s/^($name *= *)\"[^\"]*\"/\1\"=$version\"/; s/^($name *= *\\{ *version *= *)\"[^\"]*\"/\1\"=$version\"/" "$m"
      hit=1
    fi
  done
  [ $hit = 1 ] && pinned+=("$name=$version")
done

export CARGO_TARGET_DIR=$scratch/target
# android_bp checks the source tree, not this deliberately pinned copy of it.
export MEDIAPROVIDERD_SOURCE_ROOT=$root
cd "$ws"
cargo update --workspace --quiet

# Evidence: what the copy actually resolved to.
status=0
for pin in "${pinned[@]}"; do
  name=${pin%%=*} version=${pin#*=}
  got=$(awk -v n="$name" '$0 == "name = \"" n "\"" {getline; gsub(/version = |"/, ""); print}' Cargo.lock | tr '\n' ' ')
  case " $got" in
    *" $version "*) echo "aosp-versions: $name $version (resolved: ${got% })" ;;
    *) echo "aosp-versions: $name resolved to '${got% }', want $version" >&2; status=1 ;;
  esac
done
[ $status = 0 ] || exit 1

cargo build --workspace --all-targets
cargo test --workspace "$@" -- --test-threads=2

# The fuser patches AOSP must carry, and the daemon type-checked for android with them.
"$root/scripts/fuser-android-patch.sh" "$ws"
echo "aosp-versions: workspace builds and passes its tests against the AOSP versions"
