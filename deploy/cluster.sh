#!/usr/bin/env bash
# A cluster of lmnet hosts on one machine, built from network namespaces
# (DESIGN.md, "Testing").  The demo and the integration tests share it.
#
#   deploy/cluster.sh up [--hosts N] [--no-switch]
#                                      build it (2 hosts by default, at most 3)
#   deploy/cluster.sh down             remove exactly what 'up' made
#   deploy/cluster.sh status           namespaces, links, agents
#   deploy/cluster.sh ctl H ARGS...    lmnetctl against host H (1, 2, 3)
#   deploy/cluster.sh exec H CMD...    run CMD inside host H's namespace
#   deploy/cluster.sh vm H NAME IP/PREFIX [--memory MIB] [--dirty MIB:RATE]
#                                      a tiny guest on host H: a port on
#                                      switch vmsw, VLAN 100, MAC from pool
#                                      'fleet', and the VM
#   deploy/cluster.sh client CMD...    run CMD in the VLAN 100 client
#                                      (192.168.100.250), e.g. ping
#   deploy/cluster.sh demo             up, a VM, then migrate it to host 2
#                                      and back while the client pings it
#
# Layout, with PREFIX (default "lmn", $LMNET_CLUSTER_PREFIX):
#   PREFIX-h1..hN   one namespace per host: its own lmnetd (and, once the
#                   switch module is in, its own Open vSwitch)
#   PREFIX-net      the physical network: one Linux bridge per cluster
#                   network (management 10.77.0.0/24, migration
#                   10.78.0.0/24, storage 10.79.0.0/24), each host joined to
#                   each bridge by its own veth pair: separate NICs, separate
#                   links, as on real hosts
#   PREFIX-tor      the top-of-rack switch: its own Open vSwitch, bridge
#                   'tor', trunking VLANs 100 and 200 to every host's
#                   eth-vm, and an access port on VLAN 100 to
#   PREFIX-client   a namespace at 192.168.100.250 that pings the VMs
# Host i has .i on each network: eth-mgmt, eth-mig, eth-sto inside its
# namespace, plus eth-vm (no address) to the top-of-rack switch.  Each host
# runs its own Open vSwitch (userspace datapath); its agent makes the
# external switch 'vmsw' on eth-vm.  The agents listen on their management
# address with tokens; host 1 is the registry, the others join it (each
# with a one-time join token, keeping the member credential it gets in its
# state folder).  The
# storage and migration networks get their roles; the MAC pool 'fleet'
# (52:54:00:4c:00:00-52:54:00:4c:ff:ff) and the guest (deploy/guest) are
# made.  --no-switch leaves out everything for VMs (OVS, ToR, client,
# guest).
#
# State (tokens, databases, logs, run directories) lives in
# $LMNET_CLUSTER_DIR (default /run/lmnet-cluster-PREFIX).  Needs root,
# iproute2, and a built lmnetd/lmnetctl ($LMNET_BUILD_DIR, default build/).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deploy/lib/ovs.sh
. "$here/deploy/lib/ovs.sh"
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

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }

host_url() { echo "http://${subnet[mgmt]}.$1:$port"; }

