/* Each VM's QEMU in a control group of its own, apart from the agent's, so
 * that stopping or restarting the agent (its unit's cgroup) leaves the VMs
 * alone, the host's tools account and limit each VM by itself, and a
 * restarted agent can tell that a pid really is its VM's QEMU.
 *
 * Two ways to get there:
 *   systemd   when systemd runs the host (sd_booted()): a transient scope
 *             unit SLICE-PREFIX-vm-NAME.scope in SLICE ("lmnet.slice" gives
 *             lmnet-vm-NAME.scope), started over D-Bus with
 *             StartTransientUnit.  Delegate=no (QEMU makes no cgroups of its
 *             own: -sandbox resourcecontrol=deny), KillMode=control-group
 *             and no dependency on lmnetd.service: only stopping the scope
 *             itself (or the host's shutdown) ends the VM.  The agent's unit
 *             may keep ProtectControlGroups=yes: systemd writes the cgroups.
 *   cgroupfs  otherwise, on a cgroup v2 hierarchy (found in
 *             /proc/self/mountinfo, /sys/fs/cgroup or the hybrid layout's
 *             /sys/fs/cgroup/unified): the directory ROOT/SLICE/vm-NAME,
 *             made by the agent, QEMU's pid written to its cgroup.procs,
 *             removed when the VM is.
 * QEMU is put there right after it starts (posix_spawn cannot start it in
 * a cgroup), before it has any thread or child but its first.
 *
 * Not thread-safe per VM name: the QEMU driver calls it with the VM's calls
 * serialised.  Errors are negative errno, logged here once. */
#ifndef LMNET_MIGRATE_VM_SCOPE_H
#define LMNET_MIGRATE_VM_SCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum vm_scope_kind {
    VM_SCOPE_AUTO,     /* systemd when it runs the host, else cgroupfs, else none */
    VM_SCOPE_SYSTEMD,
    VM_SCOPE_CGROUPFS,
    VM_SCOPE_NONE,     /* QEMU stays in the agent's cgroup */
    VM_SCOPE_KIND_COUNT,
};

/* "auto", "systemd", "cgroupfs", "none". */
const char *vm_scope_kind_to_string(enum vm_scope_kind kind);
/* Parses NAME into *kind.  Returns 0 or -EINVAL. */
int vm_scope_kind_from_string(const char *name, enum vm_scope_kind *kind);

/* True when SLICE is a slice unit name lmnet accepts: [A-Za-z0-9_-]+ then
 * ".slice", at most 63 bytes, not "-.slice". */
bool vm_scope_slice_valid(const char *slice);

struct vm_scope;

/* Decides where VMs go (KIND, AUTO resolved here) and checks that it can:
 * systemd answers on the system bus, or a cgroup v2 hierarchy is mounted
 * and writable.  AUTO with neither gives NONE (logged); an explicit kind
 * that cannot be had is an error.  Returns 0 and *out (free with
 * vm_scope_destroy()), -EINVAL for a bad slice, or a negative errno. */
int vm_scope_create(enum vm_scope_kind kind, const char *slice, struct vm_scope **out);

/* The cgroupfs way under ROOT (a cgroup v2 mount, or any directory in the
 * unit tests).  Returns 0 and *out, or a negative errno. */
int vm_scope_create_cgroupfs(const char *root, const char *slice, struct vm_scope **out);

/* NULL is a no-op. */
void vm_scope_destroy(struct vm_scope *scope);

/* SYSTEMD, CGROUPFS or NONE. */
enum vm_scope_kind vm_scope_get_kind(const struct vm_scope *scope);

/* Where VM NAME's QEMU lives, as /proc/PID/cgroup names it ("/lmnet.slice/
 * vm-NAME"; systemd: "lmnet-vm-NAME.scope", the last component only, as
 * systemd nests slices by their dashes).  "" for NONE.  Returns 0 or
 * -ENAMETOOLONG. */
int vm_scope_name(const struct vm_scope *scope, const char *name, char *buf, size_t size);

/* Moves PID (VM NAME's QEMU) into NAME's scope, making it when missing (an
 * existing one is joined: a restarted agent adopting a QEMU started without
 * one).  Waits, bounded, until /proc/PID/cgroup shows it there.  Returns 0
 * (NONE: 0 at once) or a negative errno. */
int vm_scope_add(struct vm_scope *scope, const char *name, pid_t pid);

/* Whether PID is in NAME's scope.  Returns 1, 0 (elsewhere, or gone), or a
 * negative errno.  NONE: 1. */
int vm_scope_contains(const struct vm_scope *scope, const char *name, pid_t pid);

/* Sends SIGKILL to every process left in NAME's scope (cgroupfs:
 * cgroup.kill; systemd: KillUnit).  Returns 0, -ENOENT when there is no
 * such scope, or a negative errno. */
int vm_scope_kill(struct vm_scope *scope, const char *name);

/* Removes NAME's scope once its QEMU has ended (cgroupfs: rmdir, retried
 * briefly while the kernel lets go of the last process; systemd: the
 * scope ends by itself when empty; a failed one is reset).  A missing one
 * is 0.  Returns 0 or a negative errno (-EBUSY: processes are still in
 * it). */
int vm_scope_remove(struct vm_scope *scope, const char *name);

#endif
