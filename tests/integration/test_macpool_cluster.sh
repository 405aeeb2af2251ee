#!/usr/bin/env bash
# Three agents (separate databases, loopback ports, agent 1 the registry)
# allocate from one static pool: 8 concurrent clients make 3,000 allocations
# spread over all three, each with an Idempotency-Key, retried until
# answered.  Agent 3 is killed with SIGKILL mid-run and restarted on its
# port.  Afterwards: no address is held twice in the cluster, every answer
# is an allocation some agent holds (and nothing else is held), and agent 3
# still owns its blocks and goes on allocating inside them.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"
command -v python3 >/dev/null || { echo "skip: python3 is needed to pick ports"; exit 77; }

TOTAL=${MACPOOL_TEST_TOTAL:-3000}
CLIENTS=8
ports=($(python3 -c 'import socket
ss=[socket.socket() for _ in range(3)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))'))
url1=http://127.0.0.1:${ports[0]}
urls=("$url1" "http://127.0.0.1:${ports[1]}" "http://127.0.0.1:${ports[2]}")

agent_start a1 -l "127.0.0.1:${ports[0]}" || exit 1
pid1=$AGENT_PID
agent_start a2 -l "127.0.0.1:${ports[1]}" --registry "$url1" || exit 1
agent_start a3 -l "127.0.0.1:${ports[2]}" --registry "$url1" || exit 1
pid3=$AGENT_PID
J=(-H 'Content-Type: application/json')
# Agents 2 and 3 join with a one-time join token each (issue 14).
for u in "${urls[1]}" "${urls[2]}"; do
    token=$(curl -s -X POST "$url1/v1/cluster/join-tokens" | sed -n 's/.*"token":"\(lmj_[0-9a-f]*\)".*/\1/p')
    curl -s -o /dev/null "${J[@]}" -d "{\"token\":\"$token\"}" "$u/v1/cluster/join"
done

for ((i = 0; i < 50; i++)); do
    n=$(curl -s "$url1/v1/cluster/members" | grep -o '"id"' | wc -l)
    ((n == 3)) && break
    sleep 0.1
done
expect_eq "three members" 3 "$n"
code=$(curl -s -o create.json -w '%{http_code}' "${J[@]}" \
    -d '{"name":"fleet","block_size":64,"ranges":[{"start":"00:1d:d8:00:00:00","end":"00:1d:d8:00:ff:ff"}]}' \
    "${urls[1]}/v1/mac-pools")
expect_eq "a pool created through agent 2 (relayed to the registry)" 201 "$code"

# alloc N: allocation N on agent N%3 with key req-N, retried until answered
# (the agent may be dead for a moment); prints "N MAC".
alloc() {
    local n=$1 url=${URLS[$(($1 % 3))]} out i
    for ((i = 0; i < 200; i++)); do
        out=$(curl -s -m 5 -H 'Content-Type: application/json' -H "Idempotency-Key: req-$n" \
            -d "{\"vm\":\"vm-$n\",\"adapter\":\"eth0\"}" "$url/v1/mac-pools/fleet/allocations")
        if [[ $out =~ \"mac\":\"([0-9a-f:]{17})\" ]]; then
            echo "$n ${BASH_REMATCH[1]}"
            return 0
        fi
        sleep 0.05
    done
    echo "$n FAILED $out"
}
export -f alloc
export URLS_0=${urls[0]} URLS_1=${urls[1]} URLS_2=${urls[2]}

echo "# $TOTAL allocations by $CLIENTS clients over three agents; agent 3 killed mid-run"
start=$(date +%s.%N)
: > results.txt
seq 0 $((TOTAL - 1)) | xargs -P "$CLIENTS" -I{} bash -c 'URLS=("$URLS_0" "$URLS_1" "$URLS_2"); alloc {}' > results.txt &
clients=$!
while (($(wc -l < results.txt) < TOTAL / 3)); do sleep 0.05; done
kill -9 "$pid3"
wait "$pid3" 2>/dev/null
echo "killed agent 3 after $(wc -l < results.txt) answers"
sleep 0.5
mv a3/log a3/log.before-kill
agent_start a3 -l "127.0.0.1:${ports[2]}" --registry "$url1" || exit 1
wait "$clients"
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
echo "all answered in ${elapsed}s"

expect_eq "every request answered" "$TOTAL" "$(grep -vc FAILED results.txt)"
expect_eq "no address handed out twice" "$TOTAL" "$(awk '{print $2}' results.txt | sort -u | wc -l)"

# What the agents hold, each its own list, paged.
held() {
    local url=$1 after="" page
    while :; do
        page=$(curl -s "$url/v1/mac-pools/fleet/allocations?limit=1000${after:+&after=$after}")
        grep -o '"mac":"[0-9a-f:]*"' <<<"$page" | cut -d'"' -f4
        after=$(sed -n 's/.*"next":"\([0-9a-f:]*\)".*/\1/p' <<<"$page")
        [[ -n $after ]] || break
    done
}
for i in 0 1 2; do held "${urls[$i]}" > "held$i.txt"; done
cat held0.txt held1.txt held2.txt | sort > held-all.txt
expect_eq "the three agents hold $TOTAL addresses" "$TOTAL" "$(wc -l < held-all.txt)"
expect_eq "no address held by two agents" "$TOTAL" "$(sort -u held-all.txt | wc -l)"
expect_eq "held = answered, exactly" "" "$(diff <(awk '{print $2}' results.txt | sort) held-all.txt)"
for i in 0 1 2; do
    n=$(wc -l < "held$i.txt")
    check "agent $((i + 1)) allocated its share ($n)" test "$n" -ge $((TOTAL / 3 - 1))
done

echo "# agent 3's blocks after its restart"
id3=$(curl -s "${urls[2]}/v1/host" | sed -n 's/.*"node_id":"\([0-9a-f-]*\)".*/\1/p')
reg_blocks=$(curl -s "$url1/v1/mac-pools/fleet/blocks?owner=$id3" | grep -o '"start":"[0-9a-f:]*"' | sort)
own_blocks=$(curl -s "${urls[2]}/v1/mac-pools/fleet/blocks?owner=$id3" | grep -o '"start":"[0-9a-f:]*"' | sort)
check "the registry lists blocks of agent 3" test -n "$reg_blocks"
expect_eq "agent 3 keeps exactly the blocks the registry gave it" "$reg_blocks" "$own_blocks"
mac=$(curl -s "${J[@]}" -d '{"vm":"after-restart"}' "${urls[2]}/v1/mac-pools/fleet/allocations" | sed -n 's/.*"mac":"\([0-9a-f:]*\)".*/\1/p')
owner=$(curl -s "$url1/v1/mac-pools/fleet/blocks?owner=$id3" | python3 -c '
import json,sys
mac=int(sys.argv[1].replace(":",""),16)
for b in json.load(sys.stdin)["items"]:
    s=int(b["start"].replace(":",""),16); e=int(b["end"].replace(":",""),16)
    if s<=mac<=e: print("mine")' "$mac")
expect_eq "a new allocation on agent 3 lands in its own block" mine "$owner"
held2=$(curl -s "${urls[1]}/v1/mac-pools/fleet/allocations?limit=1000" | grep -c "\"$mac\"")
expect_eq "and no other agent holds it" 0 "$held2"

echo "# blocks go back to the registry agent when empty (issue 17)"
id2=$(curl -s "${urls[1]}/v1/host" | sed -n 's/.*"node_id":"\([0-9a-f-]*\)".*/\1/p')
curl -s -o /dev/null "${J[@]}" -d '{"name":"cycle","block_size":2,"ranges":[{"start":"02:00:00:00:50:00","end":"02:00:00:00:50:03"}]}' "$url1/v1/mac-pools"
get_mac() { sed -n 's/.*"mac":"\([0-9a-f:]*\)".*/\1/p'; }
a2=$(curl -s "${J[@]}" -d '{"vm":"c1"}' "${urls[1]}/v1/mac-pools/cycle/allocations" | get_mac)
a3=$(curl -s "${J[@]}" -d '{"vm":"c2"}' "${urls[2]}/v1/mac-pools/cycle/allocations" | get_mac)
b2=$(curl -s "${J[@]}" -d '{"vm":"c3"}' "${urls[1]}/v1/mac-pools/cycle/allocations" | get_mac)
check "agents 2 and 3 hold a block of two each ($a2 $b2, $a3)" test -n "$a2" -a -n "$a3" -a -n "$b2"
code=$(curl -s -o full.json -w '%{http_code}' "${J[@]}" -d '{"vm":"c4"}' "${urls[1]}/v1/mac-pools/cycle/allocations")
expect_eq "the pool is exhausted" 409 "$code"
code=$(curl -s -o del.json -w '%{http_code}' -X DELETE "${urls[1]}/v1/mac-pools/cycle")
expect_eq "a pool with blocks held cannot be deleted (through agent 2)" 409 "$code"
expect_match "  and the refusal names the node holding a block" "held by node $id2 \\(host " "$(cat del.json)"
code=$(curl -s -o shrink.json -w '%{http_code}' -X PATCH "${J[@]}" \
    -d '{"ranges":[{"start":"02:00:00:00:50:00","end":"02:00:00:00:50:01"}]}' "${urls[1]}/v1/mac-pools/cycle")
expect_eq "nor shrunk over agent 3's block" 409 "$code"
expect_match "  and that refusal names agent 3" "range-in-use.*held by node $id3" "$(cat shrink.json)"
start3=$(curl -s "$url1/v1/mac-pools/cycle/blocks?owner=$id3" | sed -n 's/.*"start":"\([0-9a-f:]*\)".*/\1/p')
code=$(curl -s -o anon.json -w '%{http_code}' -X DELETE "$url1/v1/mac-pools/cycle/blocks/$start3")
expect_eq "giving a block back needs a member credential" 401 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${urls[2]}/v1/mac-pools/cycle/allocations/$a3")
expect_eq "agent 3 releases its only address" 204 "$code"
expect_eq "  and its block is back at the registry" "" \
    "$(curl -s "$url1/v1/mac-pools/cycle/blocks?owner=$id3" | grep -o '"start"')"
expect_eq "  and gone from agent 3's own list" "" \
    "$(curl -s "${urls[2]}/v1/mac-pools/cycle/blocks?owner=$id3" | grep -o '"start"')"
c4=$(curl -s "${J[@]}" -d '{"vm":"c4"}' "${urls[1]}/v1/mac-pools/cycle/allocations" | get_mac)
expect_eq "agent 2 claims the block agent 3 gave back (a gap below the highest block)" "$a3" "$c4"
for m in "$a2" "$b2" "$c4"; do
    curl -s -o /dev/null -X DELETE "${urls[1]}/v1/mac-pools/cycle/allocations/$m"
done
expect_eq "every address released: no block is claimed" "" \
    "$(curl -s "$url1/v1/mac-pools/cycle/blocks" | grep -o '"start"')"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${urls[1]}/v1/mac-pools/cycle")
expect_eq "  and the pool is deleted (through agent 2)" 204 "$code"

echo "# the registry away: agents go on from the blocks they hold"
agent_stop "$pid1"
code=$(curl -s -o /dev/null -w '%{http_code}' "${J[@]}" -d '{"vm":"registry-away"}' "${urls[1]}/v1/mac-pools/fleet/allocations")
expect_eq "agent 2 still allocates" 201 "$code"
# Membership notices within its 5 s round.
for ((i = 0; i < 70; i++)); do
    health=$(curl -s "${urls[1]}/v1/health")
    [[ $health == *'"reachable":false'* ]] && break
    sleep 0.2
done
expect_match "and its health says the registry is unreachable" '"reachable":false' "$health"
finish
