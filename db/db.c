/* SQLite connections, the statement cache and the per-thread pool.
 *
 * The statement cache is a small open-addressing table keyed by the address
 * of the SQL string literal: db/ modules pass the same literal every time, so
 * a pointer comparison finds the statement without hashing the text.
 *
 * The pool keeps one connection per thread through a pthread key; the
 * destructor closes a thread's connection when the thread ends, and the pool
 * also tracks every connection so that db_pool_destroy() can close those of
 * threads still alive (libmicrohttpd's workers). */
#include "db/db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/log.h"
#include "db/schema.h"

#define STMT_CACHE_SLOTS 256 /* power of two; far more than the SQL we have */

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *stmt;
};

struct db {
    sqlite3 *sqlite;
    struct stmt_slot cache[STMT_CACHE_SLOTS];
    struct db *pool_next; /* pool's list, under pool->lock */
    unsigned depth;       /* open db_begin() calls; >1 are savepoints */
};

int db_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -EBADMSG;
    default:
        return -EIO;
    }
}

static int exec_pragma(sqlite3 *sqlite, const char *sql)
{
    int rc = sqlite3_exec(sqlite, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return log_errno(LOG_LEVEL_ERROR, db_errno(rc), "pragma failed sql=\"%s\" reason=\"%s\"", sql,
                         sqlite3_errmsg(sqlite));
    return 0;
}

/* True for a plain file name, not ":memory:", "" (a temporary database) or a
 * "file:" URI: only those are files whose mode we set. */
static bool is_file_path(const char *path)
{
    return *path && strcmp(path, ":memory:") != 0 && strncmp(path, "file:", 5) != 0;
}

/* The database holds the heartbeat key and the cluster's state: only its
 * owner may read it.  SQLite creates the -wal and -shm files with the mode
 * of the database file, so creating that one 0600 (instead of letting
 * SQLite create it 0644 through the umask) covers all three; files left
 * 0644 by an older lmnet are tightened.  Errors are left to sqlite3_open. */
static void restrict_mode(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
        close(fd);
}

static void tighten_mode(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char name[4096];
        struct stat st;
        if ((size_t)snprintf(name, sizeof(name), "%s%s", path, suffixes[i]) >= sizeof(name))
            return;
        if (lstat(name, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 077))
            continue;
        if (chmod(name, st.st_mode & 0700) < 0)
            log_errno(LOG_LEVEL_WARNING, -errno, "cannot make the database private path=%s", name);
        else
            log_info("database made private path=%s mode=%04o", name,
                     (unsigned)(st.st_mode & 0700));
    }
}

int db_open(const char *path, struct db **out)
{
    struct db *db = calloc(1, sizeof(*db));
    if (!db)
        return -ENOMEM;
    if (is_file_path(path))
        restrict_mode(path);
    int rc = sqlite3_open_v2(path, &db->sqlite,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int r = log_errno(LOG_LEVEL_ERROR, db_errno(rc), "cannot open database path=%s reason=\"%s\"",
                          path, db->sqlite ? sqlite3_errmsg(db->sqlite) : sqlite3_errstr(rc));
        db_close(db);
        return r;
    }
    sqlite3_busy_timeout(db->sqlite, 5000);
    sqlite3_extended_result_codes(db->sqlite, 1);

    /* Refuse a database from a newer lmnet before anything writes to it:
     * even switching the journal mode rewrites the file header. */
    int r = schema_version(db->sqlite);
    int newest = schema_steps_count ? schema_steps[schema_steps_count - 1].version : 0;
    if (r > newest) {
        log_error("database path=%s is from a newer lmnet (schema %d, we know up to %d): "
                  "upgrade lmnetd or use another database; it was not modified",
                  path, r, newest);
        db_close(db);
        return -EPROTO;
    }
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot read database path=%s (not an SQLite file?)", path);
        db_close(db);
        return r;
    }

    if (is_file_path(path))
        tighten_mode(path);
    r = exec_pragma(db->sqlite, "PRAGMA journal_mode = WAL");
    if (r >= 0)
        r = exec_pragma(db->sqlite, "PRAGMA synchronous = FULL");
    if (r >= 0)
        r = exec_pragma(db->sqlite, "PRAGMA foreign_keys = ON");
    if (r >= 0) {
        r = schema_apply(db->sqlite, schema_steps, schema_steps_count);
    }
    if (r < 0) {
        db_close(db);
        return r;
    }
    *out = db;
    return 0;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < STMT_CACHE_SLOTS; i++)
        sqlite3_finalize(db->cache[i].stmt);
    sqlite3_close_v2(db->sqlite);
    free(db);
}

