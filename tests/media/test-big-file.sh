#!/usr/bin/env bash
# A file over 4 GiB on the Windows media (ISO 9660 multi-extent, or in the UDF tree of a UDF bridge
# image) survives aero-media win7 with its size and content. The 4.3 GiB file is sparse with four marked 4 KiB blocks (start, both sides of
# the 4 GiB boundary, end); the fixture ISO has its zero blocks punched out and aero-media writes
# zero blocks as holes, so the test costs little disk. Content is checked at the markers and at
# zero blocks in between, read back with xorriso -extract_cut.
#   test-big-file.sh AERO_MEDIA_BINARY
set -euo pipefail
SECONDS=0
AM=${1:?usage: test-big-file.sh path/to/aero-media}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/aero-big-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
SIZE_MB=4400
SIZE=$((SIZE_MB << 20))

python3 "$HERE/fixtures.py" drivers "$T/drv" --layout aero --archs amd64
# ISO 9660 input (multi-extent), then a UDF bridge image (the file in UDF only, several extents)
for kind in iso9660 udf; do
  flags=(); [ $kind = udf ] && flags=(--udf-bridge)
  rm -f "$T/big.iso" "$T/out.iso" "$T/out.iso.manifest.json"
  /usr/bin/python3 "$HERE/mkwin7.py" iso "$T/big.iso" --images 1 --big-file-mb "$SIZE_MB" "${flags[@]}" >/dev/null 2>&1
  sha() { openssl dgst -sha256 -r "$1" | cut -d' ' -f1; }
  IN_SHA=$(sha "$T/big.iso")
  "$AM" win7 --quiet --iso "$T/big.iso" --drivers "$T/drv" --output "$T/out.iso"
  [ "$(sha "$T/big.iso")" = "$IN_SHA" ] || fail "the input ISO was modified"

  # size, as the Rock Ridge and the Joliet trees tell it, and more than one extent
  for fs in any norock; do
    got=$(xorriso -read_fs "$fs" -indev "$T/out.iso" -lsl /sources/big/huge.bin 2>/dev/null | awk '{print $5}')
    [ "$got" = "$SIZE" ] || fail "huge.bin has $got bytes in the $fs tree, want $SIZE"
  done
  extents=$(xorriso -indev "$T/out.iso" -find /sources/big/huge.bin -exec report_lba 2>/dev/null | grep -c "File data lba")
  [ "$extents" -gt 1 ] || fail "huge.bin is not multi-extent ($extents extent)"

  # content at every marker and at zero blocks between them
  /usr/bin/python3 "$HERE/mkwin7.py" markers "$SIZE_MB" >"$T/markers"
  while read -r off text; do
    xorriso -osirrox on -indev "$T/out.iso" -extract_cut /sources/big/huge.bin "$off" "${#text}" "$T/cut" >/dev/null 2>&1
    [ "$(cat "$T/cut")" = "$text" ] || fail "marker at $off: got '$(cat "$T/cut")'"
    rm -f "$T/cut"
  done <"$T/markers"
  for off in $((1 << 30)) $(((1 << 32) - 8192)) $(((1 << 32) + 65536)) $((SIZE - 8192)); do
    xorriso -osirrox on -indev "$T/out.iso" -extract_cut /sources/big/huge.bin "$off" 4096 "$T/cut" >/dev/null 2>&1
    cmp -s "$T/cut" <(head -c 4096 /dev/zero) || fail "zero block at $off changed"
    rm -f "$T/cut"
  done
  "$AM" verify --quiet "$T/out.iso" || fail "verify failed"
  used=$(du -m "$T/out.iso" | cut -f1)
  echo "($SECONDS s)"; pass "$kind input: a $SIZE_MB MiB file (multi-extent) keeps its size and content; output written sparse (${used} MiB on disk)"
done
