#!/usr/bin/env bash
# Switches and ports through the REST API of an agent that drives a real,
# private Open vSwitch in a namespace: a private switch, ports with MACs from
# a static pool and from the host pool, VLAN changes, guards and 'active'
# as flows, refusals (legacy without a reason, a VLAN the uplink does not
# carry, a missing switch), a port deleted or re-tagged behind lmnet's back put back at
# the agent's start, MACs released with their ports, an operator's bridge
# left alone.  Removes exactly what it made.
set -u
source "$(dirname "$0")/lib.sh"
((EUID == 0)) || { echo "skip: needs root (namespaces)"; exit 77; }
command -v ovsdb-server >/dev/null || { echo "skip: openvswitch-switch is not installed"; exit 77; }
source "$LMNET_SOURCE_DIR/deploy/lib/ovs.sh"
ns=lmt5-api
ovsdir=$LMNET_TEST_DIR/ovs
cleanup() {
    [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null
    ovs_stop "$ovsdir" 2>/dev/null
    ip netns del $ns 2>/dev/null
    cleanup_test_dir
}
trap cleanup EXIT
ip netns add $ns
ip -n $ns link set lo up
ovs_start $ns "$ovsdir" || { echo "cannot start OVS"; exit 1; }
cd "$LMNET_TEST_DIR"
printf 'ovsdb = unix:%s/db.sock\ndatapath_type = netdev\nrun_dir = %s/run\n' "$ovsdir" "$LMNET_TEST_DIR" > lmnetd.conf

start_agent() {
    ip netns exec $ns "$LMNETD" -c lmnetd.conf -l 127.0.0.1:18480 -d lmnet.db 2>>agent.log &
    pid=$!
    for _ in $(seq 100); do
        ip netns exec $ns curl -sf http://127.0.0.1:18480/v1/health >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    cat agent.log; return 1
}
api() { ip netns exec $ns curl -s -H 'Content-Type: application/json' "$@"; }
code() { ip netns exec $ns curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "$@"; }
U=http://127.0.0.1:18480
vsctl() { ovs_vsctl "$ovsdir" "$@"; }
start_agent || exit 1

echo "# a switch and ports"
expect_eq "private switch created" 201 "$(code -d '{"name":"sw1","type":"private"}' $U/v1/switches)"
expect_eq "OVS has the bridge" sw1 "$(vsctl --bare --columns=name find bridge name=sw1)"
expect_eq "an internal switch with a management VLAN" 201 "$(code -d '{"name":"int1","type":"internal","management_vlan":10}' $U/v1/switches)"
expect_eq "the host's port on it is on VLAN 10" 10 "$(vsctl get port int1 tag)"
expect_eq "internal switch deleted" 204 "$(code -X DELETE $U/v1/switches/int1)"
expect_eq "an external switch needs an uplink" 422 "$(code -d '{"name":"sw2","type":"external"}' $U/v1/switches)"
expect_eq "a pool" 201 "$(code -d '{"name":"fleet","ranges":[{"start":"00:1d:d8:00:00:00","end":"00:1d:d8:00:ff:ff"}]}' $U/v1/mac-pools)"
r=$(api -d '{"name":"web1-0","switch":"sw1","vm":"web1","mac_pool":"fleet","vlan":{"mode":"access","id":100}}' $U/v1/ports)
expect_match "port with a static MAC from the pool" '"mac":"00:1d:d8:00:00:00".*"mac_source":"static"' "$r"
expect_eq "OVS port on VLAN 100" 100 "$(vsctl get port web1-0 tag)"
expect_match "the tap exists" 'web1-0' "$(ip -n $ns -o link show web1-0)"
r=$(api -d '{"name":"web2-0","switch":"sw1","mac_pool":"dynamic","vlan":{"mode":"trunk","allowed":[200,100],"native":100}}' $U/v1/ports)
expect_match "port with a dynamic MAC" '"mac":"00:15:5d:00:01:00".*"mac_source":"dynamic"' "$r"
expect_eq "trunk on OVS" "[100, 200]" "$(vsctl get port web2-0 trunks)"
expect_match "the pool knows the holder" '"vm":"web1","adapter":"web1-0"' "$(api $U/v1/mac-pools/fleet/allocations)"

echo "# refusals"
r=$(api -d '{"name":"pxe0","switch":"sw1","mac_pool":"fleet","adapter_type":"legacy"}' $U/v1/ports)
expect_match "legacy without a reason is refused, saying why" '"pointer":"/legacy_reason".*' "$r"
expect_match "  (the reason)" 'PXE' "$r"
expect_eq "legacy with a reason is fine" 201 "$(code -d '{"name":"pxe0","switch":"sw1","mac":"02:00:00:00:00:09","adapter_type":"legacy","legacy_reason":"installs by PXE"}' $U/v1/ports)"
expect_eq "a missing switch is 422" 422 "$(code -d '{"name":"x0","switch":"nope","mac":"02:00:00:00:00:0a"}' $U/v1/ports)"
expect_eq "a taken MAC is 409" 409 "$(code -d '{"name":"x1","switch":"sw1","mac":"02:00:00:00:00:09"}' $U/v1/ports)"
expect_eq "nothing half-made on OVS" "" "$(vsctl --bare --columns=name find port name=x1)"
expect_eq "a bad VLAN names the field" 422 "$(code -d '{"name":"x2","switch":"sw1","mac":"02:00:00:00:00:0b","vlan":{"mode":"trunk","allowed":[5,5]}}' $U/v1/ports)"

echo "# changes"
r=$(api -X PATCH -d '{"vlan":{"mode":"access","id":300},"dhcp_guard":true,"active":false}' $U/v1/ports/web1-0)
expect_match "PATCH answers the new settings" '"id":300.*"dhcp_guard":true.*"active":false' "$r"
expect_eq "OVS tag follows" 300 "$(vsctl get port web1-0 tag)"
flows=$(ovs-ofctl --names dump-flows "unix:$ovsdir/sw1.mgmt")
expect_match "inactive: a drop flow for the port" 'priority=400,in_port="?web1-0"? actions=drop' "$flows"
expect_match "DHCP guard flow" 'priority=300,udp,in_port="?web1-0"?,tp_src=67 actions=drop' "$flows"
expect_eq "name is read-only" 422 "$(code -X PATCH -d '{"mac":"02:00:00:00:00:99"}' $U/v1/ports/web1-0)"
expect_eq "stale If-Match is 412" 412 "$(code -X PATCH -H 'If-Match: "0000000000000000"' -d '{"active":true}' $U/v1/ports/web1-0)"

echo "# drift while running: the agent watches the switch"
vsctl del-port sw1 web1-0
ok=1; for _ in $(seq 50); do [[ $(vsctl --bare --columns=name find port name=web1-0) == web1-0 ]] && { ok=0; break; }; sleep 0.1; done
expect_eq "a port deleted behind lmnet's back is put back within 5 s" 0 "$ok"
expect_eq "  with its settings" 300 "$(vsctl get port web1-0 tag)"
expect_match "  and an event says so" '"kind":"port.drift.repaired"' "$(api "$U/v1/events?kind=port.drift.repaired")"
vsctl set port web1-0 tag=999
ok=1; for _ in $(seq 50); do [[ $(vsctl get port web1-0 tag) == 300 ]] && { ok=0; break; }; sleep 0.1; done
expect_eq "an access VLAN changed by hand is put back within 5 s" 0 "$ok"
vsctl set port web2-0 trunks=100
ok=1; for _ in $(seq 50); do [[ $(vsctl get port web2-0 trunks) == "[100, 200]" ]] && { ok=0; break; }; sleep 0.1; done
expect_eq "a trunk list changed by hand is put back within 5 s" 0 "$ok"
vsctl add-port sw1 lmt5-stray -- set interface lmt5-stray type=internal -- set port lmt5-stray external_ids:lmnet-port=lmt5-stray
ok=1; for _ in $(seq 50); do [[ -z $(vsctl --bare --columns=name find port name=lmt5-stray) ]] && { ok=0; break; }; sleep 0.1; done
expect_eq "an lmnet-marked port lmnet does not mean to have is removed" 0 "$ok"

echo "# the switch restarts: its flows are gone, the agent puts every guard back"
before=$(ovs-ofctl dump-flows "unix:$ovsdir/sw1.mgmt" | grep -c 'cookie=0x4c4d4e54')
kill -TERM "$(cat "$ovsdir/ovs-vswitchd.pid")"
for _ in $(seq 50); do [[ -e $ovsdir/ovs-vswitchd.pid ]] || break; sleep 0.1; done
OVS_RUNDIR=$ovsdir OVS_LOGDIR=$ovsdir OVS_DBDIR=$ovsdir ip netns exec $ns ovs-vswitchd "unix:$ovsdir/db.sock" \
    --pidfile="$ovsdir/ovs-vswitchd.pid" --unixctl="$ovsdir/ovs-vswitchd.ctl" \
    --log-file="$ovsdir/ovs-vswitchd.log" -vconsole:off --detach
after=0; for _ in $(seq 100); do
    after=$(ovs-ofctl dump-flows "unix:$ovsdir/sw1.mgmt" 2>/dev/null | grep -c 'cookie=0x4c4d4e54')
    ((after == before)) && break; sleep 0.1; done
expect_eq "all $before guard flows are back within 10 s" "$before" "$after"
flows=$(ovs-ofctl --names dump-flows "unix:$ovsdir/sw1.mgmt")
expect_match "  the inactive port drops again" 'priority=400,in_port="?web1-0"? actions=drop' "$flows"
expect_match "  and an event says so" '"kind":"switch.guards.restored"' "$(api "$U/v1/events?kind=switch.guards.restored")"

echo "# drift and restart"
vsctl add-br operator -- set bridge operator datapath_type=netdev
vsctl del-port sw1 web2-0
kill -TERM $pid; wait $pid
start_agent || exit 1
expect_eq "a port deleted behind lmnet's back is back after restart" "[100, 200]" "$(vsctl get port web2-0 trunks)"
check "an operator's bridge is left alone" vsctl br-exists operator

echo "# deletion"
expect_eq "switch with ports is 409" 409 "$(code -X DELETE $U/v1/switches/sw1)"
for p in web1-0 web2-0 pxe0; do expect_eq "delete $p" 204 "$(code -X DELETE $U/v1/ports/$p)"; done
expect_eq "its MAC went back to the pool" '{"items":[],"next":null}' "$(api $U/v1/mac-pools/fleet/allocations)"
expect_eq "and its guard flows with it" 0 "$(ovs-ofctl dump-flows "unix:$ovsdir/sw1.mgmt" | grep -c 'cookie=0x4c4d4e54')"
expect_eq "the tap is gone" "" "$(ip -n $ns -o link show web1-0 2>/dev/null)"
expect_eq "switch deleted" 204 "$(code -X DELETE $U/v1/switches/sw1)"
expect_eq "its bridge is gone" "" "$(vsctl --bare --columns=name find bridge name=sw1)"
check "the operator's bridge still stands" vsctl br-exists operator
echo "# lmnetctl and scrub"
ctl() { ip netns exec $ns "$LMNETCTL" --server $U "$@"; }
ip -n $ns link add lmt5-up type veth peer name lmt5-up1
ip -n $ns link set lmt5-up up
check "an external switch on an uplink trunking VLAN 100" ctl switch create ext1 --type external --uplink lmt5-up --vlans 100
expect_eq "the uplink port trunks 100 on OVS" "[100]" "$(vsctl get port lmt5-up trunks)"
r=$(api -d '{"name":"e0","switch":"ext1","mac":"02:00:00:00:00:e0","vlan":{"mode":"access","id":200}}' $U/v1/ports)
expect_match "a VLAN the uplink does not carry is refused" 'vlan-not-carried.*"pointer":"/vlan"' "$r"
expect_eq "one it carries is fine" 201 "$(code -d '{"name":"e1","switch":"ext1","mac":"02:00:00:00:00:e1","vlan":{"mode":"access","id":100}}' $U/v1/ports)"
expect_match "lmnetctl nic bindings: the uplink carries ext1" 'lmt5-up +ext1' "$(ctl nic bindings)"
expect_match "and the API listener's NIC" 'lo .*lmnetd API' "$(ctl nic bindings)"
check "lmnetctl switch create" ctl switch create sw9 --type private
check "lmnetctl port create" ctl port create p9 --switch sw9 --mac-pool fleet --access 42 --dhcp-guard
expect_match "lmnetctl port list" 'p9 +sw9 +00:1d:d8:[0-9a-f:]+ +42 +true +mac dhcp' "$(ctl port list)"
check "lmnetctl port set" ctl port set p9 --inactive
expect_eq "  took effect" false "$(api $U/v1/ports/p9 | python3 -c 'import json,sys; print(str(json.load(sys.stdin)["active"]).lower())')"
vsctl add-br sw-stray -- set bridge sw-stray datapath_type=netdev external_ids:lmnet-switch=sw-stray
dry=$(ctl switch scrub --dry-run)
expect_match "scrub --dry-run lists switch, port and leftovers" 'switches +sw9.*ports +p9.*leftovers +sw-stray' "$(tr '\n' ' ' <<<"$dry")"
check "dry run removed nothing" vsctl br-exists sw9
api -X POST "$U/v1/switches/scrub?dry_run" >/dev/null
check "?dry_run without a value is a dry run too" vsctl br-exists sw9
check "a port for If-Match" ctl port create im --switch sw9 --mac-pool fleet --access 42
etag=$(ip netns exec $ns curl -s -D - -o /dev/null $U/v1/ports/im | tr -d '\r' | sed -n 's/^ETag: //Ip')
expect_eq "DELETE with a stale If-Match is 412" 412 "$(code -X DELETE -H 'If-Match: "0000000000000000"' $U/v1/ports/im)"
check "  and the port stays" ctl port show im
expect_eq "DELETE with the current ETag is 204" 204 "$(code -X DELETE -H "If-Match: $etag" $U/v1/ports/im)"
expect_eq "a switch's DELETE honours If-Match too" 412 "$(code -X DELETE -H 'If-Match: "0000000000000000"' $U/v1/switches/sw9)"
expect_eq "mac_source is the agent's to set (422)" 422 "$(code -d '{"name":"ms","switch":"sw9","mac":"02:00:00:00:00:ee","mac_pool":"fleet","mac_source":"static"}' $U/v1/ports)"
expect_eq "a switch whose type is null is 422" 422 "$(code -d '{"name":"swn","type":null}' $U/v1/switches)"
python3 -c 'import json; print(json.dumps({"name":"swv","type":"external","uplink":"lmt5-up","vlans":[100]*5000}))' > "$LMNET_TEST_DIR/vlans.json"
expect_eq "more VLANs than exist is 422" 422 "$(code --data-binary @"$LMNET_TEST_DIR/vlans.json" $U/v1/switches)"
check "scrub -y" ctl -y switch scrub
expect_eq "no lmnet bridge left (its own, nor a stray one)" "operator" "$(vsctl --bare --columns=name list bridge | sort | tr -d '\n')"
check "the operator's bridge survives a scrub" vsctl br-exists operator
expect_eq "the scrubbed port's MAC went back" '{"items":[],"next":null}' "$(api $U/v1/mac-pools/fleet/allocations)"

kinds=$(api "$U/v1/events?limit=1000" | grep -o '"kind":"\(port\|switch\)\.[a-z]*"' | sort -u | tr '\n' ' ')
expect_match "events for switch and port changes" 'port.change.*port.create.*port.delete.*switch.create.*switch.delete' "$kinds"
finish
