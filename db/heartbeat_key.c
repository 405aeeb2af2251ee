/* The cluster's heartbeat key: see db/heartbeat_key.h. */
#include "db/heartbeat_key.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int heartbeat_key_get(struct db *db, uint8_t key[HEARTBEAT_KEY_SIZE])
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT key FROM heartbeat_key WHERE id = 1");
    if (!stmt)
        return -EIO;
    int rc = sqlite3_step(stmt);
    int r = -ENOENT;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == HEARTBEAT_KEY_SIZE) {
        memcpy(key, sqlite3_column_blob(stmt, 0), HEARTBEAT_KEY_SIZE);
        r = 0;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        r = db_errno(rc);
    }
    sqlite3_reset(stmt);
    return r;
}

int heartbeat_key_put(struct db *db, const uint8_t key[HEARTBEAT_KEY_SIZE])
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT OR REPLACE INTO heartbeat_key (id, key, stored_ms) "
                                     "VALUES (1, ?, ?)");
    if (!stmt)
        return -EIO;
    sqlite3_bind_blob(stmt, 1, key, HEARTBEAT_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)time(NULL) * 1000);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return db_errno(rc);
}

int heartbeat_key_make(struct db *db, uint8_t key[HEARTBEAT_KEY_SIZE])
{
    int r = heartbeat_key_get(db, key);
    if (r != -ENOENT)
        return r;
    r = db_begin(db);
    if (r < 0)
        return r;
    r = heartbeat_key_get(db, key);
    if (r == -ENOENT) {
        r = getrandom(key, HEARTBEAT_KEY_SIZE, 0) == HEARTBEAT_KEY_SIZE ? 0 : -EIO;
        if (r == 0)
            r = heartbeat_key_put(db, key);
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}
