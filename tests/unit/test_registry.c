/* agent/registry.c and agent/registry_self.c: the choice of implementation
 * from the 'registry' setting, and the SQLite registry's block claims,
 * single-address claims, block release (refused while an address in the
 * block is allocated, or for another node's block) and membership. */
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
#include "agent/agent.h"
#include "agent/allocator.h"
#include "agent/config.h"
#include "agent/registry.h"
#include "db/db.h"
#include "db/node.h"

#define NODE_B "bbbbbbbb-0000-4000-8000-00000000000b"

struct fixture {
    char dbpath[64];
    struct agent agent;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dbpath, sizeof(f->dbpath), "/tmp/lmnet-test-registry-XXXXXX");
    int fd = mkstemp(f->dbpath);
    assert_true(fd >= 0);
    close(fd);
    unlink(f->dbpath);
    assert_int_equal(config_init(&f->agent.config), 0);
    assert_int_equal(db_pool_create(f->dbpath, &f->agent.db), 0);
    assert_int_equal(node_id_load(db_pool_get(f->agent.db), f->agent.node_id), 0);
    assert_int_equal(registry_create(&f->agent, &f->agent.registry), 0);
    struct json_object *o = json_tokener_parse(
        "{\"name\":\"fleet\",\"block_size\":4,"
        "\"ranges\":[{\"start\":\"02:00:00:00:00:00\",\"end\":\"02:00:00:00:00:07\"}]}");
    struct macpool pool;
    char pointer[64], detail[256];
    assert_int_equal(macpool_from_json(o, &pool, pointer, sizeof(pointer), detail, sizeof(detail)),
                     0);
    json_object_put(o);
    assert_int_equal(macpool_insert(db_pool_get(f->agent.db), &pool, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    registry_destroy(f->agent.registry);
    db_pool_destroy(f->agent.db);
    config_release(&f->agent.config);
    char path[80];
    unlink(f->dbpath);
    snprintf(path, sizeof(path), "%s-wal", f->dbpath);
    unlink(path);
    snprintf(path, sizeof(path), "%s-shm", f->dbpath);
    unlink(path);
    free(f);
    return 0;
}

static void test_setting_picks_implementation(void **state)
{
    struct fixture *f = *state;
    assert_true(registry_is_self(f->agent.registry));
    struct agent other = f->agent;
    struct registry *r = NULL;
    other.config.registry = "http://192.0.2.1:8470";
    assert_int_equal(registry_create(&other, &r), 0);
    assert_false(registry_is_self(r));
    assert_string_equal(r->ops->name, "agent");
    /* The agent registry takes blocks back with this member's credential:
     * with none yet (not joined) a clear refusal, and the block stays. */
    struct mac_block b = {0};
    struct refusal err;
    assert_int_equal(registry_release_block(r, "fleet", NODE_B, &b, "t", &err), -EACCES);
    assert_int_equal(err.kind, REFUSAL_UNAVAILABLE);
    assert_string_equal(err.type, "not-joined");
    registry_destroy(r);
    other.config.registry = "ftp://192.0.2.1";
    assert_int_equal(registry_create(&other, &r), -EINVAL);
    registry_destroy(NULL);
}

static void test_claims_and_release(void **state)
{
    struct fixture *f = *state;
    struct registry *reg = f->agent.registry;
    struct refusal err;
    struct mac_block a, b, single;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n = 0;
    assert_int_equal(registry_claim_block(reg, "fleet", NODE_B, "t", &a, reserved, &n, &err), 0);
    assert_int_equal(a.start, UINT64_C(0x020000000000));
    assert_int_equal(a.end, UINT64_C(0x020000000003));
    assert_string_equal(a.owner, NODE_B);
    /* Another node cannot claim an address inside NODE_B's block. */
    assert_int_equal(registry_claim_address(reg, "fleet", f->agent.node_id,
                                            UINT64_C(0x020000000001), "t", &single, &err),
                     -EEXIST);
    assert_int_equal(err.kind, REFUSAL_CONFLICT);
    assert_string_equal(err.type, "mac-in-use");
    /* Outside the ranges: honoured as a single claim. */
    assert_int_equal(registry_claim_address(reg, "fleet", f->agent.node_id,
                                            UINT64_C(0x020000000100), "t", &single, &err),
                     0);
    assert_true(single.single);
    assert_int_equal(
        registry_claim_block(reg, "fleet", f->agent.node_id, "t", &b, reserved, &n, &err), 0);
    assert_int_equal(b.start, UINT64_C(0x020000000004));
    assert_int_equal(registry_claim_block(reg, "fleet", NODE_B, "t", &a, reserved, &n, &err),
                     -ENOSPC);
    assert_string_equal(err.type, "mac-pool-exhausted");
    assert_int_equal(registry_claim_block(reg, "nope", NODE_B, "t", &a, reserved, &n, &err),
                     -ENOENT);
    assert_int_equal(err.kind, REFUSAL_NOT_FOUND);

    /* Release: not NODE_B's block; then busy while allocated; then free. */
    assert_int_equal(registry_release_block(reg, "fleet", NODE_B, &b, "t", &err), -ENOENT);
    struct allocation_request rq = {.has_mac = false};
    snprintf(rq.vm, sizeof(rq.vm), "vm1");
    struct mac_allocation out;
    struct refusal aerr;
    assert_int_equal(allocator_allocate(&f->agent, "fleet", &rq, "t", &out, &aerr), 1);
    assert_true(out.mac >= b.start && out.mac <= b.end);
    assert_int_equal(registry_release_block(reg, "fleet", f->agent.node_id, &b, "t", &err),
                     -ENOTEMPTY);
    assert_int_equal(err.kind, REFUSAL_CONFLICT);
    /* Releasing the last address gives the block back by itself. */
    assert_int_equal(allocator_release(&f->agent, "fleet", out.mac, "t", &aerr), 0);
    assert_int_equal(registry_release_block(reg, "fleet", f->agent.node_id, &b, "t", &err),
                     -ENOENT);
    struct mac_block *blocks = NULL;
    size_t n_blocks = 0;
    assert_int_equal(
        macpool_blocks(db_pool_get(f->agent.db), "fleet", f->agent.node_id, &blocks, &n_blocks), 0);
    for (size_t i = 0; i < n_blocks; i++)
        assert_true(blocks[i].single); /* only the single claim is left */
    free(blocks);
}

static size_t count_blocks(struct fixture *f, const char *owner, bool single)
{
    struct mac_block *blocks = NULL;
    size_t n = 0, k = 0;
    assert_int_equal(macpool_blocks(db_pool_get(f->agent.db), "fleet", owner, &blocks, &n), 0);
    for (size_t i = 0; i < n; i++)
        k += blocks[i].single == single;
    free(blocks);
    return k;
}

/* Issue 17: a block goes back when its last address is released, a gap is
 * claimed again once the pool has no fresh space, and a requested address
 * (a single claim) goes back too; the pool can then be deleted. */
static void test_empty_block_goes_back(void **state)
{
    struct fixture *f = *state;
    struct registry *reg = f->agent.registry;
    struct refusal err;
    struct refusal aerr;
    struct mac_block a;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n = 0;
    struct allocation_request rq = {.has_mac = false};
    snprintf(rq.vm, sizeof(rq.vm), "vm1");
    struct mac_allocation one, two;
    /* This node's first block, 02:..:00-03: two addresses from it. */
    assert_int_equal(allocator_allocate(&f->agent, "fleet", &rq, "t", &one, &aerr), 1);
    assert_int_equal(allocator_allocate(&f->agent, "fleet", &rq, "t", &two, &aerr), 1);
    assert_int_equal(one.mac, UINT64_C(0x020000000000));
    assert_int_equal(count_blocks(f, f->agent.node_id, false), 1);
    /* The other node takes the rest: the pool is exhausted. */
    assert_int_equal(registry_claim_block(reg, "fleet", NODE_B, "t", &a, reserved, &n, &err), 0);
    assert_int_equal(a.start, UINT64_C(0x020000000004));
    assert_int_equal(registry_claim_block(reg, "fleet", NODE_B, "t", &a, reserved, &n, &err),
                     -ENOSPC);
    /* One address released: the block stays (the other is allocated). */
    assert_int_equal(allocator_release(&f->agent, "fleet", one.mac, "t", &aerr), 0);
    assert_int_equal(count_blocks(f, f->agent.node_id, false), 1);
    /* The last one: the block goes back, and NODE_B can claim the gap. */
    assert_int_equal(allocator_release(&f->agent, "fleet", two.mac, "t", &aerr), 0);
    assert_int_equal(count_blocks(f, f->agent.node_id, false), 0);
    assert_int_equal(registry_claim_block(reg, "fleet", NODE_B, "t", &a, reserved, &n, &err), 0);
    assert_int_equal(a.start, UINT64_C(0x020000000000));
    assert_int_equal(a.end, UINT64_C(0x020000000003));
    assert_int_equal(registry_release_block(reg, "fleet", NODE_B, &a, "t", &err), 0);
    /* A requested address outside the ranges is a single claim; its
     * release gives the claim back as well. */
    struct allocation_request at = {.has_mac = true, .mac = UINT64_C(0x020000000100)};
    snprintf(at.vm, sizeof(at.vm), "vm2");
    assert_int_equal(allocator_allocate(&f->agent, "fleet", &at, "t", &one, &aerr), 1);
    assert_int_equal(count_blocks(f, f->agent.node_id, true), 1);
    assert_int_equal(allocator_release(&f->agent, "fleet", one.mac, "t", &aerr), 0);
    assert_int_equal(count_blocks(f, f->agent.node_id, true), 0);
    /* Only NODE_B's block 04-07 is left; once it goes, nothing holds the pool. */
    a.start = UINT64_C(0x020000000004);
    a.single = false;
    assert_int_equal(registry_release_block(reg, "fleet", NODE_B, &a, "t", &err), 0);
    assert_int_equal(count_blocks(f, NULL, false) + count_blocks(f, NULL, true), 0);
    assert_int_equal(macpool_delete(db_pool_get(f->agent.db), "fleet"), 0);
}

/* Empty blocks a release could not give back (or emptied by an older
 * lmnetd) go back in the sweep: only this node's, only empty ones, only
 * those claimed long enough ago. */
static void test_sweep_gives_back_empty(void **state)
{
    struct fixture *f = *state;
    struct registry *reg = f->agent.registry;
    struct refusal err;
    struct mac_block mine, other;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n = 0;
    assert_int_equal(
        registry_claim_block(reg, "fleet", f->agent.node_id, "t", &mine, reserved, &n, &err), 0);
    assert_int_equal(registry_claim_block(reg, "fleet", NODE_B, "t", &other, reserved, &n, &err),
                     0);
    assert_int_equal(allocator_give_back_empty(&f->agent, 3600 * 1000), 0); /* too fresh */
    assert_int_equal(count_blocks(f, f->agent.node_id, false), 1);
    struct allocation_request rq = {.has_mac = false};
    struct mac_allocation out;
    struct refusal aerr;
    assert_int_equal(allocator_allocate(&f->agent, "fleet", &rq, "t", &out, &aerr), 1);
    assert_int_equal(allocator_give_back_empty(&f->agent, 0), 0); /* in use */
    assert_int_equal(macpool_release(db_pool_get(f->agent.db), "fleet", out.mac, NULL), 0);
    assert_int_equal(allocator_give_back_empty(&f->agent, 0), 1);
    assert_int_equal(count_blocks(f, f->agent.node_id, false), 0);
    assert_int_equal(count_blocks(f, NODE_B, false), 1); /* another node's stays */
}

/* The dynamic pool's block is the host's own: it never goes back. */
static void test_dynamic_block_stays(void **state)
{
    struct fixture *f = *state;
    struct allocation_request rq = {.has_mac = false};
    struct mac_allocation out;
    struct refusal aerr;
    assert_int_equal(allocator_allocate(&f->agent, "dynamic", &rq, "t", &out, &aerr), 1);
    assert_int_equal(allocator_release(&f->agent, "dynamic", out.mac, "t", &aerr), 0);
    struct mac_block *blocks = NULL;
    size_t n = 0;
    assert_int_equal(macpool_blocks(db_pool_get(f->agent.db), "dynamic", NULL, &blocks, &n), 0);
    assert_int_equal(n, 1);
    free(blocks);
}

static void test_pool_get(void **state)
{
    struct fixture *f = *state;
    struct macpool p;
    struct refusal err;
    assert_int_equal(registry_pool_get(f->agent.registry, "fleet", &p, &err), 0);
    assert_int_equal(p.block_size, 4);
    assert_int_equal(registry_pool_get(f->agent.registry, "other", &p, &err), -ENOENT);
    assert_int_equal(err.kind, REFUSAL_NOT_FOUND);
}

static void test_join_and_members(void **state)
{
    struct fixture *f = *state;
    struct registry_join join = {.credential = NULL};
    snprintf(join.node, sizeof(join.node), "%s", f->agent.node_id);
    snprintf(join.name, sizeof(join.name), "h1");
    snprintf(join.url, sizeof(join.url), "http://192.0.2.1:8470");
    struct refusal err;
    assert_int_equal(registry_join(f->agent.registry, &join, &err), 0);
    assert_int_equal(registry_join(f->agent.registry, &join, &err), 0); /* repeat: harmless */
    struct member *members = NULL;
    size_t n = 0;
    assert_int_equal(registry_members(f->agent.registry, &members, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(members[0].uuid, f->agent.node_id);
    assert_true(members[0].registry);
    free(members);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_setting_picks_implementation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_block_goes_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dynamic_block_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_gives_back_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_and_members, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
