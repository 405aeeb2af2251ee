#!/usr/bin/env bash
# Live migration end to end on the local cluster (deploy/cluster.sh: two
# hosts, each a namespace with its own Open vSwitch and lmnetd, separate
# management, migration and storage links, a top-of-rack switch trunking
# VLAN 100 to both, a client on VLAN 100).  A tiny guest with a static MAC
# on VLAN 100 runs on host 1; the client pings it every 10 ms while it
# migrates to host 2 and back.  Afterwards the VM runs on one host only with
# its MAC and VLAN, the other host's port is gone, the top-of-rack switch
# has learned the MAC on the new host's port, the memory crossed the
# migration link and not the management link.  Then failures during
# transfer (a cancel, the migration link down, the destination agent killed,
# the destination QEMU killed): each leaves the VM answering on the source
# and nothing on the destination; and the source agent killed and started
# again, which finishes or undoes the move.  Prints the ping loss and the
# migration figures.
set -u
source "$(dirname "$0")/lib.sh"
((EUID == 0)) || { echo "skip: needs root (namespaces, OVS, QEMU)"; exit 77; }
command -v ovs-vswitchd >/dev/null || { echo "skip: Open vSwitch is not installed"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "skip: QEMU is not installed"; exit 77; }
ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 || { echo "skip: no Debian cloud kernel"; exit 77; }
here=$(cd "$(dirname "$0")/../.." && pwd)
P=lmt9
export LMNET_CLUSTER_PREFIX=$P LMNET_CLUSTER_DIR=$LMNET_TEST_DIR/cluster LMNET_STALL_TIMEOUT=5
S=$LMNET_CLUSTER_DIR
cluster() { bash "$here/deploy/cluster.sh" "$@"; }
cleanup() { [[ -n ${ping_pid:-} ]] && kill "$ping_pid" 2>/dev/null; cluster down >/dev/null 2>&1; cleanup_test_dir; }
trap cleanup EXIT
ctl() { cluster ctl "$@"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
bytes() { ip netns exec "$P-h$1" cat "/sys/class/net/eth-$2/statistics/tx_bytes"; }
qemus() { ip netns pids "$P-h$1" | xargs -r -I{} cat /proc/{}/comm | grep -c qemu; }
ports() { ovs-vsctl --db="unix:$S/h$1/ovs/db.sock" list-ports vmsw | grep -v eth-vm | tr '\n' ' '; }
answers() { cluster client ping -c1 -W1 192.168.100.10 >/dev/null 2>&1; }
wait_answers() { for _ in $(seq 150); do answers && return 0; sleep 0.2; done; return 1; }
tor_port_of() { # MAC: the top-of-rack port name that learned it
    local ofport
    ofport=$(ip netns exec "$P-tor" ovs-appctl -t "$S/tor/ovs/ovs-vswitchd.ctl" fdb/show tor | awk -v m="$1" '$3 == m {print $1}')
    [[ -n $ofport ]] && ovs-vsctl --db="unix:$S/tor/ovs/db.sock" --bare --columns=name find interface ofport="$ofport"
}

cluster up --hosts 2 >/dev/null 2>&1 || { echo "FAIL - cluster up"; exit 1; }
# Networks up before anything moves.
for _ in $(seq 100); do [[ $(ctl 1 network list | grep -c ' Up ') == 3 ]] && break; sleep 0.2; done
# A peer call with a null id is refused, and the agent lives (it crashed).
r=$(ip netns exec "$P-h2" curl -s -H "Authorization: Bearer $(cat "$S/admin-token")" \
    -H 'Content-Type: application/json' -d '{"id": null}' \
    "http://10.77.0.2:8470/v1/migrations/00000000-0000-0000-0000-000000000000/prepare")
expect_match "a prepare with a null id is 422" '"status":422.*"pointer":"/id"' "$r"
check "  and host 2's agent still answers" ctl 2 host show
cluster vm 1 web1 192.168.100.10/24 --memory 256
check "the guest answers the client on VLAN 100" wait_answers
mac=$(ctl 1 -o json port show web1-0 | field '["mac"]')
expect_match "its MAC comes from pool fleet" '^52:54:00:4c:' "$mac"

migrate() { # FROM TO: migrates web1 while the client pings every 10 ms
    local from=$1 to=$2 mgmt0 mig0 out
    mgmt0=$(bytes "$from" mgmt); mig0=$(bytes "$from" mig)
    ip netns exec "$P-client" ping -i 0.01 -q 192.168.100.10 > "$S/ping.txt" 2>&1 &
    ping_pid=$!
    sleep 0.5
    out=$(ctl "$from" migrate web1 "$P-h$to" --wait 2>&1)
    local rc=$?
    sleep 0.5
    kill -INT "$ping_pid"; wait "$ping_pid" 2>/dev/null; ping_pid=""
    echo "$out" | tail -1
    expect_eq "migrate host $from -> host $to" 0 "$rc"
    local sent lost mgmt mig
    sent=$(grep -o '[0-9]* packets transmitted' "$S/ping.txt" | cut -d' ' -f1)
    lost=$((sent - $(grep -o '[0-9]* received' "$S/ping.txt" | cut -d' ' -f1)))
    mig=$(( $(bytes "$from" mig) - mig0 )); mgmt=$(( $(bytes "$from" mgmt) - mgmt0 ))
    echo "# host $from -> $to: $lost of $sent pings lost at 10 ms (blackout ~$((lost * 10)) ms); migration link $mig bytes, management link $mgmt bytes"
    expect_eq "VM runs on host $to only" "0 1" "$(qemus "$from") $(qemus "$to")"
    expect_eq "host $from's port is gone" "" "$(ports "$from")"
    expect_eq "host $to has the port" "web1-0 " "$(ports "$to")"
    local p; p=$(ctl "$to" -o json port show web1-0)
    expect_eq "same MAC, VLAN 100, active" "$mac 100 True" "$(field '["mac"]' <<<"$p") $(field '["vlan"]["id"]' <<<"$p") $(field '["active"]' <<<"$p")"
    expect_eq "the top-of-rack switch learned the MAC on host $to's port" "${P}t$to" "$(tor_port_of "$mac")"
    check "memory crossed the migration link (> 20 MB: $mig bytes)" test "$mig" -gt 20000000
    check "not the management link (< 2 MB: $mgmt bytes)" test "$mgmt" -lt 2000000
    check "the guest answers after the move" answers
    check "pings lost are few (< 100 at 10 ms: $lost)" test "$lost" -lt 100
}
migrate 1 2
migrate 2 1

# Quick migration: paused first, copied, resumed on the destination.
out=$(ctl 1 migrate web1 "$P-h2" --quick --wait 2>&1); rc=$?
echo "# quick: $(echo "$out" | tail -1)"
expect_eq "quick migration host 1 -> host 2" 0 "$rc"
check "the guest answers after a quick migration (resumed on arrival)" wait_answers
expect_eq "it runs on host 2 only" "0 1" "$(qemus 1) $(qemus 2)"
m=$(ctl 2 -o json migration list | python3 -c 'import json,sys; print([m for m in json.load(sys.stdin)["items"] if m["role"]=="destination"][0]["downtime_ms"])')
check "the destination's record has the downtime too ($m ms)" test "$m" -gt 0
check "and back, live" ctl 2 migrate web1 "$P-h1" --wait

# Failures during transfer.  The bandwidth cap keeps the transfer going
# for several seconds (the guest dirties 96 MiB at 32 MiB/s).
ctl 1 vm stop web1 >/dev/null
ctl 1 vm delete web1 >/dev/null
ctl 1 port delete web1-0 >/dev/null
cluster vm 1 web1 192.168.100.10/24 --memory 256 --dirty 96:32
check "the dirtying guest answers" wait_answers

heard_since() { # HOST SINCE: HOST's agent hears every peer on every cluster network, last after SINCE (date +%s.%N)
    ip netns exec "$P-h$1" curl -s -m 2 -H "Authorization: Bearer $(cat "$S/admin-token")" \
        "http://10.77.0.$1:8470/v1/cluster/heartbeats" | python3 -c '
import json, sys, time
d = json.load(sys.stdin)
limit = (time.time() - float(sys.argv[1])) * 1000
ok = d["listeners"] and all(l["bound"] and l["peers"] and all(
    p["heard"] and p["last_heard_ms_ago"] is not None and p["last_heard_ms_ago"] < limit for p in l["peers"])
    for l in d["listeners"])
sys.exit(0 if ok else 1)' "$2" 2>/dev/null
}
wait_heard_again() { # SINCE: both agents hear each other after SINCE, and the registry says Up
    for _ in $(seq 150); do
        heard_since 1 "$1" && heard_since 2 "$1" && [[ $(ctl 1 network list | grep -c ' Up ') == 3 ]] && return 0
        sleep 0.2
    done
    ctl 1 network list
    return 1
}
start_slow() { # prints the migration id
    ctl 1 -o json migrate web1 "$P-h2" --bandwidth 8000000 | field '["id"]'
}
wait_phase() { # ID PHASE
    for _ in $(seq 150); do
        [[ $(ctl 1 -o json migration show "$1" | field '["phase"]') == "$2" ]] && return 0
        sleep 0.2
    done
    return 1
}
wait_end() { # ID: prints the final phase
    local ph
    for _ in $(seq 300); do
        ph=$(ctl 1 -o json migration show "$1" | field '["phase"]')
        case $ph in completed|failed|cancelled|rolled-back) echo "$ph"; return 0 ;; esac
        sleep 0.2
    done
    echo "$ph"
}
left_on_host2() { # nothing of web1 on host 2: no QEMU, no port, no VM row
    [[ $(qemus 2) == 0 && -z $(ports 2) ]]
}
source_intact() {
    expect_eq "$1: the VM runs on host 1" "1 running" "$(qemus 1) $(ctl 1 -o json vm show web1 | field '["state"]')"
    expect_eq "$1: host 1's port is active" True "$(ctl 1 -o json port show web1-0 | field '["active"]')"
    check "$1: the guest answers on the source" wait_answers
}

