#!/usr/bin/env bash
# The Open vSwitch driver over OVSDB against a real, private OVS (userspace
# datapath) in a namespace: two "VMs" (namespaces on veth ports) ping on
# the same access VLAN and not across VLANs; a trunk carries tagged frames;
# the driver lists only what it made, refuses to touch a bridge or port it
# did not make, and re-creates a port deleted behind its back when asked to
# ensure it.  Removes exactly the namespaces, links and OVS it made.
set -u
source "$(dirname "$0")/lib.sh"
((EUID == 0)) || { echo "skip: needs root (namespaces)"; exit 77; }
command -v ovsdb-server >/dev/null || { echo "skip: openvswitch-switch is not installed"; exit 77; }
command -v ethtool >/dev/null || { echo "skip: ethtool is not installed"; exit 77; }
source "$LMNET_SOURCE_DIR/deploy/lib/ovs.sh"
VS="$LMNET_BUILD_DIR/tests/vswitch_check"
ovsdir=$LMNET_TEST_DIR/ovs
sw=lmt5-sw; a=lmt5-a; b=lmt5-b

cleanup() {
    ovs_stop "$ovsdir" 2>/dev/null
    for ns in $sw $a $b; do ip netns del "$ns" 2>/dev/null; done
    cleanup_test_dir
}
trap cleanup EXIT
for ns in $sw $a $b; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
for vm in a b; do
    ip link add "lmt5-$vm"0 type veth peer name "lmt5-$vm"1
    ip link set "lmt5-$vm"0 netns $sw
    ip link set "lmt5-$vm"1 netns "lmt5-$vm"
    ip -n $sw link set "lmt5-$vm"0 up
    ip -n "lmt5-$vm" link set "lmt5-$vm"1 name eth0
    ip -n "lmt5-$vm" link set eth0 up
    # The userspace datapath reads frames with AF_PACKET and does not finish
    # checksums a veth left to offload: UDP and TCP would arrive corrupt.
    ip netns exec "lmt5-$vm" ethtool -K eth0 tx off >/dev/null
done
ip -n $a addr add 10.55.0.1/24 dev eth0
ip -n $b addr add 10.55.0.2/24 dev eth0
ovs_start $sw "$ovsdir" || { echo "cannot start OVS"; exit 1; }
sock=unix:$ovsdir/db.sock
pings() { ip netns exec $a ping -c 2 -i 0.2 -W 1 10.55.0.2 >/dev/null 2>&1; }

echo "# bridge and access ports"
check "bridge created" "$VS" "$sock" bridge-ensure lmt5br
check "bridge ensured twice is fine" "$VS" "$sock" bridge-ensure lmt5br
expect_eq "its datapath is netdev" netdev "$(ovs_vsctl "$ovsdir" get bridge lmt5br datapath_type)"
check "port a on VLAN 100" "$VS" "$sock" port lmt5br lmt5-a0 100
check "port b on VLAN 100" "$VS" "$sock" port lmt5br lmt5-b0 100
expect_eq "tag stored" 100 "$(ovs_vsctl "$ovsdir" get port lmt5-b0 tag)"
expect_match "lmnet's mark on the port" 'lmnet-port="?lmt5-b0' "$(ovs_vsctl "$ovsdir" get port lmt5-b0 external_ids)"
ok=1; for _ in 1 2 3 4 5; do pings && { ok=0; break; }; sleep 0.5; done
expect_eq "same VLAN pings" 0 "$ok"
check "port b moved to VLAN 200" "$VS" "$sock" port lmt5br lmt5-b0 200
check "different VLANs do not ping" bash -c "! ip netns exec $a ping -c 2 -i 0.2 -W 1 10.55.0.2"
check "port b a trunk of 100 and 200 (untagged frames dropped)" "$VS" "$sock" port lmt5br lmt5-b0 0 100 200
expect_eq "trunks stored" "[100, 200]" "$(ovs_vsctl "$ovsdir" get port lmt5-b0 trunks)"
check "untagged b does not reach access VLAN 100" bash -c "! ip netns exec $a ping -c 2 -i 0.2 -W 1 10.55.0.2"
check "back to access 100" "$VS" "$sock" port lmt5br lmt5-b0 100
ok=1; for _ in 1 2 3 4 5; do pings && { ok=0; break; }; sleep 0.5; done
expect_eq "pings again" 0 "$ok"

