#!/usr/bin/env bash
# The main job, through libvirt: build what is missing (library and aero-media, patched QEMU,
# Linux test guest), make the test guest a bootable ISO, and let `aero-media domain` define and
# start it on libvirt's embedded QEMU driver (qemu:///embed?root=..., no daemon) on aero devices
# only: the disk on aero-virtio-blk-pci, the NIC on aero-virtio-net-pci (user networking), the
# keyboard/mouse/tablet functions of one aero input slot, and aero-virtio-snd-pci (--sound on,
# protocol=virtio, libvirt's <audio type='file'>: a WAV file). The guest is the 6.12 test guest
# (its kernel has virtio_snd). The guest's serial console is read through libvirt while Linux's
# own virtio drivers use each device (fio, a ping, a 440 Hz tone for 2 s, a key press, mouse
# motion and wheel, a tablet position injected through libvirt); then the devices' counters (QMP
# through libvirt) and libvirt's block stats; then the domain is torn down and the host measures
# the tone in the WAV file.
#
#   scripts/demo.sh [--shell] [--disk FILE]
#
# --shell      interactive: boot the same devices with a shell on this terminal, QEMU directly
#              (Ctrl-A X quits QEMU)
# --disk FILE  use this raw or qcow2 image as the disk (default: a fresh 256 MiB qcow2)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
shell=0
disk=""
while [ $# -gt 0 ]; do
  case "$1" in
    --shell) shell=1; shift ;;
    --disk) disk=${2:?--disk needs a file}; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

"$REPO/scripts/install-deps.sh"
[ -f "$REPO/build/build.ninja" ] || meson setup "$REPO/build" >/dev/null
meson compile -C "$REPO/build" >"$REPO/build/demo-compile.log" 2>&1 ||
  { tail -n 20 "$REPO/build/demo-compile.log" >&2; echo "demo.sh: build failed (build/demo-compile.log)" >&2; exit 1; }
"$REPO/scripts/build-qemu.sh"
"$REPO/scripts/build-guest.sh"
"$REPO/scripts/build-guest.sh" --backports

AERO_GUEST_KIND=612 # tests/guest/lib.sh: the 6.12 guest, whose kernel has virtio_snd
. "$REPO/tests/guest/lib.sh"
. "$REPO/tests/guest/libvirt-lib.sh"

if [ $shell = 1 ]; then
  if [ -z "$disk" ]; then
    disk=$AERO_TEST_DIR/demo-disk.img
    truncate -s 256M "$disk"
  fi
  [ -r "$disk" ] || fail "demo.sh: cannot read disk image $disk"
  fmt=raw
  case "$disk" in *.qcow2) fmt=qcow2 ;; esac
  exec "$AERO_QEMU" -accel tcg -m 1024 -nographic -no-reboot -nic none \
    -kernel "$AERO_GUEST/vmlinuz" -initrd "$AERO_GUEST/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 i8042.noaux i8042.nokbd" \
    -drive "file=$disk,if=none,id=d0,format=$fmt,cache=writeback" \
    -device aero-virtio-blk-pci,drive=d0,id=disk0,serial=AERO-DEMO-DISK \
    -netdev user,id=n0 -device aero-virtio-net-pci,netdev=n0,id=nic0,header-len=12 \
    -device aero-virtio-keyboard-pci,id=kbd0,addr=0x6.0,multifunction=on \
    -device aero-virtio-mouse-pci,id=mouse0,addr=0x6.1 \
    -device aero-virtio-tablet-pci,id=tablet0,addr=0x6.2
fi

NAME=aero-demo
DIR=$AERO_TEST_DIR
URI=$(embed_root "$DIR/libvirt")
disk_args=(--disk "$DIR/demo-disk.qcow2" --disk-size 256M)
if [ -n "$disk" ]; then
  [ -r "$disk" ] || fail "demo.sh: cannot read disk image $disk"
  disk_args=(--disk "$disk" --reuse-disk)
