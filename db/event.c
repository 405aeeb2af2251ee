/* The audit log: append-only rows in the event table, read back in id order
 * with keyset paging (id > after), which stays fast however long the log
 * grows. */
#include "db/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"
#include "base/log.h"

int64_t event_record(struct db *db, const char *node, const char *actor, const char *kind,
                     const char *subject, struct json_object *detail)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO event (time_ms, node, actor, kind, subject, detail) "
                                     "VALUES (?, ?, ?, ?, ?, ?)");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, clock_wall_ms());
    sqlite3_bind_text(stmt, 2, node ? node : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, actor ? actor : "agent", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, subject ? subject : "", -1, SQLITE_STATIC);
    if (detail)
        sqlite3_bind_text(stmt, 6, json_object_to_json_string_ext(detail, JSON_C_TO_STRING_PLAIN),
                          -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, 6);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return log_errno(LOG_LEVEL_ERROR, db_errno(rc), "cannot record event kind=%s", kind);
    return sqlite3_last_insert_rowid(db_sqlite(db));
}

static void copy_column(char *dst, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);
    snprintf(dst, size, "%s", text ? (const char *)text : "");
}

int event_list(struct db *db, int64_t after, const char *kind, int limit, struct event **out,
               size_t *n)
{
    /* SQLite reads a negative LIMIT as "no limit"; the array holds LIMIT. */
    if (limit < 0)
        return -EINVAL;
    sqlite3_stmt *stmt = kind
        ? db_stmt(db, "SELECT id, time_ms, node, actor, kind, subject, detail FROM event "
                      "WHERE id > ? AND kind = ? ORDER BY id LIMIT ?")
        : db_stmt(db, "SELECT id, time_ms, node, actor, kind, subject, detail FROM event "
                      "WHERE id > ? ORDER BY id LIMIT ?");
    if (!stmt)
        return -EIO;
    int col = 1;
    sqlite3_bind_int64(stmt, col++, after);
    if (kind)
        sqlite3_bind_text(stmt, col++, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, col, limit);

    struct event *events = calloc(limit > 0 ? (size_t)limit : 1, sizeof(*events));
    if (!events) {
        sqlite3_reset(stmt);
        return -ENOMEM;
    }
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && count < (size_t)limit) {
        struct event *e = &events[count++];
        e->id = sqlite3_column_int64(stmt, 0);
        e->time_ms = sqlite3_column_int64(stmt, 1);
        copy_column(e->node, sizeof(e->node), stmt, 2);
        copy_column(e->actor, sizeof(e->actor), stmt, 3);
        copy_column(e->kind, sizeof(e->kind), stmt, 4);
        copy_column(e->subject, sizeof(e->subject), stmt, 5);
        const unsigned char *detail = sqlite3_column_text(stmt, 6);
        if (detail && !(e->detail = strdup((const char *)detail))) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        event_list_free(events, count);
        return db_errno(rc);
    }
    *out = events;
    *n = count;
    return 0;
}

void event_list_free(struct event *events, size_t n)
{
    if (!events)
        return;
    for (size_t i = 0; i < n; i++)
        free(events[i].detail);
    free(events);
}

struct json_object *event_to_json(const struct event *event)
{
    struct json_object *obj = json_object_new_object();
    char when[40];
    time_t sec = (time_t)(event->time_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof(when) - n, ".%03dZ", (int)(event->time_ms % 1000));

    json_object_object_add(obj, "id", json_object_new_int64(event->id));
    json_object_object_add(obj, "time", json_object_new_string(when));
    json_object_object_add(obj, "node", json_object_new_string(event->node));
    json_object_object_add(obj, "actor", json_object_new_string(event->actor));
    json_object_object_add(obj, "kind", json_object_new_string(event->kind));
    json_object_object_add(obj, "subject", json_object_new_string(event->subject));
    struct json_object *detail = event->detail ? json_tokener_parse(event->detail) : NULL;
    json_object_object_add(obj, "detail", detail);
    return obj;
}
