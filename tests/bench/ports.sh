#!/usr/bin/env bash
# Time to create, then to delete, N (default 1,000) VM ports on one switch
# through the REST API of an agent driving a private Open vSwitch (userspace
# datapath) in a namespace; each port gets a MAC from a static pool, an
# access VLAN and the default guards (spoofing off: two flows).
# Requests go CLIENTS (default 16) at a time, as a cluster manager making a
# fleet's ports would send them; CLIENTS=1 sends them one after another.
# Usage: sudo [PORTS=N] [CLIENTS=N] tests/bench/ports.sh [BUILD_DIR]
# Target: < 10 s each.
set -euo pipefail
build=$(realpath "${1:-build}")
n=${PORTS:-1000}
clients=${CLIENTS:-16}
parallel=()
((clients > 1)) && parallel=(--parallel --parallel-max "$clients")
here=$(cd "$(dirname "$0")/../.." && pwd)
source "$here/deploy/lib/ovs.sh"
ns=lmt5-bench
dir=$(mktemp -d /tmp/lmnet-bench.XXXXXX)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    ovs_stop "$dir/ovs" 2>/dev/null
    ip netns del $ns 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
ip netns del $ns 2>/dev/null || true # a previous run killed before its cleanup
ip netns add $ns
ip -n $ns link set lo up
ovs_start $ns "$dir/ovs" 2>/dev/null
printf 'ovsdb = unix:%s/ovs/db.sock\ndatapath_type = netdev\nrun_dir = %s/run\nlog_level = warning\n' "$dir" "$dir" > "$dir/lmnetd.conf"
ip netns exec $ns "$build/lmnetd" -c "$dir/lmnetd.conf" -l 127.0.0.1:18490 -d "$dir/lmnet.db" 2>"$dir/agent.log" &
pid=$!
api() { ip netns exec $ns curl -sf -H 'Content-Type: application/json' "$@"; }
for _ in $(seq 100); do api http://127.0.0.1:18490/v1/health >/dev/null 2>&1 && break; sleep 0.05; done
api -d '{"name":"bench","type":"private"}' http://127.0.0.1:18490/v1/switches >/dev/null
api -d '{"name":"fleet","ranges":[{"start":"00:1d:d8:00:00:00","end":"00:1d:d8:ff:ff:ff"}]}' http://127.0.0.1:18490/v1/mac-pools >/dev/null

# One curl process for all requests (keep-alive), so the figure is the agent's.
for ((i = 0; i < n; i++)); do
    ((i > 0)) && echo next
    printf 'url = "http://127.0.0.1:18490/v1/ports"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{\\"name\\":\\"p%d\\",\\"switch\\":\\"bench\\",\\"mac_pool\\":\\"fleet\\",\\"vlan\\":{\\"mode\\":\\"access\\",\\"id\\":%d}}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$i" $((100 + i % 50))
done > "$dir/create.cfg"
for ((i = 0; i < n; i++)); do
    ((i > 0)) && echo next
    printf 'url = "http://127.0.0.1:18490/v1/ports/p%d"\nrequest = "DELETE"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$i"
done > "$dir/delete.cfg"

echo "command: curl ${parallel[*]} -K create.cfg ($n POST /v1/ports), then the same with delete.cfg ($n DELETE)"
echo "machine: $(nproc) cores, $(uname -r), $(ovs-vswitchd --version | head -1)"
t0=$(date +%s.%N)
ip netns exec $ns curl -s --no-progress-meter "${parallel[@]}" -K "$dir/create.cfg" > "$dir/create.out"
t1=$(date +%s.%N)
created=$(grep -c '^201$' "$dir/create.out" || true)
on_switch=$(ovs_vsctl "$dir/ovs" list-ports bench | wc -l)
t2=$(date +%s.%N)
ip netns exec $ns curl -s --no-progress-meter "${parallel[@]}" -K "$dir/delete.cfg" > "$dir/delete.out"
t3=$(date +%s.%N)
deleted=$(grep -c '^204$' "$dir/delete.out" || true)
left=$(ovs_vsctl "$dir/ovs" list-ports bench | wc -l)
printf 'result: create_seconds=%.2f created=%d on_switch=%d delete_seconds=%.2f deleted=%d left=%d (target: < 10 s each)\n' \
    "$(echo "$t1 - $t0" | bc)" "$created" "$on_switch" "$(echo "$t3 - $t2" | bc)" "$deleted" "$left"
