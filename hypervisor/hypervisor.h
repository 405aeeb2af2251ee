/* The hypervisor driver interface: what lmnet asks of a hypervisor to run a
 * VM and live-migrate it, as one table of function pointers (libvirt's
 * driver-hypervisor.h in miniature).  The QEMU driver
 * (hypervisor/hypervisor_qemu.h) is the real one; unit tests bring their own
 * fake table.
 *
 * A struct hypervisor is a driver instance (one per agent).  It starts VMs,
 * each a struct hypervisor_vm handle that the caller ends with
 * hypervisor_vm_destroy().  A driver embeds these structs first in its own
 * and reaches its state from them.
 *
 * Live migration with these calls, source S and destination D:
 *   D: hypervisor_vm_start_incoming(hv, config, "defer", options, &vm)
 *   D: hypervisor_vm_migrate_incoming(vm, "unix:/run/lmnet/...", options)
 *      (or, once a connection is there: hypervisor_vm_pass_fd(vm, "mig", fd)
 *      and hypervisor_vm_migrate_incoming(vm, "fd:mig", options); the source
 *      likewise migrates to "fd:NAME")
 *   S: hypervisor_vm_migrate(vm, uri, options)          (returns at once)
 *   S: hypervisor_vm_migration_wait(vm, ms, &status) and
 *      hypervisor_vm_migration_progress(vm, &progress)  until pre-switchover
 *   S: (switch ports) hypervisor_vm_migration_continue(vm)
 *   S, D: hypervisor_vm_migration_wait() until completed
 *   S: hypervisor_vm_destroy(vm)  (D: QEMU announces the VM by itself on
 *      arrival; hypervisor_vm_announce() is for an agent that restarted)
 * and before switchover, on failure: S: hypervisor_vm_migration_cancel(vm),
 * D: hypervisor_vm_destroy(vm).  Options must be the same on both sides
 * (channels above all).
 *
 * Threads: calls on one VM are serialised by the driver; different VMs may
 * be driven from different threads.  Every call is bounded in time.
 * Errors are negative errno; the driver logs once what it knows best (QEMU's
 * own reason), so callers need not repeat it. */
#ifndef LMNET_MIGRATE_HYPERVISOR_H
#define LMNET_MIGRATE_HYPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HYPERVISOR_MAX_ADAPTERS 8

struct hypervisor;
struct hypervisor_vm;

/* Which accelerator runs the guest.  AUTO uses KVM only when a Linux kernel
 * really boots under it (nested KVM can run firmware but hang Linux), else
 * TCG. */
enum hypervisor_accel {
    HYPERVISOR_ACCEL_AUTO,
    HYPERVISOR_ACCEL_KVM,
    HYPERVISOR_ACCEL_TCG,
    HYPERVISOR_ACCEL_COUNT,
};

/* "auto", "kvm", "tcg". */
const char *hypervisor_accel_to_string(enum hypervisor_accel accel);
/* Parses NAME into *accel.  Returns 0 or -EINVAL. */
int hypervisor_accel_from_string(const char *name, enum hypervisor_accel *accel);

enum hypervisor_vm_state {
    HYPERVISOR_VM_RUNNING,
    HYPERVISOR_VM_PAUSED,   /* vCPUs stopped (by stop, or a migration's end) */
    HYPERVISOR_VM_INCOMING, /* waiting for, or receiving, a migration */
    HYPERVISOR_VM_MIGRATED, /* its state left for another host */
    HYPERVISOR_VM_SHUTDOWN, /* the guest powered off */
    HYPERVISOR_VM_FAILED,   /* guest panic, I/O or internal error */
    HYPERVISOR_VM_EXITED,   /* the hypervisor process is gone */
    HYPERVISOR_VM_STATE_COUNT,
};

/* "running", "paused", "incoming", "migrated", "shutdown", "failed",
 * "exited". */
const char *hypervisor_vm_state_to_string(enum hypervisor_vm_state state);

enum hypervisor_migration_status {
    HYPERVISOR_MIGRATION_NONE, /* none started */
    HYPERVISOR_MIGRATION_SETUP,
    HYPERVISOR_MIGRATION_ACTIVE,         /* memory is being copied */
    HYPERVISOR_MIGRATION_PRE_SWITCHOVER, /* source paused, waits for continue */
    HYPERVISOR_MIGRATION_DEVICE,         /* device state is being copied */
    HYPERVISOR_MIGRATION_COMPLETED,
    HYPERVISOR_MIGRATION_FAILED,
    HYPERVISOR_MIGRATION_CANCELLING,
    HYPERVISOR_MIGRATION_CANCELLED,
    HYPERVISOR_MIGRATION_POSTCOPY_ACTIVE, /* the destination runs the VM and
                                             pulls the pages it lacks */
    HYPERVISOR_MIGRATION_STATUS_COUNT,
};

