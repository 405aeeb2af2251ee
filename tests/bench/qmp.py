#!/usr/bin/env python3
"""The benchmarks' QMP client: qmp.py SOCKET COMMAND-JSON...

Connects to a QEMU monitor socket, negotiates capabilities, runs each
command in turn and prints each return value as one JSON line; an error
is printed on stderr and exits 1.  For the bench scripts only: lmnet itself
speaks QMP in hypervisor/qmp.c."""
import json
import socket
import sys

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()  # the greeting


def cmd(message):
    f.write(json.dumps(message) + "\n")
    f.flush()
    while True:
        reply = json.loads(f.readline())
        if "return" in reply or "error" in reply:
            return reply


cmd({"execute": "qmp_capabilities"})
for arg in sys.argv[2:]:
    reply = cmd(json.loads(arg))
    if "error" in reply:
        print(json.dumps(reply), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(reply["return"]))
