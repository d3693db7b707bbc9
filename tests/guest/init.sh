#!/bin/busybox sh
# /init of the Linux test guest: mount the basics, load the modules listed by build-guest.sh,
# then run the script the host passed through fw_cfg (opt/aero/script), or else the one a second
# initramfs put at /etc/aero/script.sh (the bootable ISO of the libvirt test and demo). Its output
# goes to the serial console, followed by "AERO-GUEST-EXIT <rc>", and the guest powers off.
# Without a script the guest opens a shell on the console (demo mode).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /tmp /run
mount -t tmpfs tmpfs /tmp
while read -r m; do
  insmod "/lib/modules/$m" 2>/dev/null
done </etc/modules.order
# let the virtio devices probe
mdev -s 2>/dev/null
script=/sys/firmware/qemu_fw_cfg/by_name/opt/aero/script/raw
[ -r "$script" ] || script=/etc/aero/script.sh
if [ -r "$script" ]; then
  cp "$script" /tmp/aero-test.sh
  echo; echo "AERO-GUEST-START"
  sh /tmp/aero-test.sh
  rc=$?
  echo "AERO-GUEST-EXIT $rc"
  sync
  poweroff -f
fi
echo "aero-virtio test guest: no script given; shell on the console (poweroff -f to quit)"
setsid cttyhack sh
poweroff -f
