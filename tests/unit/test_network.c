/* model/network.c and db/network.c: subnet grouping, naming that survives
 * restarts, the state rules, the automatic metric, the view and its JSON. */
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
#include "model/network.h"
#include "db/db.h"
#include "db/network.h"

static struct network_endpoint ep(const char *node, const char *nic, const char *address, unsigned prefix)
{
    struct network_endpoint e;
    memset(&e, 0, sizeof(e));
    snprintf(e.node, sizeof(e.node), "%s", node);
    snprintf(e.node_name, sizeof(e.node_name), "host-%c", node[35]);
    snprintf(e.nic, sizeof(e.nic), "%s", nic);
    snprintf(e.address, sizeof(e.address), "%s", address);
    e.prefix = prefix;
    e.speed_mbps = 10000;
    for (int k = 0; k < NIC_OFFLOAD_COUNT; k++)
        e.offloads[k] = 1;
    return e;
}

#define N1 "00000000-0000-0000-0000-000000000001"
#define N2 "00000000-0000-0000-0000-000000000002"
#define N3 "00000000-0000-0000-0000-000000000003"

static void test_discover_groups_subnets(void **state)
{
    (void)state;
    struct network_endpoint eps[] = {
        ep(N1, "eth-mgmt", "10.77.0.1", 24), ep(N1, "eth-mig", "10.78.0.1", 24),
        ep(N2, "eth-mgmt", "10.77.0.2", 24), ep(N2, "eth-mig", "10.78.0.2", 24),
        ep(N2, "lo", "127.0.0.1", 8),        ep(N2, "eth-mig", "fe80::1", 64),
        ep(N3, "vip", "10.99.0.5", 32),      ep(N3, "eth-sto", "fd00:79::3", 64),
    };
    const char *mgmt[] = { "10.77.0.1", "10.77.0.2" };
    struct network_settings *added = NULL;
    size_t n = 0;
    assert_int_equal(network_discover(eps, 8, NULL, 0, mgmt, 2, &added, &n), 0);
    assert_int_equal(n, 3); /* loopback, link-local and /32 are no networks */
    assert_string_equal(added[0].subnet.address, "10.77.0.0");
    assert_string_equal(added[0].name, "Cluster Network 1");
    assert_int_equal(added[0].role, NETWORK_ROLE_MANAGEMENT);
    assert_string_equal(added[1].subnet.address, "10.78.0.0");
    assert_string_equal(added[1].name, "Cluster Network 2");
    assert_int_equal(added[1].role, NETWORK_ROLE_NONE);
    assert_string_equal(added[2].subnet.address, "fd00:79::");
    assert_int_equal(added[2].number, 3);
    assert_true(added[2].auto_metric);
    assert_int_equal(strlen(added[0].id), 36);
    assert_string_not_equal(added[0].id, added[1].id);
    free(added);
}

