/* The VLAN catalogue: see db/vlan.h. */
#include "db/vlan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"

static void read_row(sqlite3_stmt *stmt, struct vlan *v)
{
    memset(v, 0, sizeof(*v));
    v->id = (unsigned)sqlite3_column_int(stmt, 0);
    const unsigned char *t = sqlite3_column_text(stmt, 1);
    snprintf(v->name, sizeof(v->name), "%s", t ? (const char *)t : "");
    t = sqlite3_column_text(stmt, 2);
    snprintf(v->description, sizeof(v->description), "%s", t ? (const char *)t : "");
    v->created_ms = sqlite3_column_int64(stmt, 3);
}

int vlan_insert(struct db *db, const struct vlan *v)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO vlan (id, name, description, created_ms) "
                                     "VALUES (?, ?, ?, ?)");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int(stmt, 1, (int)v->id);
    sqlite3_bind_text(stmt, 2, v->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, v->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, v->created_ms ? v->created_ms : clock_wall_ms());
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int vlan_get(struct db *db, unsigned id, struct vlan *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT id, name, description, created_ms FROM vlan "
                                     "WHERE id = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int(stmt, 1, (int)id);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_row(stmt, out);
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    return rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int vlan_list(struct db *db, struct vlan **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT id, name, description, created_ms FROM vlan "
                                     "ORDER BY id");
    if (!stmt)
        return -EIO;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (db_grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        read_row(stmt, &(*out)[(*n)++]);
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

int vlan_update(struct db *db, const struct vlan *v)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE vlan SET name = ?, description = ? WHERE id = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, v->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, v->description, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, (int)v->id);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

int vlan_delete(struct db *db, unsigned id)
{
    sqlite3_stmt *stmt = db_stmt(db, "DELETE FROM vlan WHERE id = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int(stmt, 1, (int)id);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

struct json_object *vlan_to_json(const struct vlan *v)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int((int)v->id));
    json_object_object_add(o, "name", json_object_new_string(v->name));
    json_object_object_add(o, "description", json_object_new_string(v->description));
    return o;
}
