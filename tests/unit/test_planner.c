/* migrate/plan/planner.c: which network memory travels on, and every refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "migrate/plan/planner.h"

static struct planner_network net(const char *id, enum planner_role role, enum planner_state state,
                                  int metric, const char *src, const char *dst)
{
    struct planner_network n = { .role = role, .state = state, .metric = metric };
    snprintf(n.id, sizeof(n.id), "%s", id);
    snprintf(n.name, sizeof(n.name), "Cluster Network %s", id);
    snprintf(n.source_address, sizeof(n.source_address), "%s", src);
    snprintf(n.destination_address, sizeof(n.destination_address), "%s", dst);
    return n;
}

static void test_lowest_metric_migration_network(void **state)
{
    (void)state;
    struct planner_network nets[] = {
        net("1", PLANNER_ROLE_MANAGEMENT, PLANNER_STATE_UP, 100, "10.0.1.1", "10.0.1.2"),
        net("2", PLANNER_ROLE_MIGRATION, PLANNER_STATE_UP, 2000, "10.0.2.1", "10.0.2.2"),
        net("3", PLANNER_ROLE_MIGRATION, PLANNER_STATE_UP, 1100, "10.0.3.1", "10.0.3.2"),
        net("4", PLANNER_ROLE_MIGRATION, PLANNER_STATE_UP, 900, "10.0.4.1", ""), /* dest not on it */
        net("5", PLANNER_ROLE_MIGRATION, PLANNER_STATE_PARTITIONED, 800, "10.0.5.1", "10.0.5.2"),
    };
    const struct planner_network *chosen = NULL;
    struct refusal r;
    assert_int_equal(planner_choose_network(nets, 5, false, &chosen, &r), 0);
    assert_string_equal(chosen->id, "3");
    assert_string_equal(chosen->destination_address, "10.0.3.2");
}

static void test_tie_broken_by_id(void **state)
{
    (void)state;
    struct planner_network nets[] = {
        net("b", PLANNER_ROLE_MIGRATION, PLANNER_STATE_UP, 1000, "x", "y"),
        net("a", PLANNER_ROLE_MIGRATION, PLANNER_STATE_UP, 1000, "x", "y"),
    };
    const struct planner_network *chosen = NULL;
    struct refusal r;
    assert_int_equal(planner_choose_network(nets, 2, false, &chosen, &r), 0);
    assert_string_equal(chosen->id, "a");
}

static void test_no_fallback_to_management_unless_allowed(void **state)
{
    (void)state;
    struct planner_network nets[] = {
        net("1", PLANNER_ROLE_MANAGEMENT, PLANNER_STATE_UP, 100, "10.0.1.1", "10.0.1.2"),
        net("2", PLANNER_ROLE_MIGRATION, PLANNER_STATE_DOWN, 1000, "10.0.2.1", "10.0.2.2"),
    };
    const struct planner_network *chosen = NULL;
    struct refusal r;
    assert_int_equal(planner_choose_network(nets, 2, false, &chosen, &r), -EPERM);
    assert_int_equal(r.kind, REFUSAL_CONFLICT);
    assert_string_equal(r.type, "no-migration-network");
    assert_non_null(strstr(r.detail, "'Cluster Network 2' (down)"));
    assert_non_null(strstr(r.detail, "allow_management_network"));
    assert_int_equal(planner_choose_network(nets, 2, true, &chosen, &r), 0);
    assert_string_equal(chosen->id, "1");
}

static void test_no_migration_role_at_all(void **state)
{
    (void)state;
    struct planner_network nets[] = {
        net("1", PLANNER_ROLE_STORAGE, PLANNER_STATE_UP, 100, "a", "b"),
    };
    const struct planner_network *chosen = NULL;
    struct refusal r;
    assert_int_equal(planner_choose_network(nets, 1, false, &chosen, &r), -EPERM);
    assert_non_null(strstr(r.detail, "no cluster network has role 'migration'"));
    assert_int_equal(planner_choose_network(NULL, 0, true, &chosen, &r), -EPERM);
    assert_non_null(strstr(r.detail, "no Up management network"));
}

