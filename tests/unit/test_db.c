/* Unit tests for db/db.c: opening (embedded schema, pragmas, refusing a
 * newer or foreign file untouched), the statement cache, nested transactions
 * with savepoint semantics, the SQLite-to-errno map, and the per-thread
 * pool. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/log.h"
#include "db/db.h"
#include "db/schema.h"
#include "db/event.h"
#include "db/macpool.h"
#include "db/member.h"
#include "db/migration.h"
#include "db/network.h"
#include "db/port.h"
#include "db/vm.h"

static char tmpdir[] = "/tmp/lmnet-test-db-XXXXXX";

static int group_setup(void **state)
{
    (void)state;
    log_set_level(LOG_LEVEL_ERROR);
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Removes every file in the test directory. */
static void clean_dir(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static int group_teardown(void **state)
{
    (void)state;
    clean_dir();
    return rmdir(tmpdir);
}

static void path_in_dir(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static void exec(struct db *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db_sqlite(db), sql, NULL, NULL, &msg) != SQLITE_OK) {
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", msg ? msg : "?");
        sqlite3_free(msg);
        fail_msg("%s: %s", sql, copy);
    }
}

static long long query_int(sqlite3 *sqlite, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(sqlite, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long long v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

static void query_text(sqlite3 *sqlite, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(sqlite, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    snprintf(out, size, "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
}

/* Reads a whole file into a new buffer; *len gets its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static size_t count_files(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int newest_step(void)
{
    return schema_steps[schema_steps_count - 1].version;
}

static void test_open_memory(void **state)
{
    (void)state;
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    assert_non_null(db);
    sqlite3 *s = db_sqlite(db);
    assert_int_equal(schema_version(s), newest_step());
    assert_int_equal(query_int(s, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                  "name IN ('node', 'member', 'event', 'schema_version')"),
                     4);
    assert_int_equal(query_int(s, "PRAGMA foreign_keys"), 1);
    assert_int_equal(query_int(s, "PRAGMA busy_timeout"), 5000);
    assert_int_equal(sqlite3_get_autocommit(s), 1);
    db_close(db);
    db_close(NULL);

    /* Two in-memory databases are separate. */
    struct db *a = NULL, *b = NULL;
    assert_int_equal(db_open(":memory:", &a), 0);
    assert_int_equal(db_open(":memory:", &b), 0);
    exec(a, "CREATE TABLE only_in_a (x)");
    assert_int_equal(query_int(db_sqlite(b), "SELECT count(*) FROM sqlite_master WHERE name = "
                                             "'only_in_a'"),
                     0);
    db_close(a);
    db_close(b);
}

static void test_open_file(void **state)
{
    (void)state;
    char path[300];
    path_in_dir(path, sizeof(path), "agent.db");
    struct db *db = NULL;
    assert_int_equal(db_open(path, &db), 0);
    char mode[32];
    query_text(db_sqlite(db), "PRAGMA journal_mode", mode, sizeof(mode));
    assert_string_equal(mode, "wal");
    assert_int_equal(query_int(db_sqlite(db), "PRAGMA synchronous"), 2); /* FULL */
    assert_int_equal(query_int(db_sqlite(db), "PRAGMA foreign_keys"), 1);
    exec(db, "INSERT INTO node (id, uuid, created_ms) VALUES (1, 'u', 1)");
    long long applied = query_int(db_sqlite(db), "SELECT count(*) FROM schema_version");
    db_close(db);

    /* Reopening keeps the data and does not apply the schema again. */
    db = NULL;
    assert_int_equal(db_open(path, &db), 0);
    assert_int_equal(query_int(db_sqlite(db), "SELECT count(*) FROM node"), 1);
    assert_int_equal(query_int(db_sqlite(db), "SELECT count(*) FROM schema_version"), applied);
    db_close(db);
    clean_dir();
}

static void assert_mode(const char *path, const char *suffix, unsigned want)
{
    char name[320];
    struct stat st;
    snprintf(name, sizeof(name), "%s%s", path, suffix);
    assert_int_equal(stat(name, &st), 0);
    if ((st.st_mode & 07777) != want)
        fail_msg("%s has mode %04o, want %04o", name, (unsigned)(st.st_mode & 07777), want);
}

/* The database, -wal and -shm hold the heartbeat key: 0600 whatever the
 * umask, and a database an older lmnet left 0644 is tightened at open. */
static void test_open_file_mode(void **state)
{
    (void)state;
    char path[300];
    path_in_dir(path, sizeof(path), "private.db");
    mode_t old_umask = umask(022);
    struct db *db = NULL;
    assert_int_equal(db_open(path, &db), 0);
    exec(db, "INSERT INTO node (id, uuid, created_ms) VALUES (1, 'u', 1)");
    assert_mode(path, "", 0600);
    assert_mode(path, "-wal", 0600);
    assert_mode(path, "-shm", 0600);

    /* As lmnet left it before: all three 0644. */
    assert_int_equal(chmod(path, 0644), 0);
    char name[320];
    snprintf(name, sizeof(name), "%s-wal", path);
    assert_int_equal(chmod(name, 0644), 0);
    snprintf(name, sizeof(name), "%s-shm", path);
    assert_int_equal(chmod(name, 0644), 0);
    struct db *second = NULL;
    assert_int_equal(db_open(path, &second), 0);
    assert_mode(path, "", 0600);
    assert_mode(path, "-wal", 0600);
    assert_mode(path, "-shm", 0600);
    assert_int_equal(query_int(db_sqlite(second), "SELECT count(*) FROM node"), 1);
    db_close(second);
    db_close(db);
    umask(old_umask);
    clean_dir();
}

static void test_open_refused(void **state)
{
    (void)state;
    char path[300];
    struct db *db = NULL;

    /* A directory that does not exist. */
    path_in_dir(path, sizeof(path), "no/such/dir/agent.db");
    assert_int_equal(db_open(path, &db), -ENOENT);
    assert_null(db);

    /* A database from a newer lmnet: refused, and not one byte changes. */
    path_in_dir(path, sizeof(path), "future.db");
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                                  "name TEXT NOT NULL, applied_ms INTEGER NOT NULL);"
                                  "INSERT INTO schema_version VALUES (99, '0099_future.sql', 1);"
                                  "CREATE TABLE future (x);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(raw), SQLITE_OK);
    size_t len_before, len_after;
    char *before = slurp(path, &len_before);
    struct stat st_before, st_after;
    assert_int_equal(stat(path, &st_before), 0);

    assert_int_equal(db_open(path, &db), -EPROTO);
    assert_null(db);

    char *after = slurp(path, &len_after);
    assert_int_equal(stat(path, &st_after), 0);
    assert_int_equal(len_before, len_after);
    assert_memory_equal(before, after, len_before);
    assert_int_equal(st_before.st_size, st_after.st_size);
    /* No -wal or -shm file was created next to it. */
    assert_int_equal(count_files(), 1);
    free(before);
    free(after);

    /* The same in WAL mode, as lmnetd itself writes it. */
    clean_dir();
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw,
                                  "PRAGMA journal_mode = WAL;"
                                  "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                                  "name TEXT NOT NULL, applied_ms INTEGER NOT NULL);"
                                  "INSERT INTO schema_version VALUES (99, '0099_future.sql', 1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(raw), SQLITE_OK);
    before = slurp(path, &len_before);
    assert_int_equal(db_open(path, &db), -EPROTO);
    after = slurp(path, &len_after);
    assert_int_equal(len_before, len_after);
    assert_memory_equal(before, after, len_before);
    free(before);
    free(after);

    /* A file that is not an SQLite database: refused, left as it was. */
    path_in_dir(path, sizeof(path), "not-a-db");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an sqlite database, just text\n", f);
    fclose(f);
    before = slurp(path, &len_before);
    assert_int_equal(db_open(path, &db), -EBADMSG);
    assert_null(db);
    after = slurp(path, &len_after);
    assert_int_equal(len_before, len_after);
    assert_memory_equal(before, after, len_before);
    free(before);
    free(after);
    clean_dir();
}

static void test_stmt_cache(void **state)
{
    (void)state;
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    static const char select_one[] = "SELECT ?";
    static const char select_one_copy[] = "SELECT ?"; /* same text, other address */
    static const char select_two[] = "SELECT 2";

    sqlite3_stmt *a = db_stmt(db, select_one);
    assert_non_null(a);
    assert_ptr_equal(db_stmt(db, select_one), a);
    sqlite3_stmt *b = db_stmt(db, select_two);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    sqlite3_stmt *c = db_stmt(db, select_one_copy);
    assert_non_null(c);
    assert_ptr_not_equal(a, c);
    assert_ptr_equal(db_stmt(db, select_one), a);

    /* Handed back reset and unbound. */
    assert_int_equal(sqlite3_bind_int(a, 1, 42), SQLITE_OK);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(a, 0), 42);
    a = db_stmt(db, select_one);
    assert_int_equal(sqlite3_step(a), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(a, 0), SQLITE_NULL);

    /* A statement left mid-way is reset: the first row again. */
    exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3)");
    static const char select_t[] = "SELECT x FROM t ORDER BY x";
    sqlite3_stmt *t = db_stmt(db, select_t);
    assert_int_equal(sqlite3_step(t), SQLITE_ROW);
    assert_int_equal(sqlite3_step(t), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(t, 0), 2);
    t = db_stmt(db, select_t);
    assert_int_equal(sqlite3_step(t), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(t, 0), 1);

    /* Bad SQL: NULL, every time (a failure is not cached). */
    static const char bad[] = "SELECT FROM WHERE";
    assert_null(db_stmt(db, bad));
    assert_null(db_stmt(db, bad));
    db_close(db);
}

