#!/usr/bin/env bash
# aero-media win7 + verify end to end on synthetic Windows-like media (tests/media/mkwin7.py):
# good runs are checked by `aero-media verify` and independently with xorriso, wimlib-imagex and
# hivexget; every bad input must fail with one line naming the file, leave nothing at the output
# path, and leave the input ISO untouched.
#   test-win7.sh AERO_MEDIA_BINARY
set -euo pipefail
AM=${1:?usage: test-win7.sh path/to/aero-media}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3   # Debian's python3: its hivex binding builds the fixture hives
T=$(mktemp -d "${TMPDIR:-/tmp}/aero-win7-test.XXXXXX")
trap 'umount "$T/full" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
mkiso() { "$PY" "$HERE/mkwin7.py" iso "$@"; }

# fixtures: drivers (both archs, x86 only, amd64 only, broken), certificates, media
python3 "$HERE/fixtures.py" drivers "$T/drv" --layout virtio-win
python3 "$HERE/fixtures.py" drivers "$T/drv-x86" --layout aero --archs x86
python3 "$HERE/fixtures.py" drivers "$T/drv-amd64" --layout aero --archs amd64
python3 "$HERE/fixtures.py" drivers "$T/drv-nohwid" --layout aero --break no-hwid
python3 "$HERE/fixtures.py" drivers "$T/drv-nosys" --layout aero --break missing-sys
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 30 \
  -subj "/CN=Aero Test Signing" 2>/dev/null
