/* The migration aggregate: see db/migration.h.  Every function that changes
 * a row journals it in the same transaction. */
#include "db/migration.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"
#include "base/log.h"

static const char *const phase_names[MIGRATION_PHASE_COUNT] = {
    [MIGRATION_QUEUED] = "queued",
    [MIGRATION_PREFLIGHT] = "preflight",
    [MIGRATION_PREPARING] = "preparing",
    [MIGRATION_TRANSFERRING] = "transferring",
    [MIGRATION_SWITCHOVER] = "switchover",
    [MIGRATION_FINISHING] = "finishing",
    [MIGRATION_COMPLETED] = "completed",
    [MIGRATION_CANCELLING] = "cancelling",
    [MIGRATION_CANCELLED] = "cancelled",
    [MIGRATION_FAILED] = "failed",
};

static const char *const status_names[] = {
    [STEP_BEGUN] = "begun",
    [STEP_DONE] = "done",
    [STEP_UNDONE] = "undone",
    [STEP_FAILED] = "failed",
};

const char *migration_phase_to_string(enum migration_phase phase)
{
    return (unsigned)phase < MIGRATION_PHASE_COUNT ? phase_names[phase] : "unknown";
}

int migration_phase_from_string(const char *name, enum migration_phase *phase)
{
    for (unsigned i = 0; name && i < MIGRATION_PHASE_COUNT; i++) {
        if (strcmp(name, phase_names[i]) == 0) {
            *phase = (enum migration_phase)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool migration_phase_is_final(enum migration_phase phase)
{
    return phase == MIGRATION_COMPLETED || phase == MIGRATION_CANCELLED || phase == MIGRATION_FAILED;
}

bool migration_phase_before_switchover(enum migration_phase phase)
{
    return phase <= MIGRATION_TRANSFERRING;
}

bool migration_phase_can_move(enum migration_phase from, enum migration_phase to)
{
    if (migration_phase_is_final(from) || (unsigned)to >= MIGRATION_PHASE_COUNT)
        return false;
    if (to == MIGRATION_FAILED)
        return true; /* after switchover, failing means rolling forward failed */
    if (to == MIGRATION_CANCELLING)
        return migration_phase_before_switchover(from);
    if (from == MIGRATION_CANCELLING)
        return to == MIGRATION_CANCELLED;
    if (to == MIGRATION_CANCELLED)
        return from == MIGRATION_QUEUED; /* nothing to undo yet */
    return to > from && to <= MIGRATION_COMPLETED;
}

const char *migration_step_status_to_string(enum migration_step_status status)
{
    return (unsigned)status <= STEP_FAILED ? status_names[status] : "unknown";
}

static int step_status_from_string(const char *s, enum migration_step_status *out)
{
    for (unsigned i = 0; s && i <= STEP_FAILED; i++)
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum migration_step_status)i;
            return 0;
        }
    return -EINVAL;
}

void migration_release(struct migration *m)
{
    free(m->options);
    free(m->progress);
    free(m->timings);
    m->options = m->progress = m->timings = NULL;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int col, const char *text)
{
    if (text && *text)
        sqlite3_bind_text(stmt, col, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, col);
}

static int journal_row(struct db *db, const char *migration, const char *step,
                       enum migration_step_status status, const char *detail)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO migration_step (migration, seq, step, status, time_ms, detail) "
                                     "SELECT ?1, coalesce(max(seq), 0) + 1, ?2, ?3, ?4, ?5 "
                                     "FROM migration_step WHERE migration = ?1");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, migration, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, step, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, migration_step_status_to_string(status), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, clock_wall_ms());
    bind_text_or_null(stmt, 5, detail);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    stmt = db_stmt(db, "SELECT max(seq) FROM migration_step WHERE migration = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, migration, -1, SQLITE_STATIC);
    rc = sqlite3_step(stmt);
    int seq = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : db_errno(rc);
    sqlite3_reset(stmt);
    return seq;
}

