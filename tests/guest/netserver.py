#!/usr/bin/env python3
"""Host side of the network guest test (reached from the guest as 10.0.2.2 through slirp).

    netserver.py SIZE RESULT_JSON

Listens on two free loopback ports and writes them to stdout as "PORTS <up> <down>", then serves
one connection on each, concurrently:
  up:   reads exactly SIZE bytes from the guest, answers with their MD5 (hex) and closes;
  down: sends SIZE random bytes to the guest and closes.
Writes {"up": {...}, "down": {...}} with byte counts, MD5s and seconds to RESULT_JSON.
"""
import hashlib
import json
import os
import socket
import sys
import threading
import time


def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    s.settimeout(600)
    return s


def serve_up(s, size, out):
    conn, _ = s.accept()
    h = hashlib.md5()
    got = 0
    t0 = None
    while got < size:
        chunk = conn.recv(min(1 << 16, size - got))
        if not chunk:
            break
        if t0 is None:
            t0 = time.monotonic()
        h.update(chunk)
        got += len(chunk)
    secs = time.monotonic() - (t0 or time.monotonic())
    conn.sendall((h.hexdigest() + "\n").encode())
    conn.close()
    out["up"] = {"bytes": got, "md5": h.hexdigest(), "seconds": secs}


def serve_down(s, size, out):
    data = os.urandom(size)
    conn, _ = s.accept()
    t0 = time.monotonic()
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
    conn.close()
    out["down"] = {"bytes": size, "md5": hashlib.md5(data).hexdigest(),
                   "seconds": time.monotonic() - t0}


def main() -> int:
    size, result = int(sys.argv[1]), sys.argv[2]
    up, down = listener(), listener()
    print(f"PORTS {up.getsockname()[1]} {down.getsockname()[1]}", flush=True)
    out = {}
    threads = [threading.Thread(target=serve_up, args=(up, size, out)),
               threading.Thread(target=serve_down, args=(down, size, out))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(result, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
