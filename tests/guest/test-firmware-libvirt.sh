#!/usr/bin/env bash
# Guest test, the installed UEFI system through libvirt: `aero-media domain --firmware uefi` writes
# the domain of a Windows 7 x64 installation (synthetic Windows 7 ISO as the install CD), and the
# disk it is given is what Setup would have left behind: a GPT disk whose EFI system partition
# holds \EFI\BOOT\BOOTX64.EFI (systemd-boot from Debian, standing in for Windows Boot Manager)
# and the Linux test guest. libvirt's embedded QEMU driver (qemu:///embed?root=DIR, no daemon)
# defines and starts the domain exactly as generated; OVMF must find the disk through the
# aero-virtio-blk-pci option ROM, honour the domain's boot order (disk before the install CD)
# and start the boot loader, and the booted Linux checks it runs from that aero disk and writes a
# marker that the host then finds in the qcow2 image.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/libvirt-lib.sh"

AM=$(aero_media)
VC=$(virt_console)
[ -x "$AM" ] || fail "$AM is missing (meson compile -C build)"
[ -x "$VC" ] || fail "$VC is missing (meson compile -C build; needs libvirt-dev)"
SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
for f in "$SDBOOT" /usr/share/OVMF/OVMF_CODE_4M.fd; do
  [ -e "$f" ] || fail "$f is missing (run scripts/install-deps.sh)"
done
for t in mkfs.fat mcopy sfdisk qemu-img virsh; do
  command -v "$t" >/dev/null || fail "$t is missing (run scripts/install-deps.sh)"
done
NAME=aero-uefi-installed
ROOT=$AERO_TEST_DIR/lv
URI=$(embed_root "$ROOT")
DIR=$AERO_TEST_DIR/uefi
mkdir -p "$DIR"
MARK_SECTOR=180000  # host -> guest: "AERO-DISK-ESP" (past the partition)
WRITE_SECTOR=190000 # guest -> host: "AERO-BOOTED-ESP-systemd-boot"
cleanup() {
  virsh -q -c "$URI" destroy "$NAME" >/dev/null 2>&1 || true
  virsh -q -c "$URI" undefine --nvram "$NAME" >/dev/null 2>&1 || true
  [ "$AERO_KEEP" = 1 ] || rm -rf "$AERO_TEST_DIR"
}
trap cleanup EXIT

