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
python3 "$HERE/fixtures.py" drivers "$T/drv-nocat" --layout aero --break missing-cat
python3 "$HERE/fixtures.py" drivers "$T/drv-rev" --layout guest-tools --rev01
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
"$AM" verify "$T/out.iso" >"$T/v0.log" || fail "verify (checklist) failed on a fresh x64 run"
grep -q '^\[ ok \] output SHA-256 matches the manifest$' "$T/v0.log" && grep -q '^\[info\] signing policy testsigning (manifest)$' "$T/v0.log" \
  && grep -q "^$T/out.iso: all [0-9]* checks passed$" "$T/v0.log" && ! grep -q FAIL "$T/v0.log" || fail "verify checklist: $(cat "$T/v0.log")"
[ "$(sha256sum "$T/x64.iso" | cut -d' ' -f1)" = "$IN_SHA" ] || fail "the input ISO was modified"
# El Torito: "boot img" lines end in the LBA (which moves), "img path" lines in the path (which must not)
eltorito() { xorriso -indev "$1" -report_el_torito plain 2>/dev/null | grep -E 'boot img|img path' \
  | awk '/boot img/ {$NF=""} {print}'; }
diff <(eltorito "$T/x64.iso") <(eltorito "$T/out.iso") || fail "El Torito entries changed"
[ "$(eltorito "$T/out.iso" | grep -c 'img path')" = 2 ] || fail "El Torito paths missing from the report"
for img in /boot/etfsboot.com /efi/microsoft/boot/efisys.bin; do
  xorriso -osirrox on -indev "$T/x64.iso" -extract "$img" "$T/in.boot" -indev "$T/out.iso" -extract "$img" "$T/out.boot" >/dev/null 2>&1
  cmp -s "$T/in.boot" "$T/out.boot" || fail "boot image $img changed"
  rm -f "$T/in.boot" "$T/out.boot"
done
[ "$(xorriso -indev "$T/out.iso" -pvd_info 2>/dev/null | sed -n 's/^Volume Id *: //p')" = GRMCULFRER_EN_DVD ] || fail "volume ID changed"
X=$T/x; mkdir -p "$X"
xorriso -osirrox on -indev "$T/out.iso" -extract /sources/install.wim "$X/install.wim" \
  -extract /sources/boot.wim "$X/boot.wim" -extract /boot/BCD "$X/bcd" \
  -extract "/sources/Long Directory Name With Spaces" "$X/long" >/dev/null 2>&1
[ -f "$X/long/a_really_long_file_name_for_joliet.txt" ] || fail "long file name lost"
LONG=a_file_name_longer_than_the_sixty_four_characters_joliet_allows_by_default.txt
xorriso -read_fs norock -indev "$T/out.iso" -find "/sources/Long Directory Name With Spaces" -name "$LONG" 2>/dev/null \
  | grep -q "$LONG" || fail "Joliet tree lost the ${#LONG}-character name"
[ "$(wimlib-imagex info "$X/install.wim" | sed -n 's/^Image Count: *//p')" = 2 ] || fail "install.wim image count changed"
for img in 1 2; do
  wimlib-imagex extract "$X/install.wim" $img /Windows/System32/config/SOFTWARE /Windows/System32/config/SYSTEM \
    --dest-dir="$X/i$img" --no-acls >/dev/null
  hivexget "$X/i$img/SOFTWARE" "\\Microsoft\\SystemCertificates\\ROOT\\Certificates\\$THUMB" Blob >/dev/null \
    || fail "install.wim[$img]: certificate $THUMB not in ROOT (hivexget)"
  # TrustedPublisher, read with hivexget and the CryptoAPI records parsed here, independently
  hivexget "$X/i$img/SOFTWARE" "\\Microsoft\\SystemCertificates\\TrustedPublisher\\Certificates\\$THUMB" Blob \
    >"$X/tp$img.blob" || fail "install.wim[$img]: certificate not in TrustedPublisher (hivexget)"
  python3 - "$X/tp$img.blob" "$T/cert.der" <<'PY' || fail "install.wim[$img]: TrustedPublisher Blob layout"
import hashlib, struct, sys
blob, der = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
props, off = {}, 0
while off < len(blob):
    pid, reserved, size = struct.unpack_from("<III", blob, off)
    assert reserved == 1, f"property {pid:#x}: reserved {reserved}"
    props[pid] = blob[off + 12:off + 12 + size]
    off += 12 + size
