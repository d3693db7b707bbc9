#!/usr/bin/env bash
# Guest test, firmware boot: the machine's firmware itself reads the boot loader from
# aero-virtio-blk-pci, as an installed Windows 7 needs after Setup. Boot disks are built here
# from Debian packages: an MBR disk whose one active FAT partition (type EF, so also an ESP)
# holds syslinux for BIOS and systemd-boot as \EFI\BOOT\BOOTX64.EFI for UEFI, both starting
# build/guest's kernel with "aero.disk=<tag> aero.loader=<loader>". No direct kernel boot, no
# other disk, only aero devices (-nodefaults).
#   SeaBIOS: pc and q35, and bootindex choosing the second of two aero disks.
#   OVMF (Debian's OVMF_CODE_4M.fd): q35 root bus, behind a pcie-root-port, and bootindex;
#   the disk is driven by the device's own UEFI option ROM (firmware/blk_uefi.c), whose
#   "bound" line must appear on the console. Also a disk without a boot loader: OVMF's UEFI
#   shell runs its startup.nsh, which writes a file (BlockIo writes) and starts the kernel's
#   EFI stub. Baseline: stock virtio-blk-pci,disable-legacy=on. Counter-check: with the ROM
#   switched off (romfile= or rombar=0) OVMF has no driver for the disk and starts its shell.
# In every case the booted Linux finds the disk it was booted from (by a marker the host wrote
# past the partition), checks it is the aero device, and writes a marker that the host must
# then find in that disk's image file.
set -euo pipefail
[ -z "${AERO_TEST_DIR:-}" ] || mkdir -p "$AERO_TEST_DIR"
. "$(dirname "$0")/lib.sh"