/* "none", "setup", "active", "pre-switchover", "device", "completed",
 * "failed", "cancelling", "cancelled", "postcopy-active". */
const char *hypervisor_migration_status_to_string(enum hypervisor_migration_status status);

/* True for the statuses after which nothing happens without the caller:
 * pre-switchover, completed, failed, cancelled. */
bool hypervisor_migration_status_waits(enum hypervisor_migration_status status);

struct hypervisor_adapter {
    char tap[16];   /* the host's tap device (the switch port); created by
                       the hypervisor if it does not exist */
    char mac[18];   /* "aa:bb:cc:dd:ee:ff" */
    char model[32]; /* "virtio-net-pci" (synthetic) or an emulated legacy
                       card ("e1000", "rtl8139", "tulip", ...) */
};

/* What a VM is.  Either KERNEL (with optional INITRD and APPEND) or DISK
 * (a raw or .qcow2 image on shared storage) is set. */
struct hypervisor_vm_config {
    char name[64]; /* [A-Za-z0-9._-], names the run files too */
    unsigned memory_mib;
    unsigned vcpus;
    char kernel[256];
    char initrd[256];
    char append[1024];
    char disk[256];
    size_t n_adapters;
    struct hypervisor_adapter adapters[HYPERVISOR_MAX_ADAPTERS];
};

/* How a migration runs.  Set the same on both sides. */
struct hypervisor_migration_options {
    int64_t downtime_limit_ms; /* longest pause allowed; < 0: the driver's default */
    uint64_t max_bandwidth;    /* bytes per second; 0: no cap */
    unsigned channels;         /* 0 or 1: one stream; more: that many parallel
                                  streams (QEMU multifd) */
    bool pause_before_switchover; /* source stops at pre-switchover until
                                     hypervisor_vm_migration_continue() */
    bool auto_converge;           /* source: throttle a guest that dirties
                                     memory faster than the link carries it */
    bool postcopy;                /* both sides: post-copy may be started
                                     (hypervisor_vm_migration_start_postcopy) */
};

struct hypervisor_migration_progress {
    enum hypervisor_migration_status status;
    uint64_t bytes_transferred;
    uint64_t bytes_remaining;
    uint64_t bytes_total;
    uint64_t pages_transferred; /* sent whole (not zero pages) */
    uint64_t dirty_pages_rate;  /* pages per second */
    uint64_t page_size;
    uint64_t rounds;            /* dirty-bitmap syncs so far */
    double mbps;                /* throughput, megabits per second */
    int64_t total_time_ms;      /* -1 when not known */
    int64_t setup_time_ms;
    int64_t expected_downtime_ms;
    int64_t downtime_ms;        /* once completed */
    int64_t cpu_throttle_percent; /* auto-converge's throttle now; 0: none */
    char error[256];            /* the hypervisor's reason, when failed */
};

struct hypervisor_vm_status {
    enum hypervisor_vm_state state;
    pid_t pid;
};

struct hypervisor_ops {
    const char *name; /* "qemu", "fake" */

    /* Frees the driver instance.  Every VM must have been destroyed. */
    void (*destroy)(struct hypervisor *hv);

    /* Starts CONFIG running.  Returns 0 and *out, or a negative errno
     * (-EINVAL for a bad config, -EEXIST when a VM of that name runs). */
    int (*vm_start)(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                    struct hypervisor_vm **out);

    /* Starts CONFIG waiting for incoming state on URI ("defer": not
     * listening yet, see vm_migrate_incoming), with OPTIONS (NULL:
     * defaults).  Returns 0 and *out, or a negative errno. */
    int (*vm_start_incoming)(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                             const char *uri, const struct hypervisor_migration_options *options,
                             struct hypervisor_vm **out);

    /* Finds a VM this driver started before the agent restarted.  Returns
     * 0 and *out, -ENOENT, or a negative errno. */
    int (*vm_attach)(struct hypervisor *hv, const char *name, struct hypervisor_vm **out);

    /* Starts listening for the incoming state on URI, with OPTIONS (NULL:
     * defaults), on a VM started with "defer". */
    int (*vm_migrate_incoming)(struct hypervisor_vm *vm, const char *uri,
                               const struct hypervisor_migration_options *options);

    int (*vm_query)(struct hypervisor_vm *vm, struct hypervisor_vm_status *out);

    /* Pauses (stop) or resumes (cont) the vCPUs. */
    int (*vm_stop)(struct hypervisor_vm *vm);
    int (*vm_resume)(struct hypervisor_vm *vm);

    /* Ends the VM (asks the hypervisor to quit, kills it after a grace
     * period), removes its run files and frees VM. */
    void (*vm_destroy)(struct hypervisor_vm *vm);

