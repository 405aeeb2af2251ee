/* Schema migrations: apply the embedded steps newer than what the database
 * records, one transaction per step, and refuse a database from the future
 * without writing to it. */
#include "db/schema.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>
#include "base/log.h"
#include "db/db.h"

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("sql failed reason=\"%s\"", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return db_errno(rc);
    }
    return 0;
}

int schema_version(sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'schema_version'",
                                -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return db_errno(rc);
    rc = sqlite3_step(stmt);
    int exists = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : 0;
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return db_errno(rc);
    if (!exists)
        return 0;

    rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &stmt,
                            NULL);
    if (rc != SQLITE_OK)
        return db_errno(rc);
    rc = sqlite3_step(stmt);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? version : db_errno(rc);
}

static int record_step(sqlite3 *db, const struct schema_step *step)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO schema_version (version, name, applied_ms) "
                                "VALUES (?, ?, ?)",
                                -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return db_errno(rc);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sqlite3_bind_int(stmt, 1, step->version);
    sqlite3_bind_text(stmt, 2, step->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* True when VERSION is recorded as applied (a database made before a lower
 * step was added lacks it, and gets it now). */
static bool step_applied(sqlite3 *db, int version, int current)
{
    if (current == 0)
        return false;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM schema_version WHERE version = ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        return version <= current;
    sqlite3_bind_int(stmt, 1, version);
    bool found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return found;
}

int schema_apply(sqlite3 *db, const struct schema_step *steps, size_t n_steps)
{
    int newest = n_steps ? steps[n_steps - 1].version : 0;
    int current = schema_version(db);
    if (current < 0)
        return log_errno(LOG_LEVEL_ERROR, current, "cannot read the schema version");
    if (current > newest) {
        log_error("database was written by a newer lmnet; refusing to touch it "
                  "schema_version=%d newest_known=%d",
                  current, newest);
        return -EPROTO;
    }

    for (size_t i = 0; i < n_steps; i++) {
        const struct schema_step *step = &steps[i];
        if (step_applied(db, step->version, current))
            continue;
        int r = exec_sql(db, "BEGIN IMMEDIATE");
        if (r < 0)
            return r;
        r = exec_sql(db, "CREATE TABLE IF NOT EXISTS schema_version ("
                         " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                         " applied_ms INTEGER NOT NULL)");
        if (r >= 0)
            r = exec_sql(db, step->sql);
        if (r >= 0)
            r = record_step(db, step);
        if (r >= 0)
            r = exec_sql(db, "COMMIT");
        if (r < 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return log_errno(LOG_LEVEL_ERROR, r, "schema step failed step=%s", step->name);
        }
        log_info("schema step applied step=%s version=%d", step->name, step->version);
        if (step->version > current)
            current = step->version;
    }
    return current;
}
