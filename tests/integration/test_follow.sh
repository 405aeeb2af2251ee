#!/usr/bin/env bash
# Following what happens: GET /v1/events?wait= (a long poll), `lmnetctl
# events --follow` (new events printed as they happen, one JSON object a
# line under -o json, --kind filters) and `lmnetctl migration show --watch`
# (follows a migration to its end; exit 0 only when it completed).  A real
# lmnetd on loopback; the migrations are rows in its SQLite database (no
# QEMU here): one completed, one failed, and one queued that is cancelled
# while it is watched.  No root needed.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

agent_start follow || exit 1
url=$AGENT_URL
L=("$LMNETCTL" -s "$url")
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# The agent records its cluster networks shortly after it starts: let
# those events be in before taking the cursor.
for ((i = 0; i < 100; i++)); do
    curl -s "$url/v1/events" | grep -q network.discovered && break
    sleep 0.1
done
sleep 0.5
echo "# the long poll"
last=$(curl -s "$url/v1/events?limit=1000" | grep -o '"id":[0-9]*' | tail -1 | cut -d: -f2)
last=${last:-0}
expect_eq "wait past the limit is refused" 400 "$(status "$url/v1/events?wait=11")"
expect_eq "wait that is not a number is refused" 400 "$(status "$url/v1/events?wait=soon")"
expect_eq "nothing new: an empty page once the wait is over" '{"items":[],"next":null}' \
    "$(curl -s "$url/v1/events?after=$last&wait=1")"
curl -s "$url/v1/events?after=$last&wait=10" > poll.json &
poll=$!
sleep 0.5
"${L[@]}" vlan create 300 backup > /dev/null
wait "$poll"
expect_match "a waiting poll answers with the event that came" '"kind":"vlan.create","subject":"300"' "$(cat poll.json)"

echo "# events --follow"
"${L[@]}" events --follow > follow.txt 2> follow.err &
follower=$!
"${L[@]}" -o json events --follow --kind vlan.delete > follow.json 2> follow-json.err &
json_follower=$!
sleep 1
"${L[@]}" vlan create 301 storage > /dev/null
"${L[@]}" vlan delete 301 > /dev/null
for ((i = 0; i < 100; i++)); do
    grep -q vlan.delete follow.txt 2>/dev/null && grep -q vlan.delete follow.json 2>/dev/null && break
    sleep 0.1
done
kill "$follower" "$json_follower" 2>/dev/null
wait "$follower" "$json_follower" 2>/dev/null
expect_match "--follow prints a new event as it happens" "vlan\.create +301" "$(cat follow.txt)"
expect_match "  and the next one" "vlan\.delete +301" "$(cat follow.txt)"
expect_eq "  only events from now on (not the VLAN made before)" 0 "$(grep -c ' 300$' follow.txt)"
expect_eq "-o json --kind: one JSON object a line, of that kind only" "vlan.delete 301" \
    "$(/usr/bin/python3 -c '
import json, sys
for line in open("follow.json"):
    e = json.loads(line)
    print(e["kind"], e["subject"])')"
"${L[@]}" events --follow --after "$last" > from.txt 2>&1 &
from=$!
for ((i = 0; i < 50; i++)); do grep -q ' 301$' from.txt 2>/dev/null && break; sleep 0.1; done
kill "$from" 2>/dev/null
expect_match "--follow --after CURSOR prints what came since, then follows" "vlan\.create +300" "$(cat from.txt)"
expect_eq "--follow with a bad --after is a usage error" 2 \
    "$("${L[@]}" events --follow --after soon > /dev/null 2>&1; echo $?)"

echo "# migration show --watch"
node=$(curl -s "$url/v1/host" | sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')
agent_stop "$AGENT_PID"
now=$(($(date +%s) * 1000))
sqlite3 "$LMNET_TEST_DIR/follow/lmnet.db" <<SQL
INSERT INTO migration (uuid, vm, vm_name, role, source, destination, destination_url, mode, options,
    phase, progress, downtime_ms, switchover_gap_ms, created_ms, updated_ms, finished_ms)
VALUES ('11111111-0000-4000-8000-000000000001', 'vm-1', 'web01', 'source', '$node',
    '22222222-0000-4000-8000-000000000002', 'http://127.0.0.1:1', 'live', '{}', 'completed',
    '{"bytes_total":1024,"bytes_remaining":0}', 35, 12, $now, $now, $now),
       ('11111111-0000-4000-8000-000000000003', 'vm-gone', 'ghost', 'source', '$node',
    '22222222-0000-4000-8000-000000000002', 'http://127.0.0.1:1', 'live', '{}', 'queued',
    NULL, NULL, NULL, $now, $now, NULL),
       ('11111111-0000-4000-8000-000000000004', 'vm-2', 'db01', 'source', '$node',
    '22222222-0000-4000-8000-000000000002', 'http://127.0.0.1:1', 'live', '{}', 'failed',
    NULL, NULL, NULL, $now, $now, $now);
UPDATE migration SET error = 'the destination did not answer' WHERE uuid LIKE '%0004';
SQL
agent_start follow || exit 1
L=("$LMNETCTL" -s "$AGENT_URL")
out=$("${L[@]}" migration show 11111111-0000-4000-8000-000000000001 --watch 2>&1)
rc=$?
expect_eq "watching a completed migration exits 0" 0 "$rc"
expect_match "  and says how it went" "migrated web01: downtime 35 ms, switchover gap 12 ms" "$out"
out=$("${L[@]}" migration show --watch 11111111-0000-4000-8000-000000000004 2>&1)
rc=$?
expect_eq "watching a failed migration exits 1" 1 "$rc"
expect_match "  with why" "migration 11111111-0000-4000-8000-000000000004 failed: the destination did not answer" "$out"
timeout 60 "${L[@]}" migration show --watch 11111111-0000-4000-8000-000000000003 > watch.txt 2>&1 &
watcher=$!
sleep 1
"${L[@]}" migration cancel 11111111-0000-4000-8000-000000000003 > /dev/null 2>&1
rc=0
wait "$watcher" || rc=$?
expect_eq "a watched migration cancelled meanwhile: the watch ends, exit 1" 1 "$rc"
check "  it printed the phase it saw" grep -qx queued watch.txt
check "  then the end" grep -qx cancelled watch.txt
expect_match "  and why" "migration 11111111-0000-4000-8000-000000000003 cancelled: cancelled while queued" "$(cat watch.txt)"
expect_eq "watching an unknown migration is refused (1)" 1 \
    "$("${L[@]}" migration show --watch 99999999-0000-4000-8000-000000000000 > /dev/null 2>&1; echo $?)"
check "the agent stops cleanly" agent_stop "$AGENT_PID"

finish
