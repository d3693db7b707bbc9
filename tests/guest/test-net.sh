#!/usr/bin/env bash
# Guest test, network: Linux's virtio_net drives aero-virtio-net-pci (header-len=12, as virtio
# 1.x drivers expect) over slirp. The guest sends 16 MiB to a server on the host's loopback and
# receives 16 MiB from it; MD5s are compared on both sides. QMP set_link toggles the link and the
# guest must see carrier go down and up (config interrupt). Finally the guest's interface
# counters must equal the device's own counters. The same transfer runs against QEMU's
# virtio-net-pci as the baseline; both throughputs are printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SIZE=$((16 << 20))

make_guest_script() {
  local up=$1 down=$2 linktest=$3 out=$4
  cat >"$out" <<EOF
set -e
SIZE=$SIZE
EOF
  cat >>"$out" <<'EOF'
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || true
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6 2>/dev/null || true
pci=$(readlink -f /sys/class/net/eth0/device/..)
echo "pci $(cat $pci/vendor) $(cat $pci/device) rev $(cat $pci/revision) driver $(basename $(readlink /sys/class/net/eth0/device/driver))"
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
dd if=/dev/urandom of=/tmp/up bs=1M count=$((SIZE >> 20)) 2>/dev/null
want=$(md5sum /tmp/up | cut -d' ' -f1)
nc 10.0.2.2 @UP@ < /tmp/up > /tmp/up.reply
got=$(cut -c1-32 /tmp/up.reply)
echo "up guest-md5 $want server-md5 $got"
[ "$want" = "$got" ]
nc 10.0.2.2 @DOWN@ < /dev/null > /tmp/down
echo "down bytes $(wc -c < /tmp/down) md5 $(md5sum /tmp/down | cut -d' ' -f1)"
if [ @LINK@ = 1 ]; then
  echo "LINK-READY"
  i=0; while [ "$(cat /sys/class/net/eth0/carrier)" != 0 ]; do i=$((i+1)); [ $i -lt 600 ] || exit 3; sleep 0.1; done
  echo "LINK-DOWN-SEEN"
  i=0; while [ "$(cat /sys/class/net/eth0/carrier)" != 1 ]; do i=$((i+1)); [ $i -lt 600 ] || exit 4; sleep 0.1; done
  echo "LINK-UP-SEEN"
fi
ip link set eth0 down
for c in tx_packets tx_bytes rx_packets rx_bytes; do
  echo "stat $c $(cat /sys/class/net/eth0/statistics/$c)"
done
EOF
  sed -i "s/@UP@/$up/; s/@DOWN@/$down/; s/@LINK@/$linktest/" "$out"
}

wait_for_line() {
  local name=$1 pattern=$2 i
  for i in $(seq 1 1200); do
    grep -q "$pattern" "$(guest_log "$name")" 2>/dev/null && return 0
    guest_alive "$name" || return 1
    sleep 0.5
  done
  return 1
}

run_case() {
  local name=$1 devargs=$2 aero=$3
  local dir="$AERO_TEST_DIR/$name-srv"
  mkdir -p "$dir"
  python3 "$AERO_REPO/tests/guest/netserver.py" $SIZE "$dir/result.json" >"$dir/ports" 2>"$dir/err" &
  local srv=$!
  local i
  for i in $(seq 1 50); do grep -q PORTS "$dir/ports" && break; sleep 0.1; done
  read -r _ up down <"$dir/ports"
  make_guest_script "$up" "$down" "$aero" "$dir/guest.sh"
  guest_start "$name" "$dir/guest.sh" -netdev user,id=n0 -device "$devargs"
  if [ "$aero" = 1 ]; then
    wait_for_line "$name" LINK-READY || fail "$name: guest never reached the link test"
    guest_qmp "$name" '{"execute":"set_link","arguments":{"name":"n0","up":false}}' >/dev/null
    wait_for_line "$name" LINK-DOWN-SEEN || fail "$name: guest did not see the link go down"
    guest_qmp "$name" '{"execute":"set_link","arguments":{"name":"n0","up":true}}' >/dev/null
  fi
  guest_wait "$name"
  wait "$srv" || fail "$name: host server failed: $(cat "$dir/err")"
  local log
  log=$(guest_log "$name")
  grep -E '^(pci|up|down|stat|LINK)' "$log" | sed "s/^/  $name: /" >&2
  [ "$GUEST_RC" = 0 ] || { tail -n 30 "$log" >&2; fail "$name: guest script failed (rc=$GUEST_RC)"; }
  python3 - "$dir/result.json" "$log" "$name" "$SIZE" <<'PY' || fail "$name: transfer check failed"
import json, re, sys
res = json.load(open(sys.argv[1])); log = open(sys.argv[2], errors="replace").read()
name, size = sys.argv[3], int(sys.argv[4])
m = re.search(r"^down bytes (\d+) md5 ([0-9a-f]{32})", log, re.M)
assert res["up"]["bytes"] == size, "server got %d bytes" % res["up"]["bytes"]
assert m and int(m.group(1)) == size and m.group(2) == res["down"]["md5"], "download mismatch"
for d in ("up", "down"):
    mbps = res[d]["bytes"] / res[d]["seconds"] / (1 << 20)
    print(f"  {name}: {d} {res[d]['bytes'] >> 20} MiB in {res[d]['seconds']:.2f}s = {mbps:.1f} MiB/s")
PY
  if [ "$aero" = 1 ]; then
    grep -q "^LINK-UP-SEEN" "$log" || fail "$name: link did not come back"
    local st
    st=$(guest_stats "$name" nic0)
    echo "  $name: device stats: $(echo "$st" | tail -n 1)" >&2
    python3 - "$log" "$st" <<'PY' || fail "$name: guest and device counters disagree"
import re, sys
log, st = open(sys.argv[1], errors="replace").read(), sys.argv[2]
g = dict((k, int(v)) for k, v in re.findall(r"^stat (\w+) (\d+)", log, re.M))
d = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", st.splitlines()[-1]))
pairs = [("tx_packets", "tx_frames"), ("tx_bytes", "tx_bytes"),
         ("rx_packets", "rx_frames"), ("rx_bytes", "rx_bytes")]
bad = [(a, g[a], b, d[b]) for a, b in pairs if g[a] != d[b]]
for a, gv, b, dv in bad:
    print(f"  guest {a}={gv} device {b}={dv}", file=sys.stderr)
assert not bad and d["tx_dropped"] == 0 and d["rx_dropped"] == 0
PY
  fi
  guest_stop "$name"
  say "$name: PASS"
}

run_case aero "aero-virtio-net-pci,netdev=n0,id=nic0,header-len=12" 1
run_case stock "virtio-net-pci,netdev=n0,id=nic0,disable-legacy=on,romfile=" 0
say "test-net: all cases passed"
