#!/usr/bin/env bash
# aero-media domain: the libvirt domain XML for a Windows 7 install, on synthetic Windows-like
# media (mkwin7.py) and driver ISOs (fixtures.py + aero-media driver-iso). Every XML must pass
# virt-xml-validate (libvirt's own schema); its content is read back with xmllint XPath: q35,
# emulator, disk/NIC/input as native devices switched to the aero drivers by <qemu:override>,
# the input functions 0/1/2 of one slot, CD-ROMs on SATA, boot order, VNC on localhost, std VGA,
# pty serial, ICH9 USB, SeaBIOS or OVMF, type qemu/kvm, header-len 12 for virtio-win's NetKVM, 10
# for Aero's net driver, and --sound on as a native <sound> + <audio> switched to
# aero-virtio-snd-pci. Bad input fails with one line naming the problem and writes nothing.
# Needs the patched QEMU (the emulator is probed): skipped when it has not been built.
#   test-domain.sh AERO_MEDIA_BINARY
set -euo pipefail
AM=${1:?usage: test-domain.sh path/to/aero-media}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
QEMU=${AERO_QEMU:-$REPO/build/qemu/qemu-system-x86_64}
if [ ! -x "$QEMU" ]; then
  echo "SKIP: $QEMU is not built (scripts/build-qemu.sh); aero-media domain probes its emulator"
  exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/aero-domain-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }
x() { xmllint --xpath "$2" "$1" 2>/dev/null; } # x FILE XPATH -> value
Q='*[local-name()="override"]/*[local-name()="device"]'

"$PY" "$HERE/mkwin7.py" iso "$T/x64.iso" --arch x64 --images 1 >/dev/null 2>&1
"$PY" "$HERE/mkwin7.py" iso "$T/x86.iso" --arch x86 --images 1 --no-efi >/dev/null 2>&1
python3 "$HERE/fixtures.py" drivers "$T/vw" --layout virtio-win
python3 "$HERE/fixtures.py" drivers "$T/aero" --layout aero --net-service aero_virtio_net
"$AM" driver-iso --quiet --drivers "$T/vw" --output "$T/virtio-win.iso"
"$AM" driver-iso --quiet --drivers "$T/aero" --output "$T/aero-drivers.iso"
COMMON=(--name win7 --iso "$T/x64.iso" --disk "$T/win7.qcow2" --emulator "$QEMU" --accel tcg)
D0=(--drivers-iso "$T/virtio-win.iso")

# ---- a BIOS domain with virtio-win's drivers ------------------------------------------------
"$AM" domain "${COMMON[@]}" --drivers-iso "$T/virtio-win.iso" --output "$T/bios.xml" 2>"$T/bios.err"
virt-xml-validate "$T/bios.xml" >/dev/null 2>&1 || fail "virt-xml-validate rejects bios.xml"
[ ! -e "$T/win7.qcow2" ] || fail "writing the XML created the disk"
grep -q "header-len 12" "$T/bios.err" || fail "the run did not say which net driver it found: $(cat "$T/bios.err")"
X=$T/bios.xml
[ "$(x "$X" 'string(/domain/@type)')" = qemu ] || fail "--accel tcg: want type='qemu'"
[ "$(x "$X" 'string(/domain/os/type/@machine)')" = q35 ] || fail "machine is not q35"
[ "$(x "$X" 'string(/domain/devices/emulator)')" = "$QEMU" ] || fail "emulator is not the patched QEMU"
[ "$(x "$X" 'count(/domain/os/loader)')" = 0 ] || fail "BIOS domain has a loader (SeaBIOS is QEMU's default)"
[ "$(x "$X" 'string(/domain/devices/disk[@device="disk"]/target/@bus)')" = virtio ] || fail "disk is not a native virtio disk"
[ "$(x "$X" 'string(/domain/devices/disk[@device="disk"]/source/@file)')" = "$T/win7.qcow2" ] || fail "disk path"
[ "$(x "$X" 'string(/domain/devices/disk[@device="disk"]/driver/@type)')" = qcow2 ] || fail "disk format"
[ "$(x "$X" 'string(/domain/devices/disk[@device="disk"]/boot/@order)')" = 1 ] || fail "disk is not boot order 1"
[ "$(x "$X" 'string(/domain/devices/disk[source/@file="'"$T/x64.iso"'"]/boot/@order)')" = 2 ] || fail "install CD is not boot order 2"
[ "$(x "$X" 'count(/domain/devices/disk[@device="cdrom"][target/@bus="sata"])')" = 2 ] || fail "want both ISOs on SATA CD-ROMs"
[ "$(x "$X" 'count(/domain/devices/disk[source/@file="'"$T/virtio-win.iso"'"])')" = 1 ] || fail "driver ISO missing"
[ "$(x "$X" 'string(/domain/devices/interface/@type)')" = user ] || fail "NIC is not user networking"
[ "$(x "$X" 'string(/domain/devices/interface/model/@type)')" = virtio ] || fail "NIC is not a native virtio model"
for t in keyboard:0x0:on mouse:0x1: tablet:0x2:; do
  IFS=: read -r kind fn mf <<<"$t"
  a="/domain/devices/input[@type='$kind'][@bus='virtio']/address"
  [ "$(x "$X" "string($a/@slot)")" = 0x0a ] && [ "$(x "$X" "string($a/@bus)")" = 0x00 ] || fail "$kind not in slot 0x0a of pcie.0"
  [ "$(x "$X" "string($a/@function)")" = "$fn" ] || fail "$kind is not function $fn"
  [ "$(x "$X" "string($a/@multifunction)")" = "$mf" ] || fail "$kind multifunction='$mf' expected"
