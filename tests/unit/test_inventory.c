/* agent/inventory.c: the registry's reading of the inventories members
 * report.  An address whose prefix is no bit count (negative, over 128, not
 * an integer) is an unreadable entry and skipped, as inventory.h promises;
 * it used to become an endpoint with a prefix of 4294967293 (found by
 * tests/fuzz/fuzz_inventory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "agent/inventory.h"

static struct json_object *table_of(const char *addresses)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"6f1c8a52-3b7e-4d2a-9c1f-0123456789ab\": {\"reported\": 1, \"inventory\": "
             "{\"name\": \"h1\", \"nics\": [{\"name\": \"eth0\", \"addresses\": %s}]}}}",
             addresses);
    struct json_object *all = json_tokener_parse(text);
    assert_non_null(all);
    return all;
}

static void test_endpoints(void **state)
{
    (void)state;
    struct json_object *all = table_of("[{\"address\": \"10.0.0.5\", \"prefix\": 24}, "
                                       "{\"address\": \"fd00::5\", \"prefix\": 128}, "
                                       "{\"address\": \"10.1.0.5\", \"prefix\": 0}]");
    struct network_endpoint *e = NULL;
    size_t n = 0;
    assert_int_equal(inventory_endpoints(all, &e, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].node, "6f1c8a52-3b7e-4d2a-9c1f-0123456789ab");
    assert_string_equal(e[0].node_name, "h1");
    assert_string_equal(e[0].nic, "eth0");
    assert_string_equal(e[0].address, "10.0.0.5");
    assert_int_equal(e[0].prefix, 24);
    assert_int_equal(e[1].prefix, 128);
    assert_int_equal(e[2].prefix, 0);
    free(e);
    json_object_put(all);
}

static void test_bad_prefix_skipped(void **state)
{
    (void)state;
    struct json_object *all = table_of("[{\"address\": \"10.0.0.5\", \"prefix\": -3}, "
                                       "{\"address\": \"10.0.0.6\", \"prefix\": 129}, "
                                       "{\"address\": \"10.0.0.7\", \"prefix\": 4294967320}, "
                                       "{\"address\": \"10.0.0.8\", \"prefix\": \"24\"}, "
                                       "{\"address\": \"10.0.0.9\", \"prefix\": 24.5}, "
                                       "{\"address\": \"10.0.0.10\", \"prefix\": 16}]");
    struct network_endpoint *e = NULL;
    size_t n = 0;
    assert_int_equal(inventory_endpoints(all, &e, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].address, "10.0.0.10");
    assert_int_equal(e[0].prefix, 16);
    free(e);
    json_object_put(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_bad_prefix_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