int migration_insert(struct db *db, const struct migration *m)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    sqlite3_stmt *stmt = db_stmt(
        db, "INSERT INTO migration (uuid, vm, vm_name, role, source, destination, destination_url, "
            "mode, options, phase, network, source_address, destination_address, progress, timings, "
            "downtime_ms, switchover_gap_ms, error, created_ms, updated_ms, finished_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt) {
        db_rollback(db);
        return -EIO;
    }
    int64_t now = clock_wall_ms();
    sqlite3_bind_text(stmt, 1, m->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, m->vm, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, m->vm_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, m->role == MIGRATION_ROLE_SOURCE ? "source" : "destination", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, m->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 6, m->destination, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 7, m->destination_url, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, m->quick ? "quick" : "live", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 9, m->options ? m->options : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 10, migration_phase_to_string(m->phase), -1, SQLITE_STATIC);
    bind_text_or_null(stmt, 11, m->network);
    bind_text_or_null(stmt, 12, m->source_address);
    bind_text_or_null(stmt, 13, m->destination_address);
    bind_text_or_null(stmt, 14, m->progress);
    bind_text_or_null(stmt, 15, m->timings);
    sqlite3_bind_int64(stmt, 16, m->downtime_ms);
    sqlite3_bind_int64(stmt, 17, m->switchover_gap_ms);
    bind_text_or_null(stmt, 18, m->error);
    sqlite3_bind_int64(stmt, 19, m->created_ms ? m->created_ms : now);
    sqlite3_bind_int64(stmt, 20, m->updated_ms ? m->updated_ms : now);
    if (m->finished_ms)
        sqlite3_bind_int64(stmt, 21, m->finished_ms);
    else
        sqlite3_bind_null(stmt, 21);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    r = db_errno(rc);
    if (r >= 0) {
        char detail[128];
        snprintf(detail, sizeof(detail), "{\"phase\":\"%s\"}", migration_phase_to_string(m->phase));
        r = journal_row(db, m->uuid, "create", STEP_DONE, detail);
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static char *dup_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    return t ? strdup((const char *)t) : NULL;
}

#define MIGRATION_COLUMNS                                                                          \
    "uuid, vm, vm_name, role, source, destination, destination_url, mode, options, phase, "       \
    "network, source_address, destination_address, progress, timings, downtime_ms, "               \
    "switchover_gap_ms, error, created_ms, updated_ms, finished_ms, rowid"

static int read_row(sqlite3_stmt *stmt, struct migration *m)
{
    memset(m, 0, sizeof(*m));
    copy_text(m->uuid, sizeof(m->uuid), stmt, 0);
    copy_text(m->vm, sizeof(m->vm), stmt, 1);
    copy_text(m->vm_name, sizeof(m->vm_name), stmt, 2);
    m->role = strcmp((const char *)sqlite3_column_text(stmt, 3), "source") == 0
                  ? MIGRATION_ROLE_SOURCE
                  : MIGRATION_ROLE_DESTINATION;
    copy_text(m->source, sizeof(m->source), stmt, 4);
    copy_text(m->destination, sizeof(m->destination), stmt, 5);
    copy_text(m->destination_url, sizeof(m->destination_url), stmt, 6);
    m->quick = strcmp((const char *)sqlite3_column_text(stmt, 7), "quick") == 0;
    m->options = dup_text(stmt, 8);
    if (migration_phase_from_string((const char *)sqlite3_column_text(stmt, 9), &m->phase) < 0)
        m->phase = MIGRATION_FAILED;
    copy_text(m->network, sizeof(m->network), stmt, 10);
    copy_text(m->source_address, sizeof(m->source_address), stmt, 11);
    copy_text(m->destination_address, sizeof(m->destination_address), stmt, 12);
    m->progress = dup_text(stmt, 13);
    m->timings = dup_text(stmt, 14);
    m->downtime_ms = sqlite3_column_type(stmt, 15) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 15);
    m->switchover_gap_ms = sqlite3_column_type(stmt, 16) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 16);
    copy_text(m->error, sizeof(m->error), stmt, 17);
    m->created_ms = sqlite3_column_int64(stmt, 18);
    m->updated_ms = sqlite3_column_int64(stmt, 19);
    m->finished_ms = sqlite3_column_int64(stmt, 20);
    if (!m->options) {
        migration_release(m);
        return -ENOMEM;
    }
    return 0;
}

