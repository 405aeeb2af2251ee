/* agent/advice.c: each good-practice finding, and silence when all is well. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "agent/advice.h"

#define N1 "00000000-0000-0000-0000-000000000001"
#define N2 "00000000-0000-0000-0000-000000000002"

static struct network_endpoint ep(const char *node, const char *nic, const char *address)
{
    struct network_endpoint e;
    memset(&e, 0, sizeof(e));
    snprintf(e.node, sizeof(e.node), "%s", node);
    snprintf(e.node_name, sizeof(e.node_name), "h%c", node[35]);
    snprintf(e.nic, sizeof(e.nic), "%s", nic);
    snprintf(e.address, sizeof(e.address), "%s", address);
    e.prefix = 24;
    for (int k = 0; k < NIC_OFFLOAD_COUNT; k++)
        e.offloads[k] = 1;
    return e;
}

static struct network_settings net(const char *id, unsigned number, const char *subnet, enum network_role role)
{
    struct network_settings s;
    memset(&s, 0, sizeof(s));
    snprintf(s.id, sizeof(s.id), "%s", id);
    s.number = number;
    network_default_name(number, s.name, sizeof(s.name));
    assert_int_equal(subnet_of(subnet, 24, &s.subnet), 0);
    s.role = role;
    s.auto_metric = true;
    return s;
}

static const struct advice_member members[] = { { N1, "h1" }, { N2, "h2" } };

/* The findings as "check:network" lines, for comparing. */
static char *summarize(struct network_endpoint *eps, size_t n_eps, struct network_settings *s, size_t n)
{
    struct network_view view;
    assert_int_equal(network_view_build(s, n, eps, n_eps, NULL, NULL, &view), 0);
    struct json_object *list = advice_check(&view, members, 2);
    static char out[1024];
    out[0] = '\0';
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        struct json_object *f = json_object_array_get_idx(list, i), *v = NULL, *nodes = NULL;
        json_object_object_get_ex(f, "check", &v);
        strcat(out, json_object_get_string(v));
        json_object_object_get_ex(f, "network", &v);
        strcat(out, ":");
        strcat(out, v ? json_object_get_string(v) : "-");
        json_object_object_get_ex(f, "nodes", &nodes);
        for (size_t k = 0; k < json_object_array_length(nodes); k++) {
            struct json_object *nd = json_object_array_get_idx(nodes, k);
            json_object_object_get_ex(nd, "node_name", &v);
            strcat(out, " ");
            strcat(out, json_object_get_string(v));
            json_object_object_get_ex(nd, "nic", &v);
            strcat(out, "/");
            strcat(out, v ? json_object_get_string(v) : "-");
        }
        json_object_object_get_ex(f, "fix", &v);
        assert_true(json_object_get_string_len(v) > 0); /* every finding says how to fix it */
        strcat(out, "\n");
    }
    json_object_put(list);
    network_view_release(&view);
    return out;
}

static void test_clean_cluster(void **state)
{
    (void)state;
    struct network_settings s[] = { net("a", 1, "10.77.0.0", NETWORK_ROLE_MANAGEMENT),
                                    net("b", 2, "10.78.0.0", NETWORK_ROLE_MIGRATION),
                                    net("c", 3, "10.79.0.0", NETWORK_ROLE_STORAGE) };
    struct network_endpoint eps[] = { ep(N1, "m", "10.77.0.1"), ep(N2, "m", "10.77.0.2"),
                                      ep(N1, "g", "10.78.0.1"), ep(N2, "g", "10.78.0.2"),
                                      ep(N1, "s", "10.79.0.1"), ep(N2, "s", "10.79.0.2") };
    assert_string_equal(summarize(eps, 6, s, 3), "");
}

static void test_no_migration_network(void **state)
{
    (void)state;
    struct network_settings s[] = { net("a", 1, "10.77.0.0", NETWORK_ROLE_MANAGEMENT) };
    struct network_endpoint eps[] = { ep(N1, "m", "10.77.0.1"), ep(N2, "m", "10.77.0.2") };
    assert_string_equal(summarize(eps, 2, s, 1), "no-migration-network:-\n");
}

static void test_migration_shares_nic(void **state)
{
    (void)state;
    /* On h2 the migration subnet sits on the management NIC. */
    struct network_settings s[] = { net("a", 1, "10.77.0.0", NETWORK_ROLE_MANAGEMENT),
                                    net("b", 2, "10.78.0.0", NETWORK_ROLE_MIGRATION),
                                    net("c", 3, "10.79.0.0", NETWORK_ROLE_STORAGE) };
    struct network_endpoint eps[] = { ep(N1, "m", "10.77.0.1"), ep(N2, "m", "10.77.0.2"),
                                      ep(N1, "g", "10.78.0.1"), ep(N2, "m", "10.78.0.2"),
                                      ep(N1, "g", "10.79.0.1"), ep(N2, "s", "10.79.0.2") };
    assert_string_equal(summarize(eps, 6, s, 3),
                        "migration-shares-nic:Cluster Network 2 h2/m\n"
                        "migration-shares-nic:Cluster Network 2 h1/g\n");
}

static void test_management_on_uplink(void **state)
{
    (void)state;
    struct network_settings s[] = { net("a", 1, "10.77.0.0", NETWORK_ROLE_MANAGEMENT),
                                    net("b", 2, "10.78.0.0", NETWORK_ROLE_MIGRATION) };
    struct network_endpoint eps[] = { ep(N1, "br-vm", "10.77.0.1"), ep(N2, "m", "10.77.0.2"),
                                      ep(N1, "g", "10.78.0.1"), ep(N2, "g", "10.78.0.2") };
    snprintf(eps[0].vswitch, sizeof(eps[0].vswitch), "br-vm");
    assert_string_equal(summarize(eps, 4, s, 2), "management-on-vm-uplink:Cluster Network 1 h1/br-vm\n");
}

static void test_role_not_on_every_member(void **state)
{
    (void)state;
    struct network_settings s[] = { net("b", 2, "10.78.0.0", NETWORK_ROLE_MIGRATION),
                                    net("c", 3, "10.79.0.0", NETWORK_ROLE_NONE) };
    struct network_endpoint eps[] = { ep(N1, "g", "10.78.0.1"), ep(N1, "s", "10.79.0.1") };
    /* A network without a role may be on one host only. */
    assert_string_equal(summarize(eps, 2, s, 2), "role-not-on-every-member:Cluster Network 2 h2/-\n");
}

static void test_offloads_differ(void **state)
{
    (void)state;
    struct network_settings s[] = { net("b", 2, "10.78.0.0", NETWORK_ROLE_MIGRATION) };
    struct network_endpoint eps[] = { ep(N1, "g", "10.78.0.1"), ep(N2, "g", "10.78.0.2") };
    eps[1].offloads[NIC_OFFLOAD_GRO] = 0;
    eps[0].offloads[NIC_OFFLOAD_TSO] = -1; /* unknown on one side: not a difference */
    eps[1].offloads[NIC_OFFLOAD_TSO] = 0;
    assert_string_equal(summarize(eps, 2, s, 1), "offloads-differ:Cluster Network 2 h1/g h2/g\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_cluster),          cmocka_unit_test(test_no_migration_network),
        cmocka_unit_test(test_migration_shares_nic),   cmocka_unit_test(test_management_on_uplink),
        cmocka_unit_test(test_role_not_on_every_member), cmocka_unit_test(test_offloads_differ),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
