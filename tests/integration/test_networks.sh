#!/usr/bin/env bash
# Cluster networks on three hosts (deploy/cluster.sh: a namespace and an
# lmnetd per host, separate veth links for management, migration and
# storage): the three networks are discovered and Up; roles and metrics can
# be set; taking one host's migration link down makes that network
# partitioned while the other two stay Up, and bringing it back restores
# Up; the heartbeat sockets are bound to the cluster-network addresses
# only, and datagrams from non-members are ignored; the advice finds what
# breaks good practice.  Prints how long detection took.
set -u
source "$(dirname "$0")/lib.sh"
((EUID == 0)) || { echo "skip: needs root (namespaces)"; exit 77; }
here=$(cd "$(dirname "$0")/../.." && pwd)
export LMNET_CLUSTER_PREFIX=lmt5 LMNET_CLUSTER_DIR=$LMNET_TEST_DIR/cluster
cluster() { bash "$here/deploy/cluster.sh" "$@"; }
cleanup() { cluster down >/dev/null 2>&1; cleanup_test_dir; }
trap cleanup EXIT
cluster up --hosts 3 --no-switch >/dev/null || { echo "FAIL - cluster up"; exit 1; }
ctl() { cluster ctl "$@"; }
states() { # HOST: the three states in network order, e.g. "up up up"
    ctl "$1" -o json network list | python3 -c 'import json,sys; print(" ".join(n["state"] for n in json.load(sys.stdin)["items"]))'
}
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | sed 's/^\./0./'; }
wait_states() { # HOST WANT DEADLINE_S: polls until the states are WANT; prints the seconds taken
    local t0 s; t0=$(now)
    while :; do
        s=$(states "$1" 2>/dev/null)
        [[ $s == "$2" ]] && { since "$t0"; return 0; }
        (($(echo "$(since "$t0") > $3" | bc))) && { echo "timeout ($s)"; return 1; }
        sleep 0.2
    done
}

took=$(wait_states 1 "up up up" 30)
expect_match "three networks discovered and up (took ${took} s after the agents joined)" '^[0-9.]+$' "$took"
list=$(ctl 2 network list)
echo "$list"
expect_match "the table has Get-ClusterNetwork's columns" '^Name +State +Role +Address +AddressMask +Metric +AutoMetric' "$list"
expect_match "management network found by the agents' own addresses" 'Cluster Network 1 +Up +Management +10\.77\.0\.0 +255\.255\.255\.0 +1000 +True' "$list"
expect_match "migration network (role given by cluster.sh) with automatic metric 1100" 'Cluster Network 2 +Up +Migration +10\.78\.0\.0 +255\.255\.255\.0 +1100 +True' "$list"
expect_match "storage network with automatic metric 1200" 'Cluster Network 3 +Up +Storage +10\.79\.0\.0 +255\.255\.255\.0 +1200 +True' "$list"

check "role migration by name" ctl 1 network set "Cluster Network 2" --role migration --name Migration
check "role storage and a metric, from a non-registry agent" ctl 3 network set "Cluster Network 3" --role storage --metric 500
# A PATCH answers the ETag its GET answers, so the next If-Match holds
# (on the registry, host 1, and relayed from host 3).
api_on() { # HOST CURL-ARGS...: as admin on that host's agent
    local h=$1; shift
    ip netns exec "lmt5-h$h" curl -s -H "Authorization: Bearer $(cat "$LMNET_CLUSTER_DIR/admin-token")" \
        -H 'Content-Type: application/json' "$@"
}
for h in 1 3; do
    u=http://10.77.0.$h:8470/v1/cluster/networks/Migration
    tag=$(api_on $h -D - -o /dev/null -X PATCH -d '{"role":"migration"}' "$u" | tr -d '\r' | sed -n 's/^ETag: //Ip')
    expect_eq "host $h: a PATCH answers the ETag its GET answers" "$(api_on $h -D - -o /dev/null "$u" | tr -d '\r' | sed -n 's/^ETag: //Ip')" "$tag"
    expect_eq "host $h:   so the next PATCH with If-Match succeeds" 200 \
        "$(api_on $h -o /dev/null -w '%{http_code}' -X PATCH -H "If-Match: $tag" -d '{"role":"migration"}' "$u")"
