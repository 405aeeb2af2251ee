/* One-time join tokens: see db/join_token.h. */
#include "db/join_token.h"

#include <errno.h>
#include "base/clock.h"

int join_token_add(struct db *db, const char *hash, int64_t expires_ms, const char *actor)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO join_token (hash, created_ms, expires_ms, "
                                     "created_by) VALUES (?, ?, ?, ?)");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, clock_wall_ms());
    sqlite3_bind_int64(stmt, 3, expires_ms);
    sqlite3_bind_text(stmt, 4, actor, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int join_token_spend(struct db *db, const char *hash, int64_t now_ms)
{
    sqlite3_stmt *stmt = db_stmt(db, "DELETE FROM join_token WHERE hash = ? AND expires_ms > ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now_ms);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    int spent = sqlite3_changes(db_sqlite(db));
    stmt = db_stmt(db, "DELETE FROM join_token WHERE expires_ms <= ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, now_ms);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return spent ? 0 : -EACCES;
}