assert off == len(blob), "trailing bytes"
assert list(props) == [3, 4, 0x20], [hex(p) for p in props]
assert props[3] == hashlib.sha1(der).digest() and props[4] == hashlib.md5(der).digest()
assert props[0x20] == der, "property 0x20 is not the input certificate's DER"
PY
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
# install.wim was appended to, not rebuilt: same GUID, longer, and every byte between the header
# and the old XML's end (all resources, the old blob table and XML) unchanged
xorriso -osirrox on -indev "$T/x64.iso" -extract /sources/install.wim "$X/in-install.wim" >/dev/null 2>&1
python3 - "$X/in-install.wim" "$X/install.wim" <<'PY' || fail "install.wim was rebuilt, not appended to"
import struct, sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
xml_size = struct.unpack_from("<Q", a, 72)[0] & ((1 << 56) - 1)
xml_end = struct.unpack_from("<Q", a, 80)[0] + xml_size
assert a[24:40] == b[24:40], "GUID changed"
assert len(b) > len(a), "no data appended"
assert a[208:xml_end] == b[208:xml_end], "old resources moved or changed"
PY
[ "$(wimlib-imagex info "$X/in-install.wim" | grep ^GUID)" = "$(wimlib-imagex info "$X/install.wim" | grep ^GUID)" ] \
  || fail "wimlib-imagex: install.wim GUID changed"
xorriso -osirrox on -indev "$T/out.iso" -extract /autounattend.xml "$X/au.xml" >/dev/null 2>&1
xmllint --noout "$X/au.xml" || fail "autounattend.xml (drivers) is not well-formed"
grep -q '%configsetroot%' "$X/au.xml" && grep -q '<UseConfigurationSet>true</UseConfigurationSet>' "$X/au.xml" \
  || fail "%configsetroot% without UseConfigurationSet"
pass "x64 media: verify passes; certificate (Blob records parsed independently), pre-seed, BCD, boot entries and bytes, Joliet names, WIM appended in place"

# Microsoft's UDF bridge media (CDIMAGE -u2): every file in UDF, the ISO 9660 tree just README.TXT
mkiso "$T/x64u.iso" --arch x64 --images 2 --udf-bridge
[ "$(xorriso -indev "$T/x64u.iso" -find / -type f 2>/dev/null)" = "'/README.TXT'" ] || fail "fixture: ISO 9660 tree is not the stub"
UDF_SHA=$(sha256sum "$T/x64u.iso" | cut -d' ' -f1)
"$AM" win7 --quiet --iso "$T/x64u.iso" --drivers "$T/drv" --output "$T/outu.iso" --cert "$T/cert.pem"
"$AM" verify --quiet "$T/outu.iso" || fail "verify failed on UDF bridge media"
[ "$(sha256sum "$T/x64u.iso" | cut -d' ' -f1)" = "$UDF_SHA" ] || fail "the UDF input ISO was modified"
for f in /setup.exe /sources/install.wim /sources/boot.wim /boot/BCD "/sources/Long Directory Name With Spaces/$LONG"; do
  xorriso -indev "$T/outu.iso" -find "$f" 2>/dev/null | grep -q . || fail "UDF media: $f not in the output's ISO 9660 tree"
done
xorriso -read_fs norock -indev "$T/outu.iso" -find "/sources/Long Directory Name With Spaces" -name "$LONG" 2>/dev/null \
  | grep -q "$LONG" || fail "UDF media: Joliet tree lost the long name"
# the boot entries as the input's catalog has them, now naming files (the input's are hidden)
diff <(eltorito "$T/x64u.iso" | grep 'boot img') <(eltorito "$T/outu.iso" | grep 'boot img') || fail "UDF media: El Torito entries changed"
[ "$(eltorito "$T/outu.iso" | grep 'img path' | awk '{print $NF}' | tr '\n' ' ')" = "/boot/etfsboot.com /efi/microsoft/boot/efisys.bin " ] \
  || fail "UDF media: El Torito entries do not name the boot files"
for img in /boot/etfsboot.com /efi/microsoft/boot/efisys.bin; do  # same bytes as the ISO 9660 fixture's
  xorriso -osirrox on -indev "$T/x64.iso" -extract "$img" "$T/in.boot" -indev "$T/outu.iso" -extract "$img" "$T/out.boot" >/dev/null 2>&1
  cmp -s "$T/in.boot" "$T/out.boot" || fail "UDF media: boot image $img changed"
  rm -f "$T/in.boot" "$T/out.boot"