done
for pair in ua-aero-disk:aero-virtio-blk-pci ua-aero-nic:aero-virtio-net-pci ua-aero-kbd:aero-virtio-keyboard-pci \
            ua-aero-mouse:aero-virtio-mouse-pci ua-aero-tablet:aero-virtio-tablet-pci; do
  alias=${pair%%:*} drv=${pair#*:}
  [ "$(x "$X" "count(/domain/devices/*[alias/@name='$alias'])")" = 1 ] || fail "no device with alias $alias"
  [ "$(x "$X" "string(/domain/$Q[@alias='$alias']/*/*[@name='driver']/@value)")" = "$drv" ] ||
    fail "$alias is not switched to $drv"
done
[ "$(x "$X" "string(/domain/$Q[@alias='ua-aero-nic']/*/*[@name='header-len']/@value)")" = 12 ] ||
  fail "virtio-win NetKVM needs header-len 12"
[ "$(x "$X" 'count(/domain/*[local-name()="commandline"])')" = 0 ] || fail "nothing should need qemu:commandline"
[ "$(x "$X" 'string(/domain/devices/graphics[@type="vnc"]/listen/@address)')" = 127.0.0.1 ] || fail "VNC not on localhost"
[ "$(x "$X" 'string(/domain/devices/video/model/@type)')" = vga ] || fail "video is not std VGA"
[ "$(x "$X" 'string(/domain/devices/serial/@type)')" = pty ] || fail "serial is not a pty"
[ "$(x "$X" 'count(/domain/devices/sound)')" = 0 ] || fail "a sound device without --sound on"
[ "$(x "$X" 'count(/domain/devices/controller[@type="usb"][@model="ich9-ehci1" or starts-with(@model, "ich9-uhci")])')" = 4 ] ||
  fail "USB is not ICH9 EHCI + UHCI (what Windows 7 drives)"
pass "BIOS domain: valid XML, native devices switched to the aero drivers, header-len 12 for NetKVM"

# ---- Aero's drivers, UEFI, stdout --------------------------------------------------------------
"$AM" domain "${COMMON[@]}" --quiet --drivers-iso "$T/aero-drivers.iso" --firmware uefi --memory 4096 --vcpus 4 \
  --network bridge=br0 >"$T/uefi.xml"
virt-xml-validate "$T/uefi.xml" >/dev/null 2>&1 || fail "virt-xml-validate rejects the UEFI XML"
X=$T/uefi.xml
[ "$(x "$X" "string(/domain/$Q[@alias='ua-aero-nic']/*/*[@name='header-len']/@value)")" = 10 ] ||
  fail "Aero's net driver needs header-len 10"
[ "$(x "$X" 'string(/domain/os/loader)')" = /usr/share/OVMF/OVMF_CODE_4M.fd ] || fail "UEFI loader is not Debian's OVMF"
[ "$(x "$X" 'string(/domain/os/loader/@type)')" = pflash ] || fail "OVMF not as pflash"
[ "$(x "$X" 'string(/domain/os/nvram/@template)')" = /usr/share/OVMF/OVMF_VARS_4M.fd ] || fail "no OVMF variable template"
[ "$(x "$X" 'string(/domain/memory)')" = 4096 ] && [ "$(x "$X" 'string(/domain/vcpu)')" = 4 ] || fail "memory/vcpus"
[ "$(x "$X" 'string(/domain/devices/interface/source/@bridge)')" = br0 ] || fail "bridge network"
"$AM" domain "${COMMON[@]}" --quiet --drivers-iso "$T/aero-drivers.iso" --network network=default >"$T/net.xml"
[ "$(x "$T/net.xml" 'string(/domain/devices/interface/source/@network)')" = default ] || fail "libvirt network"
pass "UEFI domain on OVMF, Aero's net driver -> header-len 10, bridge and network NICs"

# ---- sound: a native <sound> switched to aero-virtio-snd-pci, with its <audio> backend ---------
"$AM" domain "${COMMON[@]}" --quiet "${D0[@]}" --sound on >"$T/snd.xml"
virt-xml-validate "$T/snd.xml" >/dev/null 2>&1 || fail "virt-xml-validate rejects the sound XML"
X=$T/snd.xml
[ "$(x "$X" 'count(/domain/devices/sound[alias/@name="ua-aero-snd"])')" = 1 ] || fail "--sound on: no sound device"
[ "$(x "$X" "string(/domain/$Q[@alias='ua-aero-snd']/*/*[@name='driver']/@value)")" = aero-virtio-snd-pci ] ||
  fail "the sound device is not switched to aero-virtio-snd-pci"
[ "$(x "$X" "string(/domain/$Q[@alias='ua-aero-snd']/*/*[@name='protocol']/@value)")" = aero ] ||
  fail "the default sound encoding is not the contract's (aero)"
a=$(x "$X" 'string(/domain/devices/sound/audio/@id)')
[ -n "$a" ] && [ "$(x "$X" "string(/domain/devices/audio[@id='$a']/@type)")" = none ] ||
  fail "--sound on without --audio: want an <audio type='none'> the sound device uses"
"$AM" domain "${COMMON[@]}" --quiet "${D0[@]}" --sound on --audio "file=$T/out.wav" --sound-protocol virtio >"$T/snd2.xml"
virt-xml-validate "$T/snd2.xml" >/dev/null 2>&1 || fail "virt-xml-validate rejects the sound XML (file backend)"
X=$T/snd2.xml
[ "$(x "$X" 'string(/domain/devices/audio/@type)')" = file ] && [ "$(x "$X" 'string(/domain/devices/audio/@path)')" = "$T/out.wav" ] ||
  fail "--audio file=PATH: want <audio type='file' path='PATH'>"
[ "$(x "$X" "string(/domain/$Q[@alias='ua-aero-snd']/*/*[@name='protocol']/@value)")" = virtio ] ||
  fail "--sound-protocol virtio not passed to the device"
[ ! -e "$T/out.wav" ] || fail "writing the XML created the audio file"
pass "sound: <sound> + <audio> switched to aero-virtio-snd-pci, backend and encoding as asked"

# ---- accelerator: auto never hangs on a /dev/kvm that does not run guests ---------------------
s=$(date +%s)
"$AM" domain --name a --iso "$T/x64.iso" --disk "$T/d.qcow2" --emulator "$QEMU" --drivers-iso "$T/virtio-win.iso" \
  --output "$T/auto.xml" 2>"$T/auto.err"
e=$(( $(date +%s) - s ))
[ $e -le 15 ] || fail "--accel auto took ${e}s"
grep -q "^accelerator: " "$T/auto.err" || fail "--accel auto did not say what it chose"
if grep -q "^accelerator: KVM" "$T/auto.err"; then want=kvm; else want=qemu; fi
[ "$(x "$T/auto.xml" 'string(/domain/@type)')" = $want ] || fail "--accel auto: type does not match what it said"
"$AM" domain "${COMMON[@]}" --quiet --drivers-iso "$T/virtio-win.iso" --accel kvm >"$T/kvm.xml"
[ "$(x "$T/kvm.xml" 'string(/domain/@type)')" = kvm ] || fail "--accel kvm: want type='kvm'"
pass "--accel auto: $(sed -n 's/^accelerator: //p' "$T/auto.err") in ${e}s; --accel kvm forces type='kvm'"

# ---- bad input: one line, nothing written --------------------------------------------------
expect_error() {
  local what=$1 pattern=$2 status=$3
  shift 3
  local err st=0
  err=$("$AM" domain --quiet --output "$T/bad.xml" "$@" 2>&1) || st=$?
  [ $st = "$status" ] || fail "$what: exit status $st, want $status ($err)"
  [ "$(echo "$err" | wc -l)" -eq 1 ] || fail "$what: error is not one line: $err"
  echo "$err" | grep -q -- "$pattern" || fail "$what: unexpected error: $err"
  [ ! -e "$T/bad.xml" ] || fail "$what: wrote the output"
  ! ls -a "$T" | grep -q '\.tmp-' || fail "$what: left a temporary file"
  pass "$what -> $err"
}
echo junk >"$T/junk.iso"
mkdir -p "$T/plain/docs" && echo hi >"$T/plain/docs/notes.txt" && echo hi >"$T/plain/setup.txt"
xorriso -as mkisofs -quiet -o "$T/plain.iso" "$T/plain" 2>/dev/null
D=(--drivers-iso "$T/virtio-win.iso")
expect_error "missing ISO" "nothere.iso: no such file (--iso)" 1 "${COMMON[@]/$T\/x64.iso/$T/nothere.iso}" "${D[@]}"
expect_error "not an ISO" "junk.iso: not an ISO 9660 image (--iso)" 1 --name w --iso "$T/junk.iso" --disk "$T/d" "${D[@]}" --emulator "$QEMU"
expect_error "driver ISO without a manifest" "plain.iso: no manifest.json" 1 "${COMMON[@]}" --drivers-iso "$T/plain.iso"
expect_error "UEFI with x86 media" "x86.iso: x86 media: Windows 7 x86 boots by BIOS only" 1 \
  --name w --iso "$T/x86.iso" --disk "$T/d" "${D[@]}" --emulator "$QEMU" --firmware uefi
expect_error "UEFI without a UEFI boot entry" "plain.iso: no UEFI El Torito boot entry" 1 \
  --name w --iso "$T/plain.iso" --disk "$T/d" --net-header-len 12 --emulator "$QEMU" --firmware uefi
expect_error "emulator missing" "/nonexistent/qemu: no such emulator" 1 "${COMMON[@]}" "${D[@]}" --emulator /nonexistent/qemu
expect_error "emulator without the aero devices" "/bin/true: not the patched QEMU: '-device help' does not list aero-virtio-blk-pci" 1 \
  "${COMMON[@]}" "${D[@]}" --emulator /bin/true
expect_error "no driver ISO and no header length" "without --drivers-iso, --net-header-len must say" 1 "${COMMON[@]}"
expect_error "same ISO twice" "given as both --iso and --drivers-iso" 1 "${COMMON[@]}" --drivers-iso "$T/x64.iso"
expect_error "bad sound" "--sound must be on or off" 2 "${COMMON[@]}" "${D[@]}" --sound loud
expect_error "audio without sound" "--audio and --sound-protocol need --sound on" 2 "${COMMON[@]}" "${D[@]}" --audio alsa
expect_error "bad audio" "--audio must be none, pulseaudio, alsa or file=PATH" 2 "${COMMON[@]}" "${D[@]}" --sound on --audio jack
expect_error "bad sound protocol" "--sound-protocol must be aero or virtio" 2 "${COMMON[@]}" "${D[@]}" --sound on --sound-protocol spec
expect_error "audio file in no folder" "nodir/out.wav: not a file in an existing folder (--audio)" 1 "${COMMON[@]}" "${D[@]}" \
  --sound on --audio "file=$T/nodir/out.wav"
expect_error "bad firmware" "--firmware must be bios or uefi" 2 "${COMMON[@]}" "${D[@]}" --firmware coreboot
expect_error "bad network" "--network must be user, bridge=NAME or network=NAME" 2 "${COMMON[@]}" "${D[@]}" --network tap
expect_error "bad disk size" "--disk-size '12Q'" 2 "${COMMON[@]}" "${D[@]}" --disk-size 12Q
expect_error "bad name" "--name 'a b'" 1 --name "a b" --iso "$T/x64.iso" --disk "$T/d" "${D[@]}" --emulator "$QEMU"
expect_error "output over an input" "the output would overwrite an input" 1 "${COMMON[@]}" "${D[@]}" --output "$T/x64.iso"
expect_error "no libvirt daemon" "cannot connect to libvirt" 1 "${COMMON[@]}" "${D[@]}" --connect 'qemu+unix:///system?socket=/nonexistent/sock' --define
[ ! -e "$T/win7.qcow2" ] || fail "a failed define created the disk"
echo "all domain tests passed"
