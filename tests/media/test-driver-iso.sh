#!/usr/bin/env bash
# aero-media driver-iso end to end: fixture driver trees (virtio-win and Aero layouts, UTF-16
# INFs, an ISO as input) must produce an ISO 9660 + Joliet image whose files and manifest are
# checked with xorriso and Python independently of aero-media; every bad input must fail with one
# line naming the file and leave nothing at the output path.
#   test-driver-iso.sh AERO_MEDIA_BINARY
set -euo pipefail
AM=${1:?usage: test-driver-iso.sh path/to/aero-media}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/aero-media-test.XXXXXX")
trap 'umount "$T/full" 2>/dev/null || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
fixture() { python3 "$HERE/fixtures.py" drivers "$@"; }

# Independent checks of a written driver ISO: file list, manifest hashes, Joliet descriptor.
check_iso() {
  local iso=$1 want_pkgs=$2 x="$T/x.$RANDOM"
  mkdir -p "$x"
  xorriso -osirrox on -indev "$iso" -extract / "$x" >/dev/null 2>&1 || fail "$iso: xorriso cannot read it"
  python3 - "$iso" "$x" "$want_pkgs" <<'PY' || fail "$iso: content check failed"
import hashlib, json, os, sys
iso, root, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = json.load(open(os.path.join(root, "manifest.json")))
assert len(m["packages"]) == want, f"{len(m['packages'])} packages, want {want}"
seen = set()
for p in m["packages"]:
    assert p["hardware_ids"], p["name"]
    seen.add((p["device"], p["arch"]))
    for f in p["files"]:
        data = open(os.path.join(root, f["path"]), "rb").read()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["path"]
        assert len(data) == f["size"]
        assert not data.startswith(b"old"), "an older-OS package was chosen over w7: " + f["path"]
    assert p["sys"].startswith(f"win7/{p['arch']}/") and os.path.exists(os.path.join(root, p["sys"]))
assert os.path.exists(os.path.join(root, "INSTALL.txt"))
# Joliet: a supplementary volume descriptor (type 2) with a UCS-2 escape sequence.
with open(iso, "rb") as f:
    joliet = False
    for s in range(16, 32):
        f.seek(s * 2048)
        d = f.read(2048)
        if d[1:6] != b"CD001" or d[0] == 255:
            break
        if d[0] == 2 and d[88:91] in (b"%/@", b"%/C", b"%/E"):
            joliet = True
assert joliet, "no Joliet volume descriptor"
PY
}