done
[ "$(xorriso -indev "$T/outu.iso" -pvd_info 2>/dev/null | sed -n 's/^Volume Id *: //p')" = GRMCULFRER_EN_DVD ] || fail "UDF media: volume ID changed"
xorriso -osirrox on -indev "$T/outu.iso" -extract /sources/install.wim "$X/u-install.wim" >/dev/null 2>&1
wimlib-imagex extract "$X/u-install.wim" 2 /Windows/System32/config/SOFTWARE --dest-dir="$X/u2" --no-acls >/dev/null
hivexget "$X/u2/SOFTWARE" "\\Microsoft\\SystemCertificates\\ROOT\\Certificates\\$THUMB" Blob >/dev/null \
  || fail "UDF media: install.wim[2] has no certificate (hivexget)"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert m["input"]["file_tree"] == "udf", m["input"]' \
  "$T/outu.iso.manifest.json" || fail "UDF media: manifest does not say the files came from UDF"
pass "UDF bridge media (ISO 9660 tree a stub): files read from UDF, verify passes, both El Torito entries kept on their files, input untouched"

# boot images that no file holds (the catalog points at copies in no directory; UEFI load size 1
# as on Microsoft's media): libisofs would keep one block of each; the whole images must survive
bootbytes() { # ISO: "LBA SIZE" per entry (BIOS: 8 sectors; UEFI: the FAT image) -> SHA-256 of each
  xorriso -indev "$1" -report_el_torito plain 2>/dev/null | awk '/boot img :/ {print $NF}' | {
    read -r bios; read -r uefi
    python3 - "$1" "$bios" "$uefi" <<'PY'
import hashlib, sys
img = open(sys.argv[1], "rb")
for lba, size in ((int(sys.argv[2]), 4096), (int(sys.argv[3]), 1474560)):
    img.seek(lba * 2048)
    print(hashlib.sha256(img.read(size)).hexdigest())
PY
  }
}
for kind in iso9660 udf; do
  flags=(--hidden-boot); [ $kind = udf ] && flags+=(--udf-bridge)
  mkiso "$T/hid-$kind.iso" --arch x64 --images 1 "${flags[@]}"
  xorriso -indev "$T/hid-$kind.iso" -report_el_torito plain 2>/dev/null | grep -q 'img path' && fail "fixture: boot images in a directory"
  "$AM" win7 --quiet --iso "$T/hid-$kind.iso" --drivers "$T/drv" --output "$T/hid-$kind-out.iso"
  "$AM" verify --quiet "$T/hid-$kind-out.iso" || fail "$kind media with hidden boot images: verify failed"
  diff <(eltorito "$T/hid-$kind.iso") <(eltorito "$T/hid-$kind-out.iso") || fail "$kind: El Torito entries changed"
  diff <(bootbytes "$T/hid-$kind.iso") <(bootbytes "$T/hid-$kind-out.iso") || fail "$kind: hidden boot images cut or changed"
  [ "$(xorriso -indev "$T/hid-$kind-out.iso" -find / -name 'boot-image-*' 2>/dev/null)" = "" ] || fail "$kind: boot image copies visible in the tree"
done
pass "boot images in no directory (ISO 9660 and UDF media, UEFI load size 1): kept whole (4 KiB BIOS, 1.44 MB FAT image), still in no directory"

"$AM" win7 --quiet --iso "$T/x86.iso" --drivers "$T/drv" --output "$T/out86.iso" --cert "$T/cert.der" \
  --signing nointegritychecks --unattend full --product-key AAAAA-BBBBB-CCCCC-DDDDD-EEEEE
"$AM" verify --quiet "$T/out86.iso" || fail "verify failed on x86"
xorriso -indev "$T/out86.iso" -find /AERO/DRIVERS -maxdepth 1 -type d 2>/dev/null | grep -q "amd64" && fail "amd64 drivers on x86 media"
xorriso -osirrox on -indev "$T/out86.iso" -extract /autounattend.xml "$X/au86.xml" -extract /boot/BCD "$X/bcd86" >/dev/null 2>&1
grep -q 'processorArchitecture="x86"' "$X/au86.xml" && grep -q "AAAAA-BBBBB" "$X/au86.xml" || fail "full unattend content"
xmllint --noout "$X/au86.xml" || fail "autounattend.xml (full) is not well-formed"
# firmware-neutral: no fixed partition layout, a script on the media lays disk 0 out (GPT on UEFI,
# MBR on BIOS) and Setup takes the first partition big enough
grep -q "<InstallToAvailablePartition>true</InstallToAvailablePartition>" "$X/au86.xml" \
  && grep -q 'AERO\\SETUP\\DISK.CMD' "$X/au86.xml" && ! grep -q "<InstallTo>" "$X/au86.xml" \
  && ! grep -q "<CreatePartitions>" "$X/au86.xml" || fail "full unattend: partitioning is not firmware-neutral"
