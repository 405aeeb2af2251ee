#!/usr/bin/env bash
# Joining the cluster and per-member identity (issue 14), on three agents on
# loopback with tokens (agent 1 the registry):
# - POST /v1/cluster/members with an admin-typed URL calls nothing there
#   (a listener on that port sees no connection, so no peer token leaves),
#   and the answer for an open port is the one for a closed port;
# - an agent joins with a one-time join token (lmnetctl cluster join-token,
#   lmnetctl cluster join TOKEN); the token does not work twice, nor once
#   expired; the URL must name the address the join comes from; the member
#   keeps its credential 0600, the registry a hash;
# - reports about a member (refresh, inventory, reachability) are taken
#   only with that member's own credential: not with an admin token, not
#   with another member's; a removed member's credential stops working.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"
command -v python3 >/dev/null || { echo "skip: python3 is needed"; exit 77; }

admin=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
peer=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
printf 'operator admin %s\nagents admin %s\n' "$admin" "$peer" > tokens
printf 'agents admin %s\n' "$peer" > peer-token
printf '%s\n' "$admin" > admin-token
chmod 600 tokens peer-token admin-token
printf 'peer_token_file = %s\nheartbeat_port = 0\n' "$LMNET_TEST_DIR/peer-token" > lmnetd.conf

agent_start a1 -c lmnetd.conf -t tokens || exit 1
url1=$AGENT_URL
agent_start a2 -c lmnetd.conf -t tokens --registry "$url1" || exit 1
url2=$AGENT_URL
pid2=$AGENT_PID
agent_start a3 -c lmnetd.conf -t tokens --registry "$url1" || exit 1
url3=$AGENT_URL
A=(-H "Authorization: Bearer $admin")
J=(-H 'Content-Type: application/json')
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }
ctl() { local u=$1; shift; "$LMNETCTL" --server "$u" --token-file admin-token "$@"; }
id2=$(curl -s "${A[@]}" "$url2/v1/host" | field '["node_id"]')
id3=$(curl -s "${A[@]}" "$url3/v1/host" | field '["node_id"]')
requests=0

echo "# an admin-typed URL is never called"
# A listener that writes down every connection and what it was sent.
python3 - "$LMNET_TEST_DIR/probe" <<'EOF' &
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
log = open(sys.argv[1] + ".log", "a")
while True:
    c, _ = s.accept()
    c.settimeout(1)
    try: data = c.recv(4096)
    except OSError: data = b""
    log.write("connection %r\n" % data[:200]); log.flush()
    c.close()
EOF
probe_pid=$!
agent_pids+=("$probe_pid")
for _ in $(seq 50); do [[ -s probe.port ]] && break; sleep 0.1; done
open_port=$(cat probe.port)
closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
open_body=$(curl -s -w ' %{http_code}' "${A[@]}" "${J[@]}" -d "{\"url\":\"http://127.0.0.1:$open_port\"}" "$url1/v1/cluster/members")
closed_body=$(curl -s -w ' %{http_code}' "${A[@]}" "${J[@]}" -d "{\"url\":\"http://127.0.0.1:$closed_port\"}" "$url1/v1/cluster/members")
relayed=$(curl -s -w ' %{http_code}' "${A[@]}" "${J[@]}" -d "{\"url\":\"http://127.0.0.1:$open_port\"}" "$url2/v1/cluster/members")
requests=$((requests + 3))
expect_match "a bare URL is refused (422) and says how agents join now" '"status":422.*join-token.*cluster join TOKEN.* 422$' "$open_body"
expect_eq "the answer for an open port is the answer for a closed one" "$open_body" "$closed_body"
expect_eq "  and through a non-registry agent the same" "$open_body" "$relayed"
sleep 0.5
expect_eq "nothing connected to the URL (no peer token sent)" 0 "$(cat probe.log 2>/dev/null | grep -c connection)"
kill "$probe_pid" 2>/dev/null

