/* The VMs this host runs: for each, the hypervisor's handle, kept in one
 * table so that the VM API, the migration state machine and the agent's
 * start-up all reach the same QEMU.
 *
 * The database (db/vm.h) says what a VM is and what state it should be in;
 * this module makes the hypervisor match and keeps the handles.  A VM's
 * adapters are switch ports (migrate/plan/ports.h): the port's name is the tap
 * QEMU opens, the port's MAC is the adapter's MAC.
 *
 * QEMU outlives an agent restart; lifecycle_attach_all() finds again every
 * VM the database says runs here, and marks failed those whose QEMU is gone.
 *
 * Threads: one mutex guards the table.  Calls on one VM are serialised by
 * the API (a VM migrating refuses start and stop), the hypervisor driver
 * serialises its own calls. */
#ifndef LMNET_MIGRATE_LIFECYCLE_H
#define LMNET_MIGRATE_LIFECYCLE_H

#include "db/vm.h"
#include "hypervisor/hypervisor.h"
#include "migrate/plan/ports.h"

struct agent;
struct lifecycle;

/* Creates the table for AGENT, whose hypervisor and ports it uses.
 * Returns 0 and *out (free with lifecycle_destroy()), or a negative errno. */
int lifecycle_create(struct agent *agent, struct hypervisor *hv, const struct ports *ports,
                     struct lifecycle **out);

/* Forgets every handle without stopping the VMs (they outlive the agent).
 * NULL is a no-op. */
void lifecycle_destroy(struct lifecycle *lc);

/* Re-attaches every VM stored as running, migrating or incoming on this
 * host; those whose hypervisor is gone are marked failed, with an event.
 * Returns the number attached or a negative errno. */
int lifecycle_attach_all(struct lifecycle *lc);

/* Fills CONFIG for VM: its adapters' taps and MACs come from the ports.
 * Returns 0, -ENOENT when a port is missing, or a negative errno. */
int lifecycle_vm_config(struct lifecycle *lc, const struct vm *vm,
                        struct hypervisor_vm_config *config);

/* Starts VM on this host and records it running.  Returns 0, -EEXIST when
 * it already runs, or a negative errno. */
int lifecycle_start(struct lifecycle *lc, const struct vm *vm);

/* Ends VM's hypervisor here and records it stopped.  Returns 0 (also when
 * it was not running) or a negative errno. */
int lifecycle_stop(struct lifecycle *lc, const struct vm *vm);

/* The handle of the VM with UUID, or NULL.  The pointer stays valid until
 * the VM is stopped or released; the caller must not destroy it. */
struct hypervisor_vm *lifecycle_handle(struct lifecycle *lc, const char *uuid);

/* Takes the handle of UUID out of the table and gives it to the caller
 * (who destroys it), or NULL. */
struct hypervisor_vm *lifecycle_release(struct lifecycle *lc, const char *uuid);

/* Puts HANDLE in the table as the VM UUID (a VM that arrived by
 * migration).  Returns 0, -EEXIST, or -ENOMEM. */
int lifecycle_adopt(struct lifecycle *lc, const char *uuid, struct hypervisor_vm *handle);

/* The hypervisor's view of the VM UUID: 0 and *status, -ENOENT when it has
 * no handle here, or a negative errno. */
int lifecycle_query(struct lifecycle *lc, const char *uuid, struct hypervisor_vm_status *status);

#endif