xorriso -osirrox on -indev "$T/out86.iso" -extract /AERO/SETUP "$X/setup86" >/dev/null 2>&1
grep -q "winload.efi" "$X/setup86/DISK.CMD" && grep -q "convert gpt" "$X/setup86/GPT.TXT" \
  && grep -q "^active" "$X/setup86/MBR.TXT" || fail "full unattend: partition scripts missing"
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
xorriso -indev "$T/oem-none.iso" -find / -iname autounattend.xml 2>/dev/null | grep -qi autounattend \
  && fail "--unattend none kept the input's autounattend.xml"
pass "media without {default}, --index 2 only, existing autounattend.xml kept; explicit --unattend none removes it"

# Guest Tools layout, REV_01-gated drivers, --volid, --allow-unsigned, progress
"$AM" win7 --iso "$T/x64.iso" --drivers "$T/drv-rev" --output "$T/rev.iso" --volid AERO_W7 2>"$T/rev.log"
grep -q "driver blk   viostor .*REV_01-gated" "$T/rev.log" || fail "win7 does not report REV_01 gating: $(cat "$T/rev.log")"
grep -q "writing .*rev.iso: 100%" "$T/rev.log" && grep -q "updating .*install.wim" "$T/rev.log" || fail "win7 progress lines"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); assert all(d["rev01_gated"] for d in m["drivers"])' \
  "$T/rev.iso.manifest.json" || fail "rev01_gated not in the win7 manifest"
[ "$(xorriso -indev "$T/rev.iso" -pvd_info 2>/dev/null | sed -n 's/^Volume Id *: //p')" = AERO_W7 ] || fail "--volid ignored"
"$AM" verify --quiet "$T/rev.iso" || fail "verify failed with --volid"
if "$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv-nocat" --output "$T/nocat.iso" 2>"$T/nocat.log"; then
  fail "a package without its catalog was accepted"
fi
grep -q "netkvm.cat is missing (use --allow-unsigned" "$T/nocat.log" || fail "missing catalog: $(cat "$T/nocat.log")"
"$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv-nocat" --output "$T/nocat.iso" --allow-unsigned
"$AM" verify --quiet "$T/nocat.iso" || fail "verify failed with --allow-unsigned"
pass "Guest Tools layout, REV_01 gating reported, --volid, --allow-unsigned, progress lines"

# a WIM with an integrity table cannot be appended to from a sparse copy: copied in full, still
# appended to in place, its integrity table kept valid
mkiso "$T/integ.iso" --integrity --images 1
"$AM" win7 --iso "$T/integ.iso" --drivers "$T/drv" --output "$T/integ-out.iso" 2>"$T/integ.log"
grep -q "install.wim image(s) 1 of 1 (copied in full)" "$T/integ.log" || fail "integrity table: no full copy: $(cat "$T/integ.log")"
"$AM" verify --quiet "$T/integ-out.iso" || fail "verify failed on a WIM copied in full"
xorriso -osirrox on -indev "$T/integ-out.iso" -extract /sources/install.wim "$X/integ.wim" >/dev/null 2>&1
wimlib-imagex info "$X/integ.wim" | grep -q "Integrity info" && wimlib-imagex verify "$X/integ.wim" >/dev/null 2>&1 \
  || fail "install.wim with an integrity table: not valid after patching"
pass "a WIM with an integrity table is copied in full, appended to, and verifies (wimlib-imagex verify)"

# a WIM with a file resource after its XML data: an append would overwrite it, so copied in full
mkiso "$T/bax.iso" --blob-after-xml --images 1
"$AM" win7 --iso "$T/bax.iso" --drivers "$T/drv" --output "$T/bax-out.iso" 2>"$T/bax.log" \
  || fail "resource after the XML: $(tail -1 "$T/bax.log")"
grep -q "install.wim image(s) 1 of 1 (copied in full)" "$T/bax.log" || fail "resource after the XML: no full copy: $(cat "$T/bax.log")"
"$AM" verify --quiet "$T/bax-out.iso" || fail "verify failed on a WIM with a resource after its XML"
xorriso -osirrox on -indev "$T/bax-out.iso" -extract /sources/install.wim "$X/bax.wim" >/dev/null 2>&1
wimlib-imagex verify "$X/bax.wim" >/dev/null 2>&1 || fail "install.wim with a resource after its XML: not valid after patching"
pass "a WIM with a resource after its XML is copied in full and verifies"

