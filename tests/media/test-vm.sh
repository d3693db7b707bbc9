#!/usr/bin/env bash
# aero-media vm --xml-only on a synthetic Windows 7 ISO (mkwin7.py) and a driver tree
# (fixtures.py): the driver ISO and the patched install ISO (unattended by default) are built into
# the cache folder and referenced by the domain XML (valid for virt-xml-validate; aero-media verify
# passes on the ISO); a re-run with the same inputs reuses both, byte for byte and without
# rewriting them; a changed input builds a new one. Bad input: one line, nothing written.
# The define/start half is the same code as `aero-media domain` (tests/guest/test-libvirt.sh).
#   test-vm.sh AERO_MEDIA_BINARY
set -euo pipefail
AM=${1:?usage: test-vm.sh path/to/aero-media}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
QEMU=${AERO_QEMU:-$REPO/build/qemu/qemu-system-x86_64}
if [ ! -x "$QEMU" ]; then
  echo "SKIP: $QEMU is not built (scripts/build-qemu.sh); aero-media vm probes its emulator"
  exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/aero-vm-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
x() { xmllint --xpath "$2" "$1" 2>/dev/null; }

/usr/bin/python3 "$HERE/mkwin7.py" iso "$T/win7.iso" --arch x64 --images 1 >/dev/null 2>&1
python3 "$HERE/fixtures.py" drivers "$T/drv" --layout virtio-win
mkdir -p "$T/vm"
run() { "$AM" vm --iso "$T/win7.iso" --drivers "$T/drv" --name win7 --disk "$T/vm/win7.qcow2" --emulator "$QEMU" \
  --accel tcg --xml-only --output "$T/vm/win7.xml" "$@"; }

run 2>"$T/run1.err"
drv=$(ls "$T"/vm/aero-drivers-*.iso); w7=$(ls "$T"/vm/win7-aero-*.iso)
[ -f "$w7.manifest.json" ] || fail "no manifest beside the install ISO"
virt-xml-validate "$T/vm/win7.xml" >/dev/null 2>&1 || fail "virt-xml-validate rejects the vm XML"
[ "$(x "$T/vm/win7.xml" 'string(/domain/devices/disk[boot/@order="2"]/source/@file)')" = "$w7" ] || fail "XML does not boot the built ISO"
[ "$(x "$T/vm/win7.xml" 'count(/domain/devices/disk[source/@file="'"$drv"'"])')" = 1 ] || fail "XML lacks the driver ISO"
"$AM" verify --quiet "$w7" >/dev/null || fail "aero-media verify fails on the built ISO"
xorriso -osirrox on -indev "$w7" -extract /autounattend.xml "$T/au.xml" >/dev/null 2>&1
grep -q "AcceptEula" "$T/au.xml" && grep -q "AutoLogon" "$T/au.xml" || fail "vm did not default to --unattend full"
[ ! -e "$T/vm/win7.qcow2" ] || fail "--xml-only created the disk"
pass "vm --xml-only: driver ISO, unattended install ISO and a valid XML in the cache folder"

before=$(stat -c '%Y %i' "$drv" "$w7")
sleep 1
run 2>"$T/run2.err"
grep -q "reusing $drv" "$T/run2.err" && grep -q "reusing $w7" "$T/run2.err" || fail "re-run did not reuse: $(cat "$T/run2.err")"
[ "$(stat -c '%Y %i' "$drv" "$w7")" = "$before" ] || fail "re-run rewrote a cached ISO"
[ "$(ls "$T"/vm/*.iso | wc -l)" = 2 ] || fail "re-run built more ISOs"
pass "re-run with the same inputs reuses both ISOs"

echo "changed" >>"$(find "$T/drv" -name '*.inf' | sort | head -n 1)"
run --quiet
[ "$(ls "$T"/vm/aero-drivers-*.iso | wc -l)" = 2 ] && [ "$(ls "$T"/vm/win7-aero-*.iso | wc -l)" = 2 ] ||
  fail "a changed driver tree did not build new ISOs"
pass "a changed driver tree builds new ISOs"

err=$("$AM" vm --quiet --iso "$T/nothere.iso" --drivers "$T/drv" --name w --disk "$T/vm2/d.qcow2" --xml-only 2>&1) && fail "missing cache folder accepted"
[ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "vm2: no such folder" || fail "missing folder: $err"
err=$("$AM" vm --quiet --iso "$T/nothere.iso" --drivers "$T/drv" --name w --disk "$T/vm/d.qcow2" --xml-only 2>&1) && fail "missing ISO accepted"
[ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "nothere.iso: no such file (--iso)" || fail "missing ISO: $err"
err=$("$AM" vm --quiet --iso "$T/win7.iso" --drivers "$T/drv" --name w --disk "$T/vm/d.qcow2" --xml-only --unattend none --product-key X 2>&1; echo "rc=$?")
echo "$err" | grep -q "rc=2" && echo "$err" | grep -q "product-key needs --unattend full" || fail "product key without full: $err"
pass "bad input: one line"
echo "all vm tests passed"
