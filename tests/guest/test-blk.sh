#!/usr/bin/env bash
# Guest test, block: Linux's own virtio_pci + virtio_blk drive aero-virtio-blk-pci (EVENT_IDX on
# with MSI-X; EVENT_IDX off with INTx only) and, as the comparison baseline, QEMU's
# virtio-blk-pci,disable-legacy=on. In each run the guest checks the binding and PCI identity,
# runs fio write-then-verify (crc32c, 64 MiB, iodepth 16) and a 4k random-read IOPS sample, and
# writes a 1 MiB pattern followed by fsync. The host then checks the pattern in the image file,
# that the fsync reached the image as a FLUSH (query-blockstats), and the device counters.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

IMG_MB=256
PATTERN_OFF_MB=200

cat >"$AERO_TEST_DIR/blk-guest.sh" <<'EOF'
set -e
dev=/dev/vda
[ -b $dev ] || { echo "no $dev"; ls /sys/block; exit 1; }
pci=$(readlink -f /sys/block/vda/device/..)
echo "pci $(cat $pci/vendor) $(cat $pci/device) rev $(cat $pci/revision) subsys $(cat $pci/subsystem_device) driver $(basename "$(readlink /sys/block/vda/device/driver)")"
echo "capacity_sectors $(cat /sys/block/vda/size) lbs $(cat /sys/block/vda/queue/logical_block_size)"
fio --name=write-verify --filename=$dev --direct=1 --ioengine=libaio --iodepth=16 \
    --rw=randwrite --bs=64k --size=64M --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --randrepeat=0 >/tmp/wv.txt 2>&1 || { cat /tmp/wv.txt; exit 1; }
grep -E "write: IOPS|read: IOPS|err=" /tmp/wv.txt | sed 's/^ */wv /'
fio --name=randread --filename=$dev --direct=1 --ioengine=libaio --iodepth=16 \
    --rw=randread --bs=4k --size=64M --runtime=5 --time_based >/tmp/rr.txt 2>&1 || { cat /tmp/rr.txt; exit 1; }
grep -E "read: IOPS" /tmp/rr.txt | sed 's/^ */randread-4k-qd16 /'
fio --name=pattern --filename=$dev --direct=1 --rw=write --bs=1M --size=1M --offset=200M \
    --buffer_pattern='"AERO-VIRTIO-PATTERN-"' --end_fsync=1 >/tmp/p.txt 2>&1 || { cat /tmp/p.txt; exit 1; }
echo "pattern written"
grep -i virtio /proc/interrupts | awk '{print "irq", $0}'
EOF

check_image() {
  python3 - "$1" "$PATTERN_OFF_MB" <<'PY'
import sys
img, off = sys.argv[1], int(sys.argv[2]) << 20
pat = b"AERO-VIRTIO-PATTERN-"
want = (pat * ((1 << 20) // len(pat) + 1))[: 1 << 20]
with open(img, "rb") as f:
    f.seek(off)
    got = f.read(1 << 20)
sys.exit(0 if got == want else 1)
PY
}

flushes_of() {
  guest_qmp "$1" '{"execute":"query-blockstats"}' | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d.get("device") == "d0" or d.get("qdev", "").endswith("disk0"):
        s = d["stats"]
        print(s["flush_operations"], s["wr_operations"], s["rd_operations"])
        break
'
}

run_case() {
  local name=$1 devargs=$2 want_device=$3 want_lbs=${4:-512}
  local img="$AERO_TEST_DIR/$name.img"
  rm -f "$img"
  truncate -s ${IMG_MB}M "$img"
  guest_start "$name" "$AERO_TEST_DIR/blk-guest.sh" \
    -drive "file=$img,if=none,id=d0,format=raw,cache=writeback,aio=threads" \
    -device "$devargs"
  guest_wait "$name"
  local log
  log=$(guest_log "$name")
  grep -E '^(pci|capacity|wv|randread|pattern|irq)' "$log" | sed "s/^/  $name: /" >&2
  [ "$GUEST_RC" = 0 ] || { tail -n 40 "$log" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  grep -q "^pci 0x1af4 $want_device rev 0x01" "$log" || fail "$name: wrong PCI identity"
  grep -q "driver virtio_blk" "$log" || fail "$name: virtio_blk did not bind"
  grep -q "capacity_sectors $((IMG_MB * 2048)) lbs $want_lbs" "$log" || fail "$name: wrong capacity or block size"
  grep -q "err= 0" "$log" || fail "$name: fio reported an error"
  local f
  f=$(flushes_of "$name")
  say "$name: blockstats flush/write/read operations: $f"
  [ "${f%% *}" -ge 1 ] || fail "$name: no FLUSH reached the block layer"
  if [ "$name" != stock ]; then
    local st
    st=$(guest_stats "$name" disk0)
    echo "  $name: stats: $st" >&2
    echo "$st" | grep -q "errors=0" || fail "$name: device counted guest errors"
  fi
  guest_stop "$name"
  check_image "$img" || fail "$name: pattern not found at ${PATTERN_OFF_MB} MiB in the image file"
  say "$name: image file holds the guest's pattern; PASS"
  rm -f "$img"
}

run_case aero-eventidx-msix "aero-virtio-blk-pci,drive=d0,id=disk0,serial=AERO-TEST-0001" 0x1042
run_case aero-noeventidx-intx "aero-virtio-blk-pci,drive=d0,id=disk0,event-idx=off,vectors=0" 0x1042
run_case aero-lbs4096 "aero-virtio-blk-pci,drive=d0,id=disk0,logical_block_size=4096,physical_block_size=4096" 0x1042 4096
run_case stock "virtio-blk-pci,drive=d0,id=disk0,disable-legacy=on" 0x1042
say "test-blk: all cases passed"
