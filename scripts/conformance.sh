#!/usr/bin/env bash
# Scores virtio-pci devices against the contract (CONTRACT.md), clause by clause: boots the Linux
# test guest (scripts/build-guest.sh) with the devices in the patched QEMU (AERO_QEMU when set, so
# any build or another vendor's QEMU can be scored), runs aero-conformance (tests/conformance/)
# on each function from user space, and prints a table: id, section, device, result, detail.
#
#   scripts/conformance.sh [--profile strict|default] [--json FILE] [--stock] [DEVICE...]
#
# DEVICE is blk, net, input (the keyboard, mouse and tablet functions) or snd, optionally with
# device properties: `net,header-len=12`, `snd,protocol=virtio`. Without DEVICEs: blk net input
# snd. --stock scores QEMU's own modern devices of the same kinds instead (virtio-blk-pci,
# virtio-net-pci with disable-legacy=on, virtio-keyboard/mouse/tablet-pci, virtio-sound-pci
# when the QEMU has it). --profile strict is contract v1 exactly (event-idx off, INTx only:
# vectors=0); default keeps the devices' defaults. --json writes the rows as a JSON list of
# {"id","section","device","result","detail"}. Exit 0 only when every applicable check passed
# (a skip carries its reason and is not a pass).
#
# Test only: a property x-seed-fault=NAME on an aero device breaks one rule on purpose (see
# README "Conformance"); QEMU refuses it unless AERO_ALLOW_SEEDED_FAULTS=1 is set.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
profile=default
json=""
stock=0
devices=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile)
      profile=${2:-}
      [ "$profile" = strict ] || [ "$profile" = default ] ||
        { echo "conformance: --profile must be strict or default" >&2; exit 2; }
      shift 2 ;;
    --json) json=${2:?--json needs a file name}; shift 2 ;;
    --stock) stock=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "conformance: unknown option $1" >&2; exit 2 ;;
    *) devices+=("$1"); shift ;;
  esac
