#!/usr/bin/env bash
# Time to create, then to delete, N (default 1,000) VM ports on one switch
# through the REST API of an agent driving a private Open vSwitch (userspace
# datapath) in a namespace; each port gets a MAC from a static pool, an
# access VLAN and the default guards (spoofing off: two flows).
# Requests go CLIENTS (default 16) at a time, as a cluster manager making a
# fleet's ports would send them; CLIENTS=1 sends them one after another.
# Then, in the same run, the floor: Open vSwitch alone adding and removing
# as many taps in one transaction each (FLOOR=0 skips it).
# Removing a port from the userspace datapath closes its packet socket in
# ovs-vswitchd's main thread, and the kernel waits out an RCU grace period
# (~13 ms here) in each close: 1,000 ports cost ~13 s of waiting whoever
# asks.  RCU_EXPEDITED=1 runs the bench with /sys/kernel/rcu_expedited set
# (a host tuning that makes those waits short), and puts it back after.
# Usage: sudo [PORTS=N] [CLIENTS=N] [FLOOR=0] [RCU_EXPEDITED=1] tests/bench/ports.sh [BUILD_DIR]
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
rcu_was=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [[ -n $rcu_was ]] && echo "$rcu_was" > /sys/kernel/rcu_expedited
    ovs_stop "$dir/ovs" 2>/dev/null
    ip netns del $ns 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
if [[ ${RCU_EXPEDITED:-0} == 1 ]]; then
    rcu_was=$(cat /sys/kernel/rcu_expedited)
    echo 1 > /sys/kernel/rcu_expedited
fi
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
echo "machine: $(nproc) cores, $(uname -r), $(ovs-vswitchd --version | head -1), rcu_expedited=$(cat /sys/kernel/rcu_expedited 2>/dev/null || echo '?')"
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

# The floor: Open vSwitch alone, the same number of taps, one transaction
# to add them all (ovs-vsctl waits until ovs-vswitchd has them) and one to
# remove them.
if [[ ${FLOOR:-1} != 0 ]]; then
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pid=
    ovs_vsctl "$dir/ovs" add-br floor -- set bridge floor datapath_type=netdev
    for ((i = 0; i < n; i++)); do echo "tuntap add f$i mode tap"; done | ip -n $ns -batch -
    for ((i = 0; i < n; i++)); do echo "link set f$i up"; done | ip -n $ns -batch -
    add=() del=()
    for ((i = 0; i < n; i++)); do add+=(-- add-port floor "f$i"); del+=(-- del-port floor "f$i"); done
    t0=$(date +%s.%N)
    ovs-vsctl --db="unix:$dir/ovs/db.sock" --timeout=300 "${add[@]}"
    t1=$(date +%s.%N)
    ovs-vsctl --db="unix:$dir/ovs/db.sock" --timeout=300 "${del[@]}"
    t2=$(date +%s.%N)
    printf 'floor: ovs_alone_add_seconds=%.2f ovs_alone_remove_seconds=%.2f (%d taps, one ovs-vsctl transaction each)\n' \
        "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$n"
    # The taps go side by side (one at a time takes ~15 ms each).
    for ((p = 0; p < 16; p++)); do
        for ((i = p; i < n; i += 16)); do echo "tuntap del f$i mode tap"; done | ip -n $ns -batch - &
    done
    wait
fi
