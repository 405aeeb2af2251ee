#!/bin/bash
# The QEMU hypervisor driver against real QEMU (TCG): migrate with
# pause-before-switchover and continue, cancel a slow migration, detach and
# re-attach.  Needs nothing but qemu-system-x86_64 and a kernel.
set -u
. "$(dirname "$0")/lib.sh"

command -v qemu-system-x86_64 >/dev/null || { echo "skip: no qemu-system-x86_64"; exit 77; }
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { echo "skip: no kernel in /boot (install linux-image-cloud-amd64)"; exit 77; }
check_bin="$LMNET_BUILD_DIR/tests/hypervisor_check"
[ -x "$check_bin" ] || { echo "skip: $check_bin not built"; exit 77; }

dir=$(mktemp -d /tmp/lmt6-hv.XXXXXX)
# The VMs' cgroups go in a slice of this test's own, removed at the end.
cgroot=$(awk '$0 ~ / - cgroup2 / {print $5; exit}' /proc/self/mountinfo)
export LMNET_VM_SLICE=lmt-hv-$$.slice
cleanup() {
    # Any QEMU the check left behind (it should leave none) is ended here.
    for pidfile in "$dir"/*.pid; do
        [ -e "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
    done
    rm -rf "$dir"
    if [[ -n $cgroot && -d $cgroot/$LMNET_VM_SLICE ]]; then
        rmdir "$cgroot/$LMNET_VM_SLICE"/vm-* 2>/dev/null
        rmdir "$cgroot/$LMNET_VM_SLICE"
    fi
    cleanup_test_dir # this trap replaces lib.sh's, which removes LMNET_TEST_DIR
}
trap cleanup EXIT

"$check_bin" "$dir" "$kernel" | tee "$dir/out.txt"
status=${PIPESTATUS[0]}
left=$(ls "$dir"/*.pid 2>/dev/null | wc -l)
expect_eq "no QEMU left running" 0 "$left"
[[ -n $cgroot ]] && expect_eq "no VM cgroup left" "" "$(cd "$cgroot/$LMNET_VM_SLICE" 2>/dev/null && ls -d vm-* 2>/dev/null)"
expect_eq "every driver check passed" 0 "$status"
finish