# 1. Cancel.
id=$(start_slow)
check "cancel: transfer started" wait_phase "$id" transferring
sleep 1
check "cancel accepted" ctl 1 migration cancel "$id"
expect_match "cancel: the migration ends cancelled or failed" '^(cancelled|failed)$' "$(wait_end "$id")"
source_intact cancel
for _ in $(seq 50); do left_on_host2 && break; sleep 0.2; done
check "cancel: nothing left on host 2" left_on_host2

# 2. The migration link goes down during transfer.
id=$(start_slow)
check "link down: transfer started" wait_phase "$id" transferring
sleep 1
ip netns exec "$P-h2" ip link set eth-mig down
expect_eq "link down: the migration fails" failed "$(wait_end "$id")"
echo "# link down: $(ctl 1 -o json migration show "$id" | field '["error"]')"
source_intact "link down"
for _ in $(seq 50); do left_on_host2 && break; sleep 0.2; done
check "link down: nothing left on host 2" left_on_host2
ip netns exec "$P-h2" ip link set eth-mig up
for _ in $(seq 100); do [[ $(ctl 1 network list | grep -c ' Up ') == 3 ]] && break; sleep 0.2; done

# 3. The destination agent is killed during transfer; its restart cleans up.
id=$(start_slow)
check "agent killed: transfer started" wait_phase "$id" transferring
sleep 1
agent2=$(pgrep -f "lmnetd -c $S/h2/lmnetd.conf")
kill -9 $agent2
expect_eq "agent killed: the migration fails" failed "$(wait_end "$id")"
echo "# agent killed: $(ctl 1 -o json migration show "$id" | field '["error"]')"
source_intact "agent killed"
restarted=$(date +%s.%N)
ip netns exec "$P-h2" "$LMNETD" -c "$S/h2/lmnetd.conf" </dev/null >/dev/null 2>&1 &
for _ in $(seq 100); do left_on_host2 && break; sleep 0.2; done
check "agent killed: after its restart nothing is left on host 2" left_on_host2
h1=$(ctl 1 -o json vm show web1 | field '["host"]')
h2view=$(ctl 2 -o json vm show web1 2>/dev/null | field '["host"]' 2>/dev/null)
check "host 2 does not think it runs web1" test "${h2view:-$h1}" == "$h1"
# Host 2's agent is back.  The networks may still read Up from before the
# kill (or Down), so what to wait for is both agents hearing each other's
# heartbeats sent since the restart, and then the registry's states Up.
check "agent killed: after its restart both agents hear each other again and the networks are Up" \
    wait_heard_again "$restarted"

