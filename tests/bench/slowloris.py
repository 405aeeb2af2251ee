#!/usr/bin/env python3
"""Slow clients against lmnetd, and the latency one authenticated client sees.

usage: slowloris.py PORT TOKEN SLOW_CLIENTS SOURCE_ADDRESSES SECONDS

SLOW_CLIENTS connections, spread over SOURCE_ADDRESSES loopback addresses
(127.0.1.1, 127.0.1.2, ...), each send a request's headers one byte a
second and never finish them (slowloris); a connection the agent closes is
opened again at once.  Meanwhile one client on 127.0.0.1 sends
authenticated GET /v1/host requests one after another, over keep-alive,
for SECONDS, and the latency of each is recorded.  Prints one line of
figures."""
import os
import selectors
import socket
import sys
import time

port, token = int(sys.argv[1]), sys.argv[2]
n_slow, n_addr, seconds = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
SLOW_HEAD = b"GET /v1/host HTTP/1.1\r\nHost: lmnet\r\nX-Slow: " + b"a" * 4000
sel = selectors.DefaultSelector()
slow = {}  # socket -> [source address, bytes sent]
stats = {"opened": 0, "closed_by_agent": 0, "refused": 0, "peak_held": 0}


def open_slow(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.bind((addr, 0))
        s.connect_ex(("127.0.0.1", port))
    except OSError:
        stats["refused"] += 1
        s.close()
        return
    slow[s] = [addr, 0]
    sel.register(s, selectors.EVENT_READ)
    stats["opened"] += 1


def drop(s, why):
    sel.unregister(s)
    addr = slow.pop(s)[0]
    s.close()
    stats[why] += 1
    return addr


def slow_clients(deadline):
    """The slow clients' loop, in a process of its own so that their
    reconnecting never delays the measured client."""
    for a in ["127.0.1.%d" % (1 + i % n_addr) for i in range(n_slow)]:
        open_slow(a)
    next_drip = time.monotonic()
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_drip:  # one byte on every slow connection, once a second
            next_drip = now + 1.0
            for s, st in list(slow.items()):
                try:
                    s.send(SLOW_HEAD[st[1]:st[1] + 1])
                    st[1] += 1
                except OSError:
                    pass
            stats["peak_held"] = max(stats["peak_held"], len(slow))
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:  # the agent closed it (deadline or limit): come back at once
                open_slow(drop(s, "closed_by_agent"))
    os.write(report_w, ("%d %d %d\n" % (stats["opened"], stats["closed_by_agent"],
                                         stats["peak_held"])).encode())
    os._exit(0)


report_r, report_w = os.pipe()
start = time.monotonic()
child = os.fork()
if child == 0:
    slow_clients(start + seconds + 1)
time.sleep(1.0)  # let the slow clients connect first

client = None
latencies, errors, tried = [], 0, 0
request = ("GET /v1/host HTTP/1.1\r\nHost: lmnet\r\nAuthorization: Bearer %s\r\n\r\n" % token).encode()
start = time.monotonic()
while time.monotonic() - start < seconds:
    # One authenticated request.
    tried += 1
    t0 = time.monotonic()
    try:
        if client is None:
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = client.recv(65536)
            if not chunk:
                raise OSError("closed")
            buf += chunk
        head, body = buf.split(b"\r\n\r\n", 1)
        length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
        while len(body) < length:
            body += client.recv(65536)
        if not head.startswith(b"HTTP/1.1 200"):
            raise OSError(head.split(b"\r\n")[0].decode())
        latencies.append((time.monotonic() - t0) * 1000)
    except (OSError, IndexError, ValueError):
        errors += 1
        if client:
            client.close()
        client = None
    time.sleep(0.005)

opened, closed, peak = (int(x) for x in os.read(report_r, 100).split())
os.waitpid(child, 0)
stats.update(opened=opened, closed_by_agent=closed, peak_held=peak)
latencies.sort()
def pct(p):
    return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else float("nan")
print("slow_clients=%d addresses=%d seconds=%.0f slow_connections_opened=%d closed_by_agent=%d "
      "peak_open_client_side=%d authenticated_requests=%d ok=%d errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f"
      % (n_slow, n_addr, seconds, stats["opened"], stats["closed_by_agent"], stats["peak_held"],
         tried, len(latencies), errors, pct(0.50), pct(0.99), latencies[-1] if latencies else float("nan")))
