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

xorriso -as mkisofs -quiet -r -J -o "$T/drivers-src.iso" "$T/vw" 2>/dev/null
"$AM" driver-iso --drivers "$T/drivers-src.iso" --output "$T/from-iso.iso" --quiet
check_iso "$T/from-iso.iso" 8
pass "an ISO as the driver source"

fixture "$T/x86only" --layout aero --archs x86
"$AM" driver-iso --drivers "$T/x86only" --output "$T/x86.iso" --require-arch x86 --quiet
check_iso "$T/x86.iso" 4
pass "--require-arch x86 with x86-only drivers"

SOURCE_DATE_EPOCH=1700000000 "$AM" driver-iso --drivers "$T/vw" --output "$T/r1.iso" --quiet
SOURCE_DATE_EPOCH=1700000000 "$AM" driver-iso --drivers "$T/vw" --output "$T/r2.iso" --quiet
cmp -s "$T/r1.iso" "$T/r2.iso" || fail "SOURCE_DATE_EPOCH runs differ"
pass "two SOURCE_DATE_EPOCH runs are byte-identical"

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