int migration_get(struct db *db, const char *uuid, struct migration *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " MIGRATION_COLUMNS " FROM migration WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int r = rc == SQLITE_ROW ? read_row(stmt, out) : rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
    sqlite3_reset(stmt);
    return r;
}

int migration_set_phase(struct db *db, const char *uuid, enum migration_phase phase, const char *error)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    struct migration current;
    r = migration_get(db, uuid, &current);
    if (r >= 0) {
        enum migration_phase from = current.phase;
        migration_release(&current);
        if (!migration_phase_can_move(from, phase)) {
            log_warning("migration phase move refused migration=%s from=%s to=%s", uuid,
                        migration_phase_to_string(from), migration_phase_to_string(phase));
            r = -EINVAL;
        }
    }
    if (r >= 0) {
        sqlite3_stmt *stmt = db_stmt(db, "UPDATE migration SET phase = ?, updated_ms = ?, "
                                         "error = coalesce(?, error), finished_ms = ? WHERE uuid = ?");
        if (!stmt)
            r = -EIO;
        else {
            int64_t now = clock_wall_ms();
            sqlite3_bind_text(stmt, 1, migration_phase_to_string(phase), -1, SQLITE_STATIC);
            sqlite3_bind_int64(stmt, 2, now);
            bind_text_or_null(stmt, 3, error);
            if (migration_phase_is_final(phase))
                sqlite3_bind_int64(stmt, 4, now);
            else
                sqlite3_bind_null(stmt, 4);
            sqlite3_bind_text(stmt, 5, uuid, -1, SQLITE_STATIC);
            r = db_errno(sqlite3_step(stmt));
            sqlite3_reset(stmt);
        }
    }
    if (r >= 0) {
        struct json_object *detail = json_object_new_object();
        json_object_object_add(detail, "phase", json_object_new_string(migration_phase_to_string(phase)));
        if (error)
            json_object_object_add(detail, "error", json_object_new_string(error));
        r = journal_row(db, uuid, "phase", STEP_DONE,
                        json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN));
        json_object_put(detail);
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

static int update_one(struct db *db, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

int migration_set_progress(struct db *db, const char *uuid, struct json_object *progress,
                           struct json_object *timings)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE migration SET progress = ?, timings = coalesce(?, timings), "
                                     "updated_ms = ? WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, json_object_to_json_string_ext(progress, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    if (timings)
        sqlite3_bind_text(stmt, 2, json_object_to_json_string_ext(timings, JSON_C_TO_STRING_PLAIN), -1,
                          SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, 2);
    sqlite3_bind_int64(stmt, 3, clock_wall_ms());
    sqlite3_bind_text(stmt, 4, uuid, -1, SQLITE_STATIC);
    return update_one(db, stmt);
}

int migration_set_network(struct db *db, const char *uuid, const char *network,
                          const char *source_address, const char *destination_address)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE migration SET network = ?, source_address = ?, "
                                     "destination_address = ?, updated_ms = ? WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, network, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, source_address, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, destination_address, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, clock_wall_ms());
    sqlite3_bind_text(stmt, 5, uuid, -1, SQLITE_STATIC);
    return update_one(db, stmt);
}

