/* The migration aggregate and its journal.
 *
 * A migration row exists on both hosts (role source or destination) with the
 * phase it is in; the journal (migration_step rows) records every step begun,
 * done or undone, in order, in the same transaction as the phase change it
 * goes with, so that an agent restarted mid-migration reads exactly how far
 * it got: before switchover it undoes the steps done, after it finishes them
 * (DESIGN.md, "Live migration, step by step", 7). */
#ifndef LMNET_DB_MIGRATION_H
#define LMNET_DB_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"

enum migration_phase {
    MIGRATION_QUEUED,       /* waiting for a free slot on both hosts */
    MIGRATION_PREFLIGHT,    /* checks on the source */
    MIGRATION_PREPARING,    /* destination ports (inactive), QEMU, channel */
    MIGRATION_TRANSFERRING, /* memory copying over the migration network */
    MIGRATION_SWITCHOVER,   /* source paused; ports moving */
    MIGRATION_FINISHING,    /* destination running; source being released */
    MIGRATION_COMPLETED,
    MIGRATION_CANCELLING,   /* undoing what was prepared */
    MIGRATION_CANCELLED,
    MIGRATION_FAILED,
    MIGRATION_PHASE_COUNT,
};

/* "queued", "preflight", ...; migration_phase_from_string() returns 0 or
 * -EINVAL. */
const char *migration_phase_to_string(enum migration_phase phase);
int migration_phase_from_string(const char *name, enum migration_phase *phase);

/* Completed, cancelled and failed are final. */
bool migration_phase_is_final(enum migration_phase phase);

/* True for the phases in which a failure still rolls back to the source
 * (nothing has been switched over yet). */
bool migration_phase_before_switchover(enum migration_phase phase);

/* Whether FROM may move to TO.  Phases only go forward, cancelling can
 * start from any phase before switchover, and final phases are final. */
bool migration_phase_can_move(enum migration_phase from, enum migration_phase to);

enum migration_role {
    MIGRATION_ROLE_SOURCE,
    MIGRATION_ROLE_DESTINATION,
};

struct migration {
    char uuid[37];
    char vm[37];
    char vm_name[64];
    enum migration_role role;
    char source[37];
    char destination[37];
    char destination_url[256];
    bool quick;               /* mode quick (pause first) rather than live */
    enum migration_phase phase;
    char network[64];         /* cluster network id used, "" until chosen */
    char source_address[64];
    char destination_address[64];
    int64_t downtime_ms;      /* -1: not known yet */
    int64_t switchover_gap_ms;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t finished_ms;      /* 0 until final */
    char error[512];
    char *options;            /* JSON text, owned */
    char *progress;           /* JSON text or NULL, owned */
    char *timings;            /* JSON text or NULL, owned */
};

/* Frees what M owns (not M itself). */
void migration_release(struct migration *m);

/* Stores a new migration (its phase and times as given; created/updated
 * default to now) and journals its creation.  Returns 0, -EEXIST for a uuid
 * already stored, or a negative errno. */
int migration_insert(struct db *db, const struct migration *m);

/* Reads one.  Returns 0 (release *out), -ENOENT, or a negative errno. */
int migration_get(struct db *db, const char *uuid, struct migration *out);

/* Moves the migration to PHASE, with ERROR (may be NULL) recorded, checking
 * migration_phase_can_move() against the stored phase.  Returns 0, -ENOENT,
 * -EINVAL for a move that is not allowed, or a negative errno. */
int migration_set_phase(struct db *db, const char *uuid, enum migration_phase phase,
                        const char *error);

/* Stores the latest progress (a JSON object, not consumed) and, when not
 * NULL, the per-phase timings. */
int migration_set_progress(struct db *db, const char *uuid, struct json_object *progress,
                           struct json_object *timings);

/* Records the network chosen and both hosts' addresses on it. */
int migration_set_network(struct db *db, const char *uuid, const char *network,
                          const char *source_address, const char *destination_address);

/* Records the measured QEMU downtime and switchover gap (-1: unknown). */
int migration_set_measurements(struct db *db, const char *uuid, int64_t downtime_ms,
                               int64_t switchover_gap_ms);

/* Lists up to LIMIT migrations created after the one with uuid AFTER (NULL:
 * from the start), newest last.  *out (n entries) is freed with
 * migration_list_free().  With ONLY_UNFINISHED, only those not final. */
int migration_list(struct db *db, const char *after, int limit, bool only_unfinished,
                   struct migration **out, size_t *n);
void migration_list_free(struct migration *list, size_t n);

/* Number of migrations not final and past queued, in ROLE (a host's busy
 * slots).  Returns the count or a negative errno. */
int migration_count_active(struct db *db, enum migration_role role);

/* The VM's migration that is not final, if any: 0 and *out (release it),
 * -ENOENT, or a negative errno. */
int migration_find_unfinished_for_vm(struct db *db, const char *vm, struct migration *out);

/* ---- the journal ---- */

enum migration_step_status {
    STEP_BEGUN,
    STEP_DONE,
    STEP_UNDONE,
    STEP_FAILED,
};

const char *migration_step_status_to_string(enum migration_step_status status);

struct migration_step {
    int seq;
    char step[48];
    enum migration_step_status status;
    int64_t time_ms;
    char *detail; /* JSON text or NULL, owned */
};

/* Appends one journal entry for MIGRATION: STEP (e.g. "prepare-destination")
 * with STATUS and DETAIL (may be NULL, not consumed).  Returns the entry's
 * sequence number (>= 1) or a negative errno. */
int migration_journal(struct db *db, const char *migration, const char *step,
                      enum migration_step_status status, struct json_object *detail);

/* Reads the whole journal of MIGRATION, in order.  Free with
 * migration_steps_free(). */
int migration_steps(struct db *db, const char *migration, struct migration_step **out, size_t *n);
void migration_steps_free(struct migration_step *steps, size_t n);

/* The steps of MIGRATION that are done and not undone, latest first: what a
 * rollback must undo.  Same ownership as migration_steps(). */
int migration_steps_to_undo(struct db *db, const char *migration, struct migration_step **out,
                            size_t *n);

/* The migration as the API shows it (caller owns the object). */
struct json_object *migration_to_json(const struct migration *m);

#endif
