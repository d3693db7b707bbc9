# Helpers for running the Linux test guest through libvirt (source after lib.sh):
#
#   guest_iso OUT SCRIPT        a bootable ISO of the test guest (ISOLINUX, BIOS El Torito) that
#                               runs SCRIPT: the kernel, the guest's initramfs and a second one
#                               holding SCRIPT as /etc/aero/script.sh (tests/guest/init.sh runs it)
#   embed_root DIR              a root for libvirt's embedded QEMU driver (qemu:///embed?root=DIR):
#                               no daemon, nothing under /etc; prints the URI
#   virt_console                path of aero-virt-console (tests/guest/virt-console.c)
#
# The embedded driver runs QEMU as root. libvirt keeps its probe of the emulator only while the
# probe's view of KVM (the patched QEMU has KVM built in and opens /dev/kvm) matches whether the
# QEMU user may open /dev/kvm; as "nobody" they disagree on these machines (/dev/kvm is root's
# only) and libvirt re-probes the binary on every API call: 90 s instead of 4 s for a define.

AERO_BUILD=${AERO_BUILD:-$AERO_REPO/build}
ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
LDLINUX_C32=/usr/lib/syslinux/modules/bios/ldlinux.c32

virt_console() { echo "$AERO_BUILD/tests/guest/aero-virt-console"; }
aero_media() { echo "$AERO_BUILD/media/aero-media"; }

guest_iso() {
  local out=$1 script=$2 stage
  for f in "$ISOLINUX_BIN" "$LDLINUX_C32"; do
    [ -r "$f" ] || fail "$f is missing (Debian packages isolinux and syslinux-common)"
  done
  stage=$(mktemp -d "$AERO_TEST_DIR/iso.XXXXXX")
  mkdir -p "$stage/isolinux" "$stage/extra/etc/aero"
  cp "$ISOLINUX_BIN" "$LDLINUX_C32" "$stage/isolinux/"
  cp "$AERO_GUEST/vmlinuz" "$stage/vmlinuz"
  cp "$AERO_GUEST/initramfs.cpio.gz" "$stage/initrd.gz"
  install -m 0755 "$script" "$stage/extra/etc/aero/script.sh"
  (cd "$stage/extra" && find . | cpio -o -H newc --quiet) | gzip -1 >"$stage/script.gz"
  rm -rf "$stage/extra"
  # i8042 off: QEMU's PS/2 devices must not become the active input handlers (README, guest notes)
  cat >"$stage/isolinux/isolinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT aero
PROMPT 0
TIMEOUT 0
LABEL aero
  KERNEL /vmlinuz
  INITRD /initrd.gz,/script.gz
  APPEND console=ttyS0 quiet panic=-1 i8042.noaux i8042.nokbd
EOF
  xorriso -as mkisofs -quiet -o "$out" -V AERO_TEST_GUEST -J -R \
    -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
    "$stage" 2>"$stage.err" || { cat "$stage.err" >&2; fail "xorriso could not write $out"; }
  rm -rf "$stage" "$stage.err"
  chmod 0644 "$out"
}

embed_root() {
  local root=$1
  # libvirt's QEMU driver insists on the account libvirt-daemon-system would create
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu
  mkdir -p "$root/etc"
  cat >"$root/etc/qemu.conf" <<'EOF'
# embedded driver of the aero-virtio tests: QEMU's output into files (no virtlogd), QEMU as root
# (see tests/guest/libvirt-lib.sh)
stdio_handler = "file"
user = "root"
group = "root"
EOF
  echo "qemu:///embed?root=$root"
}
