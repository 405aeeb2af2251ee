#!/usr/bin/env bash
# The VM API against real QEMU (TCG): create and start, the refusals, stop,
# start, delete; an agent restart re-attaches to the VM it left running, and
# a VM whose QEMU died while the agent was down is marked failed.
set -u
source "$(dirname "$0")/lib.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "skip: no qemu-system-x86_64"; exit 77; }
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[[ -n "$kernel" ]] || { echo "skip: no kernel in /boot"; exit 77; }
cd "$LMNET_TEST_DIR"

run=$LMNET_TEST_DIR/run
end_qemus() {
    local f
    for f in "$run"/qemu/*.pid; do [[ -e "$f" ]] && kill -9 "$(cat "$f")" 2>/dev/null; done
    cleanup_test_dir
}
trap end_qemus EXIT
# QEMU runs as lmnet-qemu (the default qemu_user); made here when missing,
# and removed again at the end.
made_user=""
if ! getent passwd lmnet-qemu >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lmnet-qemu &&
        made_user=lmnet-qemu
fi
trap 'end_qemus; [[ -n $made_user ]] && userdel "$made_user"' EXIT
mkdir -p images other
# Each QEMU in a cgroup of its own (systemd does not run this machine, so
# the agent makes them on the cgroup v2 hierarchy), in a slice of this
# test's own, which the test removes at the end.
cgroot=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
slice=lmt-vms-$$.slice
end_slice() { [[ -n $cgroot && -d $cgroot/$slice ]] && rmdir "$cgroot/$slice"/vm-* "$cgroot/$slice" 2>/dev/null; true; }
trap 'end_qemus; end_slice; [[ -n $made_user ]] && userdel "$made_user"' EXIT
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
printf 'run_dir = %s\naccel = tcg\nimage_dirs = /boot,%s/images\nvm_slice = %s\n' "$run" "$LMNET_TEST_DIR" "$slice" > lmnetd.conf
# The agent leads a session of its own, as a service does.
AGENT_WRAP=setsid agent_start a -c lmnetd.conf || exit 1
url=$AGENT_URL
J=(-H 'Content-Type: application/json')
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# alive PID: the process runs (a zombie left to a non-reaping init does not).
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null); [[ -n "$s" && "$s" != Z* ]]; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

echo "# create and start"
body='{"name":"t1","memory_mib":128,"kernel":"'$kernel'","append":"console=ttyS0 panic=0"}'
out=$(curl -s -w '\n%{http_code}' "${J[@]}" -d "$body" "$url/v1/vms")
expect_eq "POST /v1/vms is 201" 201 "$(tail -1 <<<"$out")"
vm=$(head -1 <<<"$out")
expect_eq "the VM runs" running "$(field '["state"]' <<<"$vm")"
pid=$(field '["hypervisor"]["pid"]' <<<"$vm")
check "its QEMU process exists" alive "$pid"
expect_match "QEMU runs under TCG" 'accel=tcg|-accel tcg|tcg' "$(tr '\0' ' ' < /proc/$pid/cmdline)"
expect_eq "QEMU runs as lmnet-qemu" lmnet-qemu "$(ps -o user= -p "$pid")"
expect_eq "QEMU holds no capability" 0000000000000000 "$(awk '$1=="CapEff:"{print $2}' /proc/$pid/status)"
expect_eq "QEMU is under a seccomp filter" 2 "$(awk '$1=="Seccomp:"{print $2}' /proc/$pid/status)"
expect_eq "QEMU leads its own session" "$pid" "$(ps -o sid= -p "$pid" | tr -d ' ')"
if [[ -n $cgroot ]]; then
    expect_eq "QEMU is in its VM's own cgroup" "/$slice/vm-t1" "$(cgroup_of "$pid")"
    expect_eq "and alone there" "$pid" "$(cat "$cgroot/$slice/vm-t1/cgroup.procs")"
    check "the agent is not in it" test "$(cgroup_of "$AGENT_PID")" != "/$slice/vm-t1"
else
    echo "note: no cgroup v2 hierarchy mounted, the VM cgroup checks are left out"
fi

echo "# refusals"
expect_eq "same name again is 409" 409 "$(status "${J[@]}" -d "$body" "$url/v1/vms")"
r=$(curl -s "${J[@]}" -d '{"name":"t2","memory_mib":128}' "$url/v1/vms")
expect_match "no kernel nor disk names /kernel" '"pointer":"/kernel"' "$r"
r=$(curl -s "${J[@]}" -d '{"name":"t2","kernel":"/nonexistent/vmlinuz"}' "$url/v1/vms")
expect_match "unreadable kernel is refused" 'cannot read' "$r"
r=$(curl -s "${J[@]}" -d '{"name":"t2","kernel":"'$kernel'","adapters":[{"port":"nosuch"}]}' "$url/v1/vms")
expect_match "unknown port names /adapters/0/port" '"pointer":"/adapters/0/port"' "$r"
r=$(curl -s "${J[@]}" -d '{"name":"t2","memory_mib":1,"kernel":"'$kernel'"}' "$url/v1/vms")
expect_match "tiny memory names /memory_mib" '"pointer":"/memory_mib"' "$r"
r=$(curl -s "${J[@]}" -d '{"name":"-bad","kernel":"'$kernel'"}' "$url/v1/vms")
expect_match "bad name names /name" '"pointer":"/name"' "$r"
echo "# image paths: only inside image_dirs, links resolved"
r=$(curl -s -w '\n%{http_code}' "${J[@]}" -d '{"name":"t2","kernel":"/etc/passwd"}' "$url/v1/vms")
expect_eq "a kernel outside image_dirs is 422" 422 "$(tail -1 <<<"$r")"
expect_match "and says why" 'problems/image-outside-image-dirs".*"pointer":"/kernel"' "$r"
expect_match "and names image_dirs" 'image_dirs = /boot' "$r"
echo secret > other/secret
ln -s "$LMNET_TEST_DIR/other/secret" images/escape
r=$(curl -s "${J[@]}" -d '{"name":"t2","kernel":"'$kernel'","initrd":"'$LMNET_TEST_DIR'/images/escape"}' "$url/v1/vms")
expect_match "a link out of image_dirs is refused" 'other/secret.*"pointer":"/initrd"' "$r"
r=$(curl -s "${J[@]}" -d '{"name":"t2","kernel":"'$kernel'","initrd":"'$LMNET_TEST_DIR'/images/../other/secret"}' "$url/v1/vms")
expect_match "'..' out of image_dirs is refused" 'image-outside-image-dirs' "$r"
r=$(curl -s "${J[@]}" -d '{"name":"t2","disk":"/etc/shadow"}' "$url/v1/vms")
expect_match "a disk outside image_dirs is refused" '"pointer":"/disk"' "$r"
expect_eq "a running VM is not deleted (409)" 409 "$(status -X DELETE "$url/v1/vms/t1")"
expect_eq "nothing half-made by the refusals" 1 "$(curl -s "$url/v1/vms" | field '["items"].__len__()')"

echo "# restart: the VM outlives the agent and everything in its session"
# What a service manager that stops the agent's whole session would do
# (the unit's KillMode=process stops lmnetd alone): SIGTERM to every
# process of the agent's session, then SIGKILL to what is left.
sid=$AGENT_PID
session() { ps -e -o pid=,sid= | awk -v s="$sid" '$2==s{print $1}'; }
for p in $(session); do kill -TERM "$p"; done
wait "$AGENT_PID"
for p in $(session); do kill -KILL "$p"; done
expect_eq "nothing of the agent's session is left" "" "$(session)"
check "QEMU still runs without the agent" alive "$pid"
agent_start a -c lmnetd.conf || exit 1
url=$AGENT_URL
vm=$(curl -s "$url/v1/vms/t1")
expect_eq "re-attached: same QEMU" "$pid" "$(field '["hypervisor"]["pid"]' <<<"$vm")"
expect_eq "still running" running "$(field '["state"]' <<<"$vm")"
[[ -n $cgroot ]] && expect_eq "still in its own cgroup" "/$slice/vm-t1" "$(cgroup_of "$pid")"

echo "# a QEMU that dies while the agent is down"
body2='{"name":"t3","memory_mib":128,"kernel":"'$kernel'","append":"console=ttyS0 panic=0"}'
pid3=$(curl -s "${J[@]}" -d "$body2" "$url/v1/vms" | field '["hypervisor"]["pid"]')
check "agent stops" agent_stop "$AGENT_PID"
kill -9 "$pid3"
agent_start a -c lmnetd.conf || exit 1
url=$AGENT_URL
expect_eq "its VM is marked failed" failed "$(curl -s "$url/v1/vms/t3" | field '["state"]')"
expect_match "and an event says so" '"kind":"vm.lost"' "$(curl -s "$url/v1/events?kind=vm.lost")"
expect_eq "a failed VM can be deleted" 204 "$(status -X DELETE "$url/v1/vms/t3")"
[[ -n $cgroot ]] && check "the lost VM's cgroup is removed" test ! -e "$cgroot/$slice/vm-t3"

echo "# stop, start, delete"
vm=$(curl -s -X POST "$url/v1/vms/t1/stop")
expect_eq "stopped" stopped "$(field '["state"]' <<<"$vm")"
sleep 0.2
check "its QEMU is gone" bash -c "! ps -o stat= -p $pid | grep -qv Z"
[[ -n $cgroot ]] && check "and its cgroup" test ! -e "$cgroot/$slice/vm-t1"
vm=$(curl -s -X POST "$url/v1/vms/t1/start")
expect_eq "started again" running "$(field '["state"]' <<<"$vm")"
pid=$(field '["hypervisor"]["pid"]' <<<"$vm")
[[ -n $cgroot ]] && expect_eq "started again in its own cgroup" "/$slice/vm-t1" "$(cgroup_of "$pid")"
expect_eq "start twice is 409" 409 "$(status -X POST "$url/v1/vms/t1/start")"
list=$("$LMNETCTL" --server "$url" vm list)
expect_match "lmnetctl vm list shows it" 't1 +running' "$list"
stop_tag=$(curl -sf -D - -o /dev/null -X POST "$url/v1/vms/t1/stop" | tr -d '\r' | sed -n 's/^ETag: //Ip')
etag=$(curl -s -D - -o /dev/null "$url/v1/vms/t1" | tr -d '\r' | sed -n 's/^ETag: //Ip')
expect_eq "stop answers the ETag its GET answers" "$etag" "$stop_tag"
expect_eq "DELETE with a stale If-Match is 412" 412 "$(status -X DELETE -H 'If-Match: "0000000000000000"' "$url/v1/vms/t1")"
expect_eq "DELETE with the current ETag is 204" 204 "$(status -X DELETE -H "If-Match: $etag" "$url/v1/vms/t1")"
expect_eq "gone" 404 "$(status "$url/v1/vms/t1")"
[[ -n $cgroot ]] && check "a deleted VM's cgroup is removed" test ! -e "$cgroot/$slice/vm-t1"
kinds=$(curl -s "$url/v1/events?limit=1000" | grep -o '"kind":"vm\.[a-z]*"' | sort -u | tr '\n' ' ')
expect_match "events for create, start, stop, delete" 'vm.create.*vm.delete.*vm.start.*vm.stop' "$kinds"
check "agent stops cleanly at the end" agent_stop "$AGENT_PID"
expect_eq "no QEMU left" "" "$(cd "$run"/qemu && ls *.pid 2>/dev/null)"
[[ -n $cgroot ]] && expect_eq "no VM cgroup left in the slice" "" "$(cd "$cgroot/$slice" && ls -d vm-* 2>/dev/null)"
finish
