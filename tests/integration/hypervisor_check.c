/* Drives the QEMU hypervisor driver (hypervisor/hypervisor_qemu.h) against
 * real QEMU under TCG, through the driver's interface only:
 *
 *   1. start a VM, migrate it to a second QEMU over a unix socket with
 *      pause-before-switchover, continue, and see it run on the other side;
 *   2. start a slow migration (bandwidth capped) and cancel it: the source
 *      runs on;
 *   3. detach from a VM and attach to it again by name;
 * each QEMU in its VM's own cgroup (hypervisor/vm_scope.h), in the slice
 * LMNET_VM_SLICE names (the caller removes it).
 *
 * Usage: hypervisor_check RUN_DIR KERNEL.  Prints one line per check and
 * the figures; exits 0 when every check passed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/log.h"
#include "hypervisor/hypervisor.h"
#include "hypervisor/hypervisor_qemu.h"
#include "hypervisor/vm_scope.h"

static int failures;
static struct vm_scope *scope; /* to look where each QEMU runs */

static void check(bool ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!ok)
        failures++;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void config_of(struct hypervisor_vm_config *c, const char *name, const char *kernel)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->memory_mib = 128;
    c->vcpus = 1;
    snprintf(c->kernel, sizeof(c->kernel), "%s", kernel);
    /* No root file system: the kernel panics and, with panic=0, stays
     * there; the VM keeps running, which is all a migration needs. */
    snprintf(c->append, sizeof(c->append), "console=ttyS0 panic=0");
}

static enum hypervisor_migration_status wait_for(struct hypervisor_vm *vm, int timeout_ms)
{
    enum hypervisor_migration_status st = HYPERVISOR_MIGRATION_NONE;
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        int r = hypervisor_vm_migration_wait(vm, 500, &st);
        if (r < 0 && r != -ETIMEDOUT)
            break;
        if (hypervisor_migration_status_waits(st))
            break;
    }
    return st;
}

/* True when VM's QEMU is in its own cgroup. */
static bool in_own_cgroup(struct hypervisor_vm *vm, const char *name)
{
    struct hypervisor_vm_status status;
    return vm && hypervisor_vm_query(vm, &status) == 0 &&
           vm_scope_contains(scope, name, status.pid) == 1;
}