done
json=$(ctl 2 -o json network show Migration)
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
expr() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
expect_eq "renamed network keeps its subnet" 10.78.0.0 "$(field '["address"]' <<<"$json")"
expect_eq "three interfaces on it" 3 "$(field '["members"]' <<<"$json")"
expect_eq "host 2's interface is eth-mig" eth-mig "$(expr '[i for i in d["interfaces"] if i["node_name"]=="lmt5-h2"][0]["nic"]' <<<"$json")"
s=$(ctl 1 -o json network show "Cluster Network 3")
expect_eq "metric set by hand" "500 False" "$(field '["metric"]' <<<"$s") $(field '["auto_metric"]' <<<"$s")"
out=$(ctl 1 network set Migration --role teleport 2>&1); rc=$?
expect_eq "an unknown role is refused" "1" "$rc"
expect_match "... saying which roles exist" "none, management, migration, storage, vm" "$out"
check "the refused change left the role as it was" bash -c "[[ \$(bash '$here/deploy/cluster.sh' ctl 1 -o json network show Migration | grep -c '\"role\": \"migration\"') == 1 ]]"
out=$(ctl 1 network set Nowhere --role vm 2>&1); rc=$?
expect_eq "an unknown network is 404 (exit 1)" "1 yes" "$rc $([[ $out == *"no cluster network"* ]] && echo yes)"

# Link down: host 3's migration NIC.
ip netns exec lmt5-h3 ip link set eth-mig down
took=$(wait_states 1 "up partitioned up" 15)
expect_match "migration link of host 3 down: its network partitioned, the others up (took ${took} s; target 5 s)" '^[0-9.]+$' "$took"
echo "# partitioned detected after ${took} s"
# Host 3 reaches no one (Unreachable) once both others have stopped hearing it.
for _ in $(seq 50); do
    show=$(ctl 1 network show Migration)
    [[ $show =~ lmt5-h3\ +eth-mig\ +10\.78\.0\.3\ +Unreachable\ +[0-9]+\ +lmt5-h[12],lmt5-h[12] ]] && break
    sleep 0.2
done
echo "$show"
expect_match "the interface view names the hosts host 3 does not reach" 'lmt5-h3 +eth-mig +10\.78\.0\.3 +Unreachable +[0-9]+ +lmt5-h[12],lmt5-h[12]' "$show"
ip netns exec lmt5-h3 ip link set eth-mig up
took=$(wait_states 2 "up up up" 15)
expect_match "link back: up again (took ${took} s)" '^[0-9.]+$' "$took"
echo "# up again after ${took} s"

# Heartbeat sockets: bound to the three cluster addresses, never the wildcard.
bound=$(ip netns exec lmt5-h2 ss -Hunl 'sport = :8471' | awk '{print $4}' | sort | tr '\n' ' ')
expect_eq "heartbeats listen on the cluster-network addresses only" "10.77.0.2:8471 10.78.0.2:8471 10.79.0.2:8471 " "$bound"

