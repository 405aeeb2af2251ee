/* Unit tests for db/schema.c: a fresh database, an upgrade that applies only
 * the new step, a database from a newer lmnet refused untouched, a failing
 * step rolled back whole, and the embedded schema/ steps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "base/log.h"
#include "db/schema.h"

static const struct schema_step steps[] = {
    {1, "0001_a.sql", "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);"},
    {2, "0002_b.sql", "CREATE TABLE b (y TEXT);\nINSERT INTO a VALUES (2);"},
};

static int setup(void **state)
{
    log_set_level(LOG_LEVEL_ERROR);
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return -1;
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    return sqlite3_close(*state) == SQLITE_OK ? 0 : -1;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", msg ? msg : "?");
        sqlite3_free(msg);
        fail_msg("%s: %s", sql, copy);
    }
}

/* One integer from SQL. */
static long long query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long long v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

/* The names of all tables and indexes, sorted, comma-separated. */
static void object_list(sqlite3 *db, char *out, size_t size)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT type || ':' || name FROM sqlite_master "
                                        "ORDER BY type, name",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    size_t n = 0;
    out[0] = '\0';
    while (sqlite3_step(stmt) == SQLITE_ROW)
        n += (size_t)snprintf(out + n, size - n, "%s%s", n ? "," : "",
                              (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    assert_true(n < size);
}

static void test_fresh(void **state)
{
    sqlite3 *db = *state;
    assert_int_equal(schema_version(db), 0);
    assert_int_equal(schema_apply(db, steps, 2), 2);
    assert_int_equal(schema_version(db), 2);

    char objects[512];
    object_list(db, objects, sizeof(objects));
    assert_string_equal(objects, "table:a,table:b,table:schema_version");
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version WHERE version = 1 AND "
                                   "name = '0001_a.sql' AND applied_ms > 0"),
                     1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version WHERE version = 2 AND "
                                   "name = '0002_b.sql'"),
                     1);
    /* No transaction is left open. */
    assert_int_equal(sqlite3_get_autocommit(db), 1);

    /* Applying again changes nothing. */
    int changes = sqlite3_total_changes(db);
    assert_int_equal(schema_apply(db, steps, 2), 2);
    assert_int_equal(sqlite3_total_changes(db), changes);
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 2);
}

static void test_upgrade(void **state)
{
    sqlite3 *db = *state;
    assert_int_equal(schema_apply(db, steps, 1), 1);
    assert_int_equal(schema_version(db), 1);
    char objects[512];
    object_list(db, objects, sizeof(objects));
    assert_string_equal(objects, "table:a,table:schema_version");
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 1);

    /* Step 1 would fail if it ran again (table a exists): only step 2 runs. */
    assert_int_equal(schema_apply(db, steps, 2), 2);
    object_list(db, objects, sizeof(objects));
    assert_string_equal(objects, "table:a,table:b,table:schema_version");
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM a WHERE x = 1"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM a WHERE x = 2"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version"), 2);
}

static void test_gap_in_versions(void **state)
{
    sqlite3 *db = *state;
    static const struct schema_step gap[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x);"},
        {5, "0005_e.sql", "CREATE TABLE e (x);"},
    };
    assert_int_equal(schema_apply(db, gap, 2), 5);
    assert_int_equal(schema_version(db), 5);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version"), 2);
}

/* A step added later with a lower number than the database's version is
 * still applied (steps are recorded one by one, not as a high-water mark). */
static void test_filled_gap_applied(void **state)
{
    sqlite3 *db = *state;
    static const struct schema_step before[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x);"},
        {5, "0005_e.sql", "CREATE TABLE e (x);"},
    };
    static const struct schema_step after[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x);"},
        {2, "0002_b.sql", "CREATE TABLE b (x);"},
        {5, "0005_e.sql", "CREATE TABLE e (x);"},
    };
    assert_int_equal(schema_apply(db, before, 2), 5);
    assert_int_equal(schema_apply(db, after, 3), 5);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version"), 3);
    assert_int_equal(query_int(db, "SELECT count(*) FROM b"), 0);
    assert_int_equal(schema_apply(db, after, 3), 5); /* and only once */
}

static void test_newer_refused(void **state)
{
    sqlite3 *db = *state;
    static const struct schema_step future[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x);"},
        {99, "0099_future.sql", "CREATE TABLE future (x);"},
    };
    assert_int_equal(schema_apply(db, future, 2), 99);

    char before[512], after[512];
    object_list(db, before, sizeof(before));
    int changes = sqlite3_total_changes(db);

    /* Steps 1 and 2 of the test list: 2 < 99. */
    assert_int_equal(schema_apply(db, steps, 2), -EPROTO);
    object_list(db, after, sizeof(after));
    assert_string_equal(before, after);
    assert_string_equal(after, "table:a,table:future,table:schema_version");
    assert_int_equal(sqlite3_total_changes(db), changes);
    assert_int_equal(schema_version(db), 99);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version"), 2);
    assert_int_equal(sqlite3_get_autocommit(db), 1);

    /* With no steps at all, any recorded version is newer. */
    assert_int_equal(schema_apply(db, steps, 0), -EPROTO);
    assert_int_equal(sqlite3_total_changes(db), changes);
}