# verify judges the image, not the manifest: the unpatched input fails, with or without one
if "$AM" verify --quiet "$T/x64.iso" >"$T/v1.log" 2>&1; then fail "verify passed the unpatched input ISO"; fi
grep -q "FAIL" "$T/v1.log" || fail "verify of the input printed no failure"
printf '{"output": {"sha256": "%s"}}\n' "$IN_SHA" >"$T/stripped.json"
if "$AM" verify --quiet --manifest "$T/stripped.json" "$T/x64.iso" >/dev/null 2>&1; then
  fail "verify passed the unpatched input ISO with a stripped manifest"
fi
cp "$T/out.iso" "$T/nomf.iso"
"$AM" verify --quiet "$T/nomf.iso" || fail "verify without a manifest failed on a good ISO"
pass "verify: the unpatched input fails (no manifest, stripped manifest); a good ISO passes without one"

for src in x64 x64u; do  # ISO 9660 and UDF bridge input
  for r in 1 2; do
    SOURCE_DATE_EPOCH=1700000000 "$AM" win7 --quiet --iso "$T/$src.iso" --drivers "$T/drv" --output "$T/r$r.iso" --cert "$T/cert.pem"
  done
  cmp -s "$T/r1.iso" "$T/r2.iso" || fail "$src: SOURCE_DATE_EPOCH runs differ at byte $(cmp "$T/r1.iso" "$T/r2.iso" | awk '{print $5}')"
done
pass "two SOURCE_DATE_EPOCH runs are byte-identical (ISO 9660 and UDF bridge input)"

# outputs follow the umask; a rerun replaces the ISO and its manifest together
(umask 027; "$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/mode.iso")
[ "$(stat -c %a "$T/mode.iso")" = 640 ] && [ "$(stat -c %a "$T/mode.iso.manifest.json")" = 640 ] \
  || fail "umask 027: modes $(stat -c %a "$T/mode.iso" "$T/mode.iso.manifest.json"), want 640"
echo stale >"$T/mode.iso.manifest.json"
(umask 022; "$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/mode.iso")
[ "$(stat -c %a "$T/mode.iso")" = 644 ] && [ "$(stat -c %a "$T/mode.iso.manifest.json")" = 644 ] \
  || fail "umask 022: modes $(stat -c %a "$T/mode.iso" "$T/mode.iso.manifest.json"), want 644"
"$AM" verify --quiet "$T/mode.iso" || fail "verify failed on a rerun over an existing output"
grep -q stale "$T/mode.iso.manifest.json" && fail "a rerun left the old manifest"
pass "ISO and manifest modes follow the umask (027 -> 640, 022 -> 644); a rerun replaces both"

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
# UDF bridge media without a readable UDF tree (good bridge media are tested above)
mkdir -p "$T/udf"
printf 'This disc contains a "UDF" file system and requires an operating system\r\nthat supports the ISO-13346 "UDF" file system specification.\r\n' >"$T/udf/README.TXT"
xorriso -as mkisofs -quiet -J -r -V GRMCULFRER_EN_DVD -o "$T/udf-stub.iso" "$T/udf" 2>/dev/null
expect_error "README.TXT stub without a UDF file system" \
  "udf-stub.iso: its ISO 9660 tree holds just README.TXT and it has no UDF file system" \
  "$T/bad/udf1.iso" --iso "$T/udf-stub.iso" --drivers "$T/drv"
echo "no readme here" >"$T/udf/other.txt" && rm "$T/udf/README.TXT"
xorriso -as mkisofs -quiet -J -r -o "$T/udf.iso" "$T/udf" 2>/dev/null
python3 - "$T/udf.iso" <<'PY'
# a UDF volume recognition sequence (BEA01, NSR02, TEA01) in unused sectors after the ISO 9660
# volume descriptor set terminator, but no UDF volume behind it
import sys
d = bytearray(open(sys.argv[1], "rb").read())
s = next(s for s in range(19, 60) if not any(d[s * 2048:(s + 3) * 2048]))
for i, ident in enumerate([b"BEA01", b"NSR02", b"TEA01"]):
    d[(s + i) * 2048:(s + i) * 2048 + 7] = b"\0" + ident + b"\1"