static void test_vlans(void **state)
{
    (void)state;
    struct refusal r;
    uint16_t vm[] = { 100, 0, 200, 300, 200 };
    uint16_t uplink[] = { 100, 300 };
    assert_int_equal(planner_check_vlans("vswitch0", vm, 5, uplink, 2, false, &r), -EPERM);
    assert_int_equal(r.kind, REFUSAL_INVALID);
    assert_string_equal(r.type, "vlan-not-carried");
    assert_non_null(strstr(r.detail, "VLAN 200 on its uplink")); /* listed once */
    assert_non_null(strstr(r.detail, "'vswitch0'"));
    uint16_t uplink2[] = { 100, 200, 300 };
    assert_int_equal(planner_check_vlans("vswitch0", vm, 5, uplink2, 3, false, &r), 0);
    assert_int_equal(planner_check_vlans("vswitch0", vm, 5, NULL, 0, true, &r), 0);
    uint16_t untagged[] = { 0 };
    assert_int_equal(planner_check_vlans("s", untagged, 1, NULL, 0, false, &r), 0);
    uint16_t two[] = { 5, 6 };
    assert_int_equal(planner_check_vlans("s", two, 2, NULL, 0, false, &r), -EPERM);
    assert_non_null(strstr(r.detail, "VLANs 5, 6"));
}

static void test_macs(void **state)
{
    (void)state;
    struct refusal r;
    bool dynamic[] = { false, true };
    const char *ports[] = { "vnet0", "vnet1" };
    assert_int_equal(planner_check_macs(dynamic, ports, 2, false, &r), -EPERM);
    assert_string_equal(r.type, "dynamic-mac");
    assert_non_null(strstr(r.detail, "'vnet1'"));
    assert_int_equal(planner_check_macs(dynamic, ports, 2, true, &r), 0);
    bool none[] = { false, false };
    assert_int_equal(planner_check_macs(none, ports, 2, false, &r), 0);
}

static void test_slots(void **state)
{
    (void)state;
    assert_true(planner_slot_free(0, 2));
    assert_true(planner_slot_free(1, 2));
    assert_false(planner_slot_free(2, 2));
    assert_false(planner_slot_free(0, 0));
}

static void test_postcopy_needs_one_channel(void **state)
{
    (void)state;
    struct refusal r;
    assert_int_equal(planner_check_postcopy(1, true, &r), 0);
    assert_int_equal(planner_check_postcopy(4, false, &r), 0);
    assert_int_equal(planner_check_postcopy(4, true, &r), -EPERM);
    assert_int_equal(r.kind, REFUSAL_INVALID);
    assert_string_equal(r.type, "postcopy-needs-one-channel");
}

static void test_channels_only_on_a_direct_path(void **state)
{
    (void)state;
    char note[512];
    assert_int_equal(planner_choose_channels(4, true, note, sizeof(note)), 4);
    assert_string_equal(note, "");
    assert_int_equal(planner_choose_channels(1, false, note, sizeof(note)), 1);
    assert_string_equal(note, "");
    assert_int_equal(planner_choose_channels(0, true, note, sizeof(note)), 1);
    /* No safe direct path: one stream, never the relay. */
    assert_int_equal(planner_choose_channels(4, false, note, sizeof(note)), 1);
    assert_non_null(strstr(note, "4 channels asked, 1 used"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channels_only_on_a_direct_path),
        cmocka_unit_test(test_postcopy_needs_one_channel),
        cmocka_unit_test(test_lowest_metric_migration_network),
        cmocka_unit_test(test_tie_broken_by_id),
        cmocka_unit_test(test_no_fallback_to_management_unless_allowed),
        cmocka_unit_test(test_no_migration_role_at_all),
        cmocka_unit_test(test_vlans),
        cmocka_unit_test(test_macs),
        cmocka_unit_test(test_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
