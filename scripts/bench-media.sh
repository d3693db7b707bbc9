#!/usr/bin/env bash
# Benchmark: `aero-media win7` on a synthetic Windows-like ISO of SIZE_MB MiB (default 3200, so
# the image is over 3 GiB) against copying the same file, on the same disk, and the ratio.
#
#   scripts/bench-media.sh [SIZE_MB] [WORKDIR]
#   env: BUILD=build dir (default build-media), ROUNDS=3, CLEAN=1 removes WORKDIR at the end,
#        UDF=1 makes the ISO a UDF bridge image like Microsoft's (files in UDF only)
#
# Fairness: every timed run starts with its output deleted and synced (freeing blocks costs
# time on some disks), reads an input that is already in the page cache (it is read once before
# timing), and ends with `sync`, so each number is "until the data is on disk". cp and
# aero-media alternate for ROUNDS rounds and the medians are compared. cp is `cp --reflink=never`
# (coreutils copies with 128 KiB read/write); a copy with 4 MiB writes (`dd bs=4M`) is timed too,
# because aero-media writes 4 MiB at a time and the kernel's write cost depends on that.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SIZE_MB=${1:-3200}
BUILD=${BUILD:-$REPO/build-media}
W=${2:-$BUILD/bench-media}
ROUNDS=${ROUNDS:-3}
"$REPO/scripts/install-deps.sh"
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" "$REPO" >/dev/null
meson compile -C "$BUILD" media/aero-media >/dev/null
AM=$BUILD/media/aero-media
mkdir -p "$W"
KIND=iso9660 MKFLAGS=()
[ "${UDF:-0}" = 1 ] && KIND=udf MKFLAGS=(--udf-bridge)
ISO=$W/win7-${SIZE_MB}-$KIND.iso
if [ ! -f "$ISO" ]; then
  rm -f "$W"/win7-*-"$KIND".iso "$W"/win7-[0-9]*[0-9].iso # a cached image of another size
  echo "building a synthetic ${SIZE_MB} MiB Windows-like ISO ($KIND file tree, random install.wim payload)..." >&2
  /usr/bin/python3 "$REPO/tests/media/mkwin7.py" iso "$ISO.tmp" --payload-mb "$SIZE_MB" --images 2 "${MKFLAGS[@]}" >/dev/null
  mv "$ISO.tmp" "$ISO"
fi
[ -d "$W/drivers" ] || python3 "$REPO/tests/media/fixtures.py" drivers "$W/drivers"
[ -f "$W/cert.pem" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" \
  -days 30 -subj "/CN=Aero Bench" 2>/dev/null
size=$(( $(stat -c %s "$ISO") >> 20 ))
[ "$#" -gt 0 ] || [ "$size" -ge 3072 ] || { echo "the default image is only $size MiB" >&2; exit 1; }

now() { date +%s.%N; }
# time_run NAME OUTPUT CMD...: seconds from a clean start until the output is on disk
time_run() {
  local out=$2 t0
  shift 2
  rm -f "$out" "$out.manifest.json"
  sync
  sleep 1
  t0=$(now)
  "$@"
  sync
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$t0" "$(now)"
}
cat "$ISO" >/dev/null # the input in the page cache for every run alike

cp_t=() dd_t=() am_t=()
for r in $(seq 1 "$ROUNDS"); do
  cp_t+=("$(time_run cp "$W/copy.iso" cp --reflink=never "$ISO" "$W/copy.iso")")
  rm -f "$W/copy.iso"
  dd_t+=("$(time_run dd "$W/copy.iso" dd if="$ISO" of="$W/copy.iso" bs=4M status=none)")
  rm -f "$W/copy.iso"
  am_t+=("$(time_run win7 "$W/out.iso" "$AM" win7 --quiet --iso "$ISO" --drivers "$W/drivers" \
    --output "$W/out.iso" --cert "$W/cert.pem")")
  echo "round $r: cp ${cp_t[-1]} s, dd bs=4M ${dd_t[-1]} s, aero-media win7 ${am_t[-1]} s" >&2
done

# one more run with progress on, for the time of each step
rm -f "$W/out.iso" "$W/out.iso.manifest.json"
sync
"$AM" win7 --iso "$ISO" --drivers "$W/drivers" --output "$W/out.iso" --cert "$W/cert.pem" 2>"$W/steps.log"
echo "steps (from the progress lines of one more run):" >&2
grep -E '^  .*: 100%' "$W/steps.log" | sed 's/^ */  /' >&2
"$AM" verify --quiet "$W/out.iso"
rm -f "$W/out.iso" "$W/out.iso.manifest.json" "$W/copy.iso"

python3 - "$size" "$ROUNDS" "${cp_t[*]}" "${dd_t[*]}" "${am_t[*]}" "$KIND" <<'PY'
import statistics, sys
size, rounds = int(sys.argv[1]), int(sys.argv[2])
cp, dd, am = (statistics.median(map(float, a.split())) for a in sys.argv[3:6])
print(f"ISO {size} MiB ({sys.argv[6]} file tree), median of {rounds}: cp --reflink=never {cp:.2f} s, dd bs=4M {dd:.2f} s, "
      f"aero-media win7 {am:.2f} s; ratio {am / cp:.2f} vs cp, {am / dd:.2f} vs dd")
PY
[ "${CLEAN:-0}" = 1 ] && rm -rf "$W"
exit 0