expect_error() {
  local what=$1 pattern=$2 out=$3
  shift 3
  local err
  if err=$("$AM" driver-iso --quiet "$@" --output "$out" 2>&1); then
    fail "$what: succeeded"
  fi
  [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "$what: error is not one line: $err"
  echo "$err" | grep -q -- "$pattern" || fail "$what: unexpected error: $err"
  [ ! -e "$out" ] || fail "$what: left $out behind"
  ! ls -a "$(dirname "$out")" | grep -q '\.tmp-' || fail "$what: left a temporary file"
  pass "$what -> $err"
}

# --- good inputs ----------------------------------------------------------------------------
fixture "$T/vw" --layout virtio-win
"$AM" driver-iso --drivers "$T/vw" --output "$T/vw.iso" --quiet
check_iso "$T/vw.iso" 8
pass "virtio-win layout, both archs: 8 packages, hashes and Joliet verified"

fixture "$T/aero" --layout aero --utf16
"$AM" driver-iso --drivers "$T/aero" --output "$T/aero.iso" --quiet
check_iso "$T/aero.iso" 8
pass "Aero layout with UTF-16 INFs"

# the output's mode follows the umask, like any new file (not mkstemp's 0600)
(umask 022; "$AM" driver-iso --drivers "$T/vw" --output "$T/mode644.iso" --quiet)
(umask 027; "$AM" driver-iso --drivers "$T/vw" --output "$T/mode640.iso" --quiet)
[ "$(stat -c %a "$T/mode644.iso")" = 644 ] || fail "umask 022: output mode $(stat -c %a "$T/mode644.iso"), want 644"
[ "$(stat -c %a "$T/mode640.iso")" = 640 ] || fail "umask 027: output mode $(stat -c %a "$T/mode640.iso"), want 640"
pass "output mode follows the umask (022 -> 644, 027 -> 640)"

xorriso -as mkisofs -quiet -r -J -o "$T/drivers-src.iso" "$T/vw" 2>/dev/null
"$AM" driver-iso --drivers "$T/drivers-src.iso" --output "$T/from-iso.iso" --quiet
check_iso "$T/from-iso.iso" 8
pass "an ISO as the driver source"

# a UDF bridge ISO whose files are in UDF only (the ISO 9660 tree just README.TXT)
mkdir -p "$T/vw-udf" && cp -r "$T/vw/." "$T/vw-udf/" && echo "UDF only" >"$T/vw-udf/README.TXT"
hide=(); for n in "$T/vw-udf"/*; do [ "$(basename "$n")" = README.TXT ] || hide+=(-hide "$(basename "$n")"); done
genisoimage -quiet -udf -D -iso-level 3 "${hide[@]}" -o "$T/drivers-udf.iso" "$T/vw-udf" 2>/dev/null
[ "$(xorriso -indev "$T/drivers-udf.iso" -find / -type f 2>/dev/null)" = "'/README.TXT'" ] || fail "fixture: ISO 9660 tree is not the stub"
"$AM" driver-iso --drivers "$T/drivers-udf.iso" --output "$T/from-udf.iso" --quiet
check_iso "$T/from-udf.iso" 8
pass "a UDF bridge ISO (files in UDF only) as the driver source"

fixture "$T/x86only" --layout aero --archs x86
"$AM" driver-iso --drivers "$T/x86only" --output "$T/x86.iso" --require-arch x86 --quiet
check_iso "$T/x86.iso" 4
pass "--require-arch x86 with x86-only drivers"

SOURCE_DATE_EPOCH=1700000000 "$AM" driver-iso --drivers "$T/vw" --output "$T/r1.iso" --quiet
SOURCE_DATE_EPOCH=1700000000 "$AM" driver-iso --drivers "$T/vw" --output "$T/r2.iso" --quiet
cmp -s "$T/r1.iso" "$T/r2.iso" || fail "SOURCE_DATE_EPOCH runs differ"
pass "two SOURCE_DATE_EPOCH runs are byte-identical"

fixture "$T/gt" --layout guest-tools
"$AM" driver-iso --drivers "$T/gt" --output "$T/gt.iso" --quiet
check_iso "$T/gt.iso" 8
pass "Guest Tools layout drivers/<arch>/<pkg>/"

# every INF of an OS folder in one place (amd64/w7/*.inf): each is its own package, named after it
fixture "$T/flat" --layout flat
"$AM" driver-iso --drivers "$T/flat" --output "$T/flat.iso" --quiet
check_iso "$T/flat.iso" 8
xorriso -osirrox on -indev "$T/flat.iso" -extract /manifest.json "$T/flat.json" >/dev/null 2>&1
python3 - "$T/flat.json" <<'PY' || fail "flat folder: package names"
import json, sys
m = json.load(open(sys.argv[1]))
for arch in ("x86", "amd64"):
    names = sorted(p["name"] for p in m["packages"] if p["arch"] == arch)
    assert names == ["netkvm", "vioinput", "viosnd", "viostor"], names
PY
pass "flat OS folder with several INFs: distinct package names from the INF names"

# one INF with NTx86 and NTamd64 models, binaries in per-arch folders (SourceDisksNames.<arch>)
fixture "$T/multi" --layout multiarch
"$AM" driver-iso --drivers "$T/multi" --output "$T/multi.iso" --quiet
check_iso "$T/multi.iso" 8
xorriso -osirrox on -indev "$T/multi.iso" -extract /win7 "$T/multi-x" >/dev/null 2>&1
python3 - "$T/multi-x" <<'PY' || fail "multi-arch INF: each arch got its own binary"
import struct, sys
for arch, machine in (("amd64", 0x8664), ("x86", 0x14C)):
    d = open(f"{sys.argv[1]}/{arch}/viostor/{arch}/viostor.sys", "rb").read()
    pe = struct.unpack_from("<I", d, 0x3C)[0]
    assert d[pe:pe + 4] == b"PE\0\0" and struct.unpack_from("<H", d, pe + 4)[0] == machine, arch
PY
pass "multi-arch INF: one INF, both architectures, each with its own binary"

# REV_01 gating is reported on the console and recorded in the manifest
fixture "$T/rev" --layout aero --rev01
"$AM" driver-iso --drivers "$T/rev" --output "$T/rev.iso" 2>"$T/rev.log"
grep -q "blk   amd64 viostor .*REV_01-gated" "$T/rev.log" || fail "REV_01 gating not reported: $(cat "$T/rev.log")"
xorriso -osirrox on -indev "$T/rev.iso" -extract /manifest.json "$T/rev.json" -indev "$T/aero.iso" \
  -extract /manifest.json "$T/aero.json" >/dev/null 2>&1
python3 - "$T/rev.json" "$T/aero.json" <<'PY' || fail "rev01_gated in the manifest"
import json, sys
gated = json.load(open(sys.argv[1]))["packages"]
assert gated and all(p["rev01_gated"] for p in gated)
assert all(h.endswith("&REV_01") for p in gated for h in p["hardware_ids"])
assert not any(p["rev01_gated"] for p in json.load(open(sys.argv[2]))["packages"])
PY
pass "REV_01-gated packages reported and recorded (rev01_gated true only when every ID has &REV_01)"

# Joliet names longer than 64 characters survive (read the Joliet tree, not Rock Ridge)
fixture "$T/long" --layout aero --long-name
"$AM" driver-iso --drivers "$T/long" --output "$T/long.iso" --quiet --volid MY_DRIVERS
LONG=viostor_coinstaller_with_a_name_longer_than_sixty_four_characters_for_joliet.dll
xorriso -read_fs norock -indev "$T/long.iso" -find /win7/amd64/viostor -name "$LONG" 2>/dev/null | grep -q "$LONG" \
  || fail "Joliet tree lost the ${#LONG}-character name"
[ "$(xorriso -indev "$T/long.iso" -pvd_info 2>/dev/null | sed -n 's/^Volume Id *: //p')" = MY_DRIVERS ] || fail "--volid ignored"
pass "Joliet keeps a ${#LONG}-character name; --volid sets the volume ID"

# progress: periodic lines without a terminal, a redrawn bar on one, nothing with --quiet
"$AM" driver-iso --drivers "$T/vw" --output "$T/p1.iso" 2>"$T/p1.log"
grep -q "writing .*p1.iso: 100%" "$T/p1.log" || fail "no progress lines: $(cat "$T/p1.log")"
! grep -q $'\r' "$T/p1.log" || fail "carriage returns in a log"
"$AM" driver-iso --drivers "$T/vw" --output "$T/p2.iso" --quiet 2>"$T/p2.log"
[ ! -s "$T/p2.log" ] || fail "--quiet printed: $(cat "$T/p2.log")"
if command -v script >/dev/null; then
  script -qec "$AM driver-iso --drivers $T/vw --output $T/p3.iso" /dev/null >"$T/p3.log" 2>&1
  grep -q $'\r' "$T/p3.log" && grep -q "p3.iso: done" "$T/p3.log" || fail "no bar on a terminal: $(cat -v "$T/p3.log")"
fi
pass "progress: lines in a log, a bar on a terminal, nothing with --quiet"

# --help and exit codes: 0 success/help, 1 failure, 2 usage
status() { set +e; "$@" >/dev/null 2>&1; echo $?; set -e; }
[ "$(status "$AM" --help)" = 0 ] && [ "$(status "$AM" --version)" = 0 ] || fail "--help/--version"
[ "$(status "$AM")" = 2 ] && [ "$(status "$AM" frobnicate)" = 2 ] || fail "no/unknown command must exit 2"
"$AM" driver-iso --help | grep -q -- "--require-arch" || fail "driver-iso --help"
[ "$(status "$AM" driver-iso --help)" = 0 ] || fail "driver-iso --help exit status"
[ "$(status "$AM" driver-iso --bogus)" = 2 ] || fail "unknown option must exit 2"
[ "$(status "$AM" driver-iso --drivers "$T/vw")" = 2 ] || fail "missing --output must exit 2"
[ "$(status "$AM" driver-iso --drivers "$T/vw" --output "$T/x.iso" stray)" = 2 ] || fail "stray argument must exit 2"
[ ! -e "$T/x.iso" ] || fail "a usage error wrote output"
[ "$(status "$AM" driver-iso --drivers "$T/vw" --output "$T/x.iso" --require-arch arm)" = 2 ] || fail "bad --require-arch"
[ "$(status "$AM" driver-iso --drivers "$T/nope" --output "$T/x.iso")" = 1 ] || fail "bad input must exit 1"
err=$("$AM" driver-iso --drivers "$T/vw" --output "$T/x.iso" stray 2>&1 || true)
echo "$err" | grep -q "unexpected argument 'stray'" || fail "stray argument message: $err"
pass "--help and exit codes (0 ok, 1 failure, 2 usage; stray arguments refused)"

# --- bad inputs -----------------------------------------------------------------------------
mkdir -p "$T/out"
expect_error "amd64 required, only x86 drivers" "no driver package for blk .* on amd64" \
  "$T/out/a.iso" --drivers "$T/x86only"
fixture "$T/nosys" --layout aero --break missing-sys
expect_error "INF naming a missing .sys" "viostor.inf: .* names viostor.sys, which is missing" \
  "$T/out/b.iso" --drivers "$T/nosys"
fixture "$T/nocat" --layout aero --break missing-cat
expect_error "missing catalog" "netkvm.inf: catalog netkvm.cat is missing" "$T/out/c.iso" --drivers "$T/nocat"
"$AM" driver-iso --drivers "$T/nocat" --output "$T/unsigned.iso" --allow-unsigned --quiet
check_iso "$T/unsigned.iso" 8
pass "missing catalog accepted with --allow-unsigned"
fixture "$T/nohwid" --layout aero --break no-hwid
expect_error "INF missing the contract HWID" "no driver package for blk (PCI.VEN_1AF4&DEV_1042)" \
  "$T/out/d.iso" --drivers "$T/nohwid"
expect_error "INF missing the contract HWID names the INF" "drivers/viostor/x86/viostor.inf (it names PCI.VEN_1AF4&DEV_1001" \
  "$T/out/d.iso" --drivers "$T/nohwid"
fixture "$T/badver" --layout aero --break bad-version
expect_error "INF [Version] without ClassGUID" "viostor.inf: \[Version\] lacks ClassGUID" \
  "$T/out/e.iso" --drivers "$T/badver"
head -c 100000 /dev/urandom >"$T/junk.iso"
expect_error "driver source that is not an ISO" "junk.iso: not an ISO 9660 image" "$T/out/f.iso" \
  --drivers "$T/junk.iso"
mkdir -p "$T/empty"
expect_error "folder without INFs" "empty: no INF files found" "$T/out/g.iso" --drivers "$T/empty"
expect_error "missing driver path" "nope: no such file or folder" "$T/out/h.iso" --drivers "$T/nope"
cp "$T/vw.iso" "$T/same.iso"
if err=$("$AM" driver-iso --quiet --drivers "$T/same.iso" --output "$T/same.iso" 2>&1); then
  fail "output equal to input accepted"
fi
echo "$err" | grep -q "output would overwrite the input" || fail "output==input: $err"
cmp -s "$T/vw.iso" "$T/same.iso" || fail "input ISO was modified"
pass "output equal to input refused, input untouched"
mkdir -p "$T/full"
if mount -t tmpfs -o size=64k tmpfs "$T/full" 2>/dev/null; then
  expect_error "output on a full disk" "full.iso" "$T/full/full.iso" --drivers "$T/vw"
  umount "$T/full"
else
  echo "ok - output on a full disk: SKIPPED (cannot mount a tmpfs here)"
fi
echo "all driver-iso tests passed"