OVMF_CODE=${AERO_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${AERO_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
MARK_SECTOR=180000  # host -> guest: "AERO-DISK-<tag>" (past the 80 MiB partition)
WRITE_SECTOR=190000 # guest -> host: "AERO-BOOTED-<tag>-<loader>"
BOOT_TIMEOUT=${AERO_FW_BOOT_TIMEOUT:-240}
for f in "$OVMF_CODE" "$OVMF_VARS" /usr/lib/systemd/boot/efi/systemd-bootx64.efi \
  /usr/lib/syslinux/mbr/mbr.bin; do
  [ -e "$f" ] || fail "$f is missing (run scripts/install-deps.sh)"
done
for t in syslinux mkfs.fat mcopy sfdisk; do
  command -v "$t" >/dev/null || fail "$t is missing (run scripts/install-deps.sh)"
done

# make_bootdisk IMG TAG [shell]
# "shell": no \EFI\BOOT\BOOTX64.EFI but a startup.nsh, so OVMF ends up in its UEFI shell, which
# writes a file to the disk (BlockIo writes and flush through the option ROM driver) and then
# starts the kernel through its EFI stub.
make_bootdisk() {
  local img=$1 tag=$2 kind=${3:-loaders} tmp
  tmp=$(mktemp -d "$AERO_TEST_DIR/disk.XXXXXX")
  local args="console=ttyS0 quiet panic=-1 aero.disk=$tag"
  truncate -s 80M "$tmp/fat.img"
  mkfs.fat -n "AERO$tag" "$tmp/fat.img" >/dev/null
  syslinux --install "$tmp/fat.img"
  printf 'DEFAULT aero\nPROMPT 0\nTIMEOUT 0\nLABEL aero\n  KERNEL /vmlinuz\n  INITRD /initrd\n  APPEND %s aero.loader=syslinux\n' \
    "$args" >"$tmp/syslinux.cfg"
  printf 'default aero.conf\ntimeout 0\n' >"$tmp/loader.conf"
  printf 'title aero %s\nlinux /vmlinuz\ninitrd /initrd\noptions %s aero.loader=systemd-boot\n' \
    "$tag" "$args" >"$tmp/aero.conf"
  export MTOOLS_SKIP_CHECK=1
  mmd -i "$tmp/fat.img" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
  if [ "$kind" = shell ]; then
    printf 'echo -off\r\necho AERO-UEFI-SHELL-WROTE-%s >a fs0:\\written.txt\r\nfs0:\\linux.efi initrd=\\initrd %s aero.loader=uefi-shell\r\n' \
      "$tag" "$args" >"$tmp/startup.nsh"
    mcopy -i "$tmp/fat.img" "$tmp/startup.nsh" ::/startup.nsh
    mcopy -i "$tmp/fat.img" "$AERO_GUEST/vmlinuz" ::/linux.efi
  else
    mcopy -i "$tmp/fat.img" /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/EFI/BOOT/BOOTX64.EFI
  fi
  mcopy -i "$tmp/fat.img" "$tmp/loader.conf" ::/loader/loader.conf
  mcopy -i "$tmp/fat.img" "$tmp/aero.conf" ::/loader/entries/aero.conf
  mcopy -i "$tmp/fat.img" "$tmp/syslinux.cfg" ::/syslinux.cfg
  mcopy -i "$tmp/fat.img" "$AERO_GUEST/vmlinuz" ::/vmlinuz
  mcopy -i "$tmp/fat.img" "$AERO_GUEST/initramfs.cpio.gz" ::/initrd
  rm -f "$img"
  truncate -s 96M "$img"
  echo 'start=2048, size=163840, type=ef, bootable' | sfdisk -q "$img"
  dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" bs=440 count=1 conv=notrunc status=none
  dd if="$tmp/fat.img" of="$img" bs=1M seek=1 conv=notrunc status=none
  printf 'AERO-DISK-%s' "$tag" | dd of="$img" bs=512 seek=$MARK_SECTOR conv=notrunc,sync status=none
  rm -rf "$tmp"
}

cat >"$AERO_TEST_DIR/fw-guest.sh" <<EOF
MARK_SECTOR=$MARK_SECTOR
WRITE_SECTOR=$WRITE_SECTOR
EOF
cat >>"$AERO_TEST_DIR/fw-guest.sh" <<'EOF'
tag=$(sed -n 's/.*aero\.disk=\([A-Z]\).*/\1/p' /proc/cmdline)
loader=$(sed -n 's/.*aero\.loader=\([a-z-]*\).*/\1/p' /proc/cmdline)
echo "booted disk=$tag loader=$loader"
[ -n "$tag" ] || { echo "not booted from a test disk: $(cat /proc/cmdline)"; exit 1; }
found=
for b in /sys/block/vd*; do
  [ -e "$b" ] || continue
  n=${b##*/}
  pci=$(readlink -f "$b/device/..")
  mark=$(dd if=/dev/$n bs=512 skip=$MARK_SECTOR count=1 2>/dev/null | head -c 16 | tr -dc 'A-Z-')
  echo "disk $n mark=$mark pci $(cat $pci/vendor) $(cat $pci/device) subsys $(cat $pci/subsystem_device)"
  [ "$mark" = "AERO-DISK-$tag" ] && found=$n
done
[ -n "$found" ] || { echo "the disk the firmware booted (AERO-DISK-$tag) is not visible to Linux"; exit 1; }
printf 'AERO-BOOTED-%s-%s' "$tag" "$loader" | dd of=/dev/$found bs=512 seek=$WRITE_SECTOR conv=sync,fsync 2>/dev/null ||
  { echo "write to /dev/$found failed"; exit 1; }
echo "wrote the boot marker to /dev/$found"
EOF

mkdir -p "$AERO_TEST_DIR/disks"
say "building boot disks (syslinux + systemd-boot on an MBR/ESP disk) from Debian packages"
make_bootdisk "$AERO_TEST_DIR/disks/A.img" A
make_bootdisk "$AERO_TEST_DIR/disks/B.img" B
make_bootdisk "$AERO_TEST_DIR/disks/C.img" C shell

# fw_case NAME FIRMWARE(seabios|ovmf) EXPECT_TAG EXPECT_LOADER DEVICE(aero|stock) qemu-args...
# DISK_A / DISK_B / DISK_C in the arguments name this case's copies of the boot disks.
fw_case() {
  local name=$1 fw=$2 tag=$3 loader=$4 device=$5
  shift 5
  local dir args=() a log waited=0 out
  dir=$(guest_dir "$name")
  mkdir -p "$dir"
  cp --sparse=always "$AERO_TEST_DIR"/disks/[ABC].img "$dir/"
  for a in "$@"; do
    a=${a//DISK_A/$dir/A.img}
    a=${a//DISK_B/$dir/B.img}
    args+=("${a//DISK_C/$dir/C.img}")
  done
  if [ "$fw" = ovmf ]; then
    cp "$OVMF_VARS" "$dir/vars.fd"
    args=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
      -drive "if=pflash,format=raw,unit=1,file=$dir/vars.fd" "${args[@]}")
  fi
  # the firmware's debug port (SeaBIOS writes its boot log there) goes to firmware.log
  AERO_BOOT=firmware guest_start "$name" "$AERO_TEST_DIR/fw-guest.sh" -nodefaults \
    -debugcon "file:$dir/firmware.log" -global isa-debugcon.iobase=0x402 "${args[@]}"
  log=$(guest_log "$name")
  # fail fast when the firmware found nothing to boot instead of waiting for the timeout
  while ! grep -q '^AERO-GUEST-EXIT ' "$log" 2>/dev/null; do
    if [ "$loader" != uefi-shell ] && grep -aq 'starting Boot[0-9A-F]* "EFI Internal Shell"' "$log" 2>/dev/null; then
      guest_stop "$name"
      fail "$name: OVMF found nothing to boot and started the UEFI shell (log: $log)"
    fi
    if grep -aq 'No bootable device' "$dir/firmware.log" 2>/dev/null; then
      guest_stop "$name"
      fail "$name: SeaBIOS found no bootable device (log: $dir/firmware.log)"
    fi
    guest_alive "$name" || break
    if [ $waited -ge "$BOOT_TIMEOUT" ]; then
      guest_stop "$name"
      fail "$name: the guest did not boot within ${BOOT_TIMEOUT}s (log: $log)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  guest_wait "$name"
  guest_stop "$name"
  out=$(sed -n '/^AERO-GUEST-START/,/^AERO-GUEST-EXIT/p' "$log" | tr -d '\r')
  aero_quiet || sed -n '/^booted\|^disk\|^wrote/s/^/    /p' <<<"$out" >&2
  [ "$GUEST_RC" = 0 ] || { echo "$out" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  grep -q "^booted disk=$tag loader=$loader\$" <<<"$out" ||
    fail "$name: expected disk $tag through $loader, got: $(grep '^booted' <<<"$out")"
  if [ "$device" = aero ]; then
    grep -q "^disk vd[a-z]* mark=AERO-DISK-$tag pci 0x1af4 0x1042 subsys 0x0002\$" <<<"$out" ||
      fail "$name: Linux does not see the booted disk as aero-virtio-blk-pci (1af4:1042 subsys 0002)"
    if [ "$fw" = ovmf ]; then
      grep -aq 'aero-virtio-blk: UEFI driver bound' "$log" ||
        fail "$name: the aero-virtio-blk UEFI option ROM driver did not bind"
    fi
  fi
  dd if="$dir/$tag.img" bs=512 skip=$WRITE_SECTOR count=1 status=none | grep -aq "AERO-BOOTED-$tag-$loader" ||
    fail "$name: the guest's write to its boot disk is not in $tag.img"
  say "ok   $name: $fw booted disk $tag via $loader; Linux wrote to that same disk"
}

# ovmf_without_rom NAME qemu-args...: the same disk with the option ROM switched off must leave
# OVMF without a boot option for it (it starts its UEFI shell): the ROM is what makes it boot.
ovmf_without_rom() {
  local name=$1 dir log waited=0
  shift
  dir=$(guest_dir "$name")
  mkdir -p "$dir"
  cp --sparse=always "$AERO_TEST_DIR/disks/A.img" "$dir/"
  cp "$OVMF_VARS" "$dir/vars.fd"
  AERO_BOOT=firmware guest_start "$name" "$AERO_TEST_DIR/fw-guest.sh" -nodefaults \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE" \
    -drive "if=pflash,format=raw,unit=1,file=$dir/vars.fd" \
    -M q35 -drive "file=$dir/A.img,if=none,id=dA,format=raw" "$@"
  log=$(guest_log "$name")
  until grep -aq 'starting Boot[0-9A-F]* "EFI Internal Shell"' "$log" 2>/dev/null; do
    grep -q '^AERO-GUEST-EXIT ' "$log" 2>/dev/null && fail "$name: OVMF booted the disk without the option ROM"
    guest_alive "$name" || fail "$name: QEMU exited (see $(guest_dir "$name")/qemu.out)"
    [ $waited -lt "$BOOT_TIMEOUT" ] || { guest_stop "$name"; fail "$name: OVMF neither booted nor started its shell"; }
    sleep 1
    waited=$((waited + 1))
  done
  guest_stop "$name"
  grep -aq 'aero-virtio-blk: UEFI driver bound' "$log" && fail "$name: the option ROM driver bound although it was off"
  say "ok   $name: without the option ROM OVMF has no driver for the disk (UEFI shell)"
}

AERO_GUEST_TIMEOUT=$BOOT_TIMEOUT
blk() { echo "-drive file=DISK_$1,if=none,id=d$1,format=raw -device ${3:-aero-virtio-blk-pci},drive=d$1${2:-}"; }

# shellcheck disable=SC2046 # word splitting of blk's output is intended
{
  fw_case seabios-pc seabios A syslinux aero -M pc $(blk A)
  fw_case seabios-q35 seabios A syslinux aero -M q35 $(blk A)
  fw_case seabios-bootindex seabios B syslinux aero -M pc \
    $(blk A ,addr=0x4,bootindex=2) $(blk B ,addr=0x5,bootindex=1)
  fw_case ovmf-stock-baseline ovmf A systemd-boot stock -M q35 \
    $(blk A ,disable-legacy=on,romfile= virtio-blk-pci)
  fw_case ovmf-q35 ovmf A systemd-boot aero -M q35 $(blk A)
  fw_case ovmf-root-port ovmf A systemd-boot aero -M q35 \
    -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x4 $(blk A ,bus=rp0)
  fw_case ovmf-bootindex ovmf B systemd-boot aero -M q35 \
    $(blk A ,addr=0x4,bootindex=2) $(blk B ,addr=0x5,bootindex=1)
  ovmf_without_rom ovmf-romfile-off -device aero-virtio-blk-pci,drive=dA,romfile=
  ovmf_without_rom ovmf-rombar-off -device aero-virtio-blk-pci,drive=dA,rombar=0
  fw_case ovmf-shell-write ovmf C uefi-shell aero -M q35 $(blk C)
  MTOOLS_SKIP_CHECK=1 mtype -i "$(guest_dir ovmf-shell-write)/C.img@@1M" ::/written.txt 2>/dev/null |
    tr -d '\0' | grep -aq 'AERO-UEFI-SHELL-WROTE-C' ||
    fail "ovmf-shell-write: the file the UEFI shell wrote through the option ROM driver is not in C.img"
  say "ok   ovmf-shell-write: the UEFI shell's write through the option ROM driver is in the image"
}
say "firmware boot: all cases passed"
