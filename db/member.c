/* The member aggregate: one row per cluster member, keyed by node uuid. */
#include "db/member.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"

static void copy_text(char *dst, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static void read_row(sqlite3_stmt *stmt, struct member *m)
{
    copy_text(m->uuid, sizeof(m->uuid), stmt, 0);
    copy_text(m->name, sizeof(m->name), stmt, 1);
    copy_text(m->url, sizeof(m->url), stmt, 2);
    m->registry = sqlite3_column_int(stmt, 3) != 0;
    m->joined_ms = sqlite3_column_int64(stmt, 4);
    m->last_seen_ms = sqlite3_column_int64(stmt, 5);
}

static int upsert_row(struct db *db, const struct member *m)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT uuid FROM member WHERE url = ? AND uuid != ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, m->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, m->uuid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc == SQLITE_ROW)
        return -EEXIST;
    if (rc != SQLITE_DONE)
        return db_errno(rc);

    struct member existing;
    int found = member_get(db, m->uuid, &existing);
    if (found < 0 && found != -ENOENT)
        return found;
    stmt = db_stmt(db, "INSERT INTO member (uuid, name, url, registry, joined_ms, last_seen_ms) "
                       "VALUES (?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, url = excluded.url, "
                       "registry = excluded.registry, last_seen_ms = excluded.last_seen_ms");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, m->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, m->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, m->url, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 4, m->registry);
    sqlite3_bind_int64(stmt, 5, m->joined_ms ? m->joined_ms : clock_wall_ms());
    sqlite3_bind_int64(stmt, 6, m->last_seen_ms);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return found == -ENOENT ? 1 : 0;
}

int member_upsert(struct db *db, const struct member *m)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    r = upsert_row(db, m);
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    int c = db_commit(db);
    return c < 0 ? c : r;
}

int member_list(struct db *db, struct member **out, size_t *n)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT uuid, name, url, registry, joined_ms, last_seen_ms "
                                     "FROM member ORDER BY registry DESC, name, uuid");
    if (!stmt)
        return -EIO;
    struct member *members = NULL;
    size_t count = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct member *grown = realloc(members, (count + 1) * sizeof(*grown));
        if (!grown) {
            rc = SQLITE_NOMEM;
            break;
        }
        members = grown;
        read_row(stmt, &members[count++]);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        free(members);
        return db_errno(rc);
    }
    *out = members;
    *n = count;
    return 0;
}

int member_get(struct db *db, const char *uuid, struct member *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT uuid, name, url, registry, joined_ms, last_seen_ms "
                                     "FROM member WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_row(stmt, out);
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
}

int member_delete(struct db *db, const char *uuid)
{
    sqlite3_stmt *stmt = db_stmt(db, "DELETE FROM member WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

int member_replace_all(struct db *db, const struct member *members, size_t n)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    sqlite3_stmt *stmt = db_stmt(db, "DELETE FROM member");
    if (!stmt) {
        db_rollback(db);
        return -EIO;
    }
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    r = db_errno(rc);
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = upsert_row(db, &members[i]);
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

int member_set_credential(struct db *db, const char *uuid, const char *hash)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE member SET credential_hash = ? WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    if (hash)
        sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, 1);
    sqlite3_bind_text(stmt, 2, uuid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

int member_find_by_credential(struct db *db, const char *hash, struct member *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT uuid, name, url, registry, joined_ms, last_seen_ms "
                                     "FROM member WHERE credential_hash = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_row(stmt, out);
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
}

static void add_time(struct json_object *obj, const char *key, int64_t ms)
{
    if (!ms) {
        json_object_object_add(obj, key, NULL);
        return;
    }
    char when[40];
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_object_add(obj, key, json_object_new_string(when));
}

struct json_object *member_to_json(const struct member *m)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "id", json_object_new_string(m->uuid));
    json_object_object_add(obj, "name", json_object_new_string(m->name));
    json_object_object_add(obj, "url", json_object_new_string(m->url));
    json_object_object_add(obj, "registry", json_object_new_boolean(m->registry));
    add_time(obj, "joined", m->joined_ms);
    add_time(obj, "last_seen", m->last_seen_ms);
    return obj;
}

static int copy_string(struct json_object *obj, const char *key, char *dst, size_t size)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return -EINVAL;
    const char *s = json_object_get_string(v);
    if (strlen(s) >= size)
        return -EINVAL;
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

/* Reads a time written by add_time(): absent or null is 0. */
static int parse_time(struct json_object *obj, const char *key, int64_t *ms)
{
    struct json_object *v;
    *ms = 0;
    if (!json_object_object_get_ex(obj, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -EINVAL;
    struct tm tm = { 0 };
    const char *end = strptime(json_object_get_string(v), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (!end || *end)
        return -EINVAL;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

int member_from_json(struct json_object *obj, struct member *out)
{
    memset(out, 0, sizeof(*out));
    if (copy_string(obj, "id", out->uuid, sizeof(out->uuid)) < 0 ||
        copy_string(obj, "name", out->name, sizeof(out->name)) < 0 ||
        copy_string(obj, "url", out->url, sizeof(out->url)) < 0 ||
        parse_time(obj, "joined", &out->joined_ms) < 0 ||
        parse_time(obj, "last_seen", &out->last_seen_ms) < 0)
        return -EINVAL;
    struct json_object *v;
    out->registry = json_object_object_get_ex(obj, "registry", &v) && json_object_get_boolean(v);
    return 0;
}
