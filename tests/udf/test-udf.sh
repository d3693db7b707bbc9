#!/usr/bin/env bash
# The UDF reader (media/udf.c) on UDF bridge images written by genisoimage -udf at test time:
#  - the tree it reads (names, folders, sizes, SHA-256 of the data through its extents) equals the
#    source folder, including a 1.3 GiB file (several allocation descriptors);
#  - layouts genisoimage does not write read the same (udfimg.py rewrites them): data embedded
#    in the file entry, Extended File Entries, long allocation descriptors, a chain of
#    allocation extent descriptors;
#  - each kind of damage is refused with one line naming the image and the problem.
# Random damage is the libFuzzer target's job (tests/fuzz/fuzz_udf.c, scripts/fuzz.sh udf).
#   test-udf.sh PATH/TO/udf-ls
set -euo pipefail
LS=${1:?usage: test-udf.sh path/to/udf-ls}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/aero-udf-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
# a sanitizer report must not pass for the reader's own "refused" exit status (1)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:exitcode=87"

# the expected listing of a folder, in udf-ls's format and order (directory order: genisoimage
# sorts names by their UCS-2 code units, as ISO 9660 and UDF writers do)
expect() {
  "$PY" - "$1" <<'PY'
import hashlib, os, sys
def walk(root, rel):
    names = sorted(os.listdir(os.path.join(root, rel)), key=lambda n: n.encode("utf-16-be"))
    for n in names:
        p = os.path.join(root, rel, n)
        if os.path.isdir(p):
            print(f"D /{os.path.join(rel, n)}")
            walk(root, os.path.join(rel, n))
        else:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            print(f"F /{os.path.join(rel, n)} {os.path.getsize(p)} {h.hexdigest()}")
walk(sys.argv[1], "")
PY
}
listing() { "$LS" "$1" | grep -v '^files '; }
mkudf() { genisoimage -quiet -udf -D -input-charset utf-8 -iso-level 3 -V UDFTEST -o "$2" "$1" 2>/dev/null; }

S=$T/src
mkdir -p "$S/dir/sub/a/b/c/d/e/f/g" "$S/emptydir"
head -c 100 /dev/urandom >"$S/small.txt"
: >"$S/empty.bin"
head -c 40000 /dev/urandom >"$S/dir/mid.bin"
echo deep >"$S/dir/sub/a/b/c/d/e/f/g/deep.txt"
echo latin >"$S/Ünïcødé ñame.txt"   # Latin-1: 8-bit names
echo cjk >"$S/日本語.txt"            # beyond Latin-1: UCS-2 names
mkudf "$S" "$T/base.iso"
expect "$S" >"$T/expected"
diff "$T/expected" <(listing "$T/base.iso") || fail "tree read from base.iso differs from its source"
pass "genisoimage image: $(grep -c . "$T/expected") entries (8-bit and UCS-2 names, empty file and folder, 9 levels) read as written"

B=$T/bigsrc
mkdir -p "$B/sources"
truncate -s 1300M "$B/sources/install.wim"
for off in 0 1073741823 1073741824 $((1300 * 1048576 - 6)); do
  printf 'M%05d' $((off % 100000)) | dd of="$B/sources/install.wim" bs=1 seek=$off conv=notrunc status=none
done
mkudf "$B" "$T/big.iso"
fallocate --dig-holes "$T/big.iso" 2>/dev/null || true
diff <(expect "$B") <(listing "$T/big.iso") || fail "1.3 GiB file read wrongly"
pass "a 1.3 GiB file (over one 1 GiB extent) reads back byte for byte"

for m in inline efe long-ad aed; do
  "$PY" "$HERE/udfimg.py" "$m" "$T/base.iso" "$T/$m.iso"
  diff "$T/expected" <(listing "$T/$m.iso") || fail "$m layout read differently"
  pass "$m layout reads the same tree and data"
done

refused() { # NAME MUTATION EXPECTED-TEXT
  "$PY" "$HERE/udfimg.py" "$2" "$T/base.iso" "$T/$2.iso"
  local rc=0
  "$LS" "$T/$2.iso" >/dev/null 2>"$T/err" || rc=$?
  [ $rc = 1 ] || { cat "$T/err" >&2; fail "$1: exit status $rc, not 1"; }
  [ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err" >&2; fail "$1: not one line"; }
  grep -qF "$T/$2.iso: UDF file system: $3" "$T/err" || { cat "$T/err" >&2; fail "$1: wrong message"; }
  pass "$1 refused: $(cat "$T/err" | sed "s|$T/||")"
}
refused "a truncated image" truncate "/dir/mid.bin: data extent beyond the end of the image (truncated ISO?)"
refused "no valid anchor" no-anchor "no anchor volume descriptor (block 256)"
refused "a folder that contains its parent" loop "/dir/sub: directory loop"
refused "an extent outside the partition" outside "/dir/mid.bin: data extent at logical block"
refused "descriptors shorter than the file" short-ads "/dir/mid.bin: its allocation descriptors cover 40000 of its 1088576 bytes"
refused "a file entry with a bad CRC" bad-crc "/dir/mid.bin: descriptor CRC mismatch"
refused "a name running past its directory" name-overrun "/dir: file identifier runs past the directory data"
refused "a name with a newline (found by fuzz_udf)" ctl-name "/dir: unreadable file name (file identifier at byte"

D=$T/deepsrc
mkdir -p "$D/$(printf 'd/%.0s' $(seq 1 70))"
mkudf "$D" "$T/deep.iso"
rc=0
"$LS" "$T/deep.iso" >/dev/null 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "UDF file system: /d/d/.*: folders nested deeper than 64 levels" "$T/err" \
  || { cat "$T/err" >&2; fail "70 nested folders: exit status $rc"; }
pass "70 nested folders refused: folders nested deeper than 64 levels"