static void test_discover_keeps_known_and_skips_taken_names(void **state)
{
    (void)state;
    struct network_endpoint eps[] = { ep(N1, "a", "10.1.0.1", 24), ep(N1, "b", "10.2.0.1", 24),
                                      ep(N2, "b", "10.2.0.2", 24) };
    struct network_settings known[1];
    memset(known, 0, sizeof(known));
    assert_int_equal(subnet_of("10.1.0.0", 24, &known[0].subnet), 0);
    known[0].number = 1;
    snprintf(known[0].name, sizeof(known[0].name), "cluster network 2"); /* renamed, any case */
    struct network_settings *added = NULL;
    size_t n = 0;
    assert_int_equal(network_discover(eps, 3, known, 1, NULL, 0, &added, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(added[0].subnet.address, "10.2.0.0");
    assert_int_equal(added[0].number, 3); /* 1 used, "Cluster Network 2" taken */
    assert_string_equal(added[0].name, "Cluster Network 3");
    free(added);
}

/* Discovers and stores ENDPOINTS the way the registry does. */
static void discover_into(struct db *db, const struct network_endpoint *eps, size_t n_eps)
{
    struct network_settings *known = NULL, *added = NULL;
    size_t n_known = 0, n_added = 0;
    assert_int_equal(network_list(db, &known, &n_known), 0);
    assert_int_equal(network_discover(eps, n_eps, known, n_known, NULL, 0, &added, &n_added), 0);
    for (size_t i = 0; i < n_added; i++)
        assert_int_equal(network_insert(db, &added[i]), 0);
    free(known);
    free(added);
}

static void test_names_survive_restart(void **state)
{
    (void)state;
    char path[] = "/tmp/lmnet-test-network-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct network_endpoint first[] = { ep(N1, "a", "10.1.0.1", 24), ep(N1, "b", "10.2.0.1", 24),
                                        ep(N1, "c", "10.3.0.1", 24) };
    struct db *db = NULL;
    assert_int_equal(db_open(path, &db), 0);
    discover_into(db, first, 3);
    struct network_settings *before = NULL;
    size_t n_before = 0;
    assert_int_equal(network_list(db, &before, &n_before), 0);
    assert_int_equal(n_before, 3);
    before[1].role = NETWORK_ROLE_MIGRATION;
    snprintf(before[1].name, sizeof(before[1].name), "Migration");
    assert_int_equal(network_update(db, &before[1]), 0);
    db_close(db);

    /* After a restart the members report in another order, one subnet is
     * gone and a new one appears. */
    struct network_endpoint second[] = { ep(N2, "x", "10.4.0.2", 24), ep(N2, "c", "10.3.0.2", 24),
                                         ep(N2, "b", "10.2.0.2", 24) };
    assert_int_equal(db_open(path, &db), 0);
    discover_into(db, second, 3);
    struct network_settings *after = NULL;
    size_t n_after = 0;
    assert_int_equal(network_list(db, &after, &n_after), 0);
    assert_int_equal(n_after, 4);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(after[i].id, before[i].id);
        assert_int_equal(after[i].number, before[i].number);
    }
    assert_string_equal(after[0].name, "Cluster Network 1");
    assert_string_equal(after[1].name, "Migration");
    assert_int_equal(after[1].role, NETWORK_ROLE_MIGRATION);
    assert_string_equal(after[2].name, "Cluster Network 3");
    assert_string_equal(after[3].name, "Cluster Network 4");
    assert_string_equal(after[3].subnet.address, "10.4.0.0");
    /* A rename onto a taken name is refused and changes nothing. */
    struct network_settings clash = after[3];
    snprintf(clash.name, sizeof(clash.name), "migration");
    assert_int_equal(network_update(db, &clash), -EEXIST);
    free(after);
    assert_int_equal(network_list(db, &after, &n_after), 0);
    assert_string_equal(after[3].name, "Cluster Network 4");
    free(after);
    free(before);
    db_close(db);
    unlink(path);
    char wal[64];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
}

static void test_state_rules(void **state)
{
    (void)state;
    bool one[1] = { false };
    assert_int_equal(network_state_of(0, NULL), NETWORK_STATE_UNAVAILABLE);
    assert_int_equal(network_state_of(1, one), NETWORK_STATE_UNAVAILABLE);
    bool all[9] = { 0, 1, 1, 1, 0, 1, 1, 1, 0 };
    assert_int_equal(network_state_of(3, all), NETWORK_STATE_UP);
    bool none[9] = { 0 };
    assert_int_equal(network_state_of(3, none), NETWORK_STATE_DOWN);
    bool some[9] = { 0, 1, 0, 1, 0, 0, 0, 0, 0 }; /* 1 and 2 talk, 3 is cut off */
    assert_int_equal(network_state_of(3, some), NETWORK_STATE_PARTITIONED);
    bool one_way[4] = { 0, 1, 0, 0 }; /* only one direction works */
    assert_int_equal(network_state_of(2, one_way), NETWORK_STATE_PARTITIONED);
    bool diagonal[4] = { 1, 0, 0, 1 }; /* hearing oneself counts for nothing */
    assert_int_equal(network_state_of(2, diagonal), NETWORK_STATE_DOWN);
}

