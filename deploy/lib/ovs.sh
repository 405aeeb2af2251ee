# A private Open vSwitch inside a network namespace, for the local cluster
# and the tests (sourced, not run).  Userspace datapath (no kernel module):
# bridges must be created with datapath_type=netdev.  Each instance has its
# own database, sockets and logs under DIR, so several run side by side
# (DESIGN.md, "Facts about these machines").
#
#   ovs_start NS DIR     start ovsdb-server and ovs-vswitchd in namespace NS
#                        (NS "" = the current one); the OVSDB socket is
#                        DIR/db.sock
#   ovs_stop DIR         stop both and remove DIR
#   ovs_vsctl DIR ARGS   ovs-vsctl against that instance (for tests' own
#                        checks only; lmnet itself speaks OVSDB)

ovs_start() {
    local ns=$1 dir=$2 schema=/usr/share/openvswitch/vswitch.ovsschema
    local run=()
    [[ -n $ns ]] && run=(ip netns exec "$ns")
    mkdir -p "$dir"
    [[ -e $dir/conf.db ]] || ovsdb-tool create "$dir/conf.db" "$schema" || return 1
    OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir "${run[@]}" ovsdb-server "$dir/conf.db" \
        --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb-server.pid" \
        --unixctl="$dir/ovsdb-server.ctl" --log-file="$dir/ovsdb-server.log" -vconsole:off --detach || return 1
    OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir ovs-vsctl --db="unix:$dir/db.sock" --no-wait \
        init || return 1
    OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir "${run[@]}" ovs-vswitchd "unix:$dir/db.sock" \
        --pidfile="$dir/ovs-vswitchd.pid" --unixctl="$dir/ovs-vswitchd.ctl" \
        --log-file="$dir/ovs-vswitchd.log" -vconsole:off --detach || return 1
}

ovs_stop() {
    local dir=$1 pid f
    for f in ovs-vswitchd ovsdb-server; do
        [[ -e $dir/$f.pid ]] || continue
        pid=$(cat "$dir/$f.pid")
        # Each step may find the process gone already; under the callers'
        # 'set -e' a failed kill must not end the clean-up half way.
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
}

ovs_vsctl() {
    local dir=$1; shift
    ovs-vsctl --db="unix:$dir/db.sock" --timeout=10 "$@"
}

ovs_ofctl() {
    local dir=$1 cmd=$2 bridge=$3; shift 3
    ovs-ofctl "$cmd" "unix:$dir/$bridge.mgmt" "$@"
}