openssl x509 -in "$T/cert.pem" -outform DER -out "$T/cert.der"
THUMB=$(openssl x509 -in "$T/cert.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
mkiso "$T/x64.iso" --arch x64 --images 2
mkiso "$T/x86.iso" --arch x86 --images 1 --no-efi
IN_SHA=$(sha256sum "$T/x64.iso" | cut -d' ' -f1)

# ---- good runs -----------------------------------------------------------------------------
"$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/out.iso" --cert "$T/cert.pem"
"$AM" verify --quiet "$T/out.iso" || fail "verify failed on a fresh x64 run"
[ "$(sha256sum "$T/x64.iso" | cut -d' ' -f1)" = "$IN_SHA" ] || fail "the input ISO was modified"
diff <(xorriso -indev "$T/x64.iso" -report_el_torito plain 2>/dev/null | grep -E 'boot img|img path' | awk '{$NF=""; print}') \
     <(xorriso -indev "$T/out.iso" -report_el_torito plain 2>/dev/null | grep -E 'boot img|img path' | awk '{$NF=""; print}') \
  || fail "El Torito entries changed"
[ "$(xorriso -indev "$T/out.iso" -pvd_info 2>/dev/null | sed -n 's/^Volume Id *: //p')" = GRMCULFRER_EN_DVD ] || fail "volume ID changed"
X=$T/x; mkdir -p "$X"
xorriso -osirrox on -indev "$T/out.iso" -extract /sources/install.wim "$X/install.wim" \
  -extract /sources/boot.wim "$X/boot.wim" -extract /boot/BCD "$X/bcd" \
  -extract "/sources/Long Directory Name With Spaces" "$X/long" >/dev/null 2>&1
[ -f "$X/long/a_really_long_file_name_for_joliet.txt" ] || fail "long file name lost"
[ "$(wimlib-imagex info "$X/install.wim" | sed -n 's/^Image Count: *//p')" = 2 ] || fail "install.wim image count changed"
for img in 1 2; do
  wimlib-imagex extract "$X/install.wim" $img /Windows/System32/config/SOFTWARE /Windows/System32/config/SYSTEM \
    --dest-dir="$X/i$img" --no-acls >/dev/null
  hivexget "$X/i$img/SOFTWARE" "\\Microsoft\\SystemCertificates\\ROOT\\Certificates\\$THUMB" Blob >/dev/null \
    || fail "install.wim[$img]: certificate $THUMB not in ROOT (hivexget)"
  [ "$(hivexget "$X/i$img/SYSTEM" '\ControlSet002\Services\viostor' Start)" = 0 ] || fail "install.wim[$img]: ControlSet002 not pre-seeded"
done
wimlib-imagex extract "$X/boot.wim" 2 /Windows/System32/config/SYSTEM --dest-dir="$X/b2" --no-acls >/dev/null
[ "$(hivexget "$X/b2/SYSTEM" '\ControlSet001\Control\CriticalDeviceDatabase\pci#ven_1af4&dev_1042&subsys_00021af4' Service)" = viostor ] \
  || fail "boot.wim[2]: CriticalDeviceDatabase entry missing (hivexget)"
hivexget "$X/bcd" '\Objects\{7619dcc9-fafe-11d9-b411-000476eba25f}\Elements\16000049' Element | od -An -tx1 | grep -q '^ 01$' \
  || fail "boot/BCD: testsigning element not 01 (hivexget)"
python3 - "$T/out.iso.manifest.json" "$IN_SHA" <<'PY' || fail "manifest content"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["input"]["sha256"] == sys.argv[2]
assert m["arch"] == "amd64" and m["signing"] == "testsigning"
assert [i["index"] for i in m["install_wim"]] == [1, 2] and len(m["boot_wim"]) == 2
assert {b["store"].lower() for b in m["bcd"]} == {"/boot/bcd", "/efi/microsoft/boot/bcd"}
assert m["certificate"]["thumbprint"] and len(m["drivers"]) == 4 and m["unattend"] == "drivers"
PY
pass "x64 media: verify passes; certificate, pre-seed, BCD and boot entries confirmed with hivexget/wimlib-imagex/xorriso"

"$AM" win7 --quiet --iso "$T/x86.iso" --drivers "$T/drv" --output "$T/out86.iso" --cert "$T/cert.der" \
  --signing nointegritychecks --unattend full --product-key AAAAA-BBBBB-CCCCC-DDDDD-EEEEE
"$AM" verify --quiet "$T/out86.iso" || fail "verify failed on x86"
xorriso -indev "$T/out86.iso" -find /AERO/DRIVERS -maxdepth 1 -type d 2>/dev/null | grep -q "amd64" && fail "amd64 drivers on x86 media"
xorriso -osirrox on -indev "$T/out86.iso" -extract /autounattend.xml "$X/au86.xml" -extract /boot/BCD "$X/bcd86" >/dev/null 2>&1
grep -q 'processorArchitecture="x86"' "$X/au86.xml" && grep -q "AAAAA-BBBBB" "$X/au86.xml" || fail "full unattend content"
hivexget "$X/bcd86" '\Objects\{7619dcc9-fafe-11d9-b411-000476eba25f}\Elements\16000048' Element | od -An -tx1 | grep -q '^ 01$' \
  || fail "nointegritychecks element missing"
pass "x86 BIOS-only media, DER certificate, nointegritychecks, --unattend full: only x86 drivers"

mkiso "$T/oem.iso" --no-default --autounattend --images 2
"$AM" win7 --quiet --iso "$T/oem.iso" --drivers "$T/drv" --output "$T/oem-out.iso" --index 2 --signing testsigning
"$AM" verify --quiet "$T/oem-out.iso" || fail "verify failed on OEM media"
xorriso -osirrox on -indev "$T/oem-out.iso" -extract /autounattend.xml "$X/oem-au.xml" -extract /sources/install.wim "$X/oem.wim" >/dev/null 2>&1
grep -q "user's own" "$X/oem-au.xml" || fail "existing autounattend.xml not kept"
wimlib-imagex extract "$X/oem.wim" 1 /Windows/System32/config/SYSTEM --dest-dir="$X/oem1" --no-acls >/dev/null
hivexget "$X/oem1/SYSTEM" '\ControlSet001\Services\viostor' Start >/dev/null 2>&1 && fail "--index 2 also patched image 1"
"$AM" win7 --quiet --iso "$T/oem.iso" --drivers "$T/drv" --output "$T/oem-none.iso" --unattend none
"$AM" verify --quiet "$T/oem-none.iso" || fail "verify failed with --unattend none"
pass "media without {default}, --index 2 only, existing autounattend.xml kept; --unattend none"

SOURCE_DATE_EPOCH=1700000000 "$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/r1.iso" --cert "$T/cert.pem"
SOURCE_DATE_EPOCH=1700000000 "$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/r2.iso" --cert "$T/cert.pem"
if cmp -s "$T/r1.iso" "$T/r2.iso"; then
  pass "two SOURCE_DATE_EPOCH runs are byte-identical"
else
  fail "SOURCE_DATE_EPOCH runs differ at byte $(cmp "$T/r1.iso" "$T/r2.iso" | awk '{print $5}')"
fi

# ---- bad inputs ----------------------------------------------------------------------------
expect_error() {
  local what=$1 pattern=$2 out=$3
  shift 3
  local err
  if err=$("$AM" win7 --quiet "$@" --output "$out" 2>&1); then
    fail "$what: succeeded"
  fi
  [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "$what: error is not one line: $err"
  echo "$err" | grep -q -- "$pattern" || fail "$what: unexpected error: $err"
  [ ! -e "$out" ] && [ ! -e "$out.manifest.json" ] || fail "$what: left output behind"
  ! ls -a "$(dirname "$out")" | grep -qE '\.(tmp|work)-' || fail "$what: left temporary files"
  pass "$what -> $err"
}
mkdir -p "$T/bad"
head -c 300000 /dev/urandom >"$T/junk.iso"
expect_error "not an ISO" "junk.iso: not an ISO 9660 image" "$T/bad/1.iso" --iso "$T/junk.iso" --drivers "$T/drv"
mkdir -p "$T/plain/sources" && echo hi >"$T/plain/sources/readme.txt"
xorriso -as mkisofs -quiet -o "$T/plain.iso" "$T/plain" 2>/dev/null
expect_error "ISO without install.wim" "plain.iso: no sources/.*not a Windows 7 install ISO" "$T/bad/2.iso" \
  --iso "$T/plain.iso" --drivers "$T/drv"
mkdir -p "$T/corrupt" && mkiso "$T/tmp.iso" --workdir "$T/corrupt" >/dev/null
head -c 100000 /dev/urandom >"$T/corrupt/iso/sources/install.wim"
xorriso -as mkisofs -quiet -b boot/etfsboot.com -no-emul-boot -o "$T/corrupt.iso" "$T/corrupt/iso" 2>/dev/null
expect_error "corrupt WIM" "corrupt.iso:/sources/install.wim: not a usable WIM" "$T/bad/3.iso" --iso "$T/corrupt.iso" --drivers "$T/drv"
mkdir -p "$T/trunc" && mkiso "$T/tmp2.iso" --workdir "$T/trunc" >/dev/null
f="$T/trunc/iso/sources/install.wim"; head -c $(( $(stat -c %s "$f") / 2 )) "$f" >"$f.t" && mv "$f.t" "$f"
xorriso -as mkisofs -quiet -b boot/etfsboot.com -no-emul-boot -o "$T/trunc.iso" "$T/trunc/iso" 2>/dev/null
expect_error "truncated WIM" "trunc.iso:/sources/install.wim" "$T/bad/4.iso" --iso "$T/trunc.iso" --drivers "$T/drv"
expect_error "WIM index that does not exist" "install.wim has 2 image(s); index '7' does not exist" "$T/bad/5.iso" \
  --iso "$T/x64.iso" --drivers "$T/drv" --index 1,7
expect_error "x64 media, only x86 drivers" "no driver package for blk .* on amd64 (the install media is amd64)" "$T/bad/6.iso" \
  --iso "$T/x64.iso" --drivers "$T/drv-x86"
expect_error "x86 media, only amd64 drivers" "no driver package for blk .* on x86 (the install media is x86)" "$T/bad/7.iso" \
  --iso "$T/x86.iso" --drivers "$T/drv-amd64"
expect_error "INF missing contract HWIDs" "no driver package for blk (PCI.VEN_1AF4&DEV_1042)" "$T/bad/8.iso" \
  --iso "$T/x64.iso" --drivers "$T/drv-nohwid"
expect_error "INF naming a missing .sys" "viostor.inf: amd64 names viostor.sys, which is missing" "$T/bad/9.iso" \
  --iso "$T/x64.iso" --drivers "$T/drv-nosys"
echo "not a certificate" >"$T/bad.pem"
expect_error "certificate that is not X.509" "bad.pem: not an X.509 certificate" "$T/bad/10.iso" \
  --iso "$T/x64.iso" --drivers "$T/drv" --cert "$T/bad.pem"
cp "$T/x64.iso" "$T/same.iso"
if err=$("$AM" win7 --quiet --iso "$T/same.iso" --drivers "$T/drv" --output "$T/same.iso" 2>&1); then fail "output==input accepted"; fi
echo "$err" | grep -q "output would overwrite the input" || fail "output==input: $err"
cmp -s "$T/same.iso" "$T/x64.iso" || fail "input modified by output==input attempt"
pass "output equal to input refused, input untouched"
mkiso "$T/nohive.iso" --missing-hive SYSTEM
expect_error "hive missing from an image" "boot.wim image 2: /Windows/System32/config/SYSTEM: missing from the image" "$T/bad/11.iso" \
  --iso "$T/nohive.iso" --drivers "$T/drv"
mkiso "$T/noloader.iso" --no-loader
expect_error "BCD with no loader" "noloader.iso:/boot/BCD: BCD has no Windows loader object" "$T/bad/12.iso" \
  --iso "$T/noloader.iso" --drivers "$T/drv"
mkdir -p "$T/full"
if mount -t tmpfs -o size=300k tmpfs "$T/full" 2>/dev/null; then
  expect_error "output on a full disk" "full/out.iso" "$T/full/out.iso" --iso "$T/x64.iso" --drivers "$T/drv"
  umount "$T/full"
else
  echo "ok - output on a full disk: SKIPPED (cannot mount a tmpfs here)"
fi
# verify must catch a tampered image
cp "$T/out.iso.manifest.json" "$T/tampered.iso.manifest.json"
"$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/nocert.iso"
if "$AM" verify --quiet --manifest "$T/out.iso.manifest.json" "$T/nocert.iso" >/dev/null 2>&1; then
  fail "verify accepted an ISO without the manifest's certificate"
fi
pass "verify fails on an ISO that lacks what the manifest promises"
echo "all win7 tests passed"
