#!/usr/bin/env bash
# Installs every Debian 12 package the build, the patched QEMU, the test guest and the media
# builder need. Idempotent; skips apt entirely when everything is already present.
set -euo pipefail

PKGS=(
  # library + unit tests
  build-essential meson ninja-build pkg-config check libglib2.0-dev
  # fuzz targets (libFuzzer, ASan, UBSan)
  clang libclang-rt-14-dev
  # unit tests under memcheck
  valgrind
  # patched QEMU from Debian's source package
  dpkg-dev patch libpixman-1-dev libslirp-dev libfdt-dev flex bison python3-venv
  # QEMU's ALSA audio backend (the snd capture test)
  libasound2-dev
  # QEMU run-time firmware
  seabios ipxe-qemu qemu-system-data
  # Linux test guest
  busybox-static fio cpio kmod xz-utils zstd e2fsprogs qemu-utils python3
  # media builder
  libwim-dev wimtools libhivex-dev libhivex-bin libisofs-dev libisoburn-dev xorriso
  libjson-glib-dev libgnutls28-dev gnutls-bin openssl python3-hivex libxml2-utils
  # UDF bridge fixtures (media and UDF reader tests)
  genisoimage
  # UEFI option ROM (firmware/) and firmware boot tests: OVMF, boot disks built at test time
  gnu-efi ovmf mtools dosfstools fdisk syslinux syslinux-common systemd-boot-efi
  # network boot test: the PXE boot file is a GRUB image built at test time (grub-mkimage)
  grub-common grub-efi-amd64-bin
  # aero-media domain / vm (libvirt's C API, libxml2), the libvirt guest test and demo (embedded
  # QEMU driver, virsh, virt-xml-validate, a bootable ISO with ISOLINUX)
  libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-dev isolinux
  # the patched QEMU's audio backends (PulseAudio/PipeWire, ALSA)
  libpulse-dev libasound2-dev
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
