/* db/macpool.c: pool validation and overlaps, block bookkeeping at the
 * registry, allocation inside blocks (cursor, exhaustion, requested
 * addresses, idempotency keys, single claims of other nodes skipped), and
 * allocation when SQLite is busy (nothing changes, a retry works). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "db/macpool.h"

#define NODE_A "aaaaaaaa-0000-4000-8000-00000000000a"
#define NODE_B "bbbbbbbb-0000-4000-8000-00000000000b"

static int setup(void **state)
{
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    db_close(*state);
    return 0;
}

static int pool_from(const char *text, struct macpool *pool, char *pointer, char *detail)
{
    struct json_object *o = json_tokener_parse(text);
    int r = macpool_from_json(o, pool, pointer, 64, detail, 256);
    json_object_put(o);
    return r;
}

static void make_pool(struct db *db, const char *text)
{
    struct macpool pool;
    char pointer[64], detail[256];
    assert_int_equal(pool_from(text, &pool, pointer, detail), 0);
    assert_int_equal(macpool_insert(db, &pool, NULL), 0);
}

static const struct mac_holder holder_a = { "vm1", "eth0", NODE_A, "ops" };

static void test_pool_json_refusals(void **state)
{
    (void)state;
    struct {
        const char *text, *pointer;
    } cases[] = {
        { "{\"ranges\":[]}", "/name" },
        { "{\"name\":\"dynamic\",\"ranges\":[]}", "/name" },
        { "{\"name\":\"p\"}", "/ranges" },
        { "{\"name\":\"p\",\"ranges\":[{\"start\":\"00:1d:d8:00:00:00\"}]}", "/ranges/0/end" },
        { "{\"name\":\"p\",\"ranges\":[{\"start\":\"zz\",\"end\":\"00:1d:d8:00:00:ff\"}]}",
          "/ranges/0/start" },
        { "{\"name\":\"p\",\"ranges\":[{\"start\":\"01:00:5e:00:00:00\",\"end\":\"01:00:5e:00:00:ff\"}]}",
          "/ranges/0" },
        { "{\"name\":\"p\",\"ranges\":[{\"start\":\"00:1d:d8:00:00:ff\",\"end\":\"00:1d:d8:00:00:00\"}]}",
          "/ranges/0" },
        { "{\"name\":\"p\",\"ranges\":[{\"start\":\"00:1d:d8:00:00:00\",\"end\":\"00:1d:d8:00:00:ff\"},"
          "{\"start\":\"00:1d:d8:00:00:80\",\"end\":\"00:1d:d8:00:01:ff\"}]}",
          "/ranges/1" },
        { "{\"name\":\"p\",\"block_size\":0,\"ranges\":[{\"start\":\"00:1d:d8:00:00:00\",\"end\":\"00:1d:d8:00:00:ff\"}]}",
          "/block_size" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct macpool pool;
        char pointer[64] = "", detail[256] = "";
        assert_int_equal(pool_from(cases[i].text, &pool, pointer, detail), -EINVAL);
        assert_string_equal(pointer, cases[i].pointer);
        assert_true(strlen(detail) > 5);
    }
}

static void test_overlap_between_pools(void **state)
{
    struct db *db = *state;
    make_pool(db, "{\"name\":\"a\",\"ranges\":[{\"start\":\"00:1d:d8:b7:1c:00\",\"end\":\"00:1d:d8:f4:1f:ff\"}]}");
    struct macpool pool;
    char pointer[64], detail[256], clash[64] = "";
    assert_int_equal(pool_from("{\"name\":\"b\",\"ranges\":[{\"start\":\"00-1d-d8-f4-1f-ff\",\"end\":\"001dd8f42000\"}]}",
                               &pool, pointer, detail),
                     0);
    assert_int_equal(macpool_insert(db, &pool, clash), -EADDRINUSE);
    assert_string_equal(clash, "a");
    struct macpool *list;
    size_t n;
    assert_int_equal(macpool_list(db, &list, &n), 0);
    assert_int_equal(n, 1); /* nothing half-written */
    free(list);
    pool.ranges[0].start = UINT64_C(0x001dd8f42000);
    assert_int_equal(macpool_insert(db, &pool, clash), 0);
    assert_int_equal(macpool_insert(db, &pool, clash), -EEXIST);
}