static void test_stmt_cache_full(void **state)
{
    (void)state;
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    /* 300 distinct addresses: the cache holds 256 (db_open() caches none),
     * then db_stmt() refuses rather than evicting a statement in use. */
    enum { N = 300 };
    static char sql[N][16];
    sqlite3_stmt *stmts[N];
    size_t ok = 0;
    for (size_t i = 0; i < N; i++) {
        snprintf(sql[i], sizeof(sql[i]), "SELECT %zu", i);
        stmts[i] = db_stmt(db, sql[i]);
        if (stmts[i])
            ok++;
        else
            break;
    }
    assert_int_equal(ok, 256);
    assert_null(stmts[ok]);
    /* Those cached are still found. */
    for (size_t i = 0; i < ok; i++)
        assert_ptr_equal(db_stmt(db, sql[i]), stmts[i]);
    assert_int_equal(sqlite3_step(stmts[ok - 1]), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmts[ok - 1], 0), (int)(ok - 1));
    db_close(db);
}

static long long count_rows(struct db *db)
{
    return query_int(db_sqlite(db), "SELECT count(*) FROM t");
}

static long long has_row(struct db *db, int x)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db_sqlite(db), "SELECT count(*) FROM t WHERE x = ?", -1, &stmt, NULL),
        SQLITE_OK);
    sqlite3_bind_int(stmt, 1, x);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long long n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

