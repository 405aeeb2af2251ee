#!/usr/bin/env bash
# The cluster registry: SQLite (registry = self, the others over REST)
# against etcd (registry = etcd://, a 3-member etcd on loopback), in one run.
#   1. allocations/s on a member agent (blocks of 64: a claim every 64);
#   2. block claims/s on a member agent (blocks of 1: every allocation is a
#      claim at the registry);
#   3. 16 agents on this machine joining and heartbeating: time until every
#      agent lists all 16, and the registry's write load while they run.
# wrk: 2 threads, 16 connections, DURATION each (default 10s).
# Usage: tests/bench/registry.sh [BUILD_DIR]
set -euo pipefail
build=$(realpath "${1:-build}")
duration=${DURATION:-10s}
agents=${AGENTS:-16}
command -v wrk >/dev/null || { echo "registry.sh: wrk is missing" >&2; exit 1; }
command -v etcd >/dev/null || { echo "registry.sh: etcd is missing (deploy/install-deps --tests)" >&2; exit 1; }
dir=$(mktemp -d /tmp/lmnet-bench-registry.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT
ports=($(python3 -c "import socket
ss=[socket.socket() for _ in range(6 + 2 * (2 * $agents + 4))]
[s.bind(('127.0.0.1',0)) for s in ss]
print(' '.join(str(s.getsockname()[1]) for s in ss))"))

cluster=""
for m in 1 2 3; do cluster+="${cluster:+,}m$m=http://127.0.0.1:${ports[$((2 + m))]}"; done
for m in 1 2 3; do
    etcd --name "m$m" --data-dir "$dir/etcd$m" \
        --listen-client-urls "http://127.0.0.1:${ports[$((m - 1))]}" \
        --advertise-client-urls "http://127.0.0.1:${ports[$((m - 1))]}" \
        --listen-peer-urls "http://127.0.0.1:${ports[$((2 + m))]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${ports[$((2 + m))]}" \
        --initial-cluster "$cluster" --initial-cluster-token bench >"$dir/etcd$m.log" 2>&1 &
    pids+=($!)
done
endpoints="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
for _ in $(seq 100); do
    etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1 && break
    sleep 0.1
done
p=6
# start NAME REGISTRY: an agent on the next two free ports (API, heartbeat).
start() {
    local name=$1 registry=$2 api=${ports[$p]} hb=${ports[$((p + 1))]}
    p=$((p + 2))
    mkdir -p "$dir/$name"
    printf 'registry = %s\nheartbeat_port = %s\nlog_level = warning\n' "$registry" "$hb" > "$dir/$name/conf"
    "$build/lmnetd" -c "$dir/$name/conf" -l "127.0.0.1:$api" -d "$dir/$name/db" 2>"$dir/$name/log" &
    pids+=($!)
    URL=http://127.0.0.1:$api
    for _ in $(seq 100); do curl -sf -o /dev/null "$URL/v1/health" && break; sleep 0.05; done
    if [[ $registry == http* ]]; then # a registry agent: join with a one-time join token
        local token
        token=$(curl -s -X POST "$registry/v1/cluster/join-tokens" | sed -n 's/.*"token":"\(lmj_[0-9a-f]*\)".*/\1/p')
        curl -s -o /dev/null -H 'Content-Type: application/json' -d "{\"token\":\"$token\"}" "$URL/v1/cluster/join"
    fi
}
pool() { # URL NAME BLOCK_SIZE START
    curl -sf -o /dev/null -H 'Content-Type: application/json' \
        -d "{\"name\":\"$2\",\"block_size\":$3,\"ranges\":[{\"start\":\"$4\",\"end\":\"${4%:*:*:*}:ff:ff:ff\"}]}" "$1/v1/mac-pools"
}
cat > "$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"vm":"bench","adapter":"eth0"}'
wrk.headers["Content-Type"] = "application/json"
LUA
rate() { # URL POOL: successful allocations per second (and the failures)
    wrk -t2 -c16 -d"$duration" -s "$dir/post.lua" "$1/v1/mac-pools/$2/allocations" |
        awk '/requests in/ {n=$1; t=$4; sub(/s,?$/, "", t)} /Non-2xx/ {e=$5}
             END {printf "%.0f%s", (n - e) / t, e ? " (" e " failed)" : ""}'
}
echo "machine: $(nproc) cores, $(uname -r); etcd $(etcd --version | sed -n 's/etcd Version: //p'), 3 members on loopback"
echo "command: wrk -t2 -c16 -d$duration -s post.lua URL/v1/mac-pools/POOL/allocations (on a member agent)"

start reg self
reg=$URL
start member "$reg"
member=$URL
start e1 "etcd://$endpoints"
start e2 "etcd://$endpoints"
e2=$URL
pool "$reg" s64 64 02:01:00:00:00:00
pool "$reg" s1 1 02:02:00:00:00:00
pool "$e2" e64 64 02:03:00:00:00:00
pool "$e2" e1 1 02:04:00:00:00:00
printf '%-28s %14s %14s\n' "" "SQLite (self)" "etcd (3 members)"
printf '%-28s %14s %14s\n' "allocations/s (blocks of 64)" "$(rate "$member" s64)" "$(rate "$e2" e64)"
printf '%-28s %14s %14s\n' "block claims/s (blocks of 1)" "$(rate "$member" s1)" "$(rate "$e2" e1)"

# Joining and heartbeating.
join_bench() { # LABEL REGISTRY FIRST_URL
    local label=$1 registry=$2 t0 t1 n urls=() rev0 rev1
    t0=$(date +%s.%N)
    for i in $(seq 2 "$agents"); do start "$label$i" "$registry"; urls+=("$URL"); done
    for _ in $(seq 600); do
        n=$(curl -s "${urls[-1]}/v1/cluster/members" | grep -o '"id"' | wc -l || true)
        ((n >= agents)) && break
        sleep 0.1
    done
    t1=$(date +%s.%N)
    printf '%s: %s agents listed by the last one after %.1f s\n' "$label" "$n" "$(echo "$t1 - $t0" | bc)"
}
echo "# $agents agents joining and heartbeating (heartbeat_interval 1000 ms)"
# SQLite: the registry agent and the member are two; start the rest.
join_bench sqlite "$reg"
rev() { etcdctl --endpoints "$endpoints" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'; }
join_bench etcd "etcd://$endpoints"
sleep 5
rev0=$(rev)
sleep 20
rev1=$(rev)
echo "etcd: $(( (rev1 - rev0) / 20 )) writes/s with $((agents + 1)) etcd agents up (membership keepalive, inventories, heartbeat reports)"