static void test_oui_pool_blocks_in_order(void **state)
{
    struct db *db = *state;
    make_pool(db, "{\"name\":\"oui\",\"ranges\":[{\"start\":\"00:1d:d8:00:00:00\",\"end\":\"00:1d:d8:ff:ff:ff\"}]}");
    struct macpool pool;
    assert_int_equal(macpool_get(db, "oui", &pool), 0);
    struct json_object *o = macpool_to_json(&pool, 0);
    assert_int_equal(json_object_get_int64(json_object_object_get(o, "size")), 16777216);
    json_object_put(o);
    struct mac_block b1, b2;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n_reserved;
    assert_int_equal(macpool_claim_block(db, "oui", NODE_A, &b1, reserved, &n_reserved), 0);
    assert_int_equal(macpool_claim_block(db, "oui", NODE_B, &b2, reserved, &n_reserved), 0);
    assert_true(b1.start == UINT64_C(0x001dd8000000) && b1.end == UINT64_C(0x001dd800003f));
    assert_true(b2.start == b1.end + 1);
    assert_true(macpool_owns(db, "oui", NODE_A, b1.start + 5));
    assert_false(macpool_owns(db, "oui", NODE_B, b1.start + 5));
    assert_int_equal(macpool_claim_block(db, "nope", NODE_A, &b1, reserved, &n_reserved), -ENOENT);
}

static void test_allocate_cursor_moves_on(void **state)
{
    struct db *db = *state;
    make_pool(db, "{\"name\":\"p\",\"block_size\":4,\"ranges\":[{\"start\":\"00:1d:d8:00:00:00\",\"end\":\"00:1d:d8:00:00:05\"}]}");
    struct mac_block b;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n_reserved;
    struct mac_allocation a;
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), -ENOSPC);
    assert_int_equal(macpool_claim_block(db, "p", NODE_A, &b, reserved, &n_reserved), 0);
    uint64_t first;
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), 0);
    first = a.mac;
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), 0);
    assert_true(a.mac == first + 1);
    /* Released, then not handed out again at once. */
    assert_int_equal(macpool_release(db, "p", first, NULL), 0);
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), 0);
    assert_true(a.mac == first + 2);
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), 0);
    assert_true(a.mac == first + 3);
    /* Only now, wrapping, the released one comes back. */
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), 0);
    assert_true(a.mac == first);
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), -ENOSPC);
    assert_false(macpool_has_room(db, "p", NODE_A)); /* the 'full' mark outlives -ENOSPC */
    /* The last, short block (2 addresses), then the pool is exhausted. */
    assert_int_equal(macpool_claim_block(db, "p", NODE_A, &b, reserved, &n_reserved), 0);
    assert_true(b.end - b.start == 1);
    assert_true(macpool_has_room(db, "p", NODE_A));
    assert_int_equal(macpool_claim_block(db, "p", NODE_A, &b, reserved, &n_reserved), -ENOSPC);
    assert_int_equal(macpool_count_allocated(db, "p"), 4);
    assert_int_equal(macpool_release(db, "p", UINT64_C(0x001dd8000009), NULL), -ENOENT);
}

static void test_requested_and_idempotent(void **state)
{
    struct db *db = *state;
    make_pool(db, "{\"name\":\"p\",\"ranges\":[{\"start\":\"00:1d:d8:00:00:00\",\"end\":\"00:1d:d8:00:ff:ff\"}]}");
    char holder[37] = "";
    uint64_t wanted = UINT64_C(0x001dd8000100);
    /* B claims a single address ahead of the block frontier... */
    assert_int_equal(macpool_claim_address(db, "p", wanted, NODE_B, holder), 0);
    assert_int_equal(macpool_claim_address(db, "p", wanted, NODE_B, holder), 0);
    assert_int_equal(macpool_claim_address(db, "p", wanted, NODE_A, holder), -EEXIST);
    assert_string_equal(holder, NODE_B);
    struct mac_allocation a, again;
    struct mac_holder hb = { "vm9", "eth0", NODE_B, "ops" };
    assert_int_equal(macpool_allocate_at(db, "p", wanted, &hb, "key-1", &a), 0);
    assert_int_equal(macpool_allocate_at(db, "p", wanted, &holder_a, NULL, &again), -EEXIST);
    assert_string_equal(again.holder.vm, "vm9");
    assert_int_equal(macpool_find_key(db, "key-1", &again), 0);
    assert_true(again.mac == wanted);
    /* ...then A's block that covers it skips it. */
    struct mac_block b;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n_reserved;
    for (int i = 0; i < 5; i++)
        assert_int_equal(macpool_claim_block(db, "p", NODE_A, &b, reserved, &n_reserved), 0);
    assert_true(b.start == UINT64_C(0x001dd8000100));
    assert_int_equal(n_reserved, 1);
    assert_true(reserved[0] == wanted);
    /* Outside every range is honoured too, and still unique. */
    assert_int_equal(macpool_claim_address(db, "p", UINT64_C(0x02aabbccddee), NODE_A, holder), 0);
    assert_int_equal(macpool_claim_address(db, "p", UINT64_C(0x02aabbccddee), NODE_B, holder), -EEXIST);
}