static void insert(struct db *db, int x)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "INSERT INTO t VALUES (%d)", x);
    exec(db, sql);
}

static void test_transactions(void **state)
{
    (void)state;
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    sqlite3 *s = db_sqlite(db);
    exec(db, "CREATE TABLE t (x INTEGER)");

    /* Plain: commit keeps, rollback undoes. */
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(sqlite3_get_autocommit(s), 0);
    insert(db, 1);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(sqlite3_get_autocommit(s), 1);
    assert_int_equal(db_begin(db), 0);
    insert(db, 2);
    db_rollback(db);
    assert_int_equal(sqlite3_get_autocommit(s), 1);
    assert_int_equal(count_rows(db), 1);

    /* Inner rollback keeps the outer transaction's earlier work. */
    assert_int_equal(db_begin(db), 0);
    insert(db, 10);
    assert_int_equal(db_begin(db), 0);
    insert(db, 11);
    db_rollback(db);
    assert_int_equal(sqlite3_get_autocommit(s), 0); /* outer still open */
    assert_int_equal(has_row(db, 10), 1);
    assert_int_equal(has_row(db, 11), 0);
    insert(db, 12);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(sqlite3_get_autocommit(s), 1);
    assert_int_equal(has_row(db, 10), 1);
    assert_int_equal(has_row(db, 11), 0);
    assert_int_equal(has_row(db, 12), 1);

    /* Inner commit then outer rollback: nothing of either stays. */
    assert_int_equal(db_begin(db), 0);
    insert(db, 20);
    assert_int_equal(db_begin(db), 0);
    insert(db, 21);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(sqlite3_get_autocommit(s), 0);
    db_rollback(db);
    assert_int_equal(sqlite3_get_autocommit(s), 1);
    assert_int_equal(has_row(db, 20), 0);
    assert_int_equal(has_row(db, 21), 0);

    /* Three levels. */
    assert_int_equal(db_begin(db), 0);
    insert(db, 30);
    assert_int_equal(db_begin(db), 0);
    insert(db, 31);
    assert_int_equal(db_begin(db), 0);
    insert(db, 32);
    db_rollback(db);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(sqlite3_get_autocommit(s), 0);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(sqlite3_get_autocommit(s), 1);
    assert_int_equal(has_row(db, 30), 1);
    assert_int_equal(has_row(db, 31), 1);
    assert_int_equal(has_row(db, 32), 0);

    /* Two savepoints one after the other inside one transaction. */
    assert_int_equal(db_begin(db), 0);
    assert_int_equal(db_begin(db), 0);
    insert(db, 40);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(db_begin(db), 0);
    insert(db, 41);
    db_rollback(db);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(has_row(db, 40), 1);
    assert_int_equal(has_row(db, 41), 0);

    /* Commit without begin is refused; rollback without begin is harmless. */
    assert_int_equal(db_commit(db), -EINVAL);
    db_rollback(db);
    db_rollback(db);
    assert_int_equal(sqlite3_get_autocommit(s), 1);
    assert_int_equal(db_begin(db), 0);
    insert(db, 50);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(has_row(db, 50), 1);
    db_close(db);
}