static void test_failing_step_rolls_back(void **state)
{
    sqlite3 *db = *state;
    static const struct schema_step bad[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x);"},
        /* The first statement works, the second fails: neither may stay. */
        {2, "0002_bad.sql", "CREATE TABLE c (z);\nINSERT INTO a VALUES (7);\nCREATE TABLE a (x);"},
        {3, "0003_never.sql", "CREATE TABLE never (x);"},
    };
    assert_int_equal(schema_apply(db, bad, 1), 1);
    char before[512], after[512];
    object_list(db, before, sizeof(before));

    int r = schema_apply(db, bad, 3);
    assert_true(r < 0);
    assert_int_not_equal(r, -EPROTO);
    object_list(db, after, sizeof(after));
    assert_string_equal(before, after);
    assert_string_equal(after, "table:a,table:schema_version");
    assert_int_equal(query_int(db, "SELECT count(*) FROM a"), 0);
    assert_int_equal(schema_version(db), 1);
    assert_int_equal(sqlite3_get_autocommit(db), 1);

    /* The database is still usable and a fixed list applies. */
    static const struct schema_step fixed[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x);"},
        {2, "0002_c.sql", "CREATE TABLE c (z);"},
    };
    assert_int_equal(schema_apply(db, fixed, 2), 2);
}

static void test_failing_first_step(void **state)
{
    sqlite3 *db = *state;
    static const struct schema_step bad[] = {
        {1, "0001_bad.sql", "CREATE TABLE a (x);\nTHIS IS NOT SQL;"},
    };
    assert_true(schema_apply(db, bad, 1) < 0);
    char objects[512];
    object_list(db, objects, sizeof(objects));
    /* Not even the schema_version table remains. */
    assert_string_equal(objects, "");
    assert_int_equal(schema_version(db), 0);
    assert_int_equal(sqlite3_get_autocommit(db), 1);
}

static void test_empty_version_table(void **state)
{
    sqlite3 *db = *state;
    exec(db, "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
             "applied_ms INTEGER NOT NULL)");
    assert_int_equal(schema_version(db), 0);
    assert_int_equal(schema_apply(db, steps, 2), 2);
    assert_int_equal(schema_apply(db, steps, 0), -EPROTO);
}

static void test_embedded_steps(void **state)
{
    sqlite3 *db = *state;
    assert_true(schema_steps_count >= 1);
    int previous = 0;
    for (size_t i = 0; i < schema_steps_count; i++) {
        const struct schema_step *s = &schema_steps[i];
        assert_true(s->version > previous);
        previous = s->version;
        /* The name is the file's, NNNN_name.sql, and carries the version. */
        int from_name = -1;
        assert_int_equal(sscanf(s->name, "%4d_", &from_name), 1);
        assert_int_equal(from_name, s->version);
        assert_non_null(strstr(s->name, ".sql"));
        assert_true(strlen(s->sql) > 0);
    }
    assert_int_equal(schema_steps[0].version, 1);

    int newest = schema_steps[schema_steps_count - 1].version;
    assert_int_equal(schema_apply(db, schema_steps, schema_steps_count), newest);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                   "name IN ('node', 'member', 'event', 'schema_version')"),
                     4);
    assert_int_equal(query_int(db, "SELECT count(*) FROM schema_version"),
                     (long long)schema_steps_count);
}

/* Every schema/NNNN_*.sql on disk is embedded (a build that passed the file
 * list to the embedding script wrongly once dropped all but the first). */
static void test_every_file_embedded(void **state)
{
    (void)state;
    const char *src = getenv("LMNET_SOURCE_DIR");
    if (!src)
        skip();
    char path[4096];
    snprintf(path, sizeof(path), "%s/schema", src);
    DIR *dir = opendir(path);
    assert_non_null(dir);
    size_t on_disk = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len > 9 && strspn(e->d_name, "0123456789") == 4 && e->d_name[4] == '_' &&
            strcmp(e->d_name + len - 4, ".sql") == 0) {
            on_disk++;
            bool found = false;
            for (size_t i = 0; i < schema_steps_count; i++)
                found |= strcmp(schema_steps[i].name, e->d_name) == 0;
            if (!found)
                fail_msg("schema/%s is not embedded", e->d_name);
        }
    }
    closedir(dir);
    assert_int_equal(on_disk, schema_steps_count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_in_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filled_gap_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_step_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_first_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_version_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embedded_steps, setup, teardown),
        cmocka_unit_test(test_every_file_embedded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
