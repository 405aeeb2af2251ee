#!/usr/bin/env bash
# A cluster of lmnet hosts on one machine, built from network namespaces
# (DESIGN.md, "Testing").  The demo and the integration tests share it.
#
#   deploy/cluster.sh up [--hosts N]   build it (2 hosts by default, at most 3)
#   deploy/cluster.sh down             remove exactly what 'up' made
#   deploy/cluster.sh status           namespaces, links, agents
#   deploy/cluster.sh ctl H ARGS...    lmnetctl against host H (1, 2, 3)
#   deploy/cluster.sh exec H CMD...    run CMD inside host H's namespace
#
# Layout, with PREFIX (default "lmn", $LMNET_CLUSTER_PREFIX):
#   PREFIX-h1..hN   one namespace per host: its own lmnetd (and, once the
#                   switch module is in, its own Open vSwitch)
#   PREFIX-net      the physical network: one Linux bridge per cluster
#                   network (management 10.77.0.0/24, migration
#                   10.78.0.0/24, storage 10.79.0.0/24), each host joined to
#                   each bridge by its own veth pair: separate NICs, separate
#                   links, as on real hosts
# Host i has .i on each network: eth-mgmt, eth-mig, eth-sto inside its
# namespace.  The agents listen on their management address with tokens;
# host 1 is the registry, the others join it.
#
# State (tokens, databases, logs, run directories) lives in
# $LMNET_CLUSTER_DIR (default /run/lmnet-cluster-PREFIX).  Needs root,
# iproute2, and a built lmnetd/lmnetctl ($LMNET_BUILD_DIR, default build/).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
prefix=${LMNET_CLUSTER_PREFIX:-lmn}
state=${LMNET_CLUSTER_DIR:-/run/lmnet-cluster-$prefix}
build=${LMNET_BUILD_DIR:-$here/build}
port=8470
networks=(mgmt mig sto)
declare -A subnet=([mgmt]=10.77.0 [mig]=10.78.0 [sto]=10.79.0)

die() { echo "cluster: $*" >&2; exit 1; }
say() { echo "cluster: $*"; }
ns_exists() { ip netns list | grep -qw "^$1"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }

host_url() { echo "http://${subnet[mgmt]}.$1:$port"; }

start_agent() {
    local i=$1 dir=$state/h$i
    mkdir -p "$dir/run"
    local registry=self
    ((i > 1)) && registry=$(host_url 1)
    cat > "$dir/lmnetd.conf" <<EOF
listen = ${subnet[mgmt]}.$i:$port
database = $dir/lmnet.db
token_file = $state/tokens
peer_token_file = $state/peer-token
registry = $registry
node_name = ${prefix}-h$i
management_address = ${subnet[mgmt]}.$i
run_dir = $dir/run
accel = ${LMNET_ACCEL:-tcg}
log_level = info
log_file = $dir/lmnetd.log
EOF
    in_ns "$prefix-h$i" "$build/lmnetd" -c "$dir/lmnetd.conf" </dev/null >/dev/null 2>&1 &
    local n
    for ((n = 0; n < 100; n++)); do
        grep -q 'lmnetd started' "$dir/lmnetd.log" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$dir/lmnetd.log" >&2 || true
    die "lmnetd on host $i did not start"
}

ctl() {
    local i=$1; shift
    in_ns "$prefix-h$i" "$build/lmnetctl" --server "$(host_url "$i")" \
        --token-file "$state/admin-token" "$@"
}

