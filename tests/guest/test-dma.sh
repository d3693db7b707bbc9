#!/usr/bin/env bash
# Guest test, DMA targets: the library's host contract says the glue must refuse every guest
# address that is not guest RAM. A second aero-virtio-blk-pci disk is unbound from Linux's
# driver and driven by aero-virtio-probe (tests/guest/virtio-probe.c, a user-space virtio-blk
# driver) with one request per case whose data buffer points at: our own RAM page (control,
# must succeed), the BIOS ROM (read and write), a range running from low RAM into the VGA
# window (MMIO), the other disk's BAR0 (another device's MMIO) and the device's own BAR0.
# Every non-RAM case must fail (IOERR status or DEVICE_NEEDS_RESET), the device must work again
# after a reset, and the sectors the control request wrote must still hold its bytes (nothing
# read from a ROM or MMIO reached the image).
# Then a reset with a read in flight (a 1 s null-co backend): the late completion must not write
# a byte into guest memory, and the device must serve a read after the reset.
set -euo pipefail
AERO_EXPECT_DEVICE_ERRORS=1 # every case here makes the device refuse DMA on purpose
. "$(dirname "$0")/lib.sh"

cat >"$AERO_TEST_DIR/dma-guest.sh" <<'EOF'
set -e
pdev=
for b in /sys/block/vd*; do
  [ "$(cat $b/serial 2>/dev/null)" = AERO-PROBE ] && pdev=$b
  [ "$(cat $b/serial 2>/dev/null)" = AERO-OTHER ] && odev=$b
done
[ -n "$pdev" ] && [ -n "$odev" ] || { echo "probe/other disk not found"; ls /sys/block; exit 1; }
pbdf=$(basename "$(readlink -f $pdev/device/..)")
obdf=$(basename "$(readlink -f $odev/device/..)")
own=$(awk 'NR == 1 { print $1 }' /sys/bus/pci/devices/$pbdf/resource)
other=$(awk 'NR == 1 { print $1 }' /sys/bus/pci/devices/$obdf/resource)
echo "probe $pbdf bar0 $own other $obdf bar0 $other"
echo "$pbdf" > /sys/bus/pci/drivers/virtio-pci/unbind
echo 0 > /proc/sys/vm/compact_unevictable_allowed 2>/dev/null || true
aero-virtio-probe "$pbdf" out:ram:4096 in:ram:4096 \
  out:0xffff0000:4096 in:0xffff0000:4096 out:0x9f000:8192 \
  out:$other:4096 in:$own:512 out:ram:512 in:ram:4096
EOF

run_dma() {
  local name=$1 img="$AERO_TEST_DIR/probe.img" oimg="$AERO_TEST_DIR/other.img"
  rm -f "$img" "$oimg"
  truncate -s 8M "$img"
  truncate -s 8M "$oimg"
  guest_start "$name" "$AERO_TEST_DIR/dma-guest.sh" -vga std \
    -drive "file=$oimg,if=none,id=d1,format=raw" \
    -device aero-virtio-blk-pci,drive=d1,id=other0,serial=AERO-OTHER \
    -drive "file=$img,if=none,id=d0,format=raw" \
    -device aero-virtio-blk-pci,drive=d0,id=probe0,serial=AERO-PROBE
  guest_wait "$name"
  local log
  log=$(guest_log "$name")
  grep -E '^(probe|case)' "$log" | sed "s/^/  $name: /" >&2
  [ "$GUEST_RC" = 0 ] || { tail -n 30 "$log" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  echo "  $name: probe0 stats: $(guest_stats "$name" probe0 | tr '\n' ' ')" >&2
  guest_stop "$name"
  python3 - "$log" "$img" <<'PY' || fail "$name: a DMA to something other than guest RAM was not refused"
import re, sys
log, img = open(sys.argv[1], errors="replace").read(), sys.argv[2]
cases = re.findall(r"^case (\S+) status (\d+) used (\d+) device_status 0x([0-9a-f]+)$", log, re.M)
assert len(cases) == 9, f"expected 9 case lines, got {len(cases)}"
ok = True
for spec, status, used, dstat in cases:
    status, used, dstat = int(status), int(used), int(dstat, 16)
    ram = ":ram:" in spec
    if ram:
        good = status == 0 and used == 1 and not dstat & 0x40
        want = "status 0 (OK)"
    else:
        # refused: an error status in a completed request, or the device marks itself broken
        good = (used == 1 and status in (1, 2)) or bool(dstat & 0x40)
        want = "IOERR or DEVICE_NEEDS_RESET"
    print(f"  {spec:24s} -> status {status} used {used} device_status 0x{dstat:02x}: "
          f"{'ok' if good else 'WRONG, want ' + want}", file=sys.stderr)
    ok &= good
# The first control request wrote 4096 bytes of 0x5a at sector 0, the last OUT 512 more; no
# refused OUT may have replaced them with ROM or MMIO contents.
with open(img, "rb") as f:
    head = f.read(4096)
if head != b"\x5a" * 4096:
    print("  sector 0..7 of the probe image no longer hold the control pattern", file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
PY
  say "$name: every non-RAM DMA target refused, RAM requests served; PASS"
}

run_dma dma
say "test-dma: PASS"

# Reset with I/O in flight, through the real glue: the probe disk sits on null-co with 1 s of
# latency per request; the probe resets the device 50 ms after submitting a read, refills the
# memory the read named, and 2 s later (the read has completed in the backend meanwhile) that
# memory must be untouched. Then a normal read must work on the re-initialised device.
cat >"$AERO_TEST_DIR/late-guest.sh" <<'EOF'
set -e
pdev=
for b in /sys/block/vd*; do
  [ "$(cat $b/serial 2>/dev/null)" = AERO-LATE ] && pdev=$b
done
[ -n "$pdev" ] || { echo "late disk not found"; ls /sys/block; exit 1; }
pbdf=$(basename "$(readlink -f $pdev/device/..)")
echo "$pbdf" > /sys/bus/pci/drivers/virtio-pci/unbind
aero-virtio-probe "$pbdf" late:ram:4096 in:ram:4096
EOF
run_late() {
  local name=late log
  guest_start "$name" "$AERO_TEST_DIR/late-guest.sh" \
    -drive driver=null-co,size=8M,latency-ns=1000000000,read-zeroes=on,if=none,id=d0 \
    -device aero-virtio-blk-pci,drive=d0,id=probe0,serial=AERO-LATE
  guest_wait "$name"
  log=$(guest_log "$name")
  grep -E '^case' "$log" | sed "s/^/  $name: /" >&2
  [ "$GUEST_RC" = 0 ] || { tail -n 30 "$log" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  echo "  $name: probe0 stats: $(guest_stats "$name" probe0 | tr '\n' ' ')" >&2
  guest_stop "$name"
  grep -q '^case late:ram:4096 untouched 1 ' "$log" ||
    fail "$name: a read completed after the reset wrote into guest memory"
  grep -q '^case in:ram:4096 status 0 used 1 ' "$log" ||
    fail "$name: the device did not serve a read after the reset"
  say "$name: the late completion wrote nothing, the device works after the reset; PASS"
}
run_late
