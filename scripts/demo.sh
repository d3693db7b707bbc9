#!/usr/bin/env bash
# The main job: build what is missing (library, patched QEMU, Linux test guest) and boot the test
# guest on aero devices only — aero-virtio-blk-pci disk, aero-virtio-net-pci NIC (slirp), and the
# keyboard/mouse/tablet input functions — show Linux's own virtio drivers using them (a fio run,
# a ping, a key press, mouse motion and wheel, a tablet position injected over QMP and read back
# from /dev/input), then print the devices' counters read over QMP.
#
#   scripts/demo.sh [--shell] [--disk FILE]
#
# --shell      interactive: boot the same machine with a shell on this terminal instead of the
#              scripted tour (Ctrl-A X quits QEMU)
# --disk FILE  use this raw or qcow2 image as the disk (default: a fresh 256 MiB scratch file)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
shell=0
disk=""
while [ $# -gt 0 ]; do
  case "$1" in
    --shell) shell=1; shift ;;
    --disk) disk=${2:?--disk needs a file}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

"$REPO/scripts/install-deps.sh"
"$REPO/scripts/build-qemu.sh"
"$REPO/scripts/build-guest.sh"

. "$REPO/tests/guest/lib.sh"
if [ -z "$disk" ]; then
  disk=$AERO_TEST_DIR/demo-disk.img
  truncate -s 256M "$disk"
fi
[ -r "$disk" ] || fail "demo.sh: cannot read disk image $disk"
fmt=raw
case "$disk" in *.qcow2) fmt=qcow2 ;; esac

DEVICES=(
  -drive "file=$disk,if=none,id=d0,format=$fmt,cache=writeback"
  -device aero-virtio-blk-pci,drive=d0,id=disk0,serial=AERO-DEMO-DISK
  -netdev user,id=n0
  -device aero-virtio-net-pci,netdev=n0,id=nic0,header-len=12
  -device aero-virtio-keyboard-pci,id=kbd0,addr=0x6.0,multifunction=on
  -device aero-virtio-mouse-pci,id=mouse0,addr=0x6.1
  -device aero-virtio-tablet-pci,id=tablet0,addr=0x6.2
)

if [ $shell = 1 ]; then
  exec "$AERO_QEMU" -accel tcg -m 1024 -nographic -no-reboot -nic none \
    -L /usr/share/seabios -L /usr/share/qemu \
    -kernel "$AERO_GUEST/vmlinuz" -initrd "$AERO_GUEST/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 i8042.noaux i8042.nokbd" "${DEVICES[@]}"
fi

cat >"$AERO_TEST_DIR/demo-guest.sh" <<'EOF'
echo "== PCI functions bound to virtio_pci"
for d in /sys/bus/pci/devices/*; do
  [ "$(cat $d/vendor)" = 0x1af4 ] || continue
  echo "$(basename $d)  $(cat $d/vendor):$(cat $d/device) rev $(cat $d/revision) subsys $(cat $d/subsystem_device) -> $(basename $(readlink $d/driver))"
done
echo "== virtio devices"
for v in /sys/bus/virtio/devices/*; do
  echo "$(basename $v)  id $(cat $v/device)  driver $(basename $(readlink $v/driver))  features $(cat $v/features)"
done
echo "== disk"
echo "/dev/vda: $(cat /sys/block/vda/size) sectors, serial $(cat /sys/block/vda/serial 2>/dev/null)"
fio --name=demo --filename=/dev/vda --direct=1 --ioengine=libaio --iodepth=8 --rw=randrw \
    --bs=4k --size=32M --runtime=3 --time_based --verify=0 2>&1 | grep -E "IOPS"
echo "== network"
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
ping -c 3 10.0.2.2 | tail -2
for c in rx_packets rx_bytes tx_packets tx_bytes; do
  echo "eth0 $c $(cat /sys/class/net/eth0/statistics/$c)"
done
echo "== input"
grep -E '^N: Name="Aero' /proc/bus/input/devices
evnode() { awk -v n="$1" '/^N: Name=/ { hit = ($0 ~ n) } hit && /^H: Handlers=/ { for (i = 1; i <= NF; i++) if ($i ~ /^event/) { sub(/^.*=/, "", $i); print $i; exit } }' /proc/bus/input/devices; }
decode() { od -An -v -w24 -td4 "$1" | awk -v dev="$2" '$5 % 65536 != 0 { printf "  %-8s type %d code %3d value %d\n", dev, $5 % 65536, int($5 / 65536), $6 }'; }
pids=
for n in Keyboard Mouse Tablet; do
  cat /dev/input/$(evnode "Aero Virtio $n") > /tmp/$n.bin & pids="$pids $!"
done
sleep 1
echo "INPUT-READY (the host now injects a key, motion, wheel and a tablet position over QMP)"
i=0
while ! decode /tmp/Keyboard.bin kbd | grep -q "code  30 value 0"; do
  i=$((i + 1)); [ $i -lt 150 ] || { echo "  no input arrived"; break; }
  sleep 0.2
done
sleep 0.5
kill $pids
echo "events read from /dev/input (EV_KEY 1, EV_REL 2, EV_ABS 3; SYN_REPORTs not shown):"
for n in Keyboard Mouse Tablet; do decode /tmp/$n.bin $n; done
echo "== interrupts"
grep -i virtio /proc/interrupts
EOF

AERO_APPEND="i8042.noaux i8042.nokbd" guest_start demo "$AERO_TEST_DIR/demo-guest.sh" "${DEVICES[@]}"
# Input through QEMU's input layer, as a VNC/GTK display would deliver it. QEMU sends pointer
# motion to the most recently activated pointer of its kind: relative to the mouse, absolute to
# the tablet; the wheel reaches the mouse node either way.
if wait_for_line demo '^INPUT-READY'; then
  ev() { guest_qmp demo "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[$1]}}" >/dev/null; }
  ev '{"type":"rel","data":{"axis":"x","value":25}},{"type":"rel","data":{"axis":"y","value":-10}}'
  ev '{"type":"btn","data":{"down":true,"button":"wheel-up"}}'
  ev '{"type":"btn","data":{"down":false,"button":"wheel-up"}}'
  ev '{"type":"abs","data":{"axis":"x","value":16384}},{"type":"abs","data":{"axis":"y","value":8192}}'
  ev '{"type":"key","data":{"down":true,"key":{"type":"qcode","data":"a"}}}'
  ev '{"type":"key","data":{"down":false,"key":{"type":"qcode","data":"a"}}}'
fi
guest_wait demo
sed -n '/^AERO-GUEST-START/,/^AERO-GUEST-EXIT/p' "$(guest_log demo)" | grep -v '^AERO-GUEST'
echo "== device counters (QMP qom-get .../stats)"
for dev in disk0 nic0 kbd0 mouse0 tablet0; do
  echo "-- $dev"
  guest_stats demo "$dev"
done
guest_stop demo
[ "$GUEST_RC" = 0 ] || fail "demo guest script failed (rc=$GUEST_RC)"
echo "demo finished: the Linux guest ran on aero-virtio devices"
