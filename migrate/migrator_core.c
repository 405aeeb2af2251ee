/* The migrator's shared helpers: see migrate/migrator_core.h. */
#include "migrate/migrator_core.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "agent/agent.h"
#include "agent/metrics.h"
#include "agent/peer.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"
#include "db/db.h"
#include "db/event.h"
#include "db/member.h"
#include "db/migration.h"
#include "db/vm.h"
#include "hypervisor/hypervisor.h"
#include "migrate/channel.h"
#include "migrate/direct.h"
#include "migrate/lifecycle.h"
#include "migrate/peer_protocol.h"
#include "migrate/plan/ports.h"

struct db *migrator_db(struct migrator *m)
{
    return db_pool_get(m->agent->db);
}

/* Adds CHANNEL's byte counts to /metrics, then destroys it (NULL: no-op). */
void migrator_channel_done(struct migrator *m, struct channel *channel)
{
    if (!channel)
        return;
    struct channel_stats stats;
    channel_stats(channel, &stats);
    metrics_count_channel(m->agent->metrics, stats.bytes_forward, stats.bytes_backward);
    channel_destroy(channel);
}

void migrator_journal(struct migrator *m, const char *uuid, const char *step,
                      enum migration_step_status status, struct json_object *detail)
{
    int r = migration_journal(migrator_db(m), uuid, step, status, detail);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot journal migration=%s step=%s", uuid, step);
}

void migrator_journal_name(struct migrator *m, const char *uuid, const char *step, const char *name)
{
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "name", json_object_new_string(name));
    migrator_journal(m, uuid, step, STEP_DONE, detail);
}

/* Events are the audit trail, not the migration's state: one that cannot
 * be written is logged and the migration goes on. */
void migrator_event(struct migrator *m, const char *actor, const char *kind, const char *subject,
                    struct json_object *detail)
{
    int64_t r = event_record(migrator_db(m), m->agent->node_id, actor ? actor : "agent", kind,
                             subject, detail);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, (int)r, "cannot record event kind=%s subject=%s", kind,
                  subject);
}

/* The state writes: each returns what the db/ call did and logs a failure
 * once, here, so that callers act on it or go on knowingly. */
int migrator_set_phase(struct migrator *m, const char *uuid, enum migration_phase phase,
                       const char *reason)
{
    int r = migration_set_phase(migrator_db(m), uuid, phase, reason);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot record phase migration=%s phase=%s", uuid,
                  migration_phase_to_string(phase));
    return r;
}

int migrator_set_vm_state(struct migrator *m, const char *vm, enum vm_state state)
{
    int r = vm_set_state(migrator_db(m), vm, state);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot record the VM's state vm=%s state=%s", vm,
                  vm_state_to_string(state));
    return r;
}

int migrator_set_vm_host(struct migrator *m, const char *vm, const char *host, enum vm_state state)
{
    int r = vm_set_host(migrator_db(m), vm, host, state);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot record the VM's host vm=%s host=%s", vm, host);
    return r;
}

int migrator_set_measurements(struct migrator *m, const char *uuid, int64_t downtime_ms,
                              int64_t gap_ms)
{
    int r = migration_set_measurements(migrator_db(m), uuid, downtime_ms, gap_ms);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot record the downtime migration=%s", uuid);
    return r;
}

int migrator_set_progress(struct migrator *m, const char *uuid, struct json_object *progress,
                          struct json_object *timings)
{
    int r = migration_set_progress(migrator_db(m), uuid, progress, timings);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot record the progress migration=%s", uuid);
    return r;
}

/* ---- options ---- */

int64_t migrator_json_int64(struct json_object *obj, const char *key, int64_t fallback)
{
    struct json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
        return fallback;
    return json_object_get_int64(v);
}

const char *migrator_json_string(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* What the hypervisor and the worker take of a migration's options O. */
void migrator_options_apply(const struct peer_options *o, bool quick, struct options *out)
{
    memset(out, 0, sizeof(*out));
    out->hv.downtime_limit_ms = o->downtime_limit_ms;
    out->hv.max_bandwidth = o->max_bandwidth;
    out->hv.channels = o->channels;
    out->hv.pause_before_switchover = true;
    out->quick = quick;
    out->convergence = o->convergence;
    const struct convergence_policy *p = &out->convergence;
    if (p->n_downtime)
        out->hv.downtime_limit_ms = p->downtime_ms[0];
    out->hv.auto_converge = p->auto_converge && !quick;
    out->hv.postcopy = p->allow_postcopy && !quick && out->hv.channels <= 1;
}

/* ---- peers ---- */

static int member_url(struct migrator *m, const char *node, char *url, size_t size)
{
    struct member member;
    int r = member_get(migrator_db(m), node, &member);
    if (r < 0)
        return r;
    snprintf(url, size, "%s", member.url);
    return 0;
}

/* Calls the agent at URL.  Returns 0 with *reply filled (release it) when
 * the agent answered 2xx; otherwise a negative errno and a one-line reason
 * in WHY. */
int migrator_peer_call(struct migrator *m, const char *url, const char *method, const char *path,
                       struct json_object *body, long timeout_ms, struct client_reply *reply,
                       char *why, size_t why_size)
{
    memset(reply, 0, sizeof(*reply));
    struct client *client = NULL;
    int r = peer_client_create(m->agent, url, timeout_ms, &client);
    if (r < 0) {
        snprintf(why, why_size, "cannot create a client for %s", url);
        return r;
    }
    r = client_call(client, method, path, body, NULL, reply);
    client_destroy(client);
    if (r < 0 || reply->status < 200 || reply->status >= 300) {
        char line[400];
        snprintf(why, why_size, "%s %s%s: %s", method, url, path,
                 client_reply_message(reply, line, sizeof(line)));
        client_reply_release(reply);
        return r < 0 ? r : -EREMOTEIO;
    }
    return 0;
}

int migrator_destination_url(struct migrator *m, const struct migration *mig, char *url,
                             size_t size)
{
    if (mig->destination_url[0]) {
        snprintf(url, size, "%s", mig->destination_url);
        return 0;
    }
    return member_url(m, mig->destination, url, size);
}

int migrator_undo_journal(struct migrator *m, const char *uuid, const struct migrator_undo *table,
                          size_t n, void *ctx)
{
    struct migration_step *steps = NULL;
    size_t n_steps = 0;
    int r = migration_steps_to_undo(migrator_db(m), uuid, &steps, &n_steps);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "cannot read the journal to undo migration=%s",
                         uuid);
    for (size_t i = 0; i < n_steps; i++) {
        const struct migration_step *st = &steps[i];
        const struct migrator_undo *u = NULL;
        for (size_t k = 0; k < n && !u; k++) {
            size_t len = strlen(table[k].step);
            bool prefix = len > 0 && table[k].step[len - 1] == ':';
            if (prefix ? strncmp(st->step, table[k].step, len) == 0
                       : strcmp(st->step, table[k].step) == 0)
                u = &table[k];
        }
        _cleanup_json_ struct json_object *detail =
            st->detail ? json_tokener_parse(st->detail) : NULL;
        int u_r = u ? u->undo(ctx, detail) : 0;
        /* A step that could not be undone says so in the journal. */
        migrator_journal(m, uuid, st->step, u_r < 0 ? STEP_FAILED : STEP_UNDONE, NULL);
    }
    migration_steps_free(steps, n_steps);
    return 0;
}