open(sys.argv[1], "wb").write(d)
PY
expect_error "UDF recognition sequence without a UDF volume" \
  "udf.iso: UDF file system: no anchor volume descriptor (block 256); sources/boot.wim is not in its ISO 9660 tree either" \
  "$T/bad/udf2.iso" --iso "$T/udf.iso" --drivers "$T/drv"
"$PY" "$HERE/../udf/udfimg.py" bad-crc:/sources/install.wim "$T/x64u.iso" "$T/udf-crc.iso"
expect_error "UDF bridge media with a damaged file entry" \
  "udf-crc.iso: UDF file system: /sources/install.wim: descriptor CRC mismatch (tag 261 expected, block [0-9]*)$" \
  "$T/bad/udf3.iso" --iso "$T/udf-crc.iso" --drivers "$T/drv"
"$PY" "$HERE/../udf/udfimg.py" truncate:/sources/install.wim "$T/x64u.iso" "$T/udf-short.iso"
expect_error "truncated UDF bridge media" \
  "udf-short.iso: UDF file system: /[a-z/]*: data extent beyond the end of the image (truncated ISO?)" \
  "$T/bad/udf4.iso" --iso "$T/udf-short.iso" --drivers "$T/drv"
mkdir -p "$T/corrupt" && mkiso "$T/tmp.iso" --workdir "$T/corrupt" >/dev/null
head -c 100000 /dev/urandom >"$T/corrupt/iso/sources/install.wim"
xorriso -as mkisofs -quiet -b boot/etfsboot.com -no-emul-boot -o "$T/corrupt.iso" "$T/corrupt/iso" 2>/dev/null
expect_error "corrupt WIM" "corrupt.iso:/sources/install.wim: not a usable WIM" "$T/bad/3.iso" --iso "$T/corrupt.iso" --drivers "$T/drv"
mkdir -p "$T/trunc" && mkiso "$T/tmp2.iso" --workdir "$T/trunc" >/dev/null
f="$T/trunc/iso/sources/install.wim"; head -c $(( $(stat -c %s "$f") / 2 )) "$f" >"$f.t" && mv "$f.t" "$f"
xorriso -as mkisofs -quiet -b boot/etfsboot.com -no-emul-boot -o "$T/trunc.iso" "$T/trunc/iso" 2>/dev/null
expect_error "truncated WIM" "trunc.iso:/sources/install.wim" "$T/bad/4.iso" --iso "$T/trunc.iso" --drivers "$T/drv"
# a source file libisofs cannot read while writing (its extent lies past the end of a truncated
# input ISO) must fail the run, not be written as zeros
cp "$T/x64.iso" "$T/short.iso"
last=$(xorriso -indev "$T/short.iso" -find / -type f -exec report_lba -- 2>/dev/null \
  | awk -F, '/File data lba/ {print $2+0, $0}' | sort -n | tail -1)
