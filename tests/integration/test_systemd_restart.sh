#!/usr/bin/env bash
# Under a real systemd: a Debian container booted with systemd-nspawn runs
# deploy/lmnetd.service as installed; a VM (TCG, the tiny guest) gets its
# own scope lmnet-vm-NAME.scope; `systemctl restart lmnetd` leaves that QEMU
# running and the new agent re-attaches to it; stopping the VM ends its
# scope.  The container's root file system comes from debootstrap (Debian
# packages from the configured apt mirror only), cached in
# /var/cache/lmnet-test; the container writes to a tmpfs over it
# (--volatile=overlay), so the cache stays as built.  Skips (77) only where
# the machine cannot run systemd-nspawn or debootstrap.
set -u
source "$(dirname "$0")/lib.sh"
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v systemd-nspawn >/dev/null ||
    { echo "skip: no systemd-nspawn (apt-get install systemd-container)"; exit 77; }
command -v debootstrap >/dev/null || { echo "skip: no debootstrap (apt-get install debootstrap)"; exit 77; }
[[ -x $LMNETD ]] || { echo "skip: $LMNETD not built"; exit 77; }

cache=/var/cache/lmnet-test
rootfs=$cache/rootfs-bookworm
packages=systemd,systemd-sysv,dbus,qemu-system-x86,iproute2,procps,curl,libsqlite3-0,libmicrohttpd12,libjson-c5,libcurl4,libmnl0,libnettle8,libuuid1
if [[ $(cat "$rootfs.packages" 2>/dev/null) != "$packages" || ! -x $rootfs/lib/systemd/systemd ]]; then
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    [[ -n $mirror ]] || mirror=$(awk '$1=="deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [[ -n $mirror ]] || { echo "FAIL: no apt mirror configured to debootstrap from"; exit 1; }
    echo "# building the container's root file system in $rootfs (debootstrap from $mirror)"
    mkdir -p "$cache"
    rm -rf "$rootfs.tmp" "$rootfs" "$rootfs.packages"
    if ! debootstrap --variant=minbase --include="$packages" bookworm "$rootfs.tmp" "$mirror" \
        >"$LMNET_TEST_DIR/debootstrap.log" 2>&1; then
        tail -5 "$LMNET_TEST_DIR/debootstrap.log"
        rm -rf "$rootfs.tmp"
        echo "FAIL: debootstrap could not build the root file system (log above)"
        exit 1
    fi
    mv "$rootfs.tmp" "$rootfs"
    echo "$packages" > "$rootfs.packages"
fi

# The guest: the tiny one when this machine can build it, else any kernel
# (it panics without a root file system and keeps running: panic=0).
guest=$LMNET_TEST_DIR/guest
mkdir -p "$guest/images"
append="console=ttyS0 panic=0"
if "$src/deploy/guest/build.sh" "$guest/images" >"$LMNET_TEST_DIR/guest.log" 2>&1; then
    initrd='"initrd":"/var/lib/lmnet/images/initrd.img",'
else
    kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
    [[ -n $kernel ]] || { echo "FAIL: no guest and no kernel in /boot"; exit 1; }
    cp "$kernel" "$guest/images/vmlinuz"
    initrd=""
fi
cat > "$guest/lmnetd.conf" <<EOF
listen = 127.0.0.1:8470
accel = tcg
log_level = info
EOF

machine=lmt-sd-$$
nspawn_pid=""
end_container() {
    if [[ -n $nspawn_pid ]] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid" 2>/dev/null
        for ((i = 0; i < 300; i++)); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn_pid" 2>/dev/null
        wait "$nspawn_pid" 2>/dev/null
    fi
    cleanup_test_dir
}
trap end_container EXIT

echo "# boot systemd in a container"
# --private-network: the agent's 127.0.0.1:8470 is the container's own.
# --keep-unit --register=no: this machine's PID 1 is not systemd, there is
# no machined to register with.
systemd-nspawn -q -D "$rootfs" -M "$machine" --volatile=overlay --private-network \
    --register=no --keep-unit --console=passive \
    --bind-ro="$LMNETD:/usr/local/sbin/lmnetd" --bind-ro="$guest:/lmt" -b \
    >"$LMNET_TEST_DIR/nspawn.log" 2>&1 &
nspawn_pid=$!
leader=""
# The leader is nspawn's child that runs systemd: nspawn forks helpers of
# its own first, and a helper taken for the leader leaves nsenter nothing.
for ((i = 0; i < 200; i++)); do
    for p in $(ps -o pid= --ppid "$nspawn_pid" 2>/dev/null); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == systemd ]] && { leader=$p; break; }
    done
    [[ -n $leader ]] && break
    sleep 0.1