static struct network_settings settings(const char *id, unsigned number, const char *subnet)
{
    struct network_settings s;
    memset(&s, 0, sizeof(s));
    snprintf(s.id, sizeof(s.id), "%s", id);
    s.number = number;
    network_default_name(number, s.name, sizeof(s.name));
    assert_int_equal(subnet_of(subnet, 24, &s.subnet), 0);
    s.auto_metric = true;
    return s;
}

static void test_auto_metric(void **state)
{
    (void)state;
    struct network_settings s[] = {
        settings("a", 1, "10.1.0.0"), /* gateway, 10G */
        settings("b", 2, "10.2.0.0"), /* no gateway, 1G */
        settings("c", 3, "10.3.0.0"), /* no gateway, 10G */
        settings("d", 4, "10.4.0.0"), /* set by hand */
        settings("e", 5, "10.5.0.0"), /* no gateway, speed unknown */
        settings("f", 6, "10.6.0.0"), /* gateway, 1G */
    };
    s[3].auto_metric = false;
    s[3].metric = 500;
    struct network_endpoint eps[] = {
        ep(N1, "a", "10.1.0.1", 24), ep(N1, "b", "10.2.0.1", 24), ep(N1, "c", "10.3.0.1", 24),
        ep(N1, "d", "10.4.0.1", 24), ep(N1, "e", "10.5.0.1", 24), ep(N1, "f", "10.6.0.1", 24),
        ep(N2, "b", "10.2.0.2", 24), /* the slowest member sets the network's speed */
    };
    eps[0].default_gateway = true;
    eps[5].default_gateway = true;
    eps[5].speed_mbps = 1000;
    eps[6].speed_mbps = 1000;
    eps[4].speed_mbps = -1;
    struct network_view view;
    assert_int_equal(network_view_build(s, 6, eps, 7, NULL, NULL, &view), 0);
    assert_int_equal(view.networks[0].metric, 10000); /* gateway, faster */
    assert_int_equal(view.networks[5].metric, 10100); /* gateway, slower */
    assert_int_equal(view.networks[2].metric, 1000);  /* no gateway, fastest */
    assert_int_equal(view.networks[1].metric, 1100);
    assert_int_equal(view.networks[4].metric, 1200);  /* unknown speed last */
    assert_int_equal(view.networks[3].metric, 500);
    assert_true(view.networks[0].has_gateway);
    assert_int_equal(view.networks[1].speed_mbps, 1000);
    network_view_release(&view);
}

/* Everyone hears everyone except that N3 hears nobody on net "m". */
static bool reach_fn(void *ctx, const char *network, const char *from, const char *to)
{
    (void)ctx;
    (void)from;
    return !(strcmp(network, "m") == 0 && strcmp(to, N3) == 0);
}