lba=${last%% *}; name=${last##*/}; name=${name%\'*}
truncate -s $(( lba * 2048 )) "$T/short.iso"
expect_error "read error while writing" "bad/4b.iso: cannot write the ISO (Read error in file /.*$name" "$T/bad/4b.iso" \
  --iso "$T/short.iso" --drivers "$T/drv"
expect_error "WIM index that does not exist" "install.wim has 2 image(s); index '7' does not exist" "$T/bad/5.iso" \
  --iso "$T/x64.iso" --drivers "$T/drv" --index 1,7
expect_error "x64 media, only x86 drivers" "no driver package for blk .* on amd64 (the install media is amd64)" "$T/bad/6.iso" \
  --iso "$T/x64.iso" --drivers "$T/drv-x86"
expect_error "x86 media, only amd64 drivers" "no driver package for blk .* on x86 (the install media is x86)" "$T/bad/7.iso" \
  --iso "$T/x86.iso" --drivers "$T/drv-amd64"
expect_error "INF missing contract HWIDs" "no driver package for blk (PCI.VEN_1AF4&DEV_1042)" "$T/bad/8.iso" \
  --iso "$T/x64.iso" --drivers "$T/drv-nohwid"
expect_error "INF missing contract HWIDs names the INF" "drv-nohwid/drivers/viostor/x64/viostor.inf (it names" "$T/bad/8.iso" \
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
mkiso "$T/noinst.iso" --no-install-wim
expect_error "boot.wim but no install.wim" "noinst.iso: no sources/install.wim: not a Windows 7 install ISO" "$T/bad/13.iso" \
  --iso "$T/noinst.iso" --drivers "$T/drv"
mkiso "$T/mixed.iso" --boot-machine 2:0x14c
expect_error "boot.wim image of another architecture" "mixed.iso:/sources/boot.wim image 2 is x86 but install.wim is amd64" \
  "$T/bad/14.iso" --iso "$T/mixed.iso" --drivers "$T/drv"
mkiso "$T/arm.iso" --boot-machine 1:0x1c4
expect_error "boot.wim image of an unknown architecture" "arm.iso:/sources/boot.wim image 1: unknown architecture (WINDOWS/ARCH 5" \
  "$T/bad/15.iso" --iso "$T/arm.iso" --drivers "$T/drv"
mkiso "$T/badcur.iso" --bad-current
expect_error "Select\\Current naming a missing ControlSet" \
  "badcur.iso:/sources/boot.wim image 1: Windows/System32/config/SYSTEM: Select.Current names ControlSet003, which does not exist" \
  "$T/bad/16.iso" --iso "$T/badcur.iso" --drivers "$T/drv"
# found by fuzz_hive (the edit there is this one): a key name hivex cannot read was passed on as NULL
mkiso "$T/badkey.iso" --damaged-key
expect_error "SYSTEM hive with a root key name that cannot be read" \
  "badkey.iso:/sources/boot.wim image 1: Windows/System32/config/SYSTEM: damaged hive (a root key has a name that cannot be read)" \
  "$T/bad/17.iso" --iso "$T/badkey.iso" --drivers "$T/drv"
# found by fuzz_iso: Rock Ridge names are bytes, passed on by libisofs as they are (an empty
# one: its NM entry's name bytes made NUL)
mkdir -p "$T/odd-utf8" "$T/odd-nl" "$T/odd-empty/sub"
"$PY" -c 'import sys; open(sys.argv[1].encode() + b"/bad\xe6~.txt", "w").close(); open(sys.argv[2] + "/new\nline.txt", "w").close()' \
  "$T/odd-utf8" "$T/odd-nl"
echo empty >"$T/odd-empty/sub/abcdefgh.txt"
for odd in odd-utf8 odd-nl odd-empty; do
  xorriso -as mkisofs -quiet -r -o "$T/$odd.iso" "$T/$odd" 2>/dev/null
  [ $odd = odd-empty ] && "$PY" - "$T/$odd.iso" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
i = d.index(b"NM\x11\x01\x00abcdefgh.txt")
d[i + 5:i + 17] = bytes(12)
open(sys.argv[1], "wb").write(d)
PY
  expect_error "an input ISO with an unusable file name ($odd)" \
    "$odd.iso: unusable file name \"/.*\" (empty, . or .., not UTF-8 or with control characters)" "$T/bad/18.iso" \
    --iso "$T/$odd.iso" --drivers "$T/drv"
done
# found by fuzz_iso: a folder whose third record points at itself (libisofs skips "." and ".." by
# position and followed it without end: aero-media hung)
mkdir -p "$T/loop/a/b"
echo loop >"$T/loop/a/b/f.txt"
xorriso -as mkisofs -quiet -r -o "$T/loop.iso" "$T/loop" 2>/dev/null
"$PY" - "$T/loop.iso" <<'PY'
import struct, sys
d, B = bytearray(open(sys.argv[1], "rb").read()), 2048
def records(lba):
    o, out = lba * B, []
    while d[o]:
        out.append(o)
        o += d[o]
    return out
root = struct.unpack_from("<I", d, 16 * B + 156 + 2)[0]
a = next(o for o in records(root)[2:] if d[o + 33:o + 34] == b"A")
recs = records(struct.unpack_from("<I", d, a + 2)[0])
self_rec = bytearray(d[recs[0]:recs[0] + d[recs[0]]])  # "." of /a, named "\1" like ".."
self_rec[33] = 1
end = recs[-1] + d[recs[-1]]
d[end:end + len(self_rec)] = self_rec
open(sys.argv[1], "wb").write(d)
PY
expect_error "an input ISO whose folder lists itself" \
  "loop.iso: ISO 9660 directory tree deeper than 256 levels or larger than 1048576 entries (looping directory records?)" \
  "$T/bad/19.iso" --iso "$T/loop.iso" --drivers "$T/drv"
xorriso -as mkisofs -quiet -r -J -o "$T/drv.iso" "$T/drv" 2>/dev/null
DRV_SHA=$(sha256sum "$T/drv.iso" | cut -d' ' -f1)
if err=$("$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv.iso" --output "$T/drv.iso" 2>&1); then
  fail "output equal to --drivers accepted"
fi
echo "$err" | grep -q "drv.iso: output would overwrite the input (--drivers)" || fail "output==drivers: $err"
[ "$(sha256sum "$T/drv.iso" | cut -d' ' -f1)" = "$DRV_SHA" ] || fail "--drivers ISO modified"
cp "$T/cert.pem" "$T/cert-copy.pem"
if err=$("$AM" win7 --quiet --iso "$T/x64.iso" --drivers "$T/drv" --cert "$T/cert-copy.pem" --output "$T/cert-copy.pem" 2>&1); then
  fail "output equal to --cert accepted"
fi
echo "$err" | grep -q "cert-copy.pem: output would overwrite the input (--cert)" || fail "output==cert: $err"
cmp -s "$T/cert.pem" "$T/cert-copy.pem" || fail "--cert file modified"
pass "output equal to --drivers or --cert refused, inputs untouched"
status() { set +e; "$@" >/dev/null 2>&1; echo $?; set -e; }
[ "$(status "$AM" win7 --help)" = 0 ] && [ "$(status "$AM" verify --help)" = 0 ] || fail "win7/verify --help"
"$AM" win7 --help | grep -q -- "--unattend" || fail "win7 --help text"
[ "$(status "$AM" win7 --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/bad/u.iso" extra)" = 2 ] || fail "stray argument"
err=$("$AM" win7 --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/bad/u.iso" --product-key AAAAA 2>&1 || true)
[ "$(status "$AM" win7 --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/bad/u.iso" --product-key AAAAA)" = 2 ] \
  && echo "$err" | grep -q "product-key needs --unattend full" || fail "--product-key without full: $err"
[ "$(status "$AM" win7 --iso "$T/x64.iso" --drivers "$T/drv" --output "$T/bad/u.iso" --unattend sometimes)" = 2 ] \
  || fail "bad --unattend value"
[ "$(status "$AM" verify)" = 2 ] && [ "$(status "$AM" verify a.iso b.iso)" = 2 ] || fail "verify arguments"
[ ! -e "$T/bad/u.iso" ] || fail "a usage error wrote output"
pass "--help and usage errors exit 2 (stray argument, --product-key without full, bad values)"
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

# SIGTERM mid-run: the work folder and the partial ISO are removed, nothing at the output
mkdir -p "$T/sig"
mkiso "$T/slow.iso" --payload-mb 400 --images 1
"$AM" win7 --quiet --iso "$T/slow.iso" --drivers "$T/drv" --output "$T/sig/out.iso" &
pid=$!
for _ in $(seq 1 200); do ls -a "$T/sig" | grep -q '\.work-' && break; sleep 0.02; done
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" = 143 ] || [ "$rc" = 0 ] || fail "SIGTERM: exit status $rc"
if [ "$rc" = 143 ]; then
  [ -z "$(ls -A "$T/sig")" ] || fail "SIGTERM left files behind: $(ls -a "$T/sig")"
  pass "SIGTERM removes the work folder and the partial ISO (exit 143)"
else
  echo "ok - SIGTERM: SKIPPED (the run finished before the signal)"
fi
# SIGINT mid-run: the progress callback stops the run, which unwinds through its own error paths:
# one line naming the output, exit 130, nothing left (env resets the SIGINT a script's background
# job inherits as ignored)
rm -rf "$T/sig"; mkdir -p "$T/sig"
env --default-signal=INT "$AM" win7 --quiet --iso "$T/slow.iso" --drivers "$T/drv" --output "$T/sig/out.iso" \
  2>"$T/sigint.log" &
pid=$!
for _ in $(seq 1 200); do ls -a "$T/sig" | grep -q '\.work-' && break; sleep 0.02; done
done_before=0; [ -e "$T/sig/out.iso" ] && done_before=1  # the output appears only at the very end
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" = 130 ] || { [ "$rc" = 0 ] && [ $done_before = 1 ]; } || fail "SIGINT: exit status $rc ($(cat "$T/sigint.log"))"
if [ "$rc" = 130 ]; then
  [ -z "$(ls -A "$T/sig")" ] || fail "SIGINT left files behind: $(ls -a "$T/sig")"
  grep -qx "aero-media: $T/sig/out.iso: cancelled" "$T/sigint.log" || fail "SIGINT: $(cat "$T/sigint.log")"
  pass "SIGINT stops the run cleanly: one line naming the output, nothing left behind (exit 130)"
else
  echo "ok - SIGINT: SKIPPED (the run finished before the signal)"
fi
echo "all win7 tests passed"