int migration_set_measurements(struct db *db, const char *uuid, int64_t downtime_ms,
                               int64_t switchover_gap_ms)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE migration SET downtime_ms = ?, switchover_gap_ms = ?, "
                                     "updated_ms = ? WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    if (downtime_ms >= 0)
        sqlite3_bind_int64(stmt, 1, downtime_ms);
    else
        sqlite3_bind_null(stmt, 1);
    if (switchover_gap_ms >= 0)
        sqlite3_bind_int64(stmt, 2, switchover_gap_ms);
    else
        sqlite3_bind_null(stmt, 2);
    sqlite3_bind_int64(stmt, 3, clock_wall_ms());
    sqlite3_bind_text(stmt, 4, uuid, -1, SQLITE_STATIC);
    return update_one(db, stmt);
}

static int collect(sqlite3_stmt *stmt, struct migration **out, size_t *n)
{
    struct migration *list = NULL;
    size_t count = 0;
    int rc, r = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct migration *grown = realloc(list, (count + 1) * sizeof(*grown));
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        list = grown;
        r = read_row(stmt, &list[count]);
        if (r < 0)
            break;
        count++;
    }
    sqlite3_reset(stmt);
    if (r >= 0 && rc != SQLITE_DONE)
        r = db_errno(rc);
    if (r < 0) {
        migration_list_free(list, count);
        return r;
    }
    *out = list;
    *n = count;
    return 0;
}

int migration_list(struct db *db, const char *after, int limit, bool only_unfinished,
                   struct migration **out, size_t *n)
{
    if (limit < 0)
        return -EINVAL;
    sqlite3_stmt *stmt = db_stmt(
        db, "SELECT " MIGRATION_COLUMNS " FROM migration "
            "WHERE rowid > coalesce((SELECT rowid FROM migration WHERE uuid = ?1), 0) "
            "AND (?2 = 0 OR phase NOT IN ('completed', 'cancelled', 'failed')) "
            "ORDER BY rowid LIMIT ?3");
    if (!stmt)
        return -EIO;
    bind_text_or_null(stmt, 1, after);
    sqlite3_bind_int(stmt, 2, only_unfinished);
    sqlite3_bind_int(stmt, 3, limit);
    return collect(stmt, out, n);
}

void migration_list_free(struct migration *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        migration_release(&list[i]);
    free(list);
}

int migration_count_active(struct db *db, enum migration_role role)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT count(*) FROM migration WHERE role = ? AND phase NOT IN "
                                     "('queued', 'completed', 'cancelled', 'failed')");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, role == MIGRATION_ROLE_SOURCE ? "source" : "destination", -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int count = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : db_errno(rc);
    sqlite3_reset(stmt);
    return count;
}

int migration_find_unfinished_for_vm(struct db *db, const char *vm, struct migration *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " MIGRATION_COLUMNS " FROM migration WHERE vm = ? AND "
                                     "phase NOT IN ('completed', 'cancelled', 'failed') "
                                     "ORDER BY rowid DESC LIMIT 1");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, vm, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    int r = rc == SQLITE_ROW ? read_row(stmt, out) : rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
    sqlite3_reset(stmt);
    return r;
}

int migration_journal(struct db *db, const char *migration, const char *step,
                      enum migration_step_status status, struct json_object *detail)
{
    return journal_row(db, migration, step, status,
                       detail ? json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN) : NULL);
}

static int read_steps(sqlite3_stmt *stmt, struct migration_step **out, size_t *n)
{
    struct migration_step *steps = NULL;
    size_t count = 0;
    int rc, r = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct migration_step *grown = realloc(steps, (count + 1) * sizeof(*grown));
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        steps = grown;
        struct migration_step *s = &steps[count++];
        memset(s, 0, sizeof(*s));
        s->seq = sqlite3_column_int(stmt, 0);
        copy_text(s->step, sizeof(s->step), stmt, 1);
        if (step_status_from_string((const char *)sqlite3_column_text(stmt, 2), &s->status) < 0)
            s->status = STEP_FAILED;
        s->time_ms = sqlite3_column_int64(stmt, 3);
        s->detail = dup_text(stmt, 4);
    }
    sqlite3_reset(stmt);
    if (r >= 0 && rc != SQLITE_DONE)
        r = db_errno(rc);
    if (r < 0) {
        migration_steps_free(steps, count);
        return r;
    }
    *out = steps;
    *n = count;
    return 0;
}