echo "# joining with a one-time join token"
expect_eq "a caller without a token cannot make join tokens" 401 "$(status -X POST "$url1/v1/cluster/join-tokens")"
token=$(ctl "$url1" cluster join-token)
expect_match "join-token prints a token" '^lmj_[0-9a-f]{64}$' "$token"
expect_eq "the token is not in the registry's database" 0 "$(grep -c "$token" a1/lmnet.db* 2>/dev/null | awk -F: '{s+=$NF} END {print s+0}')"
check "agent 2 joins with it" ctl "$url2" cluster join "$token"
out=$(ctl "$url3" cluster join "$token" 2>&1)
expect_match "the same token does not work twice" 'join token is unknown, spent or expired' "$out"
requests=$((requests + 3))
expect_eq "agent 2 keeps its credential mode 0600" 600 "$(stat -c %a a2/member-credential)"
cred2=$(cat a2/member-credential)
expect_match "  and it is a member credential" '^lmm_[0-9a-f]{64}$' "$cred2"
expect_eq "the registry keeps only its hash" 0 "$(grep -c "$cred2" a1/lmnet.db* 2>/dev/null | awk -F: '{s+=$NF} END {print s+0}')"
short=$(ctl "$url1" cluster join-token --ttl 1)
sleep 2
out=$(ctl "$url3" cluster join "$short" 2>&1)
expect_match "an expired token does not work" 'join token is unknown, spent or expired' "$out"
out=$(ctl "$url3" cluster join "lmj_$(printf '0%.0s' $(seq 64))" 2>&1)
expect_match "a made-up token does not work" 'join token is unknown, spent or expired' "$out"
out=$(ctl "$url3" cluster join "http://127.0.0.1:1" 2>&1)
expect_match "'cluster join URL' says how it works now" 'takes a join token now' "$out"
token=$(ctl "$url1" cluster join-token)
body=$(curl -s -w ' %{http_code}' "${J[@]}" -d "{\"join_token\":\"$token\",\"id\":\"$id3\",\"name\":\"x\",\"url\":\"http://127.0.0.2:$open_port\"}" "$url1/v1/cluster/members")
expect_match "a URL that is not the caller's own address is refused (422)" 'url-not-caller.* 422$' "$body"
check "agent 3 joins with a token of its own (not spent by the refusal)" ctl "$url3" cluster join "$token"
requests=$((requests + 8))
cred3=$(cat a3/member-credential)
for _ in $(seq 50); do
    n=$(curl -s "${A[@]}" "$url2/v1/cluster/members" | grep -o '"id"' | wc -l)
    ((n == 3)) && break
    sleep 0.2
done
expect_eq "three members, as agent 2's copy has them" 3 "$n"

echo "# a member reports about itself only"
C2=(-H "Authorization: Bearer $cred2")
heard='{"heard":{}}'
inv='{"nics":[]}'
path2=$url1/v1/cluster/members/$id2
path3=$url1/v1/cluster/members/$id3
expect_eq "admin token: reachability for agent 2 refused (403)" 403 "$(status -X PUT "${A[@]}" "${J[@]}" -d "$heard" "$path2/reachability")"
expect_eq "admin token: inventory for agent 2 refused (403)" 403 "$(status -X PUT "${A[@]}" "${J[@]}" -d "$inv" "$path2/inventory")"
expect_eq "admin token: refresh of agent 2 refused (403)" 403 "$(status -X PUT "${A[@]}" "${J[@]}" -d "{\"name\":\"x\",\"url\":\"$url2\"}" "$path2")"
expect_eq "agent 2's credential: reachability for agent 3 refused (403)" 403 "$(status -X PUT "${C2[@]}" "${J[@]}" -d "$heard" "$path3/reachability")"
expect_eq "agent 2's credential: inventory for agent 3 refused (403)" 403 "$(status -X PUT "${C2[@]}" "${J[@]}" -d "$inv" "$path3/inventory")"
expect_eq "agent 2's credential: refresh of agent 3 refused (403)" 403 "$(status -X PUT "${C2[@]}" "${J[@]}" -d "{\"name\":\"x\",\"url\":\"$url3\"}" "$path3")"
expect_eq "agent 2's credential: its own reachability taken (204)" 204 "$(status -X PUT "${C2[@]}" "${J[@]}" -d "$heard" "$path2/reachability")"
expect_eq "no credential: 401" 401 "$(status -X PUT "${J[@]}" -d "$heard" "$path2/reachability")"
expect_eq "a made-up credential: 401" 401 "$(status -X PUT -H "Authorization: Bearer lmm_$(printf 'a%.0s' $(seq 64))" "${J[@]}" -d "$heard" "$path2/reachability")"
expect_eq "a member credential is no admin token (401 on an admin route)" 401 "$(status -X POST "${C2[@]}" "$url1/v1/cluster/join-tokens")"
requests=$((requests + 10))
events=$(curl -s "${A[@]}" "$url1/v1/events?kind=member.join")
expect_match "the joins are in the audit log" "\"subject\":\"$id3\"" "$events"

echo "# a removed member's credential stops working; a restart keeps the credential"
agent_stop "$pid2"
agent_start a2 -c lmnetd.conf -t tokens --registry "$url1" -l "${url2#http://}" || exit 1
pid2=$AGENT_PID
for _ in $(seq 50); do
    h=$(curl -s "${A[@]}" "$url2/v1/health")
    [[ $h == *'"reachable":true'* ]] && break
    sleep 0.2
done
expect_match "agent 2 restarted, still a member: the registry is reachable with its stored credential" '"reachable":true' "$h"
check "agent 3 removed" ctl "$url1" cluster remove "$id3"
expect_eq "agent 3's credential is refused now (401)" 401 "$(status -X PUT -H "Authorization: Bearer $cred3" "${J[@]}" -d "$heard" "$path3/reachability")"
requests=$((requests + 3))
for pid in "${agent_pids[@]}"; do kill -0 "$pid" 2>/dev/null; done
alive=0
for u in "$url1" "$url2" "$url3"; do [[ $(status "$u/v1/health") == 200 ]] && alive=$((alive + 1)); done
expect_eq "all three agents still answer (crashes: 0)" 3 "$alive"
echo "# figures: requests tried $requests, crashes $((3 - alive))"
finish