up() {
    local hosts=2
    while (($#)); do
        case $1 in
        --hosts) hosts=${2:?--hosts needs a number}; shift 2 ;;
        *) die "unknown option '$1' for up" ;;
        esac
    done
    ((hosts >= 2 && hosts <= 3)) || die "--hosts is 2 or 3"
    (($(id -u) == 0)) || die "needs root (namespaces, veth)"
    [[ -x $build/lmnetd && -x $build/lmnetctl ]] || die "build lmnetd first (cmake --build build)"
    ns_exists "$prefix-net" && die "a cluster '$prefix' is up already; 'deploy/cluster.sh down' first"
    mkdir -p "$state"
    chmod 700 "$state"
    echo "$hosts" > "$state/hosts"

    local admin peer
    admin=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    peer=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    printf 'operator admin %s\nagents admin %s\n' "$admin" "$peer" > "$state/tokens"
    printf '%s\n' "$admin" > "$state/admin-token"
    printf 'agents admin %s\n' "$peer" > "$state/peer-token"
    chmod 600 "$state/tokens" "$state/admin-token" "$state/peer-token"

    say "namespaces and links"
    ip netns add "$prefix-net"
    in_ns "$prefix-net" ip link set lo up
    local net i
    for net in "${networks[@]}"; do
        in_ns "$prefix-net" ip link add "br-$net" type bridge
        in_ns "$prefix-net" ip link set "br-$net" up
    done
    for ((i = 1; i <= hosts; i++)); do
        ip netns add "$prefix-h$i"
        in_ns "$prefix-h$i" ip link set lo up
        for net in "${networks[@]}"; do
            # The peer ends get their final names inside their namespaces,
            # so two hosts never clash in the root namespace.
            ip link add "$prefix$i-$net" type veth peer name "${prefix}p$i-$net"
            ip link set "$prefix$i-$net" netns "$prefix-h$i"
            ip link set "${prefix}p$i-$net" netns "$prefix-net"
            in_ns "$prefix-h$i" ip link set "$prefix$i-$net" name "eth-$net"
            in_ns "$prefix-h$i" ip addr add "${subnet[$net]}.$i/24" dev "eth-$net"
            in_ns "$prefix-h$i" ip link set "eth-$net" up
            in_ns "$prefix-net" ip link set "${prefix}p$i-$net" master "br-$net" up
        done
    done

    say "agents"
    for ((i = 1; i <= hosts; i++)); do start_agent "$i"; done
    for ((i = 2; i <= hosts; i++)); do
        ctl 1 cluster join "$(host_url "$i")" >/dev/null || die "host $i could not join"
    done
    say "up: $hosts hosts; try: deploy/cluster.sh ctl 1 cluster members"
}

down() {
    # Every process in a host's namespace is the cluster's: its agent and
    # the VMs' QEMUs.  Agents first (cleanly), then whatever is left.
    local i ns pids
    for ((i = 1; i <= 3; i++)); do
        ns=$prefix-h$i
        ns_exists "$ns" || continue
        pids=$(ip netns pids "$ns" | tr '\n' ' ')
        [[ -n $pids ]] && kill -TERM $pids 2>/dev/null || true
    done
    sleep 0.5
    for ((i = 1; i <= 3; i++)); do
        ns=$prefix-h$i
        ns_exists "$ns" || continue
        pids=$(ip netns pids "$ns" | tr '\n' ' ')
        [[ -n $pids ]] && kill -9 $pids 2>/dev/null || true
        ip netns delete "$ns"
    done
    ns_exists "$prefix-net" && ip netns delete "$prefix-net"
    rm -rf "$state"
    say "down"
}

status() {
    ns_exists "$prefix-net" || { say "no cluster '$prefix' is up"; return 1; }
    local hosts i
    hosts=$(cat "$state/hosts")
    for ((i = 1; i <= hosts; i++)); do
        local alive=down
        if in_ns "$prefix-h$i" curl -sf -m 2 "$(host_url "$i")/v1/health" >/dev/null; then
            alive=up
        fi
        echo "host $i: namespace $prefix-h$i, agent $(host_url "$i") $alive"
    done
}

cmd=${1:-}
[[ -n $cmd ]] && shift
case $cmd in
up) up "$@" ;;
down) down ;;
status) status ;;
ctl) [[ $# -ge 1 ]] || die "usage: deploy/cluster.sh ctl HOST ARGS..."; ctl "$@" ;;
exec) [[ $# -ge 2 ]] || die "usage: deploy/cluster.sh exec HOST CMD..."; h=$1; shift; in_ns "$prefix-h$h" "$@" ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