echo "# guards"
mac_a=$(ip -n $a -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
check "spoofing guard on a (its own MAC allowed)" "$VS" "$sock" guards lmt5br lmt5-a0 "$mac_a" 0 0 0 1
ok=1; for _ in 1 2 3; do pings && { ok=0; break; }; sleep 0.3; done
expect_eq "its own MAC passes" 0 "$ok"
ip -n $a link set eth0 address 02:00:00:00:0a:0a
ip -n $b neigh flush all 2>/dev/null
check "a spoofed source MAC is dropped" bash -c "! ip netns exec $a ping -c 2 -i 0.2 -W 1 10.55.0.2"
check "spoofing allowed" "$VS" "$sock" guards lmt5br lmt5-a0 "$mac_a" 1 0 0 1
ok=1; for _ in 1 2 3 4 5; do pings && { ok=0; break; }; sleep 0.3; done
expect_eq "the spoofed MAC passes when allowed" 0 "$ok"
ip -n $a link set eth0 address "$mac_a"
# A DHCP offer from "VM" a (UDP 67 -> 68, unicast as a relay-less server
# answers a known client) reaches b, until the guard is on.
offer() {
    local ready=$LMNET_TEST_DIR/listening
    rm -f "$ready"
    ip netns exec $b python3 -c '
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("0.0.0.0",68)); s.settimeout(3); open(sys.argv[1],"w").close()
try: s.recvfrom(100); print("received")
except socket.timeout: print("nothing")' "$ready" &
    local listener=$!
    for _ in $(seq 100); do [[ -e $ready ]] && break; sleep 0.05; done
    ip netns exec $a python3 -c '
import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.bind(("0.0.0.0",67))
for _ in range(10): s.sendto(b"offer",("10.55.0.2",68)); time.sleep(0.1)'
    wait $listener
}
check "no guards" "$VS" "$sock" guards lmt5br lmt5-a0 "$mac_a" 1 0 0 1
expect_eq "a DHCP offer from the VM passes without the guard" received "$(offer)"
check "DHCP guard on" "$VS" "$sock" guards lmt5br lmt5-a0 "$mac_a" 0 1 1 1
expect_eq "a DHCP offer from the VM is dropped under the DHCP guard" nothing "$(offer)"
ok=1; for _ in 1 2 3; do pings && { ok=0; break; }; sleep 0.3; done
expect_eq "ordinary traffic still passes (guards hand the rest to NORMAL)" 0 "$ok"
check "port a inactive" "$VS" "$sock" guards lmt5br lmt5-a0 "$mac_a" 0 1 1 0
check "an inactive port passes nothing" bash -c "! ip netns exec $a ping -c 2 -i 0.2 -W 1 10.55.0.2"
check "nor receives (b cannot reach it)" bash -c "! ip netns exec $b ping -c 2 -i 0.2 -W 1 10.55.0.1"
check "active again" "$VS" "$sock" guards lmt5br lmt5-a0 "$mac_a" 0 1 1 1
ok=1; for _ in 1 2 3 4 5; do pings && { ok=0; break; }; sleep 0.3; done
expect_eq "and passes again" 0 "$ok"
expect_match "lmnet's flows carry its cookie" 'cookie=0x4c4d4e54' "$(ovs-ofctl dump-flows unix:$ovsdir/lmt5br.mgmt)"

echo "# only lmnet's objects"
ovs_vsctl "$ovsdir" add-br operator -- set bridge operator datapath_type=netdev
ovs_vsctl "$ovsdir" add-port operator lmt5-x -- set interface lmt5-x type=internal
listing=$("$VS" "$sock" list | sort | tr '\n' ';')
expect_eq "list shows lmnet's bridge and ports only" "lmt5br -;lmt5br lmt5-a0;lmt5br lmt5-b0;" "$listing"
"$VS" "$sock" bridge-delete operator 2>/dev/null; rc=$?
expect_eq "an operator's bridge is refused (EPERM)" 4 "$rc"
"$VS" "$sock" port-delete operator lmt5-x 2>/dev/null; rc=$?
expect_eq "an operator's port is refused (EPERM)" 4 "$rc"
"$VS" "$sock" port lmt5br lmt5-x 100 2>/dev/null; rc=$?
expect_eq "and is not taken over (EPERM)" 4 "$rc"
"$VS" "$sock" port nosuchbr lmt5-z 100 2>/dev/null; rc=$?
expect_eq "a port on a missing bridge is refused (ENOENT)" 3 "$rc"
expect_eq "and nothing half-made" "" "$(ovs_vsctl "$ovsdir" --bare --columns=name find port name=lmt5-z)"

echo "# drift: a port deleted behind lmnet's back"
ovs_vsctl "$ovsdir" del-port lmt5br lmt5-a0
check "port a is gone" bash -c "! pings"
check "ensure re-creates it" "$VS" "$sock" port lmt5br lmt5-a0 100
ok=1; for _ in 1 2 3 4 5; do pings && { ok=0; break; }; sleep 0.5; done
expect_eq "and pings again" 0 "$ok"

echo "# removal"
check "port deleted" "$VS" "$sock" port-delete lmt5br lmt5-a0
"$VS" "$sock" port-delete lmt5br lmt5-a0 2>/dev/null; rc=$?
expect_eq "deleting it again is ENOENT" 3 "$rc"
check "bridge deleted" "$VS" "$sock" bridge-delete lmt5br
expect_eq "no lmnet object left" "" "$("$VS" "$sock" list)"
check "the operator's bridge survives" ovs_vsctl "$ovsdir" br-exists operator
finish