fi
cleanup() {
  virsh -q -c "$URI" destroy "$NAME" >/dev/null 2>&1 || true
  virsh -q -c "$URI" undefine "$NAME" >/dev/null 2>&1 || true
  [ "$AERO_KEEP" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT

cat >"$DIR/demo-guest.sh" <<'GUEST'
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
echo "== sound"
rmmod virtio_snd && insmod /lib/modules/virtio_snd.ko pcm_buffer_ms=640 # more buffer under TCG
grep . /proc/asound/cards /proc/asound/pcm
aero-snd-play play /dev/snd/pcmC0D0p 96000 --tone 440 --period 3840 --periods 4
echo "== input"
grep -E '^N: Name="Aero' /proc/bus/input/devices
evnode() { awk -v n="$1" '/^N: Name=/ { hit = ($0 ~ n) } hit && /^H: Handlers=/ { for (i = 1; i <= NF; i++) if ($i ~ /^event/) { sub(/^.*=/, "", $i); print $i; exit } }' /proc/bus/input/devices; }
decode() { od -An -v -w24 -td4 "$1" | awk -v dev="$2" '$5 % 65536 != 0 { printf "  %-8s type %d code %3d value %d\n", dev, $5 % 65536, int($5 / 65536), $6 }'; }
pids=
for n in Keyboard Mouse Tablet; do
  cat /dev/input/$(evnode "Aero Virtio $n") > /tmp/$n.bin & pids="$pids $!"
done
sleep 1
echo "INPUT-READY (the host now injects motion, wheel, a tablet position and a key through libvirt)"
i=0
while ! decode /tmp/Keyboard.bin kbd | grep -q "code  30 value 0"; do
  i=$((i + 1)); [ $i -lt 150 ] || { echo "  no input arrived"; break; }
  sleep 0.2
done
sleep 0.5
echo "events read from /dev/input (EV_KEY 1, EV_REL 2, EV_ABS 3; SYN_REPORTs not shown):"
for n in Keyboard Mouse Tablet; do decode /tmp/$n.bin $n; done
echo "== interrupts"
grep -i virtio /proc/interrupts
echo "COUNTERS-READY (the host reads the device counters through libvirt, then presses B)"
i=0
while ! decode /tmp/Keyboard.bin kbd | grep -q "code  48 value 0"; do
  i=$((i + 1)); [ $i -lt 300 ] || break
  sleep 0.2
done
kill $pids
GUEST
say "making the test guest a bootable ISO"
guest_iso "$DIR/demo-guest.iso" "$DIR/demo-guest.sh"
say "aero-media domain --connect '$URI' --start"
"$(aero_media)" domain --name "$NAME" --iso "$DIR/demo-guest.iso" "${disk_args[@]}" --memory 1024 --vcpus 1 \
  --net-header-len 12 --sound on --sound-protocol virtio --audio "file=$DIR/demo.wav" \
  --connect "$URI" --start --paused --output "$DIR/$NAME.xml" ||
  fail "aero-media domain failed"
say "reading the guest's console through libvirt (domain XML: $DIR/$NAME.xml, kept with AERO_KEEP=1)"
# live: the guest's own lines, and what the host prints while the guest waits (counters, block stats)
set +e
"$(virt_console)" "$URI" "$NAME" "$AERO_GUEST_TIMEOUT" ua-aero-disk ua-aero-nic ua-aero-kbd ua-aero-mouse ua-aero-tablet ua-aero-snd \
  2>"$DIR/console.err" | sed -u 's/\r$//' | tee "$DIR/console.log" | sed -u -n '/^AERO-GUEST-START/,/^AERO-GUEST-EXIT/p' |
  grep --line-buffered -v -e '^AERO-GUEST' -e '^COUNTERS-READY' -e '^== end of counters'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || { cat "$DIR/console.err" >&2; fail "demo guest script failed (rc=$rc)"; }

echo "== sound: what the host's audio file holds (libvirt <audio type='file'>)"
for i in $(seq 1 100); do # the guest powers off at the end of its script (on_poweroff destroy)
  [ "$(virsh -q -c "$URI" domstate "$NAME" 2>/dev/null)" = "shut off" ] && break
  sleep 0.3
done
virsh -q -c "$URI" destroy "$NAME" >/dev/null 2>&1 || true
python3 "$REPO/tests/guest/snd-tone.py" "$DIR/demo.wav"
echo "demo finished: the Linux guest ran on aero-virtio devices, defined and started through libvirt"