    /* Frees VM's handle and leaves the VM running (the agent is stopping;
     * its successor re-attaches with vm_attach). */
    void (*vm_detach)(struct hypervisor_vm *vm);

    /* Starts migrating to URI with OPTIONS (NULL: defaults) and returns. */
    int (*vm_migrate)(struct hypervisor_vm *vm, const char *uri,
                      const struct hypervisor_migration_options *options);

    int (*vm_migration_progress)(struct hypervisor_vm *vm,
                                 struct hypervisor_migration_progress *out);

    /* Waits up to TIMEOUT_MS for the migration to reach a status that
     * waits for the caller (hypervisor_migration_status_waits()), and puts
     * the current status in *status either way.  Returns 0 or a negative
     * errno (-ECONNRESET: the hypervisor exited). */
    int (*vm_migration_wait)(struct hypervisor_vm *vm, int timeout_ms,
                             enum hypervisor_migration_status *status);

    /* Lets a migration paused at pre-switchover complete. */
    int (*vm_migration_continue)(struct hypervisor_vm *vm);

    /* Cancels an outgoing migration; the VM goes on running here. */
    int (*vm_migration_cancel)(struct hypervisor_vm *vm);

    /* Announces the VM's MACs (gratuitous RARP) so switches learn its port. */
    int (*vm_announce)(struct hypervisor_vm *vm);

    /* Gives the hypervisor its own copy of FD (a connected socket) under
     * NAME, for a later "fd:NAME" migration URI.  The caller keeps FD.
     * NULL in a driver that cannot: the call answers -EOPNOTSUPP. */
    int (*vm_pass_fd)(struct hypervisor_vm *vm, const char *name, int fd);

    /* Sets the longest pause allowed of a running outgoing migration.
     * NULL: -EOPNOTSUPP. */
    int (*vm_migration_set_downtime)(struct hypervisor_vm *vm, int64_t downtime_ms);

    /* Switches a running outgoing migration (started with options.postcopy)
     * to post-copy: at the next switchover the destination runs the VM.
     * NULL: -EOPNOTSUPP. */
    int (*vm_migration_start_postcopy)(struct hypervisor_vm *vm);
};

struct hypervisor {
    const struct hypervisor_ops *ops;
};

struct hypervisor_vm {
    struct hypervisor *hypervisor;
    char name[64];
};

/* Checks CONFIG: a valid name, memory 16 MiB - 1 TiB, 1-255 vCPUs, a kernel
 * or a disk (not both), adapters with a tap name, a MAC and a model made of
 * [a-z0-9-].  Returns 0 or -EINVAL (and logs which field was wrong). */
int hypervisor_vm_config_check(const struct hypervisor_vm_config *config);

/* The calls, dispatched to the driver (see struct hypervisor_ops). */
void hypervisor_destroy(struct hypervisor *hv);
int hypervisor_vm_start(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                        struct hypervisor_vm **out);
int hypervisor_vm_start_incoming(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                                 const char *uri,
                                 const struct hypervisor_migration_options *options,
                                 struct hypervisor_vm **out);
int hypervisor_vm_attach(struct hypervisor *hv, const char *name, struct hypervisor_vm **out);
int hypervisor_vm_migrate_incoming(struct hypervisor_vm *vm, const char *uri,
                                   const struct hypervisor_migration_options *options);
int hypervisor_vm_query(struct hypervisor_vm *vm, struct hypervisor_vm_status *out);
int hypervisor_vm_stop(struct hypervisor_vm *vm);
int hypervisor_vm_resume(struct hypervisor_vm *vm);
void hypervisor_vm_destroy(struct hypervisor_vm *vm); /* NULL is a no-op */
void hypervisor_vm_detach(struct hypervisor_vm *vm);  /* NULL is a no-op */
int hypervisor_vm_migrate(struct hypervisor_vm *vm, const char *uri,
                          const struct hypervisor_migration_options *options);
int hypervisor_vm_migration_progress(struct hypervisor_vm *vm,
                                     struct hypervisor_migration_progress *out);
int hypervisor_vm_migration_wait(struct hypervisor_vm *vm, int timeout_ms,
                                 enum hypervisor_migration_status *status);
int hypervisor_vm_migration_continue(struct hypervisor_vm *vm);
int hypervisor_vm_migration_cancel(struct hypervisor_vm *vm);
int hypervisor_vm_announce(struct hypervisor_vm *vm);
int hypervisor_vm_pass_fd(struct hypervisor_vm *vm, const char *name, int fd);
int hypervisor_vm_migration_set_downtime(struct hypervisor_vm *vm, int64_t downtime_ms);
int hypervisor_vm_migration_start_postcopy(struct hypervisor_vm *vm);

#endif
