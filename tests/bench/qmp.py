#!/usr/bin/env python3
"""The benchmarks' QMP client: qmp.py SOCKET COMMAND-JSON... [--wait-migration]

Connects to a QEMU monitor socket, negotiates capabilities, runs each
command in turn and prints each return value as one JSON line; an error
is printed on stderr and exits 1.  --wait-migration (last) then asks
query-migrate every 0.1 s on the same connection until the migration ends,
and prints its last answer: one process for the whole wait, where a new
client per poll costs a loaded 2-core host a good part of a core and slows
the migration it measures.  For the bench scripts only: lmnet itself
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
for arg in [a for a in sys.argv[2:] if a != "--wait-migration"]:
    reply = cmd(json.loads(arg))
    if "error" in reply:
        print(json.dumps(reply), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(reply["return"]))
if sys.argv[-1] == "--wait-migration":
    import time
    while True:
        reply = cmd({"execute": "query-migrate"})
        if reply.get("return", {}).get("status") in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.1)
    print(json.dumps(reply["return"]))