/* A COMMIT that fails (a deferred foreign key) rolls back and leaves the
 * connection ready for the next transaction. */
static void test_commit_failure(void **state)
{
    (void)state;
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    sqlite3 *s = db_sqlite(db);
    exec(db, "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
             "CREATE TABLE child (pid INTEGER REFERENCES parent (id) "
             "DEFERRABLE INITIALLY DEFERRED)");
    assert_int_equal(db_begin(db), 0);
    exec(db, "INSERT INTO child VALUES (7)");
    assert_int_equal(db_begin(db), 0);
    exec(db, "INSERT INTO child VALUES (8)");
    assert_int_equal(db_commit(db), 0); /* releasing a savepoint does not check */
    assert_int_equal(db_commit(db), -EEXIST);
    assert_int_equal(sqlite3_get_autocommit(s), 1);
    assert_int_equal(query_int(s, "SELECT count(*) FROM child"), 0);

    assert_int_equal(db_begin(db), 0);
    exec(db, "INSERT INTO parent VALUES (7); INSERT INTO child VALUES (7)");
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(query_int(s, "SELECT count(*) FROM child"), 1);
    assert_int_equal(db_commit(db), -EINVAL);
    db_close(db);
}

/* A second connection cannot begin while the first holds the write lock. */
static void test_busy(void **state)
{
    (void)state;
    char path[300];
    path_in_dir(path, sizeof(path), "busy.db");
    struct db *a = NULL, *b = NULL;
    assert_int_equal(db_open(path, &a), 0);
    assert_int_equal(db_open(path, &b), 0);
    sqlite3_busy_timeout(db_sqlite(b), 0); /* fail now, not in 5 s */

    assert_int_equal(db_begin(a), 0);
    assert_int_equal(db_begin(b), -EBUSY);
    assert_int_equal(sqlite3_get_autocommit(db_sqlite(b)), 1);
    assert_int_equal(db_commit(b), -EINVAL); /* b never began */
    assert_int_equal(db_commit(a), 0);
    assert_int_equal(db_begin(b), 0);
    assert_int_equal(db_commit(b), 0);
    db_close(a);
    db_close(b);
    clean_dir();
}

static void test_errno_map(void **state)
{
    (void)state;
    const struct {
        int rc, err;
    } map[] = {
        {SQLITE_OK, 0},
        {SQLITE_ROW, 0},
        {SQLITE_DONE, 0},
        {SQLITE_BUSY, -EBUSY},
        {SQLITE_BUSY_SNAPSHOT, -EBUSY},
        {SQLITE_LOCKED, -EBUSY},
        {SQLITE_LOCKED_SHAREDCACHE, -EBUSY},
        {SQLITE_CONSTRAINT, -EEXIST},
        {SQLITE_CONSTRAINT_UNIQUE, -EEXIST},
        {SQLITE_CONSTRAINT_PRIMARYKEY, -EEXIST},
        {SQLITE_CONSTRAINT_FOREIGNKEY, -EEXIST},
        {SQLITE_NOMEM, -ENOMEM},
        {SQLITE_FULL, -ENOSPC},
        {SQLITE_READONLY, -EACCES},
        {SQLITE_READONLY_DBMOVED, -EACCES},
        {SQLITE_PERM, -EACCES},
        {SQLITE_AUTH, -EACCES},
        {SQLITE_CANTOPEN, -ENOENT},
        {SQLITE_CANTOPEN_ISDIR, -ENOENT},
        {SQLITE_NOTADB, -EBADMSG},
        {SQLITE_CORRUPT, -EBADMSG},
        {SQLITE_CORRUPT_INDEX, -EBADMSG},
        {SQLITE_ERROR, -EIO},
        {SQLITE_IOERR, -EIO},
        {SQLITE_IOERR_READ, -EIO},
        {SQLITE_MISMATCH, -EIO},
        {SQLITE_MISUSE, -EIO},
        {SQLITE_SCHEMA, -EIO},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int err = db_errno(map[i].rc);
        if (err != map[i].err)
            fail_msg("db_errno(%d) = %d, expected %d", map[i].rc, err, map[i].err);
    }
}