start_agent() {
    local i=$1 dir=$state/h$i
    mkdir -p "$dir/run"
    local registry=self
    ((i > 1)) && registry=$(host_url 1)
    local switch_conf=""
    [[ -e $dir/ovs/db.sock ]] && switch_conf="ovsdb = unix:$dir/ovs/db.sock
datapath_type = netdev"
    cat > "$dir/lmnetd.conf" <<EOF
listen = ${subnet[mgmt]}.$i:$port
# The namespaces' management network lives inside this machine: plain HTTP
# is an explicit choice here, never a default (README, "Security").
allow_insecure_listen = yes
database = $dir/lmnet.db
token_file = $state/tokens
peer_token_file = $state/peer-token
member_credential_file = $dir/member-credential
registry = $registry
node_name = ${prefix}-h$i
management_address = ${subnet[mgmt]}.$i
run_dir = $dir/run
accel = ${LMNET_ACCEL:-tcg}
log_level = info
log_file = $dir/lmnetd.log
migration_stall_timeout = ${LMNET_STALL_TIMEOUT:-15}
image_dirs = $state/guest
qemu_user = ${LMNET_QEMU_USER:-lmnet-qemu}
# Each host's VMs in cgroups of their own, apart from the other hosts' (a
# VM migrating runs on two of them under one name).
vm_slice = ${prefix}-h$i.slice
$switch_conf
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
    local hosts=2 switch=1
    while (($#)); do
        case $1 in
        --hosts) hosts=${2:?--hosts needs a number}; shift 2 ;;
        --no-switch) switch=0; shift ;;
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

    ((switch)) && switches "$hosts"

    # QEMU drops to this user (deploy/install-deps adds it on a real host).
    if [[ ${LMNET_QEMU_USER:-lmnet-qemu} == lmnet-qemu ]] && ! getent passwd lmnet-qemu >/dev/null; then
        say "adding the system user lmnet-qemu that QEMU runs as"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lmnet-qemu
    fi
    say "agents"
    for ((i = 1; i <= hosts; i++)); do start_agent "$i"; done
    # Each host joins by itself with a one-time join token from the
    # registry; it gets its own member credential back.
    local token
    for ((i = 2; i <= hosts; i++)); do
        token=$(ctl 1 cluster join-token --ttl 300) || die "cannot make a join token"
        ctl "$i" cluster join "$token" >/dev/null || die "host $i could not join"
    done
    roles
    if ((switch)); then
        say "VM switch, MAC pool, guest"
        for ((i = 1; i <= hosts; i++)); do
            ctl "$i" switch create vmsw --type external --uplink eth-vm --vlans 100,200 >/dev/null ||
                die "host $i: cannot create switch vmsw"
        done
        ctl 1 macpool create fleet 52:54:00:4c:00:00-52:54:00:4c:ff:ff >/dev/null || die "cannot create MAC pool fleet"
        bash "$here/deploy/guest/build.sh" "$state/guest" >/dev/null || die "cannot build the guest"
    fi
    say "up: $hosts hosts; try: deploy/cluster.sh ctl 1 network list"
}

# Open vSwitch on every host, the top-of-rack switch and the client.
switches() {
    local hosts=$1 i
    command -v ovs-vswitchd >/dev/null || die "Open vSwitch is not installed (apt-get install openvswitch-switch), or use --no-switch"
    say "Open vSwitch on each host and the top-of-rack switch"
    ip netns add "$prefix-tor"
    in_ns "$prefix-tor" ip link set lo up
    ovs_start "$prefix-tor" "$state/tor/ovs" 2>>"$state/ovs-start.log" || die "cannot start the top-of-rack switch (see $state/ovs-start.log)"
    ovs_vsctl "$state/tor/ovs" add-br tor -- set bridge tor datapath_type=netdev
    for ((i = 1; i <= hosts; i++)); do
        mkdir -p "$state/h$i"
        ovs_start "$prefix-h$i" "$state/h$i/ovs" 2>>"$state/ovs-start.log" || die "cannot start Open vSwitch on host $i (see $state/ovs-start.log)"
        ip link add "$prefix$i-vm" type veth peer name "${prefix}t$i"
        ip link set "$prefix$i-vm" netns "$prefix-h$i"
        ip link set "${prefix}t$i" netns "$prefix-tor"
        in_ns "$prefix-h$i" ip link set "$prefix$i-vm" name eth-vm
        in_ns "$prefix-h$i" ip link set eth-vm up
        # The userspace datapath does not finish checksums a veth left to
        # offload; TCP through it needs them done in software.
        in_ns "$prefix-h$i" ethtool -K eth-vm tx off >/dev/null 2>&1 || true
        in_ns "$prefix-tor" ip link set "${prefix}t$i" up
        in_ns "$prefix-tor" ethtool -K "${prefix}t$i" tx off >/dev/null 2>&1 || true
        ovs_vsctl "$state/tor/ovs" add-port tor "${prefix}t$i" trunks=100,200
    done
    ip netns add "$prefix-client"
    in_ns "$prefix-client" ip link set lo up
    ip link add "${prefix}-c100" type veth peer name "${prefix}t-c100"
    ip link set "${prefix}-c100" netns "$prefix-client"
    ip link set "${prefix}t-c100" netns "$prefix-tor"
    in_ns "$prefix-client" ip link set "${prefix}-c100" name eth0
    in_ns "$prefix-client" ip addr add 192.168.100.250/24 dev eth0
    in_ns "$prefix-client" ip link set eth0 up
    in_ns "$prefix-client" ethtool -K eth0 tx off >/dev/null 2>&1 || true
    in_ns "$prefix-tor" ip link set "${prefix}t-c100" up
    in_ns "$prefix-tor" ethtool -K "${prefix}t-c100" tx off >/dev/null 2>&1 || true
    ovs_vsctl "$state/tor/ovs" add-port tor "${prefix}t-c100" tag=100
}

