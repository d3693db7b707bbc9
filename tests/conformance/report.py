#!/usr/bin/env python3
"""Host side of scripts/conformance.sh: collects the rows aero-conformance printed on the guest's
serial console (plus rows the host produced itself), prints the clause-by-clause table, writes
the JSON list, and exits 0 only when no check failed.

  report.py [--json FILE] [--host-rows TSV] SERIAL_LOG
"""
import argparse
import json
import os
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--host-rows")
    ap.add_argument("--labels", help="file with the label of every tool run, one a line")
    ap.add_argument("--crashed", help="QEMU's last words when it exited mid-run")
    ap.add_argument("log")
    a = ap.parse_args()

    rows, done, started = [], {}, []
    lines = open(a.log, errors="replace").read().replace("\r", "").splitlines()
    if a.host_rows:
        lines += open(a.host_rows).read().splitlines()
    for line in lines:
        if line.startswith("AERO-CONF\t"):
            f = line.split("\t")
            if len(f) >= 6:
                rows.append({"id": f[1], "section": f[2], "device": f[3], "result": f[4],
                             "detail": "\t".join(f[5:])})
        elif line.startswith("AERO-CONF-DONE "):
            label, _, rc = line[len("AERO-CONF-DONE "):].rpartition(" rc=")
            done[label] = rc
        elif "\t" in line and line.split("\t")[3:4] in (["skip"], ["pass"], ["fail"]):
            f = line.split("\t")
            rows.append({"id": f[0], "section": f[1], "device": f[2], "result": f[3],
                         "detail": "\t".join(f[4:])})
    # A tool run that ended abnormally (exit 2/3, a crash) is a failure of its own, and so is
    # one that never finished because QEMU went away.
    for label, rc in done.items():
        if rc not in ("0", "1"):
            rows.append({"id": "-", "section": "-", "device": label, "result": "fail",
                         "detail": f"aero-conformance exited with status {rc}"})
    if a.labels:
        for label in open(a.labels).read().splitlines():
            if label and label not in done:
                why = f"QEMU exited: {a.crashed}" if a.crashed else "the tool did not finish"
                rows.append({"id": "-", "section": "-", "device": label, "result": "fail",
                             "detail": f"remaining checks not run ({why})"})
    if not rows:
        rows.append({"id": "-", "section": "-", "device": "-", "result": "fail",
                     "detail": "no results on the guest console"})

    w_id = max(len(r["id"]) for r in rows)
    w_sec = max(len(r["section"]) for r in rows)
    w_dev = max(len(r["device"]) for r in rows)
    print(f"{'id':{w_id}}  {'section':{w_sec}}  {'device':{w_dev}}  result  detail")
    for r in rows:
        print(f"{r['id']:{w_id}}  {r['section']:{w_sec}}  {r['device']:{w_dev}}  "
              f"{r['result']:6}  {r['detail']}")
    print()
    devices = []
    for r in rows:
        if r["device"] not in devices:
            devices.append(r["device"])
    total = {"pass": 0, "fail": 0, "skip": 0}
    for d in devices:
        c = {"pass": 0, "fail": 0, "skip": 0}
        for r in rows:
            if r["device"] == d:
                c[r["result"]] = c.get(r["result"], 0) + 1
        for k in total:
            total[k] += c[k]
        print(f"{d:{w_dev}}  {c['pass']:4} pass  {c['fail']:4} fail  {c['skip']:4} skip")
    print(f"{'total':{w_dev}}  {total['pass']:4} pass  {total['fail']:4} fail  {total['skip']:4} skip")

    if a.json:
        # written next to the target and renamed: never a half-written file
        d = os.path.dirname(os.path.abspath(a.json))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".conformance-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(rows, f, indent=1)
            f.write("\n")
        os.replace(tmp, a.json)
    return 1 if total["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
