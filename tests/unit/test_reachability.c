/* agent/reachability.c: the registry's table of heartbeat reports. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "agent/reachability.h"

#define N1 "00000000-0000-0000-0000-000000000001"
#define N2 "00000000-0000-0000-0000-000000000002"
#define N3 "00000000-0000-0000-0000-000000000003"

static void test_report_and_ask(void **state)
{
    (void)state;
    struct reachability *t = reachability_create();
    assert_non_null(t);
    struct json_object *heard = json_tokener_parse("{\"net\": [\"" N1 "\", \"" N3 "\"], \"other\": []}");
    assert_int_equal(reachability_report(t, N2, heard, 1000), 0);
    json_object_put(heard); /* the table keeps its own copy */
    assert_true(reachability_heard(t, "net", N1, N2, 1500));
    assert_true(reachability_heard(t, "net", N3, N2, 1500));
    assert_false(reachability_heard(t, "other", N1, N2, 1500));
    assert_false(reachability_heard(t, "net", N2, N1, 1500)); /* N1 never reported */
    assert_false(reachability_heard(t, "missing", N1, N2, 1500));
    /* A stale report vouches for nobody. */
    assert_true(reachability_heard(t, "net", N1, N2, 1000 + REACHABILITY_FRESH_MS));
    assert_false(reachability_heard(t, "net", N1, N2, 1001 + REACHABILITY_FRESH_MS));
    /* A newer report replaces the old one. */
    heard = json_tokener_parse("{\"net\": [\"" N3 "\"]}");
    assert_int_equal(reachability_report(t, N2, heard, 2000), 0);
    json_object_put(heard);
    assert_false(reachability_heard(t, "net", N1, N2, 2100));
    assert_true(reachability_heard(t, "net", N3, N2, 2100));
    reachability_destroy(t);
    reachability_destroy(NULL);
}

static void test_bad_reports(void **state)
{
    (void)state;
    struct reachability *t = reachability_create();
    const char *bad[] = { "[]", "{\"net\": \"" N1 "\"}", "{\"net\": [1]}" };
    for (size_t i = 0; i < 3; i++) {
        struct json_object *heard = json_tokener_parse(bad[i]);
        assert_int_equal(reachability_report(t, N2, heard, 1), -EINVAL);
        json_object_put(heard);
    }
    struct json_object *ok = json_tokener_parse("{}");
    assert_int_equal(reachability_report(t, "short", ok, 1), -EINVAL);
    assert_int_equal(reachability_report(t, NULL, ok, 1), -EINVAL);
    json_object_put(ok);
    reachability_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_and_ask),
        cmocka_unit_test(test_bad_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
