/* Switches and VM ports as a whole: the stored intent (db/switch.h,
 * db/port.h) made real on the virtual switch (vswitch/vswitch.h), with MACs
 * from the pools (agent/allocator.h); the driver makes each VM port's tap.
 *
 * Every change stores the intent and applies it in one call; if the switch
 * refuses, the stored row is taken back (and an allocated MAC released), so
 * the database never says what the switch does not have.  switchport_apply_all()
 * puts back on the switch whatever drifted (at start, and when asked), and
 * records an event per repair.
 *
 * switchport_ports() is the port table (migrate/plan/ports.h) that VMs and live
 * migration use: a port's JSON travels to a migration's destination, is
 * created there inactive, and is activated at switchover. */
#ifndef LMNET_AGENT_SWITCHPORT_H
#define LMNET_AGENT_SWITCHPORT_H

#include <json-c/json.h>
#include "base/refusal.h"
#include "db/port.h"
#include "db/switch.h"
#include "migrate/plan/ports.h"

struct agent;
struct vswitch;
struct switchport;

/* Creates the module over VS (not owned).  Returns 0 and *out. */
int switchport_create(struct agent *agent, struct vswitch *vs, struct switchport **out);
void switchport_destroy(struct switchport *sp); /* NULL is a no-op */

int switchport_switch_add(struct switchport *sp, const struct vswitch_record *s, const char *actor,
                          struct refusal *err);
int switchport_switch_remove(struct switchport *sp, const char *name, const char *actor,
                             struct refusal *err);

/* Creates port P: checks its switch and VLANs, allocates its MAC from
 * P->mac_pool when P->mac is 0, stores and applies it.  *P is updated with
 * what was stored. */
int switchport_port_add(struct switchport *sp, struct port_record *p, const char *actor,
                        struct refusal *err);
/* Replaces port P->name's settings with P (same switch and MAC). */
int switchport_port_change(struct switchport *sp, const struct port_record *p, const char *actor,
                           struct refusal *err);
/* Lets port NAME pass traffic (FORWARD) or not, and changes nothing else:
 * a migration's switch-over.  Its other settings are neither checked nor
 * programmed again (no OVSDB transaction, only its guard flows and
 * OpenFlow's no-forward flag), so the call stays short while the VM is
 * paused.  Returns 0 (also when it already was so), -ENOENT, or a negative
 * errno, -EREMOTEIO when the switch refused (the stored flag is put back). */
int switchport_port_set_forwarding(struct switchport *sp, const char *name, bool forward);
/* Removes port NAME; RELEASE_MAC gives its pool address back (not when a
 * migration moves the port away: the address travels with the VM). */
int switchport_port_remove(struct switchport *sp, const char *name, bool release_mac,
                           const char *actor, struct refusal *err);

/* Lists in *plan (caller owns: {"switches": [...], "ports": [...],
 * "leftovers": [...]}) everything lmnet made on this host's switch, and
 * unless DRY_RUN removes it all: ports (their MACs released), switches, and
 * any lmnet-marked object the database no longer knows.  Nothing without
 * lmnet's mark is touched.  Returns 0 or a negative errno. */
int switchport_scrub(struct switchport *sp, bool dry_run, const char *actor,
                     struct json_object **plan);

/* Makes the switch match the database; returns the number of repairs or a
 * negative errno. */
int switchport_apply_all(struct switchport *sp);

/* Starts a thread that watches the switch (OVSDB monitor) and, after any
 * change, puts back what lmnet means to have and removes what it does not,
 * with an event per repair.  Stopped by switchport_destroy(). */
int switchport_watch(struct switchport *sp);

/* The port table for VMs and migration (valid as long as SP). */
const struct ports *switchport_ports(struct switchport *sp);

#endif