# ---- the guest's script, as a second initramfs (tests/guest/init.sh runs /etc/aero/script.sh) --
cat >"$DIR/guest.sh" <<EOF
MARK_SECTOR=$MARK_SECTOR
WRITE_SECTOR=$WRITE_SECTOR
EOF
cat >>"$DIR/guest.sh" <<'EOF'
loader=$(sed -n 's/.*aero\.loader=\([a-z-]*\).*/\1/p' /proc/cmdline)
echo "booted loader=$loader"
found=
for b in /sys/block/vd*; do
  [ -e "$b" ] || continue
  n=${b##*/}
  pci=$(readlink -f "$b/device/..")
  mark=$(dd if=/dev/$n bs=512 skip=$MARK_SECTOR count=1 2>/dev/null | head -c 16 | tr -dc 'A-Z-')
  echo "disk $n mark=$mark pci $(cat $pci/vendor) $(cat $pci/device) subsys $(cat $pci/subsystem_device)"
  [ "$mark" = AERO-DISK-ESP ] && found=$n
done
[ -n "$found" ] || { echo "the disk OVMF booted is not visible to Linux"; exit 1; }
printf 'AERO-BOOTED-ESP-%s' "$loader" | dd of=/dev/$found bs=512 seek=$WRITE_SECTOR conv=sync,fsync 2>/dev/null ||
  { echo "write to /dev/$found failed"; exit 1; }
echo "wrote the boot marker to /dev/$found"
EOF

# ---- the "installed" system disk: GPT, one EFI system partition --------------------------------
say "building the installed-system disk (GPT + ESP, systemd-boot as \\EFI\\BOOT\\BOOTX64.EFI)"
stage=$DIR/stage
mkdir -p "$stage/extra/etc/aero"
install -m 0755 "$DIR/guest.sh" "$stage/extra/etc/aero/script.sh"
(cd "$stage/extra" && find . | cpio -o -H newc --quiet) | gzip -1 >"$stage/script.gz"
truncate -s 80M "$stage/esp.img"
mkfs.fat -F 32 -n AEROESP "$stage/esp.img" >/dev/null
printf 'default aero.conf\ntimeout 0\n' >"$stage/loader.conf"
printf 'title aero installed system\nlinux /vmlinuz\ninitrd /initrd\noptions console=ttyS0 quiet panic=-1 aero.loader=systemd-boot\n' \
  >"$stage/aero.conf"
export MTOOLS_SKIP_CHECK=1
mmd -i "$stage/esp.img" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
mcopy -i "$stage/esp.img" "$SDBOOT" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$stage/esp.img" "$stage/loader.conf" ::/loader/loader.conf
mcopy -i "$stage/esp.img" "$stage/aero.conf" ::/loader/entries/aero.conf
mcopy -i "$stage/esp.img" "$AERO_GUEST/vmlinuz" ::/vmlinuz
# one initrd: the guest's initramfs and the script's, concatenated on a 4-byte boundary (the
# kernel unpacks both and skips the zero padding between them)
cp "$AERO_GUEST/initramfs.cpio.gz" "$stage/initrd"
truncate -s %4 "$stage/initrd"
cat "$stage/script.gz" >>"$stage/initrd"
mcopy -i "$stage/esp.img" "$stage/initrd" ::/initrd
truncate -s 128M "$stage/disk.raw"
printf 'label: gpt\nstart=2048, size=163840, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"\n' |
  sfdisk -q "$stage/disk.raw"
dd if="$stage/esp.img" of="$stage/disk.raw" bs=1M seek=1 conv=notrunc status=none
printf 'AERO-DISK-ESP' | dd of="$stage/disk.raw" bs=512 seek=$MARK_SECTOR conv=notrunc,sync status=none
qemu-img convert -f raw -O qcow2 "$stage/disk.raw" "$DIR/disk.qcow2"
rm -rf "$stage"

# ---- the install CD: a synthetic Windows 7 x64 ISO (BIOS and UEFI El Torito entries) ----------
/usr/bin/python3 "$AERO_REPO/tests/media/mkwin7.py" iso "$DIR/win7.iso" --arch x64 --images 1 >/dev/null 2>&1 ||
  fail "mkwin7.py could not write a synthetic Windows 7 ISO"

# ---- the domain as aero-media writes it, defined and started through libvirt ----------------
"$AM" domain --quiet --name "$NAME" --iso "$DIR/win7.iso" --disk "$DIR/disk.qcow2" \
  --firmware uefi --net-header-len 10 --accel tcg --output "$DIR/domain.xml"
virt-xml-validate "$DIR/domain.xml" >"$DIR/validate.out" 2>&1 ||
  { cat "$DIR/validate.out" >&2; fail "virt-xml-validate rejects the UEFI domain XML"; }
say "libvirt: aero-media domain --firmware uefi --connect $URI --start (OVMF, disk from the installed system)"
t0=$(date +%s.%N)
"$AM" domain --name "$NAME" --iso "$DIR/win7.iso" --disk "$DIR/disk.qcow2" --reuse-disk \
  --memory 1024 --vcpus 1 --firmware uefi --net-header-len 10 --accel tcg --connect "$URI" --start --paused \
  >"$DIR/domain.out" 2>&1 || { cat "$DIR/domain.out" >&2; fail "aero-media domain --firmware uefi --start failed"; }
virsh -q -c "$URI" dumpxml "$NAME" >"$DIR/live.xml"
grep -q "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>" "$DIR/live.xml" ||
  fail "the running domain does not use OVMF: $(grep -A2 '<os' "$DIR/live.xml")"
rc=0
"$VC" "$URI" "$NAME" "${AERO_FW_BOOT_TIMEOUT:-300}" >"$DIR/console.raw" 2>"$DIR/console.err" || rc=$?
t1=$(date +%s.%N)
log=$DIR/console.log
tr -d '\r' <"$DIR/console.raw" >"$log"
virsh -q -c "$URI" destroy "$NAME" >/dev/null 2>&1 || true
{ grep -E '^(booted|disk|wrote) ' "$log" || true; } | sed 's/^/  /' >&2
if [ "$rc" != 0 ]; then
  tail -n 30 "$log" "$DIR/console.err" >&2
  grep -aq 'EFI Internal Shell' "$log" && fail "OVMF found nothing to boot on the aero disk (UEFI shell)"
  fail "the installed system did not boot through libvirt (rc=$rc)"
fi
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "  command to guest result: %.1f s\n", b - a }' >&2
grep -aq 'aero-virtio-blk: UEFI driver bound' "$log" || fail "the aero-virtio-blk option ROM driver did not bind"
grep -q '^booted loader=systemd-boot$' "$log" || fail "the guest was not started by the ESP's boot loader"
grep -q '^disk vd[a-z]* mark=AERO-DISK-ESP pci 0x1af4 0x1042 subsys 0x0002$' "$log" ||
  fail "Linux does not see the booted disk as aero-virtio-blk-pci"
qemu-img convert -f qcow2 -O raw "$DIR/disk.qcow2" "$DIR/after.raw"
dd if="$DIR/after.raw" bs=512 skip=$WRITE_SECTOR count=1 status=none | grep -aq 'AERO-BOOTED-ESP-systemd-boot' ||
  fail "the guest's write to its system disk is not in disk.qcow2"
echo "ok - libvirt: the aero-media domain --firmware uefi domain booted its installed system (GPT/ESP on aero-virtio-blk-pci) through OVMF"
