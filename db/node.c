/* The node id: read it, or create it exactly once.  The INSERT only happens
 * inside a write transaction that found no row, so two agents racing on one
 * database file (a mistake, but possible) still agree on one id. */
#include "db/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdio.h>
#include <time.h>
#include <uuid/uuid.h>

static int read_id(struct db *db, char out[37])
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT uuid FROM node WHERE id = 1");
    if (!stmt)
        return -EIO;
    int rc = sqlite3_step(stmt);
    int r = 0;
    if (rc == SQLITE_ROW) {
        snprintf(out, 37, "%s", (const char *)sqlite3_column_text(stmt, 0));
        r = 1;
    } else if (rc != SQLITE_DONE) {
        r = db_errno(rc);
    }
    sqlite3_reset(stmt);
    return r;
}

int node_id_load(struct db *db, char out[37])
{
    int r = read_id(db, out);
    if (r != 0)
        return r < 0 ? r : 0;
    r = db_begin(db);
    if (r < 0)
        return r;
    r = read_id(db, out);
    if (r == 0) {
        uuid_t uuid;
        uuid_generate_random(uuid);
        uuid_unparse_lower(uuid, out);
        sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO node (id, uuid, created_ms) VALUES (1, ?, ?)");
        if (!stmt) {
            db_rollback(db);
            return -EIO;
        }
        sqlite3_bind_text(stmt, 1, out, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)time(NULL) * 1000);
        int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        r = db_errno(rc);
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}
