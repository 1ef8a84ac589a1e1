#!/usr/bin/env bash
# Runs the daemon on a demo tree: builds it, fills .demo/lower with sample media (from
# ../shared/corpus when present, generated files otherwise), registers three apps and mounts
# the volume at .demo/mnt in the foreground. Ctrl-C unmounts and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -p mediaproviderd
bin=target/release/mediaproviderd
demo=.demo
mkdir -p "$demo/lower/DCIM/Camera" "$demo/lower/Download" "$demo/lower/Music" "$demo/mnt"
db="$demo/media.db"
corpus=../shared/corpus
if [ -d "$corpus" ]; then
  find "$corpus" -type f \( -iname '*.jpg' -o -iname '*.png' -o -iname '*.heic' -o -iname '*.webp' \) \
    | head -n 12 | while read -r f; do cp -n "$f" "$demo/lower/DCIM/Camera/"; done
  find "$corpus" -type f \( -iname '*.mp4' -o -iname '*.3gp' -o -iname '*.mov' \) \
    | head -n 4 | while read -r f; do cp -n "$f" "$demo/lower/DCIM/Camera/"; done
fi
echo "a private note" > "$demo/lower/Download/notes.txt"
printf 'ID3' > "$demo/lower/Music/song.mp3"
add() { "$bin" app add --db "$db" "$@" >/dev/null 2>&1 || true; }
add --package com.example.gallery --uid 10100 --grant READ_MEDIA_IMAGES --grant READ_MEDIA_VIDEO
add --package com.example.maps --uid 10101 --grant READ_MEDIA_IMAGES --grant ACCESS_MEDIA_LOCATION
add --package com.example.notes --uid 10102
cat >&2 <<MSG
mediaproviderd demo: volume at $demo/mnt (lower tree $demo/lower, store $db)
  browse as apps (another terminal, as root):
    setpriv --reuid 10100 --regid 10100 --clear-groups ls -l $demo/mnt/DCIM/Camera   # images+video, location redacted
    setpriv --reuid 10101 --regid 10101 --clear-groups ls -l $demo/mnt/DCIM/Camera   # images, with location
    setpriv --reuid 10102 --regid 10102 --clear-groups ls $demo/mnt/Download         # no permissions: sees nothing
    $bin explain --db $db --lower $demo/lower --uid 10100 --op open-read DCIM/Camera/<file>
    $bin app grant --db $db --package com.example.notes READ_MEDIA_IMAGES             # takes effect at once
  Ctrl-C to unmount.
MSG
exec "$bin" serve --lower "$demo/lower" --mount "$demo/mnt" --db "$db"