static void test_reserved_skipped_on_other_agent(void **state)
{
    struct db *db = *state;
    /* An agent's own copy: the pool, its block, and an address in it that
     * another node holds. */
    make_pool(db, "{\"name\":\"p\",\"block_size\":4,\"ranges\":[{\"start\":\"00:1d:d8:00:00:00\",\"end\":\"00:1d:d8:00:00:ff\"}]}");
    struct mac_block b = { .start = UINT64_C(0x001dd8000000), .end = UINT64_C(0x001dd8000003) };
    snprintf(b.owner, sizeof(b.owner), NODE_A);
    uint64_t reserved[] = { UINT64_C(0x001dd8000001) };
    assert_int_equal(macpool_add_block(db, "p", &b, reserved, 1), 0);
    assert_int_equal(macpool_add_block(db, "p", &b, reserved, 1), 0); /* idempotent */
    struct mac_allocation a;
    uint64_t got[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), 0);
        got[i] = a.mac;
    }
    assert_true(got[0] == b.start && got[1] == b.start + 2 && got[2] == b.start + 3);
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), -ENOSPC);
}

static void test_dynamic_pool(void **state)
{
    struct db *db = *state;
    struct mac_range range = macpool_dynamic_default(10, 7);
    assert_int_equal(macpool_ensure_dynamic(db, NODE_A, &range), 0);
    assert_int_equal(macpool_ensure_dynamic(db, NODE_A, &range), 0);
    struct mac_range huge = { 0, 70000 }, group = { UINT64_C(0x010000000000), UINT64_C(0x0100000000ff) };
    assert_int_equal(macpool_ensure_dynamic(db, NODE_B, &huge), -EINVAL);
    assert_int_equal(macpool_ensure_dynamic(db, NODE_B, &group), -EINVAL);
    struct mac_allocation a;
    assert_int_equal(macpool_allocate_next(db, MACPOOL_DYNAMIC_NAME, NODE_A, &holder_a, NULL, &a), 0);
    char mac[MAC_STRING_SIZE];
    assert_string_equal(mac_format(a.mac, mac), "00:15:5d:0a:07:00");
}

