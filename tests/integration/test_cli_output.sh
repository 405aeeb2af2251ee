#!/usr/bin/env bash
# lmnetctl's output control against a real lmnetd on loopback: "did you
# mean" for a mistyped command, errors as JSON under -o json (the
# agent's problem+json as it came, or a transport problem when the agent
# is not there), with the usual exit codes; list filters (network list
# --role/--state, vm list --host/--state, migration list --phase/--role/--vm,
# port list --switch/--vm) and -o wide.  No QEMU is started
# (the VMs are defined, not run).
set -u
source "$(dirname "$0")/lib.sh"
cd "$LMNET_TEST_DIR"

kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
printf 'run_dir = %s/run\nimage_dirs = /boot\n' "$LMNET_TEST_DIR" > lmnetd.conf
agent_start cli -c lmnetd.conf || exit 1
L=("$LMNETCTL" -s "$AGENT_URL")

echo "# did you mean"
"${L[@]}" netwrok list > out.txt 2> err.txt
expect_eq "a mistyped command is a usage error" 2 "$?"
expect_match "  that names the command meant" "unknown command 'netwrok'; did you mean 'network'\?" "$(cat err.txt)"
"${L[@]}" frobnicate > out.txt 2> err.txt
expect_eq "nothing close: no guess" "lmnetctl: unknown command 'frobnicate'" "$(head -1 err.txt)"

echo "# errors as JSON under -o json"
"${L[@]}" -o json macpool show no-such-pool > out.txt 2> err.txt
expect_eq "a refused call exits 1" 1 "$?"
expect_eq "  nothing on stdout" "" "$(cat out.txt)"
expect_eq "  the problem on stderr as JSON" "404 not-found" "$(/usr/bin/python3 -c '
import json
p = json.load(open("err.txt"))
print(p["status"], p["type"].rsplit("/", 1)[-1])' 2>&1)"
"${L[@]}" macpool show no-such-pool > out.txt 2> err.txt
expect_match "without -o json, one line as before" "^lmnetctl: 404 " "$(cat err.txt)"
"${LMNETCTL}" -s http://127.0.0.1:1 -o json host show > out.txt 2> err.txt
expect_eq "no agent: exit 3" 3 "$?"
expect_eq "  a transport problem as JSON" "transport" "$(/usr/bin/python3 -c '
import json
print(json.load(open("err.txt"))["type"])' 2>&1)"
echo "# list filters"
# The agent records its cluster networks shortly after it starts.
for ((i = 0; i < 100; i++)); do
    "${L[@]}" network list 2>/dev/null | grep -q "Cluster Network 1" && break
    sleep 0.1
done
check "network set --role migration" "${L[@]}" network set "Cluster Network 1" --role migration
"${L[@]}" network list --role migration > out.txt 2> err.txt
expect_match "--role migration finds it" "^Cluster Network 1 " "$(sed -n 3p out.txt)"
"${L[@]}" network list --role storage > out.txt 2> err.txt
expect_eq "--role storage: the headers, no rows" 2 "$(wc -l < out.txt)"
state=$("${L[@]}" -o json network list --role migration |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["state"])')
other=down; [[ $state == down ]] && other=up
expect_eq "--role Migration --state ${state^^} (case ignored)" 3 \
    "$("${L[@]}" network list --role Migration --state "${state^^}" | wc -l)"
expect_eq "--role migration --state $other: no rows" 2 \
    "$("${L[@]}" network list --role migration --state $other | wc -l)"
expect_eq "  -o json keeps only the matches" 0 "$("${L[@]}" -o json network list --role vm |
    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' 2>&1)"
"${L[@]}" network list --role foo > out.txt 2> err.txt
expect_eq "--role foo is a usage error" 2 "$?"
expect_match "  that names the roles" "--role must be one of none, management, migration, storage, vm, not 'foo'" "$(cat err.txt)"
"${L[@]}" network list --state sideways > out.txt 2> err.txt
expect_eq "--state sideways is a usage error" 2 "$?"
expect_eq "  nothing on stdout" "" "$(cat out.txt)"
check "vm create (defined, not started)" "${L[@]}" vm create quiet --kernel "$kernel" --no-start
"${L[@]}" vm list --state stopped > out.txt 2> err.txt
expect_match "vm list --state stopped lists it" "quiet +stopped" "$(cat out.txt)"
expect_eq "vm list --state running: none" 2 "$("${L[@]}" vm list --state running | wc -l)"
host=$("${L[@]}" -o json vm show quiet | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["host"])')
expect_match "vm list --host ID" "quiet +stopped" "$("${L[@]}" vm list --host "$host")"
expect_eq "vm list --host elsewhere: none" 2 "$("${L[@]}" vm list --host elsewhere | wc -l)"
"${L[@]}" vm list --state asleep > out.txt 2> err.txt
expect_eq "vm list --state asleep is a usage error" 2 "$?"
expect_match "  that names the states" "must be one of stopped, running" "$(cat err.txt)"
"${L[@]}" migration list --phase warping > out.txt 2> err.txt
expect_eq "migration list --phase warping is a usage error" 2 "$?"
expect_match "  that names the phases" "--phase must be one of queued, preflight, .*, failed, not 'warping'" "$(cat err.txt)"
"${L[@]}" migration list --role sideways > out.txt 2> err.txt
expect_eq "migration list --role sideways is a usage error" 2 "$?"
check "migration list --phase completed --role source --vm quiet" \
    "${L[@]}" migration list --phase completed --role source --vm quiet
check "port list --switch sw --vm quiet" "${L[@]}" port list --switch sw --vm quiet
"${L[@]}" port list --frobnicate > out.txt 2> err.txt
expect_eq "port list --frobnicate is a usage error" 2 "$?"

echo "# -o wide"
expect_match "network list -o wide has Id and Interfaces" "AutoMetric +Id +Interfaces" \
    "$("${L[@]}" -o wide network list | head -1)"
expect_match "  the plain table has not" "AutoMetric$" "$("${L[@]}" network list | head -1)"
expect_match "vm list -o wide has Id, HostId, Adapters" "Ports +Id +HostId +Adapters" \
    "$("${L[@]}" -o wide vm list | head -1)"
expect_match "  with the VM's id" "$host" "$("${L[@]}" -o wide vm list --state stopped | sed -n 3p)"
expect_match "migration list -o wide has Source, Destination, Mode" "Error +Source +Destination +Mode" \
    "$("${L[@]}" -o wide migration list | head -1)"
expect_match "port list -o wide has Adapter, MacSource, MacPool, BandwidthKbps" \
    "Guards +Adapter +MacSource +MacPool +BandwidthKbps" "$("${L[@]}" -o wide port list | head -1)"
"${L[@]}" -o tall network list > out.txt 2> err.txt
expect_eq "-o tall is a usage error" 2 "$?"
expect_match "  that names wide" "'table', 'wide' or 'json'" "$(cat err.txt)"
check "vm delete" "${L[@]}" -y vm delete quiet
check "the agent stops cleanly" agent_stop "$AGENT_PID"

finish