/* ---- pool ---- */

struct thread_result {
    struct db_pool *pool;
    struct db *first, *second;
    long long nodes;
};

static void *pool_thread(void *arg)
{
    struct thread_result *res = arg;
    res->first = db_pool_get(res->pool);
    res->second = db_pool_get(res->pool);
    if (res->first)
        res->nodes = query_int(db_sqlite(res->first), "SELECT count(*) FROM node");
    return NULL;
}

static void test_pool(void **state)
{
    (void)state;
    char path[300];
    path_in_dir(path, sizeof(path), "pool.db");
    struct db_pool *pool = NULL;
    assert_int_equal(db_pool_create(path, &pool), 0);
    struct db *mine = db_pool_get(pool);
    assert_non_null(mine);
    assert_ptr_equal(db_pool_get(pool), mine);
    exec(mine, "INSERT INTO node (id, uuid, created_ms) VALUES (1, 'u', 1)");

    /* Another thread gets its own connection to the same database; it is
     * closed when that thread ends (the leak checker would see it if not). */
    struct thread_result res = {.pool = pool};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, pool_thread, &res), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_non_null(res.first);
    assert_ptr_equal(res.first, res.second);
    assert_ptr_not_equal(res.first, mine);
    assert_int_equal(res.nodes, 1);
    db_pool_destroy(pool);
    db_pool_destroy(NULL);

    /* A pool over a path that cannot be opened fails at once. */
    path_in_dir(path, sizeof(path), "missing-dir/pool.db");
    pool = NULL;
    assert_true(db_pool_create(path, &pool) < 0);
    assert_null(pool);
    clean_dir();
}

/* db_pool_get() gives NULL when a thread cannot open its connection (file
 * descriptors exhausted).  The agent's own threads (heartbeat, membership,
 * lifecycle, migrator, switch ports, allocator) pass what it gives straight
 * to db/: each function must then fail with an errno, not dereference NULL
 * (the old db_stmt() and db_begin() did). */
static void test_no_connection(void **state)
{
    (void)state;
    assert_null(db_sqlite(NULL));
    assert_null(db_stmt(NULL, "SELECT 1"));
    assert_int_equal(db_begin(NULL), -EIO);
    assert_int_equal(db_commit(NULL), -EIO);
    db_rollback(NULL);

    assert_true(event_record(NULL, "node", "agent", "vm.lost", "web1", NULL) < 0);
    assert_true(vm_set_state(NULL, "uuid", VM_RUNNING) < 0);
    struct vm *vms = NULL;
    size_t n = 0;
    assert_true(vm_list(NULL, &vms, &n) < 0);
    struct macpool *pools = NULL;
    assert_true(macpool_list(NULL, &pools, &n) < 0);
    struct member *members = NULL;
    assert_true(member_list(NULL, &members, &n) < 0);
    struct network_settings *nets = NULL;
    assert_true(network_list(NULL, &nets, &n) < 0);
    struct port_record *ports = NULL;
    assert_true(port_list(NULL, NULL, &ports, &n) < 0);
    struct migration m;
    assert_true(migration_get(NULL, "uuid", &m) < 0);
    assert_true(migration_count_active(NULL, MIGRATION_ROLE_SOURCE) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_memory),    cmocka_unit_test(test_open_file),
        cmocka_unit_test(test_open_file_mode), cmocka_unit_test(test_open_refused),
        cmocka_unit_test(test_stmt_cache),     cmocka_unit_test(test_stmt_cache_full),
        cmocka_unit_test(test_transactions),   cmocka_unit_test(test_commit_failure),
        cmocka_unit_test(test_busy),           cmocka_unit_test(test_errno_map),
        cmocka_unit_test(test_pool),           cmocka_unit_test(test_no_connection),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