done
[ ${#devices[@]} -gt 0 ] || devices=(blk net input snd)
if [ -n "$json" ]; then
  jdir=$(dirname "$json")
  [ -d "$jdir" ] && [ -w "$jdir" ] || { echo "conformance: $json: directory not writable" >&2; exit 2; }
fi

AERO_EXPECT_DEVICE_ERRORS=1 # the ring checks make devices report NEEDS_RESET on purpose
. "$REPO/tests/guest/lib.sh"
TOOL_HOST=$REPO/build/tests/conformance/aero-conformance
[ -x "$TOOL_HOST" ] || fail "$TOOL_HOST is missing (meson compile -C build)"

# DMA memory the tool owns: reserved from Linux with memmap=, one range below and one above
# 4 GiB (the guest has 3.5 GiB: pc puts 3 GiB low and 0.5 GiB at 0x100000000).
LO=0x10000000:0x2000000
HI=0x110000000:0x2000000
MEM=3584
AERO_APPEND="memmap=32M\$0x10000000 memmap=32M\$0x110000000 i8042.nokbd i8042.noaux"

suffix=$profile
[ $stock = 1 ] && suffix=stock-$profile
name=conf-$suffix
disk_sectors=$((8 * 1024 * 1024 / 512))
MAC=52:54:00:12:34:56
SERIAL=AERO-CONF-0001

qemu_args=()
guest=$AERO_TEST_DIR/conf-guest.sh
host_rows=$AERO_TEST_DIR/conf-host-rows.tsv
: >"$host_rows"
: >"$guest"
labels=$AERO_TEST_DIR/conf-labels.txt
: >"$labels"
slot=4
n_blk=0
n_net=0
n_snd=0
has_stock_snd=0
"$AERO_QEMU" -device help 2>/dev/null | grep -q '"virtio-sound-pci"' && has_stock_snd=1

profile_props() { # $1 = ours|stock
  [ "$profile" = strict ] || return 0
  if [ "$1" = ours ]; then echo ",event-idx=off,vectors=0"; else echo ",event_idx=off,vectors=0"; fi
}

# run LABEL KIND BDF PROPS: one tool run in the guest
add_run() {
  local label=$1 kind=$2 bdf=$3 props=$4 p args=""
  IFS=, read -r -a pp <<<"$props"
  for p in "${pp[@]}"; do [ -n "$p" ] && args="$args --prop $p"; done
  echo "$label" >>"$labels"
  cat >>"$guest" <<EOF
aero-conformance --profile $profile --kind $kind --label '$label' --lo $LO --hi $HI$args --disk-sectors $disk_sectors $bdf
echo "AERO-CONF-DONE $label rc=\$?"
EOF
}

for spec in "${devices[@]}"; do
  kind=${spec%%,*}
  extra=""
  [ "$kind" != "$spec" ] && extra=,${spec#*,}
  label=$spec
  addr=$(printf '0x%x' $slot)
  bdf=$(printf '0000:00:%02x' $slot)
  case "$kind" in
    blk)
      n_blk=$((n_blk + 1))
      img=$AERO_TEST_DIR/conf-disk$n_blk.img
      rm -f "$img"
      truncate -s 8M "$img"
      qemu_args+=(-drive "file=$img,if=none,id=cd$n_blk,format=raw,cache=writeback")
      if [ $stock = 1 ]; then
        qemu_args+=(-device "virtio-blk-pci,disable-legacy=on,drive=cd$n_blk,serial=$SERIAL,addr=$addr,id=dev$slot$(profile_props stock)$extra")
      else
        qemu_args+=(-device "aero-virtio-blk-pci,drive=cd$n_blk,serial=$SERIAL,addr=$addr,id=dev$slot$(profile_props ours)$extra")
      fi
      add_run "$label" blk "$bdf.0" "serial=$SERIAL${extra}" ;;
    net)
      n_net=$((n_net + 1))
      qemu_args+=(-netdev "user,id=cn$n_net")
      if [ $stock = 1 ]; then
        qemu_args+=(-device "virtio-net-pci,disable-legacy=on,romfile=,netdev=cn$n_net,mac=$MAC,addr=$addr,id=dev$slot$(profile_props stock)$extra")
        # the virtio 1.x header (num_buffers) is all stock knows: checks speak it, N3.10 fails
        extra="$extra,header-len=12,header-fixed=1"
      else
        qemu_args+=(-device "aero-virtio-net-pci,netdev=cn$n_net,mac=$MAC,addr=$addr,id=dev$slot$(profile_props ours)$extra")
      fi
      add_run "$label" net "$bdf.0" "mac=$MAC,netdev=cn$n_net${extra}" ;;
    input)
      if [ $stock = 1 ]; then
        for fn in keyboard mouse tablet; do
          addr=$(printf '0x%x' $slot)
          bdf=$(printf '0000:00:%02x' $slot)
          qemu_args+=(-device "virtio-$fn-pci,addr=$addr,id=dev$slot$(profile_props stock)$extra")
          add_run "$label:$fn" "$fn" "$bdf.0" "${extra#,}"
          slot=$((slot + 1))
        done
        slot=$((slot - 1))
      else
        f=0
        for fn in keyboard mouse tablet; do
          mf=""
          [ $f = 0 ] && mf=",multifunction=on"
          qemu_args+=(-device "aero-virtio-$fn-pci,addr=$addr.$f,id=dev$slot$f$mf$(profile_props ours)$extra")
          add_run "$label:$fn" "$fn" "$bdf.$f" "${extra#,}"
          f=$((f + 1))
        done
      fi ;;
    snd)
      n_snd=$((n_snd + 1))
      qemu_args+=(-audiodev "none,id=ca$n_snd")
      if [ $stock = 1 ]; then
        if [ $has_stock_snd = 0 ]; then
          # one skip row per snd check: this QEMU (7.2) has no stock sound device
          "$TOOL_HOST" --list | awk -F'\t' -v l="$label" '$3 == "all" || $3 ~ /snd/ {
            printf "%s\t%s\t%s\tskip\t%s: this QEMU has no stock virtio-sound-pci (upstream 8.2+)\n", $1, $2, l, $4 }' >>"$host_rows"
          slot=$((slot + 1))
          continue
        fi
        qemu_args+=(-device "virtio-sound-pci,audiodev=ca$n_snd,addr=$addr,id=dev$slot$(profile_props stock)$extra")
        extra="$extra,protocol=virtio"
      else
        qemu_args+=(-device "aero-virtio-snd-pci,audiodev=ca$n_snd,addr=$addr,id=dev$slot$(profile_props ours)$extra")
      fi
      add_run "$label" snd "$bdf.0" "${extra#,}" ;;
    *) echo "conformance: unknown device '$kind' (blk, net, input, snd)" >&2; exit 2 ;;
  esac
  slot=$((slot + 1))
done

t0=$(date +%s)
say "conformance ($suffix): booting the guest with ${devices[*]}"
AERO_MEM=$MEM guest_start "$name" "$guest" -m $MEM "${qemu_args[@]}"

# Serve the guest's requests for host actions (QMP: input injection, link changes) while it runs.
log=$(guest_log "$name")
done_lines=0
crashed=""
while :; do
  if grep -q '^AERO-GUEST-EXIT ' "$log" 2>/dev/null; then
    break
  fi
  if ! guest_alive "$name"; then
    # a device that brings QEMU down fails what was left; the rows so far still count
    crashed=$(grep -v '^$' "$(guest_dir "$name")/qemu.out" | tail -n 1)
    say "conformance ($suffix): QEMU exited before the guest finished: $crashed"
    break
  fi
  if [ $(($(date +%s) - t0)) -ge "$AERO_GUEST_TIMEOUT" ]; then
    tail -n 20 "$log" >&2
    guest_stop "$name"
    fail "conformance: the guest did not finish within ${AERO_GUEST_TIMEOUT}s"
  fi
  mapfile -t reqs < <([ -f "$log" ] && tr -d '\r' <"$log" | grep '^AERO-CONF-QMP ' || true)
  while [ "$done_lines" -lt "${#reqs[@]}" ]; do
    guest_qmp "$name" "${reqs[$done_lines]#AERO-CONF-QMP }" >/dev/null 2>&1 || true
    done_lines=$((done_lines + 1))
  done
  sleep 0.2
done
guest_alive "$name" && guest_stop "$name"
[ -n "$crashed" ] || say "conformance ($suffix): guest finished in $(($(date +%s) - t0)) s"

args=(--host-rows "$host_rows" --labels "$labels")
[ -n "$crashed" ] && args+=(--crashed "$crashed")
[ -n "$json" ] && args+=(--json "$json")
python3 "$REPO/tests/conformance/report.py" "${args[@]}" "$log"