static void test_busy_changes_nothing(void **state)
{
    (void)state;
    char path[] = "/tmp/lmnet-test-macpool-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct db *db1 = NULL, *db2 = NULL;
    assert_int_equal(db_open(path, &db1), 0);
    assert_int_equal(db_open(path, &db2), 0);
    make_pool(db1, "{\"name\":\"p\",\"ranges\":[{\"start\":\"00:1d:d8:00:00:00\",\"end\":\"00:1d:d8:00:00:ff\"}]}");
    struct mac_block b;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n_reserved;
    assert_int_equal(macpool_claim_block(db1, "p", NODE_A, &b, reserved, &n_reserved), 0);
    sqlite3_busy_timeout(db_sqlite(db1), 50);
    assert_int_equal(db_begin(db2), 0); /* another writer holds the lock */
    struct mac_allocation a;
    assert_int_equal(macpool_allocate_next(db1, "p", NODE_A, &holder_a, "k", &a), -EBUSY);
    assert_int_equal(macpool_allocate_at(db1, "p", b.start + 9, &holder_a, NULL, &a), -EBUSY);
    db_rollback(db2);
    assert_int_equal(macpool_count_allocated(db1, "p"), 0);
    assert_int_equal(macpool_find_key(db1, "k", &a), -ENOENT);
    /* The retry gets the address the busy attempt would have had. */
    assert_int_equal(macpool_allocate_next(db1, "p", NODE_A, &holder_a, "k", &a), 0);
    assert_true(a.mac == b.start);
    db_close(db1);
    db_close(db2);
    char side[64];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

/* Issue 17: a claim takes fresh space above the highest block first, and
 * only then the gap a returned block left (its addresses are not handed out
 * again at once); -ENOSPC only when neither is left. */
static void test_claim_fresh_then_gaps(void **state)
{
    struct db *db = *state;
    make_pool(db, "{\"name\":\"p\",\"block_size\":4,\"ranges\":[{\"start\":\"02:00:00:00:00:00\","
                  "\"end\":\"02:00:00:00:00:0b\"}]}");
    struct mac_block b1, b2, b3, again;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n = 0;
    assert_int_equal(macpool_claim_block(db, "p", NODE_A, &b1, reserved, &n), 0);
    assert_int_equal(macpool_claim_block(db, "p", NODE_B, &b2, reserved, &n), 0);
    assert_int_equal(macpool_release_block(db, "p", NODE_A, &b1), 0);
    /* Fresh space is left above b2: the gap at b1 waits. */
    assert_int_equal(macpool_claim_block(db, "p", NODE_B, &b3, reserved, &n), 0);
    assert_int_equal(b3.start, UINT64_C(0x020000000008));
    /* Now only the gap is left: it is claimed again, whole. */
    assert_int_equal(macpool_claim_block(db, "p", NODE_B, &again, reserved, &n), 0);
    assert_int_equal(again.start, b1.start);
    assert_int_equal(again.end, b1.end);
    assert_int_equal(macpool_claim_block(db, "p", NODE_B, &again, reserved, &n), -ENOSPC);
}

/* macpool_empty_block: only a block with nothing allocated in it, and with
 * FORGET it leaves this database (with the other nodes' claims noted in it). */
static void test_empty_block(void **state)
{
    struct db *db = *state;
    make_pool(db, "{\"name\":\"p\",\"block_size\":4,\"ranges\":[{\"start\":\"02:00:00:00:00:00\","
                  "\"end\":\"02:00:00:00:00:0b\"}]}");
    struct mac_block b = { .start = UINT64_C(0x020000000000), .end = UINT64_C(0x020000000003) };
    snprintf(b.owner, sizeof(b.owner), "%s", NODE_A);
    uint64_t elsewhere = UINT64_C(0x020000000002);
    assert_int_equal(macpool_add_block(db, "p", &b, &elsewhere, 1), 0);
    struct mac_allocation a;
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), 0);
    struct mac_block out;
    assert_int_equal(macpool_empty_block(db, "p", NODE_A, a.mac, true, &out), 0); /* in use */
    assert_int_equal(macpool_empty_block(db, "p", NODE_B, a.mac, true, &out), 0); /* not B's */
    assert_int_equal(macpool_release(db, "p", a.mac, NULL), 0);
    assert_int_equal(macpool_empty_block(db, "p", NODE_A, a.mac, false, &out), 1);
    assert_true(macpool_owns(db, "p", NODE_A, a.mac)); /* without FORGET it stays */
    assert_int_equal(macpool_empty_block(db, "p", NODE_A, a.mac, true, &out), 1);
    assert_int_equal(out.start, b.start);
    assert_int_equal(out.end, b.end);
    assert_false(out.single);
    assert_false(macpool_owns(db, "p", NODE_A, a.mac));
    struct mac_block *blocks = NULL;
    size_t n = 0;
    assert_int_equal(macpool_blocks(db, "p", NULL, &blocks, &n), 0);
    assert_int_equal(n, 0); /* the 'elsewhere' note went with it */
    free(blocks);
    assert_int_equal(macpool_allocate_next(db, "p", NODE_A, &holder_a, NULL, &a), -ENOSPC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_json_refusals),
        cmocka_unit_test_setup_teardown(test_overlap_between_pools, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oui_pool_blocks_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_cursor_moves_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requested_and_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_skipped_on_other_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dynamic_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_fresh_then_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_block, setup, teardown),
        cmocka_unit_test(test_busy_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
