/* vswitch/vswitch_ovs.c's reading of its listing's answer
 * (vswitch_ovs_list_parse()): lmnet's bridges and ports come out of a
 * well-formed answer; an answer of the wrong shape (rows that are no array,
 * rows without names) or one whose bridges list the same port many times
 * is skipped or bounded, never an abort or a write past the array (found by
 * tests/fuzz/fuzz_ovsdb). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "vswitch/vswitch.h"

#define P1 "[\"uuid\", \"2a0b5c1e-0000-4000-8000-000000000001\"]"

static void test_listing(void **state)
{
    (void)state;
    struct json_object *results = json_tokener_parse(
        "[{\"rows\": [{\"name\": \"br0\", \"external_ids\": [\"map\", [[\"lmnet-switch\", "
        "\"br0\"]]],"
        "              \"ports\": [\"set\", [" P1 "]]}]},"
        " {\"rows\": [{\"_uuid\": " P1 ", \"name\": \"vm1-eth0\", \"tag\": 100,"
        "              \"trunks\": [\"set\", []],"
        "              \"external_ids\": [\"map\", [[\"lmnet-port\", \"vm1-eth0\"]]]}]}]");
    assert_non_null(results);
    struct vswitch_object *objects = NULL;
    size_t n = 0;
    assert_int_equal(vswitch_ovs_list_parse(results, &objects, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(objects[0].bridge, "br0");
    assert_string_equal(objects[0].port, "");
    assert_string_equal(objects[1].bridge, "br0");
    assert_string_equal(objects[1].port, "vm1-eth0");
    assert_int_equal(objects[1].tag, 100);
    free(objects);
    json_object_put(results);
}

static void test_wrong_shapes(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[{\"rows\": 5}, {\"rows\": {}}]",
        "[{}, {\"rows\": [1, 2]}]",
        "{\"rows\": []}",
        "[{\"rows\": [{\"ports\": [\"set\", [" P1 "]]}]}, {\"rows\": [{\"_uuid\": " P1 "}]}]",
        "[{\"rows\": [{\"name\": \"br0\", \"ports\": [\"set\", [" P1 "]]}]},"
        " {\"rows\": [{\"_uuid\": " P1
        ", \"external_ids\": [\"map\", [[\"lmnet-port\", \"x\"]]]}]}]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object *results = json_tokener_parse(bad[i]);
        assert_non_null(results);
        struct vswitch_object *objects = NULL;
        size_t n = 0;
        assert_int_equal(vswitch_ovs_list_parse(results, &objects, &n), 0);
        assert_int_equal(n, 0);
        free(objects);
        json_object_put(results);
    }
}

/* One bridge whose port set names the same port eight times: at most as
 * many objects as rows (the array holds that many). */
static void test_repeated_port_bounded(void **state)
{
    (void)state;
    struct json_object *results = json_tokener_parse(
        "[{\"rows\": [{\"name\": \"br0\", \"ports\": [\"set\", [" P1 "," P1 "," P1 "," P1 "," P1
        "," P1 "," P1 "," P1 "]]}]},"
        " {\"rows\": [{\"_uuid\": " P1 ", \"name\": \"p\","
        "              \"external_ids\": [\"map\", [[\"lmnet-port\", \"p\"]]]}]}]");
    assert_non_null(results);
    struct vswitch_object *objects = NULL;
    size_t n = 0;
    assert_int_equal(vswitch_ovs_list_parse(results, &objects, &n), 0);
    assert_true(n <= 2);
    free(objects);
    json_object_put(results);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listing),
        cmocka_unit_test(test_wrong_shapes),
        cmocka_unit_test(test_repeated_port_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