static void test_view_and_json(void **state)
{
    (void)state;
    struct network_settings s[] = { settings("m", 2, "10.78.0.0"), settings("g", 1, "10.77.0.0"),
                                    settings("x", 3, "10.79.0.0") };
    s[0].role = NETWORK_ROLE_MIGRATION;
    struct network_endpoint eps[] = {
        ep(N1, "eth-mig", "10.78.0.1", 24),  ep(N2, "eth-mig", "10.78.0.2", 24),
        ep(N3, "eth-mig", "10.78.0.3", 24),  ep(N3, "eth-mig2", "10.78.0.33", 24), /* second: ignored */
        ep(N1, "eth-mgmt", "10.77.0.1", 24), ep(N2, "eth-mgmt", "10.77.0.2", 24),
        ep(N3, "eth-sto", "10.79.0.3", 24),
    };
    struct network_view view;
    assert_int_equal(network_view_build(s, 3, eps, 7, reach_fn, NULL, &view), 0);
    assert_int_equal(view.n, 3);
    assert_string_equal(view.networks[0].settings.id, "g"); /* by number */
    assert_int_equal(view.networks[0].state, NETWORK_STATE_UP);
    const struct cluster_network *m = network_view_find(&view, "cluster NETWORK 2");
    assert_non_null(m);
    assert_int_equal(m->n_interfaces, 3);
    assert_int_equal(m->state, NETWORK_STATE_PARTITIONED);
    assert_string_equal(network_address_of(m, N3), "10.78.0.3");
    assert_null(network_address_of(&view.networks[2], N1));
    assert_int_equal(view.networks[2].state, NETWORK_STATE_UNAVAILABLE);
    /* N3 hears nobody, but is heard: its interface is partitioned, not unreachable. */
    assert_int_equal(m->interface_states[2], NETWORK_STATE_PARTITIONED);

    struct json_object *json = network_view_to_json(&view);
    struct network_view back;
    assert_int_equal(network_view_from_json(json, &back), 0);
    assert_int_equal(back.n, 3);
    const struct cluster_network *bm = network_view_find(&back, "m");
    assert_non_null(bm);
    assert_string_equal(bm->settings.name, "Cluster Network 2");
    assert_int_equal(bm->settings.role, NETWORK_ROLE_MIGRATION);
    assert_int_equal(bm->state, NETWORK_STATE_PARTITIONED);
    assert_int_equal(bm->metric, m->metric);
    assert_int_equal(bm->n_interfaces, 3);
    for (size_t i = 0; i < 9; i++)
        assert_int_equal(bm->reach[i], m->reach[i]);
    assert_string_equal(bm->interfaces[2].nic, "eth-mig");
    assert_int_equal(bm->interfaces[2].offloads[NIC_OFFLOAD_TSO], 1);
    network_view_release(&back);
    json_object_put(json);

    struct json_object *bad = json_tokener_parse("{\"items\": [{\"id\": \"z\"}]}");
    assert_int_equal(network_view_from_json(bad, &back), -EINVAL);
    json_object_put(bad);
    assert_int_equal(network_view_from_json(NULL, &back), -EINVAL);
    /* An interface's "reachability" that is no list, from a peer's reply,
     * is refused; json-c's length assertion aborted the agent (found by
     * tests/fuzz/fuzz_peer_reply with a seed that has the field). */
    bad = network_view_to_json(&view);
    struct json_object *items = NULL, *interfaces = NULL;
    assert_true(json_object_object_get_ex(bad, "items", &items));
    assert_true(json_object_object_get_ex(json_object_array_get_idx(items, 0), "interfaces",
                                          &interfaces));
    json_object_object_add(json_object_array_get_idx(interfaces, 0), "reachability",
                           json_object_new_int(5));
    assert_int_equal(network_view_from_json(bad, &back), -EINVAL);
    network_view_release(&back);
    json_object_put(bad);
    network_view_release(&view);
}

static void test_role_and_state_names(void **state)
{
    (void)state;
    enum network_role r;
    assert_int_equal(network_role_from_string("storage", &r), 0);
    assert_int_equal(r, NETWORK_ROLE_STORAGE);
    assert_int_equal(network_role_from_string("Storage", &r), -EINVAL);
    assert_int_equal(network_role_from_string(NULL, &r), -EINVAL);
    assert_string_equal(network_role_to_string(NETWORK_ROLE_VM), "vm");
    assert_string_equal(network_state_to_string(NETWORK_STATE_PARTITIONED), "partitioned");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discover_groups_subnets),
        cmocka_unit_test(test_discover_keeps_known_and_skips_taken_names),
        cmocka_unit_test(test_names_survive_restart),
        cmocka_unit_test(test_state_rules),
        cmocka_unit_test(test_auto_metric),
        cmocka_unit_test(test_view_and_json),
        cmocka_unit_test(test_role_and_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