int migration_steps(struct db *db, const char *migration, struct migration_step **out, size_t *n)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT seq, step, status, time_ms, detail FROM migration_step "
                                     "WHERE migration = ? ORDER BY seq");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, migration, -1, SQLITE_STATIC);
    return read_steps(stmt, out, n);
}

int migration_steps_to_undo(struct db *db, const char *migration, struct migration_step **out,
                            size_t *n)
{
    /* A step counts as done when its latest entry says done; the journal's
     * own bookkeeping entries ("create", "phase") are not undoable steps. */
    sqlite3_stmt *stmt = db_stmt(
        db, "SELECT s.seq, s.step, s.status, s.time_ms, s.detail FROM migration_step s "
            "WHERE s.migration = ?1 AND s.step NOT IN ('create', 'phase') AND s.status = 'done' "
            "AND s.seq = (SELECT max(seq) FROM migration_step t WHERE t.migration = ?1 AND t.step = s.step) "
            "ORDER BY s.seq DESC");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, migration, -1, SQLITE_STATIC);
    return read_steps(stmt, out, n);
}

void migration_steps_free(struct migration_step *steps, size_t n)
{
    for (size_t i = 0; steps && i < n; i++)
        free(steps[i].detail);
    free(steps);
}

static void add_ms_time(struct json_object *obj, const char *key, int64_t ms)
{
    if (!ms) {
        json_object_object_add(obj, key, NULL);
        return;
    }
    char when[40];
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03dZ", (int)(ms % 1000));
    json_object_object_add(obj, key, json_object_new_string(when));
}

static struct json_object *parse_or_null(const char *text)
{
    return text ? json_tokener_parse(text) : NULL;
}

struct json_object *migration_to_json(const struct migration *m)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(m->uuid));
    json_object_object_add(o, "vm", json_object_new_string(m->vm_name));
    json_object_object_add(o, "vm_id", json_object_new_string(m->vm));
    json_object_object_add(o, "role", json_object_new_string(m->role == MIGRATION_ROLE_SOURCE ? "source" : "destination"));
    json_object_object_add(o, "source", json_object_new_string(m->source));
    json_object_object_add(o, "destination", json_object_new_string(m->destination));
    json_object_object_add(o, "mode", json_object_new_string(m->quick ? "quick" : "live"));
    json_object_object_add(o, "phase", json_object_new_string(migration_phase_to_string(m->phase)));
    json_object_object_add(o, "options", parse_or_null(m->options));
    struct json_object *net = json_object_new_object();
    json_object_object_add(net, "id", m->network[0] ? json_object_new_string(m->network) : NULL);
    json_object_object_add(net, "source_address", m->source_address[0] ? json_object_new_string(m->source_address) : NULL);
    json_object_object_add(net, "destination_address", m->destination_address[0] ? json_object_new_string(m->destination_address) : NULL);
    json_object_object_add(o, "network", net);
    json_object_object_add(o, "progress", parse_or_null(m->progress));
    json_object_object_add(o, "timings_ms", parse_or_null(m->timings));
    json_object_object_add(o, "downtime_ms", m->downtime_ms >= 0 ? json_object_new_int64(m->downtime_ms) : NULL);
    json_object_object_add(o, "switchover_gap_ms", m->switchover_gap_ms >= 0 ? json_object_new_int64(m->switchover_gap_ms) : NULL);
    json_object_object_add(o, "error", m->error[0] ? json_object_new_string(m->error) : NULL);
    add_ms_time(o, "created", m->created_ms);
    add_ms_time(o, "updated", m->updated_ms);
    add_ms_time(o, "finished", m->finished_ms);
    return o;
}
