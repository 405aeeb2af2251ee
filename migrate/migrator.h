/* The live-migration state machine (DESIGN.md, "Live migration, step by
 * step"), both halves.
 *
 * Source side: migrator_submit() runs the pre-flight checks at once (so a
 * refusal is the answer to the POST) and queues the migration; a scheduler
 * thread starts it when both hosts have a free slot, and a worker thread per
 * migration drives it: prepare the destination (over REST), connect the
 * migration channel, let QEMU stream, stop at pre-switchover, move the
 * ports, let QEMU finish, hand the VM over.
 *
 * Destination side: the REST handlers of the peer calls (prepare,
 * switchover, finish, abort) call the migrator_dest_*() functions.
 *
 * Every step is journaled (db/migration.h) in the order it is done, so that
 * a failure before switchover undoes exactly what was done, and an agent
 * restarted mid-migration (migrator_start()) finishes or undoes it.  The
 * switchover point is QEMU's "continue" at pre-switchover: until it has
 * been issued, the VM can still resume on the source.
 *
 * Threads: "lmnet-migsched" (the queue), one "lmnet-mig" per running source
 * migration.  The list of running migrations has one mutex. */
#ifndef LMNET_MIGRATE_MIGRATOR_H
#define LMNET_MIGRATE_MIGRATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "migrate/plan/convergence.h"
#include "migrate/plan/planner.h"

struct agent;
struct lifecycle;
struct hypervisor;
struct ports;
struct migrator;

/* Gives the cluster networks as seen by the pair SOURCE, DESTINATION (node
 * ids): *out, n of them, the caller's to free(). */
typedef int migrator_networks_fn(struct agent *agent, const char *source, const char *destination,
                                 struct planner_network **out, size_t *n);

/* What the state machine works with; copied by migrator_start(). */
struct migrator_deps {
    struct hypervisor *hypervisor;
    struct lifecycle *lifecycle;
    const struct ports *ports;
    migrator_networks_fn *networks;
};

/* A migration request as POST /v1/migrations takes it. */
struct migration_request {
    char vm[64];           /* name or id */
    char destination[256]; /* member name or id */
    bool quick;
    int64_t downtime_limit_ms;  /* < 0: QEMU's default (300 ms) */
    uint64_t max_bandwidth;     /* bytes/s; 0: no cap */
    unsigned channels;          /* 1: one stream; 2-16: multifd */
    bool allow_management_network;
    bool convert_dynamic_macs;
    bool has_convergence;                  /* false: the agent's defaults */
    struct convergence_policy convergence; /* the schedule starts at
                                              downtime_limit_ms when set */
};

/* The convergence policy of AGENT's configuration (the defaults a request
 * refines). */
void migrator_convergence_defaults(const struct agent *agent, struct convergence_policy *out);

/* Starts the migrator for AGENT: recovers the migrations a previous run
 * left unfinished (undo before switchover, roll forward after), then starts
 * the scheduler.  Returns 0 and *out, or a negative errno. */
int migrator_start(struct agent *agent, const struct migrator_deps *deps, struct migrator **out);

/* Stops the scheduler and waits for running migrations to reach a point
 * where they can be left (they are journaled; the next start recovers
 * them).  NULL is a no-op. */
void migrator_stop(struct migrator *migrator);

/* Source side: checks REQUEST (the VM must run here) and queues it.  On
 * success returns 0 and the new migration's id in UUID.  A refusal returns
 * -EPERM with REFUSAL filled (a kind, type, detail); other errors are a
 * negative errno.  ACTOR is the token name, for the audit event. */
int migrator_submit(struct migrator *migrator, const struct migration_request *request,
                    const char *actor, char uuid[37], struct refusal *refusal);

/* Cancels migration UUID if it has not passed switchover: a queued one at
 * once, a running one by its worker (the call returns before the undo is
 * complete).  Returns 0, -ENOENT, -EALREADY when it is already final, or
 * -EBUSY when switchover has begun. */
int migrator_cancel(struct migrator *migrator, const char *uuid);

/* Destination side: PREPARE (the source's request body: migration, vm,
 * ports, options) creates the ports inactive, starts QEMU waiting for the
 * state, and opens the channel listener.  On success *answer is {"port",
 * "token"} (caller owns).  A refusal returns -EPERM with REFUSAL. */
int migrator_dest_prepare(struct migrator *migrator, struct json_object *prepare,
                          struct json_object **answer, struct refusal *refusal);

/* Destination side: activates the prepared ports (switchover).  Returns 0,
 * -ENOENT or a negative errno. */
int migrator_dest_switchover(struct migrator *migrator, const char *uuid);

/* Destination side: waits for the VM to run here (resuming it when it came
 * paused), announces its MACs and takes it over; DOWNTIME_MS and GAP_MS
 * (the source's measurements, -1 unknown) are stored with the record.
 * Returns 0, -ENOENT, -ETIMEDOUT or a negative errno. */
int migrator_dest_finish(struct migrator *migrator, const char *uuid, int64_t downtime_ms,
                         int64_t gap_ms);

/* Destination side: undoes everything prepared for UUID, recording
 * REASON.  Returns 0 or -ENOENT. */
int migrator_dest_abort(struct migrator *migrator, const char *uuid, const char *reason);

/* Busy slots and the limit, for GET /v1/host. */
void migrator_slots(struct migrator *migrator, unsigned *active_source,
                    unsigned *active_destination, unsigned *max);

#endif
