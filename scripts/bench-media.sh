#!/usr/bin/env bash
# Benchmark: `aero-media win7` on a synthetic ~3 GiB Windows-like ISO against `cp` of the same
# file, on the same disk, and the ratio. Builds aero-media and the fixture first.
#   scripts/bench-media.sh [SIZE_MB] [WORKDIR]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MB=${1:-2900}
W=${2:-$REPO/build/bench-media}
"$REPO/scripts/install-deps.sh"
[ -f "$REPO/build/build.ninja" ] || meson setup "$REPO/build" >/dev/null
meson compile -C "$REPO/build" media/aero-media >/dev/null
AM=$REPO/build/media/aero-media
mkdir -p "$W"
if [ ! -f "$W/win7.iso" ]; then
  echo "building a synthetic ISO with a ${SIZE_MB} MiB install.wim payload..." >&2
  /usr/bin/python3 "$REPO/tests/media/mkwin7.py" iso "$W/win7.iso.tmp" --payload-mb "$SIZE_MB" --images 2
  mv "$W/win7.iso.tmp" "$W/win7.iso"
fi
[ -d "$W/drivers" ] || python3 "$REPO/tests/media/fixtures.py" drivers "$W/drivers"
[ -f "$W/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" \
  -days 30 -subj "/CN=Aero Bench" 2>/dev/null
size=$(du -m "$W/win7.iso" | cut -f1)
sync
t0=$(date +%s.%N)
cp "$W/win7.iso" "$W/copy.iso"
sync
t1=$(date +%s.%N)
rm -f "$W/out.iso" "$W/out.iso.manifest.json"
"$AM" win7 --quiet --iso "$W/win7.iso" --drivers "$W/drivers" --output "$W/out.iso" --cert "$W/cert.pem"
sync
t2=$(date +%s.%N)
rm -f "$W/copy.iso"
python3 - "$size" "$t0" "$t1" "$t2" <<'PY'
import sys
size, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
cp, am = t1 - t0, t2 - t1
print(f"ISO {size} MiB: cp {cp:.1f} s, aero-media win7 {am:.1f} s, ratio {am / cp:.2f}")
PY