# Datagrams from non-members: a forged node id, and a member's id from
# another member's address.  Neither counts; host 2 still hears host 1.
mig_id=$(ctl 2 -o json network show Migration | field '["id"]')
h1_id=$(ctl 2 -o json network show Migration | expr '[i["node"] for i in d["interfaces"] if i["node_name"]=="lmt5-h1"][0]')
hb() { ip netns exec lmt5-h2 curl -s -H "Authorization: Bearer $(cat "$LMNET_CLUSTER_DIR/admin-token")" http://10.77.0.2:8470/v1/cluster/heartbeats; }
key=$(ip netns exec lmt5-h1 curl -s -H "Authorization: Bearer $(cat "$LMNET_CLUSTER_DIR/admin-token")" http://10.77.0.1:8470/v1/cluster/heartbeat-key | field '["key"]')
expect_match "the registry serves the cluster's heartbeat key" '^[0-9a-f]{32}$' "$key"
expect_eq "host 2 signs its heartbeats" True "$(hb | field '["signed"]')"
ignored0=$(hb | field '["ignored"]')
send() { # FROM_NS FROM_ADDR NODE_ID [KEY|unsigned] [RUN]: five datagrams to host 2
    ip netns exec "$1" python3 - "$2" "$3" "$mig_id" "${4:-$key}" "${5:-1}" <<'PY'
import socket, struct, sys
src, node, net, key, run = sys.argv[1:6]
def siphash24(k, m):
    mask = (1 << 64) - 1
    rotl = lambda x, b: ((x << b) | (x >> (64 - b))) & mask
    k0, k1 = struct.unpack("<QQ", k)
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d, k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    def rnd():
        v[0] = (v[0] + v[1]) & mask; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & mask; v[3] = rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & mask; v[3] = rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & mask; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)
    whole = len(m) - len(m) % 8
    for i in range(0, whole, 8):
        w, = struct.unpack("<Q", m[i:i + 8]); v[3] ^= w; rnd(); rnd(); v[0] ^= w
    b = (len(m) << 56) & mask
    for i, c in enumerate(m[whole:]):
        b |= c << (8 * i)
    v[3] ^= b; rnd(); rnd(); v[0] ^= b; v[2] ^= 0xff
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
for seq in range(1, 6):
    body = struct.pack("!I", seq) + node.encode() + net.encode()
    if key == "unsigned":
        pkt = b"LMHB" + bytes([1, 0, 0, 0]) + body
    else:
        pkt = b"LMHB" + bytes([2, 0, 0, 0]) + body + struct.pack("!I", int(run))
        pkt += struct.pack("<Q", siphash24(bytes.fromhex(key), pkt))
    s.sendto(pkt, ("10.78.0.2", 8471))
PY
}
send lmt5-h3 10.78.0.3 11111111-2222-3333-4444-555555555555
sleep 0.5
s=$(hb)
expect_eq "five signed datagrams with a non-member's id ignored" $((ignored0 + 5)) "$(field '["ignored"]' <<<"$s")"
expect_match "... said why" "not a member on this network" "$(field '["last_ignored"]' <<<"$s")"
send lmt5-h3 10.78.0.3 "$h1_id"
sleep 0.5
s=$(hb)
expect_eq "five signed datagrams naming host 1 but sent from host 3's address ignored" $((ignored0 + 10)) "$(field '["ignored"]' <<<"$s")"
expect_match "... said why" "not the member's address" "$(field '["last_ignored"]' <<<"$s")"
h3_id=$(ctl 2 -o json network show Migration | expr '[i["node"] for i in d["interfaces"] if i["node_name"]=="lmt5-h3"][0]')
send lmt5-h3 10.78.0.3 "$h3_id" unsigned
sleep 0.5
s=$(hb)
expect_eq "five unsigned datagrams from host 3 ignored" $((ignored0 + 15)) "$(field '["ignored"]' <<<"$s")"
expect_match "... said why" "unsigned" "$(field '["last_ignored"]' <<<"$s")"
send lmt5-h3 10.78.0.3 "$h3_id" 000102030405060708090a0b0c0d0e0f
sleep 0.5
s=$(hb)
expect_eq "five datagrams signed with another key ignored" $((ignored0 + 20)) "$(field '["ignored"]' <<<"$s")"
expect_match "... said why" "bad signature" "$(field '["last_ignored"]' <<<"$s")"
send lmt5-h3 10.78.0.3 "$h3_id" "$key" 7
sleep 0.5
s=$(hb)
expect_eq "five well-signed copies from another run of host 3, heard now, ignored" $((ignored0 + 25)) "$(field '["ignored"]' <<<"$s")"
expect_match "... said why" "replayed" "$(field '["last_ignored"]' <<<"$s")"
expect_eq "networks still up" "up up up" "$(states 2)"

# A member killed and started again at once is heard again at once: its new
# run is above the last one, so its datagrams are not taken for copies
# while the old run is still heard.
wait_states 2 "up up up" 15 >/dev/null
ignored0=$(hb | field '["ignored"]')
h3_ago() { hb | expr '[p["last_heard_ms_ago"] for l in d["listeners"] if l["name"] == "Migration" for p in l["peers"] if p["node"] == "'"$h3_id"'"][0]'; }
old=$(ip netns pids lmt5-h3)
kill -9 $old
t0=$(now)
ip netns exec lmt5-h3 "$LMNETD" -c "$LMNET_CLUSTER_DIR/h3/lmnetd.conf" </dev/null >/dev/null 2>&1 &
for _ in $(seq 100); do
    ago=$(h3_ago 2>/dev/null)
    [[ $ago =~ ^[0-9]+$ ]] && (($(echo "$ago < $(since "$t0") * 1000" | bc))) && break
    sleep 0.1
done
echo "# host 3 heard again $(since "$t0") s after it was killed and started"
s=$(hb)
expect_eq "host 3 restarted at once: none of its new run's datagrams ignored" "$ignored0" "$(field '["ignored"]' <<<"$s")"
expect_eq "networks up after the restart" "up up up" "$(wait_states 2 "up up up" 15 >/dev/null && states 2)"

# Advice: with a migration network on its own NICs the cluster is clean;
# move the role and offloads apart and the findings appear.
out=$(ctl 1 network check); rc=$?
expect_eq "no findings for separate management, migration and storage NICs" "0" "$rc"
ip netns exec lmt5-h2 ethtool -K eth-sto tso off >/dev/null 2>&1 || ip netns exec lmt5-h2 "$LMNETCTL" --server http://10.77.0.2:8470 --token-file "$LMNET_CLUSTER_DIR/admin-token" nic set eth-sto tso=off >/dev/null
check "tso off on host 2's storage NIC through lmnetctl" ctl 2 nic set eth-sto tso=off
check "no network with role migration any more" ctl 1 network set Migration --role none
sleep 3 # the next inventory round
out=$(ctl 1 network check); rc=$?
echo "$out"
expect_eq "check exits 1 when there is something to fix" 1 "$rc"
expect_match "finding: no migration network" "no-migration-network" "$out"
expect_match "finding: offloads differ on the storage network, naming host 2's NIC" "offloads-differ: offload tso differs between the members on 'Cluster Network 3'" "$out"
expect_match "... with the node and NIC" "node lmt5-h2 nic eth-sto" "$out"
check "tso back on" ctl 2 nic set eth-sto tso=on

# Names survive a restart of the registry.
old=$(ip netns pids lmt5-h1)
kill -TERM $old
for _ in $(seq 50); do kill -0 $old 2>/dev/null || break; sleep 0.1; done
check "the registry stopped" bash -c "! kill -0 $old 2>/dev/null"
ip netns exec lmt5-h1 "$LMNETD" -c "$LMNET_CLUSTER_DIR/h1/lmnetd.conf" </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do ctl 1 health >/dev/null 2>&1 && break; sleep 0.1; done
names=$(ctl 1 -o json network list | python3 -c 'import json,sys; print(",".join(n["name"] for n in json.load(sys.stdin)["items"]))')
expect_eq "names after a registry restart" "Cluster Network 1,Migration,Cluster Network 3" "$names"
took=$(wait_states 1 "up up up" 30)
expect_match "states measured again after the restart (took ${took} s)" '^[0-9.]+$' "$took"
finish
