#!/usr/bin/env bash
# Guest test, block: Linux's own virtio_pci + virtio_blk drive aero-virtio-blk-pci (EVENT_IDX on
# with MSI-X; EVENT_IDX off with INTx only; 4096-byte logical blocks; on q35 behind a PCIe root
# port and on q35's root bus) and, as the comparison baseline, QEMU's
# virtio-blk-pci,disable-legacy=on. In each run the guest reports the binding, PCI identity,
# negotiated features, interrupt mode and capability chain, runs fio write-then-verify (crc32c,
# 64 MiB, iodepth 16) and a 4k random-read IOPS sample, then writes a 1 MiB pattern with fsync
# twice. The drive sits on blkdebug, which fails the first flush that reaches the image's
# protocol layer (event flush_to_disk, once): the guest's first fsync must fail with EIO and
# the second succeed, which proves the guest's FLUSH travels down to the image file. The host
# checks the mode actually negotiated (EVENT_IDX bit, MSI-X or INTx and their interrupts), the
# flush counters in query-blockstats around that phase, the pattern in the image file, and the
# device counters.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

IMG_MB=256
PATTERN_OFF_MB=200
GO_OFF_MB=250 # host -> guest handshake block ("AERO-GO" written into the image by the host)

cat >"$AERO_TEST_DIR/blk-guest.sh" <<EOF
PATTERN_OFF_MB=$PATTERN_OFF_MB
GO_OFF_MB=$GO_OFF_MB
EOF
cat >>"$AERO_TEST_DIR/blk-guest.sh" <<'EOF'
set -e
dev=/dev/vda
[ -b $dev ] || { echo "no $dev"; ls /sys/block; exit 1; }
pci=$(readlink -f /sys/block/vda/device/..)
vdev=$(readlink -f /sys/block/vda/device)
echo "pci $(cat $pci/vendor) $(cat $pci/device) rev $(cat $pci/revision) subsys $(cat $pci/subsystem_vendor) $(cat $pci/subsystem_device) driver $(basename "$(readlink /sys/block/vda/device/driver)")"
echo "features $(cat $vdev/features)"
echo "cfgsize $(wc -c < $pci/config)"
# Capability chain from config space: "id@offset" per entry (Express: also the port type);
# a pointer below 0x40, unaligned, revisited or a chain of more than 48 entries is reported.
od -An -v -tu1 -N256 $pci/config | awk '
  { for (i = 1; i <= NF; i++) b[n++] = $i }
  END {
    if (!and(b[6], 16)) { print "caps none"; exit }
    p = b[52]; out = "caps"; msix = "intx"
    while (p != 0) {
      if (p < 64 || p % 4 || ++hops > 48 || seen[p]++) { print "caps BROKEN at " p; exit }
      s = sprintf(" %02x@%02x", b[p], p)
      if (b[p] == 16) s = s sprintf("/type%d", rshift(b[p + 2], 4))
      if (b[p] == 17 && and(b[p + 3], 128)) msix = "msix"
      out = out s; p = b[p + 1]
    }
    print out; print "irqmode " msix
  }'
echo "capacity_sectors $(cat /sys/block/vda/size) lbs $(cat /sys/block/vda/queue/logical_block_size)"
fio --name=write-verify --filename=$dev --direct=1 --ioengine=libaio --iodepth=16 \
    --rw=randwrite --bs=64k --size=64M --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --randrepeat=0 >/tmp/wv.txt 2>&1 || { cat /tmp/wv.txt; exit 1; }
grep -E "write: IOPS|read: IOPS|err=" /tmp/wv.txt | sed 's/^ */wv /'
fio --name=randread --filename=$dev --direct=1 --ioengine=libaio --iodepth=16 \
    --rw=randread --bs=4k --size=64M --runtime=5 --time_based >/tmp/rr.txt 2>&1 || { cat /tmp/rr.txt; exit 1; }
grep -E "read: IOPS" /tmp/rr.txt | sed 's/^ */randread-4k-qd16 /'
# Flush phase: wait until the host has read the flush counters and says go.
yes AERO-VIRTIO-PATTERN- | tr -d '\n' | head -c 1048576 > /tmp/pat
echo "FLUSH-PHASE"
i=0
until dd if=$dev bs=4096 skip=$((GO_OFF_MB * 256)) count=1 iflag=direct 2>/dev/null | grep -q AERO-GO; do
  i=$((i + 1)); [ $i -lt 600 ] || { echo "host never said go"; exit 1; }
  sleep 0.2
