#!/usr/bin/env python3
"""Minimal QMP client for the guest tests.

    qmp.py SOCKET 'JSON-COMMAND' ['JSON-COMMAND' ...]

Connects to QEMU's QMP socket, negotiates capabilities, sends each command in order and prints
each command's "return" value as one JSON line. Asynchronous events are skipped. Exits 1 with the
error text when QEMU answers a command with an error.
"""
import json
import socket
import sys


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(60)
    sock.connect(sys.argv[1])
    stream = sock.makefile("rwb", buffering=0)

    def read_reply():
        while True:
            line = stream.readline()
            if not line:
                raise ConnectionError("QMP socket closed")
            msg = json.loads(line)
            if "event" in msg:
                continue
            return msg

    read_reply()  # greeting
    stream.write(b'{"execute":"qmp_capabilities"}\n')
    read_reply()
    for cmd in sys.argv[2:]:
        json.loads(cmd)  # fail early on a malformed command
        stream.write(cmd.encode() + b"\n")
        reply = read_reply()
        if "error" in reply:
            print(f"qmp.py: {cmd}: {reply['error'].get('desc', reply['error'])}", file=sys.stderr)
            return 1
        print(json.dumps(reply.get("return")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
