#!/usr/bin/env bash
# lmnetd tells systemd when it is ready (Type=notify): a stand-in for
# systemd's notification socket (a unix datagram socket, as systemd makes
# one) receives READY=1 with the agent's pid once the API answers, and
# STOPPING=1 when it is asked to stop.  Without NOTIFY_SOCKET the agent
# starts as before.  Loopback only, no root: seconds.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

sock=$LMNET_TEST_DIR/notify.sock
# Prints each datagram on one line (newlines as '|'), until STOPPING=1 or
# 30 s; "bound" first, so that the agent starts only once it listens.
/usr/bin/python3 - "$sock" > notes.txt 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
s.settimeout(1)
end = time.time() + 30
while time.time() < end:
    try:
        data = s.recv(4096).decode()
    except socket.timeout:
        continue
    print(data.replace("\n", "|"), flush=True)
    if "STOPPING=1" in data:
        break
PY
listener=$!
for ((i = 0; i < 100; i++)); do grep -q bound notes.txt 2>/dev/null && break; sleep 0.05; done

NOTIFY_SOCKET=$sock agent_start main || exit 1
for ((i = 0; i < 100; i++)); do grep -q READY=1 notes.txt && break; sleep 0.05; done
ready=$(grep READY=1 notes.txt)
expect_match "READY=1 reaches the notification socket" '(^|\|)READY=1(\||$)' "$ready"
expect_match "  with the agent's pid" "MAINPID=$AGENT_PID(\||$)" "$ready"
expect_match "  and a status line" 'STATUS=serving the API on port [0-9]+' "$ready"
expect_eq "once ready, the API answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$AGENT_URL/v1/health")"
check "the agent stops cleanly" agent_stop "$AGENT_PID"
wait "$listener"
expect_match "STOPPING=1 is sent on the way down" 'STOPPING=1' "$(cat notes.txt)"
expect_eq "one READY=1 only" 1 "$(grep -c READY=1 notes.txt)"

agent_start plain || exit 1
expect_eq "without NOTIFY_SOCKET the agent starts as before" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' "$AGENT_URL/v1/health")"
check "  and stops cleanly" agent_stop "$AGENT_PID"

finish
