#!/usr/bin/env bash
# Guest test, network boot through the firmware: OVMF's own network stack (MNP, DHCP4, PXE base
# code) runs over the SimpleNetwork protocol that aero-virtio-net-pci's built-in UEFI option ROM
# (firmware/net_uefi.c) installs, and boots from QEMU's user network (slirp's DHCP and TFTP).
# The boot file is GRUB, built here with grub-mkimage (grub-efi-amd64-bin): its efinet driver
# fetches the test guest's kernel and initramfs over TFTP through the same SimpleNetwork, and
# the booted Linux reports how it came up. Only aero devices (-nodefaults, no disk).
#   header-len=10 (the contract's default) on the q35 root bus;
#   header-len=12 behind a pcie-root-port; Linux's virtio_net then uses the same NIC after the
#   firmware let go of it (a TFTP download checked against the host's hash);
#   counter-check: with the ROM switched off (romfile=) OVMF has no driver for the NIC and,
#   with nothing else to boot, starts its UEFI shell.
# The frames go through the aero device: its tx/rx counters must show the downloads.
set -euo pipefail
[ -z "${AERO_TEST_DIR:-}" ] || mkdir -p "$AERO_TEST_DIR"
. "$(dirname "$0")/lib.sh"

OVMF_CODE=${AERO_OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${AERO_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
GRUB_EFI_DIR=/usr/lib/grub/x86_64-efi
BOOT_TIMEOUT=${AERO_FW_BOOT_TIMEOUT:-300}
for f in "$OVMF_CODE" "$OVMF_VARS" "$GRUB_EFI_DIR/efinet.mod"; do
  [ -e "$f" ] || fail "$f is missing (run scripts/install-deps.sh)"
done
command -v grub-mkimage >/dev/null || fail "grub-mkimage is missing (run scripts/install-deps.sh)"

# The TFTP root slirp serves: GRUB as the boot file (its configuration embedded), the kernel
# and initramfs it loads from the server the PXE DHCP exchange named.
TFTP=$AERO_TEST_DIR/tftp
mkdir -p "$TFTP"
cat >"$AERO_TEST_DIR/grub-embed.cfg" <<'EOF'
echo AERO-GRUB-NET: loading the kernel and initramfs over TFTP
net_ls_addr
linux (tftp)/vmlinuz console=ttyS0 quiet panic=-1 aero.loader=grub-net
initrd (tftp)/initrd
boot
EOF
say "building the network boot file (GRUB with efinet and tftp) from Debian's grub-efi-amd64-bin"
grub-mkimage -O x86_64-efi -d "$GRUB_EFI_DIR" -o "$TFTP/bootx64.efi" -p '(tftp)/' \
  -c "$AERO_TEST_DIR/grub-embed.cfg" efinet tftp net linux normal echo ||
  fail "grub-mkimage could not build the network boot file"
cp "$AERO_GUEST/vmlinuz" "$TFTP/vmlinuz"
cp "$AERO_GUEST/initramfs.cpio.gz" "$TFTP/initrd"
boot_sha=$(sha256sum "$TFTP/bootx64.efi" | cut -c1-64)

cat >"$AERO_TEST_DIR/net-guest.sh" <<EOF
BOOT_SHA=$boot_sha
EOF
cat >>"$AERO_TEST_DIR/net-guest.sh" <<'EOF'
loader=$(sed -n 's/.*aero\.loader=\([a-z-]*\).*/\1/p' /proc/cmdline)
echo "booted loader=$loader"
[ "$loader" = grub-net ] || { echo "not booted by the network boot file: $(cat /proc/cmdline)"; exit 1; }
nic=
for n in /sys/class/net/*; do
  [ -e "$n/device" ] || continue
  pci=$(readlink -f "$n/device/..")
  echo "nic ${n##*/} pci $(cat $pci/vendor) $(cat $pci/device) subsys $(cat $pci/subsystem_device)"
  [ "$(cat $pci/device)" = 0x1041 ] && nic=${n##*/}
done
[ -n "$nic" ] || { echo "no aero-virtio-net-pci interface"; exit 1; }
if [ -e /sys/firmware/qemu_fw_cfg/by_name/opt/aero/linuxnet ]; then
  ip link set "$nic" up
  ip addr add 10.0.2.15/24 dev "$nic"
  tftp -g -r bootx64.efi -l /tmp/boot.efi 10.0.2.2 || { echo "tftp over $nic failed"; exit 1; }
  got=$(sha256sum /tmp/boot.efi | cut -c1-64)
  [ "$got" = "$BOOT_SHA" ] || { echo "tftp over $nic: sha256 $got, host has $BOOT_SHA"; exit 1; }
  echo "linux tftp over $nic ok"
fi
EOF
echo 1 >"$AERO_TEST_DIR/linuxnet"

ovmf_args() {
  local dir=$1
  cp "$OVMF_VARS" "$dir/vars.fd"
  echo "-drive if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
  echo "-drive if=pflash,format=raw,unit=1,file=$dir/vars.fd"
}

# net_case NAME HEADER_LEN LINUX_NET(0|1) qemu-args...: boot from the network only.
net_case() {
  local name=$1 hdr=$2 linuxnet=$3
  shift 3
  local dir log waited=0 out stats t0 extra=()
  dir=$(guest_dir "$name")
  mkdir -p "$dir"
  t0=$(date +%s)
  [ "$linuxnet" = 1 ] && extra=(-fw_cfg "name=opt/aero/linuxnet,file=$AERO_TEST_DIR/linuxnet")
  # shellcheck disable=SC2046 # one argument per line
  AERO_BOOT=firmware guest_start "$name" "$AERO_TEST_DIR/net-guest.sh" -nodefaults -M q35 \
    $(ovmf_args "$dir") -debugcon "file:$dir/firmware.log" -global isa-debugcon.iobase=0x402 \
    -netdev "user,id=n0,tftp=$TFTP,bootfile=bootx64.efi" "${extra[@]}" "$@"
  log=$(guest_log "$name")
  while ! grep -q '^AERO-GUEST-EXIT ' "$log" 2>/dev/null; do
    if grep -aq 'starting Boot[0-9A-F]* "EFI Internal Shell"' "$log" 2>/dev/null; then
      guest_stop "$name"
      fail "$name: OVMF did not boot from the network and started the UEFI shell (log: $log)"
    fi
    guest_alive "$name" || fail "$name: QEMU exited (see $dir/qemu.out)"
    check_device_errors "$name"
    if [ $waited -ge "$BOOT_TIMEOUT" ]; then
      guest_stop "$name"
      fail "$name: the guest did not boot from the network within ${BOOT_TIMEOUT}s (log: $log)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  guest_wait "$name"
  stats=$(guest_stats "$name" nic0)
  guest_stop "$name"
  out=$(tr -d '\r' <"$log")
  grep -aq "aero-virtio-net: UEFI driver bound (AERO-W7-VIRTIO v1 option ROM), header $hdr bytes\$" <<<"$out" ||
    fail "$name: the option ROM driver did not bind with a $hdr-byte header: $(grep -a 'aero-virtio-net:' <<<"$out")"
  # the firmware's PXE client: slirp's DHCP answered, its TFTP served the boot file
  grep -aq 'Station IP address is 10.0.2.15' <<<"$out" || fail "$name: OVMF's PXE DHCP got no address from slirp"
  grep -aq 'NBP file downloaded successfully' <<<"$out" || fail "$name: OVMF did not download the boot file"
  grep -aq 'AERO-GRUB-NET: loading' <<<"$out" || fail "$name: the boot file (GRUB) did not run"
  out=$(sed -n '/^AERO-GUEST-START/,/^AERO-GUEST-EXIT/p' <<<"$out")
  aero_quiet || sed -n '/^booted\|^nic\|^linux/s/^/    /p' <<<"$out" >&2
  [ "$GUEST_RC" = 0 ] || { echo "$out" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  grep -q '^nic [a-z0-9]* pci 0x1af4 0x1041 subsys 0x0001$' <<<"$out" ||
    fail "$name: Linux does not see aero-virtio-net-pci (1af4:1041 subsys 0001)"
  if [ "$linuxnet" = 1 ]; then
    grep -q '^linux tftp over .* ok$' <<<"$out" || fail "$name: Linux could not use the NIC after the firmware"
  fi
  # kernel (8 MB) and initramfs went through the device: at least that much was received
  local rx_bytes
  rx_bytes=$(sed -n 's/.*rx_bytes=\([0-9]*\).*/\1/p' <<<"$stats")
  [ "${rx_bytes:-0}" -gt $(($(stat -c %s "$TFTP/vmlinuz") + $(stat -c %s "$TFTP/initrd"))) ] ||
    fail "$name: the device received only ${rx_bytes:-0} bytes (stats: $stats)"
  say "ok   $name: OVMF PXE (DHCP + TFTP) over the option ROM's SNP, header $hdr; GRUB loaded Linux over it; device rx ${rx_bytes} bytes; $(($(date +%s) - t0)) s"
}

# Without the ROM: no SimpleNetwork for the NIC, no network boot option, the UEFI shell.
net_without_rom() {
  local name=$1 dir log waited=0
  shift
  dir=$(guest_dir "$name")
  mkdir -p "$dir"
  # shellcheck disable=SC2046 # one argument per line
  AERO_BOOT=firmware guest_start "$name" "$AERO_TEST_DIR/net-guest.sh" -nodefaults -M q35 \
    $(ovmf_args "$dir") -netdev "user,id=n0,tftp=$TFTP,bootfile=bootx64.efi" "$@"
  log=$(guest_log "$name")
  until grep -aq 'starting Boot[0-9A-F]* "EFI Internal Shell"' "$log" 2>/dev/null; do
    grep -aq 'Start PXE over IPv4' "$log" 2>/dev/null && { guest_stop "$name"; fail "$name: OVMF tried PXE without the option ROM"; }
    guest_alive "$name" || fail "$name: QEMU exited (see $dir/qemu.out)"
    [ $waited -lt "$BOOT_TIMEOUT" ] || { guest_stop "$name"; fail "$name: OVMF neither booted nor started its shell"; }
    sleep 1
    waited=$((waited + 1))
  done
  guest_stop "$name"
  grep -aq 'aero-virtio-net: UEFI driver bound' "$log" && fail "$name: the option ROM driver bound although it was off"
  say "ok   $name: without the option ROM OVMF has no network boot option (UEFI shell)"
}

AERO_GUEST_TIMEOUT=$BOOT_TIMEOUT
net_case ovmf-pxe-hdr10 10 0 -device aero-virtio-net-pci,netdev=n0,id=nic0
net_case ovmf-pxe-hdr12-root-port 12 1 \
  -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x4 \
  -device aero-virtio-net-pci,netdev=n0,id=nic0,header-len=12,bus=rp0
net_without_rom ovmf-pxe-romfile-off -device aero-virtio-net-pci,netdev=n0,id=nic0,romfile=
say "firmware network boot: all cases passed"
