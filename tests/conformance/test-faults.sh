#!/usr/bin/env bash
# The conformance suite proves it can fail: each aero device below carries one seeded fault
# (the test-only x-seed-fault property, virtio/fault.c), and scripts/conformance.sh must report
# exactly the expected check ids as failed for it -- no fewer (the fault is caught) and no more
# (the suite pins the rule that broke) -- while an unbroken blk in the same guest passes all.
# First, QEMU must refuse the property unless AERO_ALLOW_SEEDED_FAULTS=1 is set.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/guest/lib.sh"

out=$("$AERO_QEMU" -M pc -nodefaults -display none -S -accel tcg \
  -device aero-virtio-keyboard-pci,multifunction=on,x-seed-fault=revision 2>&1 </dev/null) &&
  fail "QEMU accepted x-seed-fault without AERO_ALLOW_SEEDED_FAULTS=1"
echo "$out" | grep -q 'refused unless AERO_ALLOW_SEEDED_FAULTS=1' ||
  fail "x-seed-fault without AERO_ALLOW_SEEDED_FAULTS: unexpected message: $out"
say "x-seed-fault is refused without AERO_ALLOW_SEEDED_FAULTS=1"

# fault -> the check ids that must fail, and why
#   isr-no-ack: T1.49 ISR read-to-ack; T1.52 INTx stays asserted while the ISR holds a bit;
#     R2.12 the interrupt left pending by the first EVENT_IDX completion is still there when
#     used_event says "no interrupt" for the second.
#   revision: T1.03.
#   no-avail-event: R2.15 (avail_event never published; nothing else reads it).
#   blk-unsupp-ioerr: B3.12 unknown type, B3.13 DISCARD / WRITE_ZEROES answered IOERR.
expect='
blk,x-seed-fault=isr-no-ack       T1.49 T1.52 R2.12
blk,x-seed-fault=revision         T1.03
net,x-seed-fault=no-avail-event   R2.15
blk,x-seed-fault=blk-unsupp-ioerr B3.12 B3.13
blk
'
devices=$(echo "$expect" | awk 'NF { print $1 }')
json=$AERO_TEST_DIR/faults.json
# shellcheck disable=SC2086
AERO_ALLOW_SEEDED_FAULTS=1 "$REPO/scripts/conformance.sh" --json "$json" $devices \
  >"$AERO_TEST_DIR/faults-table.txt" 2>&1 || true
[ -s "$json" ] || { tail -n 30 "$AERO_TEST_DIR/faults-table.txt" >&2; fail "no JSON from the seeded run"; }
python3 - "$json" "$expect" <<'PY' || fail "the suite did not report exactly the seeded faults"
import json, sys
rows = json.load(open(sys.argv[1]))
ok = True
for line in sys.argv[2].strip().splitlines():
    dev, *ids = line.split()
    mine = [r for r in rows if r["device"] == dev]
    failed = sorted(r["id"] for r in mine if r["result"] == "fail")
    good = bool(mine) and failed == sorted(ids)
    ok &= good
    print(f"  {dev:36s} failed {' '.join(failed) or '-':24s} "
          f"{'ok' if good else 'WRONG, want ' + (' '.join(sorted(ids)) or 'none')}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
say "test-faults: every seeded fault caught by exactly its checks; PASS"