done
for n in 1 2; do
  if dd if=/tmp/pat of=$dev bs=1M seek=$PATTERN_OFF_MB count=1 oflag=direct conv=fsync,notrunc 2>/tmp/dd.err; then
    echo "fsync$n ok"
  else
    echo "fsync$n failed: $(tail -n 1 /tmp/dd.err)"
  fi
done
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

# "flush_operations failed_flush_operations wr_operations rd_operations" of drive d0
blockstats_of() {
  guest_qmp "$1" '{"execute":"query-blockstats"}' | python3 -c '
import json, sys
for d in json.load(sys.stdin):
    if d.get("device") == "d0":
        s = d["stats"]
        print(s["flush_operations"], s["failed_flush_operations"], s["wr_operations"], s["rd_operations"])
        break
'
}


# The capability set (id@offset) the guest must report, order-independent.
expect_caps() {
  local vectors=$1 express=$2 caps="09@40 09@50 09@64 09@74"
  [ "$vectors" = 0 ] || caps="$caps 11@84"
  [ "$express" = 0 ] || caps="$caps 10@90/type0 01@cc"
  echo "$caps" | tr ' ' '\n' | sort | tr '\n' ' '
}

# run_case NAME DEVARGS WANT_DEVICE LBS EVENTIDX(0|1) IRQ(msix|intx) CAPS|- [qemu args...]
run_case() {
  local name=$1 devargs=$2 want_device=$3 want_lbs=$4 want_evidx=$5 want_irq=$6 want_caps=$7
  shift 7
  local img="$AERO_TEST_DIR/$name.img"
  rm -f "$img"
  truncate -s ${IMG_MB}M "$img"
  # blkdebug between the raw format and the file: the first flush that reaches the protocol
  # layer (flush_to_disk) fails once.
  guest_start "$name" "$AERO_TEST_DIR/blk-guest.sh" "$@" \
    -drive "if=none,id=d0,driver=raw,cache=writeback,aio=threads,file.driver=blkdebug,file.image.driver=file,file.image.filename=$img,file.inject-error.0.event=flush_to_disk,file.inject-error.0.once=on" \
    -device "$devargs"
  wait_for_line "$name" '^FLUSH-PHASE' || { tail -n 40 "$(guest_log "$name")" >&2; fail "$name: guest never reached the flush phase"; }
  local before after
  before=$(blockstats_of "$name")
  python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2]) << 20); f.write(b"AERO-GO"); f.close()' \
    "$img" "$GO_OFF_MB"
  guest_wait "$name"
  after=$(blockstats_of "$name")
  local log
  log=$(guest_log "$name")
  grep -E '^(pci|features|cfgsize|caps|irqmode|capacity|wv|randread|fsync|pattern|irq)' "$log" | sed "s/^/  $name: /" >&2
  [ "$GUEST_RC" = 0 ] || { tail -n 40 "$log" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  grep -q "^pci 0x1af4 $want_device rev 0x01" "$log" || fail "$name: wrong PCI identity"
  if [ "$name" != stock ]; then
    grep -q "^pci 0x1af4 0x1042 rev 0x01 subsys 0x1af4 0x0002 " "$log" ||
      fail "$name: aero blk must be 1af4:1042 rev 01, subsystem 1af4:0002"
  fi
  grep -q "driver virtio_blk" "$log" || fail "$name: virtio_blk did not bind"
  grep -q "capacity_sectors $((IMG_MB * 2048)) lbs $want_lbs" "$log" || fail "$name: wrong capacity or block size"
  grep -q "err= 0" "$log" || fail "$name: fio reported an error"

  # The mode under test is the mode negotiated: EVENT_IDX (feature bit 29) and MSI-X vs INTx.
  local feats bit
  feats=$(sed -n 's/^features \([01]*\).*/\1/p' "$log")
  [ ${#feats} -ge 33 ] || fail "$name: no feature bits reported"
  bit=${feats:29:1}
  [ "$bit" = "$want_evidx" ] || fail "$name: EVENT_IDX (bit 29) negotiated=$bit, expected $want_evidx"
  [ "${feats:32:1}" = 1 ] || fail "$name: VERSION_1 not negotiated"
  tr -d '\r' <"$log" | grep -q "^irqmode $want_irq\$" || fail "$name: interrupt mode is not $want_irq ($(grep '^irqmode' "$log"))"
  python3 - "$log" "$want_irq" <<'PY' || fail "$name: no $want_irq interrupts were taken"
import re, sys
log, mode = open(sys.argv[1], errors="replace").read(), sys.argv[2]
lines = re.findall(r"^irq +\d+: +(\d+) +(.*)$", log, re.M)
msi = [int(n) for n, rest in lines if "PCI-MSI" in rest]
intx = [int(n) for n, rest in lines if "IO-APIC" in rest or "XT-PIC" in rest]
ok = (sum(msi) > 0 and not intx) if mode == "msix" else (sum(intx) > 0 and not msi)
sys.exit(0 if ok else 1)
PY
  if [ "$want_caps" != - ]; then
    local got
    got=$(tr -d '\r' <"$log" | sed -n 's/^caps //p' | tr ' ' '\n' | sort | tr '\n' ' ')
    [ "$got" = "$want_caps" ] || fail "$name: capability chain '$got', expected '$want_caps'"
    local cfg=256
    case "$want_caps" in *10@90*) cfg=4096 ;; esac
    tr -d '\r' <"$log" | grep -q "^cfgsize $cfg\$" || fail "$name: config space size is not $cfg"
  fi

  # FLUSH reaches the image: the first flush failed at the protocol layer (blkdebug), the
  # guest saw that as a failed fsync, and the retry's flush succeeded.
  say "$name: blockstats flush/failed-flush/write/read operations before $before, after $after"
  grep -q '^fsync1 failed' "$log" || fail "$name: the injected flush_to_disk error did not reach the guest's fsync"
  grep -q '^fsync2 ok' "$log" || fail "$name: fsync after the injected error failed"
  read -r f0 ff0 _ _ <<<"$before"
  read -r f1 ff1 _ _ <<<"$after"
  [ "$ff0" = 0 ] || fail "$name: a flush failed before the flush phase"
  [ "$ff1" = 1 ] || fail "$name: expected exactly one failed flush, got $ff1"
  [ "$f1" -gt "$f0" ] || fail "$name: flush_operations did not increase ($f0 -> $f1)"
  if [ "$name" != stock ]; then
    local st
    st=$(guest_stats "$name" disk0)
    echo "  $name: stats: $st" >&2
    # one I/O error, the injected flush failure (IOERR), and no guest error
    echo "$st" | grep -q " guest_errors=0 io_errors=1\b" ||
      fail "$name: device counted errors besides the injected flush failure"
  fi
  guest_stop "$name"
  check_image "$img" || fail "$name: pattern not found at ${PATTERN_OFF_MB} MiB in the image file"
  say "$name: image file holds the guest's pattern; PASS"
  rm -f "$img"
}

run_case aero-eventidx-msix "aero-virtio-blk-pci,drive=d0,id=disk0,serial=AERO-TEST-0001" \
  0x1042 512 1 msix "$(expect_caps 2 0)"
run_case aero-noeventidx-intx "aero-virtio-blk-pci,drive=d0,id=disk0,event-idx=off,vectors=0" \
  0x1042 512 0 intx "$(expect_caps 0 0)"
run_case aero-lbs4096 "aero-virtio-blk-pci,drive=d0,id=disk0,logical_block_size=4096,physical_block_size=4096" \
  0x1042 4096 1 msix "$(expect_caps 2 0)"
run_case aero-q35-pcie "aero-virtio-blk-pci,drive=d0,id=disk0,bus=rp1" \
  0x1042 512 1 msix "$(expect_caps 2 1)" -M q35 -device pcie-root-port,id=rp1,chassis=1,slot=1
run_case aero-q35-rootbus "aero-virtio-blk-pci,drive=d0,id=disk0,bus=pcie.0,addr=0x5" \
  0x1042 512 1 msix "$(expect_caps 2 0)" -M q35
run_case stock "virtio-blk-pci,drive=d0,id=disk0,disable-legacy=on" 0x1042 512 1 msix -
say "test-blk: all cases passed"