static void migrate_and_continue(struct hypervisor *hv, const char *dir, const char *kernel)
{
    struct hypervisor_vm_config src_c, dst_c;
    config_of(&src_c, "hvcheck-src", kernel);
    config_of(&dst_c, "hvcheck-src", kernel);
    snprintf(dst_c.name, sizeof(dst_c.name), "hvcheck-dst");
    struct hypervisor_vm *src = NULL, *dst = NULL;
    struct hypervisor_migration_options opt = { .downtime_limit_ms = -1,
                                                .channels = 1,
                                                .pause_before_switchover = true };
    check(hypervisor_vm_start(hv, &src_c, &src) == 0, "source VM starts");
    check(hypervisor_vm_start_incoming(hv, &dst_c, "defer", &opt, &dst) == 0,
          "destination VM starts waiting for incoming state");
    if (!src || !dst)
        goto out;
    check(in_own_cgroup(src, "hvcheck-src") && in_own_cgroup(dst, "hvcheck-dst"),
          "each QEMU is in its VM's own cgroup");
    struct hypervisor_vm_status status;
    check(hypervisor_vm_query(dst, &status) == 0 && status.state == HYPERVISOR_VM_INCOMING,
          "destination is incoming");
    char uri[200];
    snprintf(uri, sizeof(uri), "unix:%s/hvcheck-in.sock", dir);
    check(hypervisor_vm_migrate_incoming(dst, uri, &opt) == 0, "destination listens");
    int64_t t0 = now_ms();
    check(hypervisor_vm_migrate(src, uri, &opt) == 0, "source starts migrating");
    enum hypervisor_migration_status st = wait_for(src, 60000);
    check(st == HYPERVISOR_MIGRATION_PRE_SWITCHOVER, "source stops at pre-switchover");
    check(hypervisor_vm_query(src, &status) == 0 && status.state == HYPERVISOR_VM_PAUSED,
          "source is paused at pre-switchover");
    check(hypervisor_vm_migration_continue(src) == 0, "continue accepted");
    st = wait_for(src, 60000);
    int64_t total = now_ms() - t0;
    check(st == HYPERVISOR_MIGRATION_COMPLETED, "migration completes");
    struct hypervisor_migration_progress p;
    check(hypervisor_vm_migration_progress(src, &p) == 0, "progress readable");
    int running = 0;
    for (int i = 0; i < 100 && !running; i++) {
        running = hypervisor_vm_query(dst, &status) == 0 && status.state == HYPERVISOR_VM_RUNNING;
        if (!running) {
            struct timespec ts = { 0, 50 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    check(running, "the VM runs on the destination");
    check(hypervisor_vm_query(src, &status) == 0 && status.state != HYPERVISOR_VM_RUNNING,
          "the source no longer runs it");
    check(hypervisor_vm_announce(dst) == 0, "destination announces");
    printf("figures: migration total %lld ms, qemu downtime %lld ms, %llu bytes, %.0f Mbit/s\n",
           (long long)total, (long long)p.downtime_ms, (unsigned long long)p.bytes_transferred,
           p.mbps);
out:
    hypervisor_vm_destroy(src);
    hypervisor_vm_destroy(dst);
}

static void migrate_and_cancel(struct hypervisor *hv, const char *dir, const char *kernel)
{
    struct hypervisor_vm_config src_c, dst_c;
    config_of(&src_c, "hvcheck-c-src", kernel);
    config_of(&dst_c, "hvcheck-c-dst", kernel);
    struct hypervisor_vm *src = NULL, *dst = NULL;
    struct hypervisor_migration_options opt = { .downtime_limit_ms = -1,
                                                .max_bandwidth = 1024 * 1024,
                                                .channels = 1,
                                                .pause_before_switchover = true };
    check(hypervisor_vm_start(hv, &src_c, &src) == 0, "cancel: source VM starts");
    check(hypervisor_vm_start_incoming(hv, &dst_c, "defer", &opt, &dst) == 0,
          "cancel: destination starts");
    if (!src || !dst)
        goto out;
    char uri[200];
    snprintf(uri, sizeof(uri), "unix:%s/hvcheck-c-in.sock", dir);
    check(hypervisor_vm_migrate_incoming(dst, uri, &opt) == 0, "cancel: destination listens");
    check(hypervisor_vm_migrate(src, uri, &opt) == 0, "cancel: slow migration starts");
    struct timespec ts = { 1, 0 };
    nanosleep(&ts, NULL);
    struct hypervisor_migration_progress p;
    check(hypervisor_vm_migration_progress(src, &p) == 0 &&
              p.status == HYPERVISOR_MIGRATION_ACTIVE,
          "cancel: migration is active");
    check(hypervisor_vm_migration_cancel(src) == 0, "cancel accepted");
    enum hypervisor_migration_status st = wait_for(src, 20000);
    check(st == HYPERVISOR_MIGRATION_CANCELLED, "cancel: migration cancelled");
    struct hypervisor_vm_status status;
    check(hypervisor_vm_query(src, &status) == 0 && status.state == HYPERVISOR_VM_RUNNING,
          "cancel: the source runs on");
out:
    hypervisor_vm_destroy(src);
    hypervisor_vm_destroy(dst);
}

static void detach_and_attach(struct hypervisor *hv, const char *kernel)
{
    struct hypervisor_vm_config c;
    config_of(&c, "hvcheck-att", kernel);
    struct hypervisor_vm *vm = NULL;
    check(hypervisor_vm_start(hv, &c, &vm) == 0, "attach: VM starts");
    if (!vm)
        return;
    hypervisor_vm_detach(vm);
    vm = NULL;
    check(hypervisor_vm_attach(hv, "hvcheck-att", &vm) == 0, "attach: found again by name");
    struct hypervisor_vm_status status;
    check(vm && hypervisor_vm_query(vm, &status) == 0 && status.state == HYPERVISOR_VM_RUNNING,
          "attach: it still runs");
    check(in_own_cgroup(vm, "hvcheck-att"), "attach: still in its own cgroup");
    hypervisor_vm_destroy(vm);
    check(hypervisor_vm_attach(hv, "hvcheck-att", &vm) == -ENOENT, "attach: gone once destroyed");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: hypervisor_check RUN_DIR KERNEL\n");
        return 2;
    }
    log_set_level(LOG_LEVEL_WARNING);
    struct hypervisor_qemu_config qc;
    hypervisor_qemu_config_defaults(&qc);
    snprintf(qc.run_dir, sizeof(qc.run_dir), "%s", argv[1]);
    qc.accel = HYPERVISOR_ACCEL_TCG;
    const char *slice = getenv("LMNET_VM_SLICE");
    if (slice)
        snprintf(qc.slice, sizeof(qc.slice), "%s", slice);
    if (vm_scope_create(VM_SCOPE_AUTO, qc.slice, &scope) < 0) {
        fprintf(stderr, "bad LMNET_VM_SLICE: %s\n", qc.slice);
        return 1;
    }
    struct hypervisor *hv = NULL;
    int r = hypervisor_qemu_create(&qc, &hv);
    if (r < 0) {
        fprintf(stderr, "cannot create the QEMU driver: %s\n", strerror(-r));
        return 1;
    }
    migrate_and_continue(hv, argv[1], argv[2]);
    migrate_and_cancel(hv, argv[1], argv[2]);
    detach_and_attach(hv, argv[2]);
    hypervisor_destroy(hv);
    vm_scope_destroy(scope);
    printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
