/* What the migrator's three parts share (migrate/migrator.c, the public
 * side and the scheduler; migrate/migrator_source.c; migrate/migrator_destination.c):
 * the context, the in-memory records of running migrations, and the state
 * writes and peer calls both roles make.  Not for use outside migrate/. */
#ifndef LMNET_MIGRATE_MIGRATOR_CORE_H
#define LMNET_MIGRATE_MIGRATOR_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/migration.h"
#include "db/vm.h"
#include "hypervisor/hypervisor.h"
#include "migrate/migrator.h"
#include "migrate/peer_protocol.h"
#include "migrate/plan/ports.h"

struct channel;
struct client_reply;
struct db;

#define PEER_TIMEOUT_MS     10000
#define PREPARE_TIMEOUT_MS  60000
#define FINISH_TIMEOUT_MS   60000
#define COMPLETE_TIMEOUT_MS 120000
#define POLL_MS             200
#define DEST_WATCH_MS       1000           /* how often the source asks after the destination */
#define STREAM_FD_NAME      "lmnet-stream" /* QEMU's name for a handed-over stream */
#define LISTEN_FD_NAME      "lmnet-listen" /* and for the direct multifd listener */

/* A source migration whose worker runs. */
struct running {
    struct running *next;
    char uuid[37];
    pthread_t thread;
    atomic_bool cancel;
    atomic_bool past_switchover;
    atomic_bool done;
};

/* A destination migration between prepare and finish/abort.
 *
 * Ownership: the list m->incoming holds one reference; each caller that
 * uses an incoming without m->lock (switchover, finish, the scheduler's
 * check) holds another, from incoming_get() to incoming_put().  Whoever
 * ends it (finish, abort, stop) unlinks it with incoming_take(), which
 * marks it removed and waits until the other holders have put theirs
 * back: after that the taker alone owns it, handle and channel included.
 * A holder that sees REMOVED stops using it as soon as it can. */
struct incoming {
    struct incoming *next;
    unsigned refs; /* guarded by m->lock */
    bool removed;  /* guarded by m->lock: incoming_take() has begun */
    char uuid[37];
    char vm[37];
    char vm_name[64];
    struct hypervisor_vm *handle;
    struct hypervisor_migration_options hv; /* what the taker applies */
    struct channel *channel;
    char socket[128];
    uint16_t direct_port; /* QEMU's own listener (several channels), or 0 */
    size_t n_ports;
    char ports[VM_MAX_ADAPTERS][64];
};

struct migrator {
    struct agent *agent;
    struct migrator_deps deps;
    struct ports ports;
    pthread_mutex_t lock; /* guards running, incoming (and their refs), stopping */
    pthread_cond_t wake;
    pthread_cond_t incoming_released; /* an incoming's reference was put back */
    bool stopping;
    pthread_t scheduler;
    bool scheduler_started;
    struct running *running;
    struct incoming *incoming;
};

struct options {
    struct hypervisor_migration_options hv;
    bool quick;
    struct convergence_policy convergence;
};

/* This thread's database connection. */
struct db *migrator_db(struct migrator *m);

/* Adds CHANNEL's byte counts to /metrics, then destroys it (NULL: no-op). */
void migrator_channel_done(struct migrator *m, struct channel *channel);

/* Journals STEP of migration UUID (a failure is logged). */
void migrator_journal(struct migrator *m, const char *uuid, const char *step,
                      enum migration_step_status status, struct json_object *detail);
/* Journals STEP done with {"name": NAME}. */
void migrator_journal_name(struct migrator *m, const char *uuid, const char *step,
                           const char *name);
/* Records an audit event (a failure is logged). */
void migrator_event(struct migrator *m, const char *actor, const char *kind, const char *subject,
                    struct json_object *detail);

/* The state writes: each returns what the db/ call did and logs a failure
 * once, so that callers act on it or go on knowingly. */
int migrator_set_phase(struct migrator *m, const char *uuid, enum migration_phase phase,
                       const char *reason);
int migrator_set_vm_state(struct migrator *m, const char *vm, enum vm_state state);
int migrator_set_vm_host(struct migrator *m, const char *vm, const char *host, enum vm_state state);
int migrator_set_measurements(struct migrator *m, const char *uuid, int64_t downtime_ms,
                              int64_t gap_ms);
int migrator_set_progress(struct migrator *m, const char *uuid, struct json_object *progress,
                          struct json_object *timings);

/* How one journaled step is undone: STEP is its name, or a prefix ending
 * in ':' for steps named per object ("port-created:NAME").  UNDO gets the
 * step's detail (NULL when it has none) and returns 0 or a negative errno. */
struct migrator_undo {
    const char *step;
    int (*undo)(void *ctx, struct json_object *detail);
};

/* The one undo mechanism of both roles: walks migration UUID's journal
 * from the latest step back, undoes each step done and not undone with the
 * matching entry of TABLE (N entries; a step none matches has nothing to
 * undo), and journals it undone, or failed when its undo failed.  Returns
 * 0, or a negative errno when the journal cannot be read (logged). */
int migrator_undo_journal(struct migrator *m, const char *uuid, const struct migrator_undo *table,
                          size_t n, void *ctx);

/* What the hypervisor and the worker take of a migration's options O. */
void migrator_options_apply(const struct peer_options *o, bool quick, struct options *out);

/* KEY of OBJ when it is an integer (else FALLBACK) / a string (else NULL). */
int64_t migrator_json_int64(struct json_object *obj, const char *key, int64_t fallback);
const char *migrator_json_string(struct json_object *obj, const char *key);

/* Calls the agent at URL.  Returns 0 with *reply filled (release it) when
 * the agent answered 2xx; otherwise a negative errno and a one-line reason
 * in WHY. */
int migrator_peer_call(struct migrator *m, const char *url, const char *method, const char *path,
                       struct json_object *body, long timeout_ms, struct client_reply *reply,
                       char *why, size_t why_size);
/* The REST address of MIG's destination agent. */
int migrator_destination_url(struct migrator *m, const struct migration *mig, char *url,
                             size_t size);

#endif