done
if [[ -z $leader ]]; then
    cat "$LMNET_TEST_DIR/nspawn.log"
    if grep -qiE 'not supported|operation not permitted|cgroup' "$LMNET_TEST_DIR/nspawn.log"; then
        echo "skip: systemd-nspawn cannot run a container on this machine (log above)"
        exit 77
    fi
    echo "FAIL: systemd-nspawn did not start a container (log above)"
    exit 1
fi
ct() { nsenter -t "$leader" -a env PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
state=""
for ((i = 0; i < 600; i++)); do
    state=$(ct systemctl is-system-running 2>/dev/null)
    [[ $state == running || $state == degraded ]] && break
    sleep 0.2
done
expect_match "systemd runs the container" '^(running|degraded)$' "$state"
[[ $state == running || $state == degraded ]] || { cat "$LMNET_TEST_DIR/nspawn.log"; finish; exit 1; }

echo "# install the unit as deploy/lmnetd.service says"
ct useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin lmnet-qemu
ct install -m 0644 /dev/stdin /etc/systemd/system/lmnetd.service < "$src/deploy/lmnetd.service"
ct install -d -m 0750 /etc/lmnet /var/lib/lmnet/images
ct install -m 0644 /lmt/lmnetd.conf /etc/lmnet/lmnetd.conf
ct sh -c 'cp /lmt/images/vmlinuz /lmt/images/initrd.img /var/lib/lmnet/images/ 2>/dev/null; ls /var/lib/lmnet/images/vmlinuz' >/dev/null
ct systemctl daemon-reload
check "systemctl start lmnetd" ct systemctl start lmnetd
check "lmnetd is active" ct systemctl is-active -q lmnetd
main1=$(ct systemctl show -P MainPID lmnetd)

api() { ct curl -s "$@"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }
echo "# a VM in its own scope"
body='{"name":"t1","memory_mib":128,"kernel":"/var/lib/lmnet/images/vmlinuz",'$initrd'"append":"'$append'"}'
vm=$(api -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:8470/v1/vms)
expect_eq "the VM runs" running "$(field '["state"]' <<<"$vm" 2>/dev/null)"
pid=$(field '["hypervisor"]["pid"]' <<<"$vm" 2>/dev/null)
[[ -n $pid ]] || { echo "$vm"; ct journalctl -u lmnetd --no-pager | tail -20; finish; exit 1; }
cg=$(ct sed -n 's/^0:://p' "/proc/$pid/cgroup")
expect_match "QEMU is in lmnet-vm-t1.scope" '/lmnet\.slice/lmnet-vm-t1\.scope$' "$cg"
check "the scope is active" ct systemctl is-active -q lmnet-vm-t1.scope
expect_eq "QEMU runs as lmnet-qemu" lmnet-qemu "$(ct ps -o user= -p "$pid")"
expect_match "the agent is in lmnetd.service" 'lmnetd\.service$' "$(ct sed -n 's/^0:://p' "/proc/$main1/cgroup")"

echo "# systemctl restart lmnetd"
check "systemctl restart lmnetd" ct systemctl restart lmnetd
main2=$(ct systemctl show -P MainPID lmnetd)
check "a new agent runs" test "$main2" != "$main1" -a "$main2" != 0
expect_match "the same QEMU still runs" '^[SR]' "$(ct ps -o stat= -p "$pid")"
vm=$(api http://127.0.0.1:8470/v1/vms/t1)
expect_eq "re-attached: same QEMU" "$pid" "$(field '["hypervisor"]["pid"]' <<<"$vm" 2>/dev/null)"
expect_eq "still running" running "$(field '["state"]' <<<"$vm" 2>/dev/null)"
check "its scope too" ct systemctl is-active -q lmnet-vm-t1.scope
expect_match "the new agent said it attached" "qemu attached vm=t1 pid=$pid" "$(ct journalctl -u lmnetd --no-pager -o cat)"

echo "# stop and delete end the scope"
vm=$(api -X POST http://127.0.0.1:8470/v1/vms/t1/stop)
expect_eq "stopped" stopped "$(field '["state"]' <<<"$vm" 2>/dev/null)"
check "the scope is gone" bash -c "! nsenter -t $leader -a systemctl is-active -q lmnet-vm-t1.scope"
expect_eq "DELETE is 204" 204 "$(api -o /dev/null -w '%{http_code}' -X DELETE http://127.0.0.1:8470/v1/vms/t1)"
check "systemctl stop lmnetd" ct systemctl stop lmnetd
finish
