/* Unit tests for db/node.c: the node id is a random UUID, created once and
 * the same ever after, also across reopening the database. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "base/log.h"
#include "db/node.h"

static long long count_rows(struct db *db)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db_sqlite(db), "SELECT count(*) FROM node", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long long n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

static void assert_uuid4(const char *id)
{
    assert_int_equal(strlen(id), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(id[i], '-');
        else
            assert_true(isxdigit((unsigned char)id[i]) && !isupper((unsigned char)id[i]));
    }
    assert_int_equal(id[14], '4');           /* random (version 4) */
    assert_non_null(strchr("89ab", id[19])); /* RFC 4122 variant */
    uuid_t parsed;
    assert_int_equal(uuid_parse(id, parsed), 0);
}

static void test_created_once(void **state)
{
    (void)state;
    log_set_level(LOG_LEVEL_ERROR);
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    assert_int_equal(count_rows(db), 0);

    char first[37], again[37];
    memset(first, 'x', sizeof(first));
    assert_int_equal(node_id_load(db, first), 0);
    assert_uuid4(first);
    assert_int_equal(count_rows(db), 1);
    assert_int_equal(sqlite3_get_autocommit(db_sqlite(db)), 1);

    for (int i = 0; i < 3; i++) {
        memset(again, 'y', sizeof(again));
        assert_int_equal(node_id_load(db, again), 0);
        assert_string_equal(again, first);
    }
    assert_int_equal(count_rows(db), 1);
    db_close(db);

    /* Another database gets another id. */
    assert_int_equal(db_open(":memory:", &db), 0);
    assert_int_equal(node_id_load(db, again), 0);
    assert_string_not_equal(again, first);
    db_close(db);
}

static void test_kept_across_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/lmnet-test-node-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof(path), "%s/agent.db", dir);

    struct db *db = NULL;
    char first[37], again[37];
    assert_int_equal(db_open(path, &db), 0);
    assert_int_equal(node_id_load(db, first), 0);
    db_close(db);

    db = NULL;
    assert_int_equal(db_open(path, &db), 0);
    assert_int_equal(node_id_load(db, again), 0);
    assert_string_equal(again, first);
    assert_int_equal(count_rows(db), 1);
    db_close(db);

    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char file[320];
        snprintf(file, sizeof(file), "%s%s", path, suffixes[i]);
        unlink(file);
    }
    assert_int_equal(rmdir(dir), 0);
}

static void test_existing_row_wins(void **state)
{
    (void)state;
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    assert_int_equal(sqlite3_exec(db_sqlite(db),
                                  "INSERT INTO node (id, uuid, created_ms) VALUES "
                                  "(1, '0b7e5c1a-1111-4222-8333-944455556666', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    char id[37];
    assert_int_equal(node_id_load(db, id), 0);
    assert_string_equal(id, "0b7e5c1a-1111-4222-8333-944455556666");
    assert_int_equal(count_rows(db), 1);
    db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_created_once),
        cmocka_unit_test(test_kept_across_reopen),
        cmocka_unit_test(test_existing_row_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
