/* SQLite access.
 *
 * A struct db is one SQLite connection, used by one thread at a time.  It is
 * opened in WAL mode with foreign keys on, a busy timeout and synchronous=FULL
 * (a committed change survives power loss), and the embedded schema is
 * applied when it is opened (see db/schema.h).
 *
 * Statements are prepared once per connection and cached: db_stmt() returns
 * the cached statement for an SQL string literal (keyed by the string's
 * address, so pass a static string, never a built one), reset and unbound.
 *
 * struct db_pool hands each thread its own connection, opened on first use and
 * closed when the thread exits or the pool is destroyed.
 *
 * Errors are negative errnos; db_errno() is the single SQLite-to-errno map. */
#ifndef LMNET_DB_DB_H
#define LMNET_DB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <sqlite3.h>

struct db;
struct db_pool;

/* Opens (creating if needed) the database at PATH and brings its schema up to
 * date.  ":memory:" gives a private in-memory database.  The file and its
 * -wal and -shm are made mode 0600 (created so, or tightened when an older
 * lmnet left them readable by others): they hold the heartbeat key.  On success *out owns
 * the connection (db_close() it).  Returns 0, -EPROTO when the file was
 * written by a newer lmnet (it is left untouched), or another negative errno;
 * the reason is logged. */
int db_open(const char *path, struct db **out);

/* Closes the connection; NULL is a no-op. */
void db_close(struct db *db);

/* The raw connection, for db/ modules only; NULL for a NULL DB. */
sqlite3 *db_sqlite(struct db *db);

/* Returns the cached prepared statement for SQL (a string literal), reset and
 * with its bindings cleared, or NULL after logging the prepare error.  The
 * statement stays owned by DB.  A NULL DB (db_pool_get() could not open a
 * connection) gives NULL, so every db/ function fails cleanly on it. */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  Return 0 or a negative errno.
 * They nest: inside an open transaction db_begin() opens a savepoint, and
 * the matching db_commit()/db_rollback() releases or undoes only that, so an
 * aggregate function that opens its own transaction can run inside a
 * caller's larger one (a change and its event, committed together).
 * db_rollback() is safe to call when no transaction is open.  On a NULL DB
 * db_begin() and db_commit() return -EIO and db_rollback() does nothing. */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

/* Maps an SQLite result code to 0 (SQLITE_OK/DONE/ROW) or a negative errno:
 * BUSY/LOCKED -> -EBUSY, CONSTRAINT -> -EEXIST, NOMEM -> -ENOMEM,
 * FULL -> -ENOSPC, READONLY/PERM/AUTH -> -EACCES, CANTOPEN -> -ENOENT,
 * NOTADB/CORRUPT -> -EBADMSG, anything else -> -EIO. */
int db_errno(int sqlite_rc);

/* Makes room for one more element in *ARRAY (N used, *CAP allocated, each
 * SIZE bytes), doubling it when full, for the list functions of db/.
 * Returns 0, or -ENOMEM with *ARRAY unchanged. */
int db_grow(void **array, size_t *cap, size_t n, size_t size);

/* Creates a pool that opens PATH once per thread.  The first connection is
 * opened here, so a bad path or a newer schema fails now, not on the first
 * request.  Returns 0 and *out, or a negative errno. */
int db_pool_create(const char *path, struct db_pool **out);
void db_pool_destroy(struct db_pool *pool);

/* The calling thread's connection, opened on first use.  Returns NULL (after
 * logging) if it cannot be opened.  Owned by the pool. */
struct db *db_pool_get(struct db_pool *pool);

#endif
