/* The QEMU hypervisor driver: each VM is a qemu-system-x86_64 process that
 * the driver starts and then drives over QMP (hypervisor/qmp.h) only.
 *
 * Per VM, in the run directory: NAME.qmp (the QMP socket), NAME.pid,
 * NAME.log (QEMU's own messages) and NAME.console (the guest's serial
 * console).  QEMU runs in its own session, so it outlives an agent restart;
 * the restarted agent finds it again with hypervisor_vm_attach().  Each QEMU
 * is also moved, right after it starts, into a cgroup of its own
 * (hypervisor/vm_scope.h: a systemd scope, or a cgroupfs directory), which
 * attach checks (and makes for a QEMU that has none) and destroy removes;
 * a VM whose scope cannot be made is not started.  QEMU is
 * started with -nodefaults -display none; adapters are tap netdevs with
 * script=no downscript=no (the agent owns the taps and the switch).
 *
 * Accelerator: "tcg", "kvm" or "auto".  Auto must not trust /dev/kvm: under
 * nested virtualization KVM runs firmware yet hangs a Linux kernel in early
 * boot.  So auto boots a kernel under KVM with no root file system and
 * "panic=-1" and waits for it to reach the panic (it got through early boot)
 * and QEMU to exit (-no-reboot); only then it uses KVM, else TCG.  The
 * kernel is probe_kernel, or else the first VM's kernel; with neither (a
 * disk-only first VM) auto means TCG.  The answer is kept for the life of
 * the driver. */
#ifndef LMNET_MIGRATE_HYPERVISOR_QEMU_H
#define LMNET_MIGRATE_HYPERVISOR_QEMU_H

#include "hypervisor/hypervisor.h"
#include "hypervisor/vm_scope.h"

struct hypervisor_qemu_config {
    char binary[256];  /* the QEMU program; a bare name is looked up in PATH */
    char run_dir[80];  /* sockets, pid files, logs; created if missing */
    char machine[32];  /* -machine, the same on every host ("q35") */
    enum hypervisor_accel accel;
    char probe_kernel[256];
    int probe_timeout_ms; /* how long the KVM boot test may take */
    int start_timeout_ms; /* QEMU must answer on QMP within this */
    int qmp_timeout_ms;   /* the deadline of each QMP call */
    int quit_timeout_ms;  /* grace before SIGKILL when destroying a VM */
    char user[64];        /* QEMU drops to this user (-runas) once it has
                             opened its files; "": it keeps the agent's */
    char migration_dir[80]; /* where QEMU's multifd sockets go (the agent's
                               run_dir); "": not managed by the driver */
    char image_dirs[1024]; /* ','-separated directories kernels, initrds and
                              disks must lie in (hypervisor/imagedir.h); "": any */
    enum vm_scope_kind cgroup; /* where each QEMU runs (hypervisor/vm_scope.h) */
    char slice[64];            /* the slice of the VMs' scopes ("lmnet.slice") */
};

/* Fills CONFIG with the defaults: qemu-system-x86_64, /run/lmnet/qemu, q35,
 * auto, 20 s probe, 10 s start, 10 s per call, 3 s grace, cgroup auto in
 * lmnet.slice. */
void hypervisor_qemu_config_defaults(struct hypervisor_qemu_config *config);

/* Creates the driver (CONFIG is copied).  Creates the run directory (mode
 * 0700: QEMU never writes there once it runs as USER).  With a user, the
 * migration directory is made group-owned by USER's group, mode 03770, so
 * that the unprivileged QEMU can create and reach its multifd sockets
 * there but not remove the agent's.  Returns 0 and *out (free with
 * hypervisor_destroy()), or a negative errno (-EINVAL for a run directory
 * with a ',' that QEMU's option syntax cannot carry, -ENOENT for a user
 * that does not exist, or vm_scope_create()'s error). */
int hypervisor_qemu_create(const struct hypervisor_qemu_config *config, struct hypervisor **out);

/* Decides the accelerator now (probing KVM when the setting is auto, with
 * KERNEL when probe_kernel is not set; KERNEL may be NULL) and returns it:
 * HYPERVISOR_ACCEL_KVM or HYPERVISOR_ACCEL_TCG. */
enum hypervisor_accel hypervisor_qemu_accel(struct hypervisor *hv, const char *kernel);

/* The command line that starts CONFIG with ACCEL (KVM or TCG), waiting for
 * an incoming migration when INCOMING is set: QEMU's argv, NULL-terminated,
 * the caller's to free with hypervisor_qemu_argv_free().  Exposed for the
 * unit tests.  Returns 0 or a negative errno. */
int hypervisor_qemu_argv(const struct hypervisor_qemu_config *qemu,
                         const struct hypervisor_vm_config *config, enum hypervisor_accel accel,
                         bool incoming, char ***argv);
void hypervisor_qemu_argv_free(char **argv);

#endif