# 4. The destination QEMU is killed during transfer.
id=$(start_slow)
check "qemu killed: transfer started" wait_phase "$id" transferring
sleep 1
check "qemu killed: host 2's QEMU killed" kill -9 "$(cat "$S/h2/run/qemu/web1.pid")"
expect_eq "qemu killed: the migration fails" failed "$(wait_end "$id")"
echo "# qemu killed: $(ctl 1 -o json migration show "$id" | field '["error"]')"
source_intact "qemu killed"
for _ in $(seq 50); do left_on_host2 && break; sleep 0.2; done
check "qemu killed: nothing left on host 2" left_on_host2

# 5. The source agent is killed during transfer and started again: from its
# journal it finishes or undoes the move, and the VM runs on exactly one host.
id=$(start_slow)
check "source agent killed: transfer started" wait_phase "$id" transferring
sleep 1
kill -9 "$(pgrep -f "lmnetd -c $S/h1/lmnetd.conf")"
ip netns exec "$P-h1" "$LMNETD" -c "$S/h1/lmnetd.conf" </dev/null >/dev/null 2>&1 &
for _ in $(seq 100); do ctl 1 host show >/dev/null 2>&1 && break; sleep 0.2; done
end=$(wait_end "$id")
expect_match "source agent killed: the move ends" '^(completed|failed|cancelled|rolled-back)$' "$end"
echo "# source agent killed: $end $(ctl 1 -o json migration show "$id" | field '["error"]')"
if [[ $end == completed ]]; then
    expect_eq "source agent killed: the VM runs on host 2 only" "0 1" "$(qemus 1) $(qemus 2)"
    expect_eq "source agent killed: host 1's port is gone" "" "$(ports 1)"
    check "source agent killed: the guest answers on host 2" wait_answers
else
    source_intact "source agent killed"
    for _ in $(seq 50); do left_on_host2 && break; sleep 0.2; done
    check "source agent killed: nothing left on host 2" left_on_host2
fi
finish
