#!/usr/bin/env bash
# MAC pools on one real lmnetd over HTTP and lmnetctl (no root needed): an
# Idempotency-Key replays the same request only, and refuses another body
# (422) rather than hand one MAC to two adapters; changes answer the ETag
# that their GET answers, so the next If-Match holds.
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

agent_start main || exit 1
U=$AGENT_URL
ctl() { "$LMNETCTL" -s "$U" "$@"; }
J=(-H 'Content-Type: application/json')
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# etag CURL-ARGS...: the ETag header of the answer
etag() { curl -s -D - -o /dev/null "$@" | tr -d '\r' | sed -n 's/^ETag: //Ip'; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

check "a pool" ctl macpool create fleet 02:00:00:00:10:00-02:00:00:00:10:ff
check "another pool" ctl macpool create spare 02:00:00:00:20:00-02:00:00:00:20:ff

echo "# Idempotency-Key"
mac1=$(ctl macpool allocate fleet --vm web1 --adapter eth0 --key web1-eth0); rc=$?
expect_match "an allocation with a key" '^02:00:00:00:10:[0-9a-f]{2} 0$' "$mac1 $rc"
again=$(ctl macpool allocate fleet --vm web1 --adapter eth0 --key web1-eth0); rc=$?
expect_eq "the same request again is a replay: the same MAC, exit 0" "$mac1 0" "$again $rc"
out=$(ctl macpool allocate fleet --vm web5 --adapter eth3 --key web1-eth0 2>err); rc=$?
expect_eq "the key with another VM and adapter: exit 1, no MAC printed" "1 " "$rc $out"
expect_match "  saying the key was used for another request" 'idempotency-key-reused' "$(cat err)"
body=$(curl -s "${J[@]}" -H 'Idempotency-Key: web1-eth0' -d '{"vm":"web1","adapter":"eth1"}' "$U/v1/mac-pools/fleet/allocations")
expect_match "another adapter of the same VM is 422 idempotency-key-reused" '"type":"[^"]*/idempotency-key-reused".*"status":422' "$body"
expect_eq "another requested MAC with the key is 422" 422 \
    "$(status "${J[@]}" -H 'Idempotency-Key: web1-eth0' -d '{"vm":"web1","adapter":"eth0","mac":"02:00:00:00:10:99"}' "$U/v1/mac-pools/fleet/allocations")"
expect_eq "the key on another pool is 422" 422 \
    "$(status "${J[@]}" -H 'Idempotency-Key: web1-eth0' -d '{"vm":"web1","adapter":"eth0"}' "$U/v1/mac-pools/spare/allocations")"
expect_eq "the same body again is 200 (a replay)" 200 \
    "$(status "${J[@]}" -H 'Idempotency-Key: web1-eth0' -d '{"vm":"web1","adapter":"eth0"}' "$U/v1/mac-pools/fleet/allocations")"
expect_eq "  and so is the same body naming the MAC it got" 200 \
    "$(status "${J[@]}" -H 'Idempotency-Key: web1-eth0' -d "{\"vm\":\"web1\",\"adapter\":\"eth0\",\"mac\":\"$mac1\"}" "$U/v1/mac-pools/fleet/allocations")"
n=$(curl -s "$U/v1/mac-pools/fleet/allocations" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
expect_eq "one allocation in the pool, none for the refused requests" 1 "$n"

echo "# a change answers its GET's ETag"
tag=$(etag "${J[@]}" -d '{"id":42,"name":"web"}' "$U/v1/vlans")
expect_match "a created VLAN (201) carries an ETag" '^"[0-9a-f]{16}"$' "$tag"
expect_eq "  the one its GET answers" "$tag" "$(etag "$U/v1/vlans/42")"
expect_eq "  so a DELETE with it as If-Match is 204" 204 "$(status -X DELETE -H "If-Match: $tag" "$U/v1/vlans/42")"
tag=$(etag "${J[@]}" -d '{"name":"third","ranges":[{"start":"02:00:00:00:30:00","end":"02:00:00:00:30:ff"}]}' "$U/v1/mac-pools")
expect_match "a created pool (201) carries an ETag" '^"[0-9a-f]{16}"$' "$tag"
expect_eq "  the one its GET answers" "$tag" "$(etag "$U/v1/mac-pools/third")"
loc=$(curl -s -D - -o /dev/null "${J[@]}" -d '{"vm":"db1","adapter":"eth0"}' "$U/v1/mac-pools/fleet/allocations" | tr -d '\r' | sed -n 's/^Location: //Ip')
tag=$(etag "${J[@]}" -d '{"vm":"db2","adapter":"eth0"}' "$U/v1/mac-pools/fleet/allocations")
mac=$(curl -s "$U/v1/mac-pools/fleet/allocations" | python3 -c 'import json,sys; print([a["mac"] for a in json.load(sys.stdin)["items"] if a["vm"]=="db2"][0])')
expect_match "an allocation (201) carries an ETag" '^"[0-9a-f]{16}"$' "$tag"
expect_eq "  the one its GET answers" "$tag" "$(etag "$U/v1/mac-pools/fleet/allocations/$mac")"
expect_match "  and a Location" '^/v1/mac-pools/fleet/allocations/' "$loc"

echo "# pool lifecycle: grow, shrink where free, delete; vlan set"
check "a pool of four addresses in blocks of two" ctl macpool create tiny 02:00:00:00:40:00-02:00:00:00:40:03 --block-size 2
for i in 1 2 3 4; do ctl macpool allocate tiny --vm t$i >/dev/null; done
out=$(ctl macpool allocate tiny --vm t5 2>&1); rc=$?
expect_match "the fifth allocation: exhausted, saying to add a range" '^1 .*mac-pool-exhausted' "$rc $out"
out=$(ctl macpool set tiny --add-range 02:00:00:00:41:00-02:00:00:00:41:03); rc=$?
expect_match "macpool set --add-range grows it" '^0 .*tiny +static +8 ' "$rc $out"
expect_match "  and the fifth allocation gets an address of the new range" '^02:00:00:00:41:0[0-3]$' "$(ctl macpool allocate tiny --vm t5)"
out=$(ctl macpool set tiny --remove-range 02:00:00:00:40:00-02:00:00:00:40:03 2>&1); rc=$?
expect_match "a range with claimed blocks cannot be removed" '^1 .*range-in-use' "$rc $out"
expect_eq "  and the pool is as it was" 8 "$(curl -s "$U/v1/mac-pools/tiny" | field size)"
check "a free range can be added" ctl macpool set tiny --add-range 02:00:00:00:42:00-02:00:00:00:42:ff
check "  and removed again (a pool shrinks where free)" ctl macpool set tiny --remove-range 02:00:00:00:42:00-02:00:00:00:42:ff
expect_eq "  so it is back to eight addresses" 8 "$(curl -s "$U/v1/mac-pools/tiny" | field size)"
out=$(ctl macpool set tiny --add-range 02:00:00:00:10:80-02:00:00:00:10:8f 2>&1); rc=$?
expect_match "a range overlapping another pool is refused" '^1 .*pool-overlap' "$rc $out"
expect_eq "a field that cannot change is 422" 422 \
    "$(status -X PATCH "${J[@]}" -d '{"block_size": 8}' "$U/v1/mac-pools/tiny")"
tag=$(etag -X PATCH "${J[@]}" -d '{"description": "grown"}' "$U/v1/mac-pools/tiny")
expect_eq "a PATCH of a pool answers its GET's ETag" "$(etag "$U/v1/mac-pools/tiny")" "$tag"
expect_eq "  and a stale If-Match is 412" 412 \
    "$(status -X PATCH "${J[@]}" -H 'If-Match: "0000000000000000"' -d '{"description": "x"}' "$U/v1/mac-pools/tiny")"
out=$(ctl macpool delete tiny 2>&1); rc=$?
expect_match "a pool with claimed blocks cannot be deleted" '^1 .*pool-in-use' "$rc $out"
me=$(curl -s "$U/v1/host" | sed -n 's/.*"node_id":"\([0-9a-f-]*\)".*/\1/p')
expect_match "  and the refusal names the node holding a block" "held by node $me" "$out"
echo "# blocks go back when their last address is released (issue 17)"
macs=$(curl -s "$U/v1/mac-pools/tiny/allocations" | python3 -c 'import json,sys; print(" ".join(a["mac"] for a in json.load(sys.stdin)["items"]))')
first=${macs%% *}
ctl macpool release tiny "$first" >/dev/null
blocks() { curl -s "$U/v1/mac-pools/tiny/blocks" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }
expect_eq "one address released: its block (two addresses) stays" 3 "$(blocks)"
for m in $macs; do [[ $m == "$first" ]] || ctl macpool release tiny "$m" >/dev/null; done
expect_eq "every address released: every block went back" 0 "$(blocks)"
check "  so the first range can now be removed" ctl macpool set tiny --remove-range 02:00:00:00:40:00-02:00:00:00:40:03
check "  and the pool deleted" ctl macpool delete tiny
expect_eq "  and gone" 404 "$(status "$U/v1/mac-pools/tiny")"
check "a pool never allocated from is deleted" ctl macpool delete third
expect_eq "  and gone" 404 "$(status "$U/v1/mac-pools/third")"
check "a VLAN" ctl vlan create 43 web
out=$(ctl vlan set 43 --name frontend --description "the web tier"); rc=$?
expect_match "vlan set renames it" '^0 .*43 +frontend +the web tier' "$rc $out"
check "a second VLAN" ctl vlan create 44 db
out=$(ctl vlan set 44 --name frontend 2>&1); rc=$?
expect_match "a name another VLAN has is refused" '^1 .*conflict' "$rc $out"
expect_eq "a VLAN's id cannot change" 422 "$(status -X PATCH "${J[@]}" -d '{"id": 45}' "$U/v1/vlans/44")"

finish