sqlite3 *db_sqlite(struct db *db)
{
    return db ? db->sqlite : NULL;
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql)
{
    /* No connection (db_pool_get() could not open one, e.g. out of file
     * descriptors; db_open() logged why): every statement fails, so every
     * db/ function answers an error instead of dereferencing NULL. */
    if (!db)
        return NULL;
    size_t h = ((uintptr_t)sql >> 3) * 0x9E3779B97F4A7C15ull;
    for (size_t probe = 0; probe < STMT_CACHE_SLOTS; probe++) {
        struct stmt_slot *slot = &db->cache[(h + probe) & (STMT_CACHE_SLOTS - 1)];
        if (slot->sql == sql) {
            sqlite3_reset(slot->stmt);
            sqlite3_clear_bindings(slot->stmt);
            return slot->stmt;
        }
        if (!slot->sql) {
            sqlite3_stmt *stmt = NULL;
            int rc = sqlite3_prepare_v3(db->sqlite, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
            if (rc != SQLITE_OK) {
                log_error("cannot prepare statement reason=\"%s\" sql=\"%.80s\"",
                          sqlite3_errmsg(db->sqlite), sql);
                return NULL;
            }
            slot->sql = sql;
            slot->stmt = stmt;
            return stmt;
        }
    }
    log_error("statement cache full; raise STMT_CACHE_SLOTS");
    return NULL;
}

static int exec_simple(struct db *db, const char *sql)
{
    sqlite3_stmt *stmt = db_stmt(db, sql);
    if (!stmt)
        return -EIO;
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int db_begin(struct db *db)
{
    if (!db)
        return -EIO;
    int r = exec_simple(db, db->depth ? "SAVEPOINT nested" : "BEGIN IMMEDIATE");
    if (r >= 0)
        db->depth++;
    return r;
}

int db_commit(struct db *db)
{
    if (!db)
        return -EIO;
    if (db->depth == 0)
        return -EINVAL;
    int r = exec_simple(db, db->depth > 1 ? "RELEASE nested" : "COMMIT");
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    db->depth--;
    return 0;
}

void db_rollback(struct db *db)
{
    if (!db)
        return;
    if (db->depth > 1) {
        /* Undo the savepoint's work but leave the outer transaction open. */
        sqlite3_exec(db->sqlite, "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL);
        db->depth--;
        return;
    }
    if (!sqlite3_get_autocommit(db->sqlite))
        sqlite3_exec(db->sqlite, "ROLLBACK", NULL, NULL, NULL);
    db->depth = 0;
}

/* ---- pool ---- */

struct db_pool {
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards connections */
    struct db *connections;
};

static void pool_remove(struct db_pool *pool, struct db *db)
{
    pthread_mutex_lock(&pool->lock);
    for (struct db **p = &pool->connections; *p; p = &(*p)->pool_next) {
        if (*p == db) {
            *p = db->pool_next;
            break;
        }
    }
    pthread_mutex_unlock(&pool->lock);
}

/* The pthread key destructor gets only the value, so the value is a small
 * record pointing back at the pool. */
struct pool_slot {
    struct db_pool *pool;
    struct db *db;
};

static void pool_thread_exit(void *value)
{
    struct pool_slot *slot = value;
    pool_remove(slot->pool, slot->db);
    db_close(slot->db);
    free(slot);
}

int db_pool_create(const char *path, struct db_pool **out)
{
    struct db_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return -ENOMEM;
    pool->path = strdup(path);
    if (!pool->path) {
        free(pool);
        return -ENOMEM;
    }
    pthread_mutex_init(&pool->lock, NULL);
    if (pthread_key_create(&pool->key, pool_thread_exit) != 0) {
        free(pool->path);
        free(pool);
        return -EAGAIN;
    }
    if (!db_pool_get(pool)) {
        db_pool_destroy(pool);
        return -EIO;
    }
    *out = pool;
    return 0;
}

struct db *db_pool_get(struct db_pool *pool)
{
    struct pool_slot *slot = pthread_getspecific(pool->key);
    if (slot)
        return slot->db;
    slot = calloc(1, sizeof(*slot));
    if (!slot)
        return NULL;
    int r = db_open(pool->path, &slot->db);
    if (r < 0) {
        free(slot);
        return NULL;
    }
    slot->pool = pool;
    pthread_mutex_lock(&pool->lock);
    slot->db->pool_next = pool->connections;
    pool->connections = slot->db;
    pthread_mutex_unlock(&pool->lock);
    pthread_setspecific(pool->key, slot);
    return slot->db;
}

void db_pool_destroy(struct db_pool *pool)
{
    if (!pool)
        return;
    struct pool_slot *mine = pthread_getspecific(pool->key);
    pthread_setspecific(pool->key, NULL);
    free(mine);
    pthread_key_delete(pool->key);
    /* Threads that are still alive lose their connection here; the pool is
     * destroyed only after the HTTP server stopped its workers. */
    for (struct db *db = pool->connections, *next; db; db = next) {
        next = db->pool_next;
        db_close(db);
    }
    pthread_mutex_destroy(&pool->lock);
    free(pool->path);
    free(pool);
}

int db_grow(void **array, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t grown_cap = *cap ? *cap * 2 : 16;
    void *grown = realloc(*array, grown_cap * size);
    if (!grown)
        return -ENOMEM;
    *array = grown;
    *cap = grown_cap;
    return 0;
}
