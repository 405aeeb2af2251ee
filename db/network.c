/* Cluster networks as stored: see db/network.h. */
#include "db/network.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"

static int step_done(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int network_insert(struct db *db, const struct network_settings *s)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO network (id, number, name, address, prefix, role, "
                                     "metric, auto_metric, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, s->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, (int)s->number);
    sqlite3_bind_text(stmt, 3, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, s->subnet.address, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 5, (int)s->subnet.prefix);
    sqlite3_bind_text(stmt, 6, network_role_to_string(s->role), -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 7, s->metric);
    sqlite3_bind_int(stmt, 8, s->auto_metric);
    sqlite3_bind_int64(stmt, 9, clock_wall_ms());
    return step_done(stmt);
}

int network_update(struct db *db, const struct network_settings *s)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE network SET name = ?, role = ?, metric = ?, auto_metric = ? "
                                     "WHERE id = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, network_role_to_string(s->role), -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, s->metric);
    sqlite3_bind_int(stmt, 4, s->auto_metric);
    sqlite3_bind_text(stmt, 5, s->id, -1, SQLITE_STATIC);
    int r = step_done(stmt);
    if (r == 0 && sqlite3_changes(db_sqlite(db)) == 0)
        return -ENOENT;
    return r;
}

int network_list(struct db *db, struct network_settings **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT id, number, name, address, prefix, role, metric, auto_metric "
                                     "FROM network ORDER BY number");
    if (!stmt)
        return -EIO;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (db_grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        struct network_settings *s = &(*out)[*n];
        memset(s, 0, sizeof(*s));
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        snprintf(s->id, sizeof(s->id), "%s", text ? text : "");
        s->number = (unsigned)sqlite3_column_int(stmt, 1);
        text = (const char *)sqlite3_column_text(stmt, 2);
        snprintf(s->name, sizeof(s->name), "%s", text ? text : "");
        const char *address = (const char *)sqlite3_column_text(stmt, 3);
        if (!address || subnet_of(address, (unsigned)sqlite3_column_int(stmt, 4), &s->subnet) < 0 ||
            network_role_from_string((const char *)sqlite3_column_text(stmt, 5), &s->role) < 0) {
            rc = SQLITE_CORRUPT;
            break;
        }
        s->metric = sqlite3_column_int(stmt, 6);
        s->auto_metric = sqlite3_column_int(stmt, 7) != 0;
        (*n)++;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_errno(rc);
    }
    return 0;
}

int network_inventory_put(struct db *db, const char *member, struct json_object *inventory)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO member_inventory (member, reported_ms, inventory) "
                                     "VALUES (?, ?, ?) ON CONFLICT (member) DO UPDATE SET "
                                     "reported_ms = excluded.reported_ms, inventory = excluded.inventory");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, member, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, clock_wall_ms());
    sqlite3_bind_text(stmt, 3, json_object_to_json_string_ext(inventory, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    int r = step_done(stmt);
    /* The only constraint that can fail is the member reference. */
    return r == -EEXIST ? -ENOENT : r;
}

struct json_object *network_inventory_all(struct db *db)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT member, reported_ms, inventory FROM member_inventory "
                                     "ORDER BY member");
    if (!stmt)
        return NULL;
    struct json_object *all = json_object_new_object();
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *member = (const char *)sqlite3_column_text(stmt, 0);
        const char *text = (const char *)sqlite3_column_text(stmt, 2);
        struct json_object *inventory = text ? json_tokener_parse(text) : NULL;
        if (!member || !inventory) {
            json_object_put(inventory);
            continue; /* unreadable row: as if the member had not reported */
        }
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "reported", json_object_new_int64(sqlite3_column_int64(stmt, 1)));
        json_object_object_add(entry, "inventory", inventory);
        json_object_object_add(all, member, entry);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        json_object_put(all);
        return NULL;
    }
    return all;
}

int network_cache_put(struct db *db, struct json_object *view)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO network_cache (id, fetched_ms, view) VALUES (1, ?, ?) "
                                     "ON CONFLICT (id) DO UPDATE SET fetched_ms = excluded.fetched_ms, "
                                     "view = excluded.view");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, clock_wall_ms());
    sqlite3_bind_text(stmt, 2, json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    return step_done(stmt);
}

int network_cache_get(struct db *db, struct json_object **view, int64_t *fetched_ms)
{
    *view = NULL;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT fetched_ms, view FROM network_cache WHERE id = 1");
    if (!stmt)
        return -EIO;
    int rc = sqlite3_step(stmt);
    int r = 0;
    if (rc == SQLITE_ROW) {
        if (fetched_ms)
            *fetched_ms = sqlite3_column_int64(stmt, 0);
        const char *text = (const char *)sqlite3_column_text(stmt, 1);
        *view = text ? json_tokener_parse(text) : NULL;
        r = *view ? 0 : -EBADMSG;
    } else {
        r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
    }
    sqlite3_reset(stmt);
    return r;
}