# The storage and migration networks get their roles once the registry has
# seen every host's inventory.
roles() {
    local n
    for ((n = 0; n < 100; n++)); do
        [[ $(ctl 1 -o json network list 2>/dev/null | grep -c '"address": "10\.7[789]\.0\.0"') == 3 ]] && break
        sleep 0.1
    done
    ctl 1 network set "$(net_name 10.78.0.0)" --role migration >/dev/null || die "cannot give the migration network its role"
    ctl 1 network set "$(net_name 10.79.0.0)" --role storage >/dev/null || die "cannot give the storage network its role"
    # Heartbeats measure the networks within seconds; migrations wait for Up.
    for ((n = 0; n < 150; n++)); do
        [[ $(ctl 1 network list 2>/dev/null | grep -c ' Up ') == 3 ]] && return 0
        sleep 0.2
    done
    say "warning: the cluster networks are not all Up yet (deploy/cluster.sh ctl 1 network list)"
}

net_name() { # SUBNET: the cluster network's id
    ctl 1 -o json network list | python3 -c 'import json,sys; print([n["id"] for n in json.load(sys.stdin)["items"] if n["address"]==sys.argv[1]][0])' "$1"
}

# vm H NAME IP/PREFIX [--memory MIB] [--dirty MIB:RATE]
vm() {
    local h=$1 name=$2 ip=$3 memory=256 dirty=""
    shift 3
    while (($#)); do
        case $1 in
        --memory) memory=${2:?}; shift 2 ;;
        --dirty) dirty=" lmnet.dirty=${2:?}"; shift 2 ;;
        *) die "unknown option '$1' for vm" ;;
        esac
    done
    [[ -e $state/guest/initrd.img ]] || die "no guest: bring the cluster up without --no-switch"
    ctl "$h" port create "$name-0" --switch vmsw --vm "$name" --mac-pool fleet --access 100 >/dev/null ||
        die "cannot create port $name-0 on host $h"
    ctl "$h" vm create "$name" --memory "$memory" --kernel "$state/guest/vmlinuz" \
        --initrd "$state/guest/initrd.img" --append "console=ttyS0 panic=-1 quiet lmnet.ip=$ip$dirty" \
        --port "$name-0" >/dev/null || die "cannot create VM $name on host $h"
}

demo() {
    up --hosts 2
    say "VM web1 (192.168.100.10, VLAN 100) on host 1"
    vm 1 web1 192.168.100.10/24
    local n
    for ((n = 0; n < 300; n++)); do
        in_ns "$prefix-client" ping -c1 -W1 192.168.100.10 >/dev/null 2>&1 && break
        sleep 0.2
    done
    say "web1 answers; the client pings it every 10 ms while it moves"
    # Not through in_ns: a function in the background is a subshell, and
    # the signal that makes ping print its summary would stop there.
    ip netns exec "$prefix-client" ping -i 0.01 -q 192.168.100.10 > "$state/demo-ping.txt" 2>&1 &
    local ping=$!
    ctl 1 migrate web1 "$prefix-h2" --wait
    ctl 2 migrate web1 "$prefix-h1" --wait
    sleep 0.5
    kill -INT $ping; wait $ping 2>/dev/null || true
    cat "$state/demo-ping.txt"
    ctl 1 migration list
    say "the cluster stays up: deploy/cluster.sh ctl 1 vm list; deploy/cluster.sh down removes it"
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
    for ns in "$prefix-tor" "$prefix-client"; do
        ns_exists "$ns" || continue
        pids=$(ip netns pids "$ns" | tr '\n' ' ')
        [[ -n $pids ]] && kill -9 $pids 2>/dev/null || true
        ip netns delete "$ns"
    done
    ns_exists "$prefix-net" && ip netns delete "$prefix-net"
    # The hosts' VM cgroups (deploy/lmnetd.conf vm_cgroup) once their QEMUs are gone.
    local cgroot
    cgroot=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
    if [[ -n $cgroot ]]; then
        for ((i = 1; i <= 3; i++)); do
            [[ -d $cgroot/$prefix-h$i.slice ]] || continue
            rmdir "$cgroot/$prefix-h$i.slice"/vm-* 2>/dev/null || true
            rmdir "$cgroot/$prefix-h$i.slice" 2>/dev/null || true
        done
    fi
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
vm) [[ $# -ge 3 ]] || die "usage: deploy/cluster.sh vm HOST NAME IP/PREFIX [--memory MIB] [--dirty MIB:RATE]"; vm "$@" ;;
client) [[ $# -ge 1 ]] || die "usage: deploy/cluster.sh client CMD..."; in_ns "$prefix-client" "$@" ;;
demo) demo ;;
exec) [[ $# -ge 2 ]] || die "usage: deploy/cluster.sh exec HOST CMD..."; h=$1; shift; in_ns "$prefix-h$h" "$@" ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
