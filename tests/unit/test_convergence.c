/* migrate/plan/convergence.c: the downtime schedule, the last resort, the
 * completion timeout and the policy's parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "migrate/plan/convergence.h"

#define MIB (1024ull * 1024ull)

static struct convergence_policy policy(const char *schedule, bool postcopy, unsigned per_gib,
                                        enum convergence_action action)
{
    struct convergence_policy p;
    convergence_policy_defaults(&p);
    char why[200];
    assert_int_equal(convergence_schedule_parse(schedule, &p, why, sizeof(why)), 0);
    p.allow_postcopy = postcopy;
    p.timeout_per_gib_s = per_gib;
    p.timeout_action = action;
    return p;
}

static void test_converging_rounds_take_no_step(void **state)
{
    (void)state;
    struct convergence_policy p = policy("300,1000", false, 0, CONVERGENCE_ABORT);
    struct convergence c;
    convergence_start(&c, &p, 512 * MIB, 1000);
    assert_int_equal(convergence_initial_downtime(&c), 300);
    int64_t d = -1;
    uint64_t remaining = 512 * MIB;
    for (uint64_t round = 1; round < 10; round++, remaining /= 2)
        assert_int_equal(convergence_observe(&c, 1000 + (int64_t)round * 100, round, remaining, &d),
                         CONVERGENCE_NONE);
    assert_int_equal(c.n_events, 0);
}

static void test_flat_rounds_raise_the_downtime_then_postcopy(void **state)
{
    (void)state;
    struct convergence_policy p = policy("100,500,2000", true, 0, CONVERGENCE_ABORT);
    struct convergence c;
    convergence_start(&c, &p, 512 * MIB, 0);
    int64_t d = -1;
    /* Samples within one round change nothing. */
    assert_int_equal(convergence_observe(&c, 10, 1, 500 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(convergence_observe(&c, 20, 1, 400 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(convergence_observe(&c, 100, 2, 64 * MIB, &d), CONVERGENCE_NONE);
    /* Two rounds that do not shrink it by a tenth: the next step. */
    assert_int_equal(convergence_observe(&c, 200, 3, 62 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(convergence_observe(&c, 300, 4, 63 * MIB, &d), CONVERGENCE_RAISE_DOWNTIME);
    assert_int_equal(d, 500);
    assert_int_equal(convergence_observe(&c, 400, 5, 64 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(convergence_observe(&c, 500, 6, 64 * MIB, &d), CONVERGENCE_RAISE_DOWNTIME);
    assert_int_equal(d, 2000);
    /* A round that shrinks it resets the count. */
    assert_int_equal(convergence_observe(&c, 600, 7, 30 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(convergence_observe(&c, 700, 8, 30 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(convergence_observe(&c, 800, 9, 31 * MIB, &d), CONVERGENCE_POSTCOPY);
    /* The last resort is under way: nothing more. */
    assert_int_equal(convergence_observe(&c, 900, 10, 31 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(c.n_events, 3);
    assert_int_equal(c.events[0].at_ms, 300);
    assert_int_equal(c.events[0].round, 4);
    assert_int_equal(c.events[2].action, CONVERGENCE_POSTCOPY);
    struct json_object *j = convergence_to_json(&c);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(text, "\"action\":\"raise-downtime\",\"downtime_ms\":500"));
    assert_non_null(strstr(text, "\"action\":\"postcopy\""));
    json_object_put(j);
}

static void test_no_postcopy_unless_allowed(void **state)
{
    (void)state;
    struct convergence_policy p = policy("300", false, 0, CONVERGENCE_ABORT);
    struct convergence c;
    convergence_start(&c, &p, 512 * MIB, 0);
    int64_t d = -1;
    for (uint64_t round = 1; round < 20; round++)
        assert_int_equal(convergence_observe(&c, (int64_t)round, round, 64 * MIB, &d),
                         CONVERGENCE_NONE);
    assert_int_equal(c.n_events, 0);
}

static void test_completion_timeout_per_gib(void **state)
{
    (void)state;
    /* 40 s per GiB of a 512 MiB guest: 20 s. */
    struct convergence_policy p = policy("300", false, 40, CONVERGENCE_PAUSE);
    struct convergence c;
    convergence_start(&c, &p, 512 * MIB, 5000);
    int64_t d = -1;
    assert_int_equal(convergence_observe(&c, 24999, 3, 64 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(convergence_observe(&c, 25000, 3, 64 * MIB, &d), CONVERGENCE_PAUSE);
    assert_int_equal(convergence_observe(&c, 26000, 4, 64 * MIB, &d), CONVERGENCE_NONE);
    assert_int_equal(c.n_events, 1);
    assert_int_equal(c.events[0].at_ms, 20000);
    assert_non_null(strstr(c.events[0].reason, "completion timeout: 20 s"));
    /* abort, and no timeout at all */
    p.timeout_action = CONVERGENCE_ABORT;
    convergence_start(&c, &p, 512 * MIB, 0);
    assert_int_equal(convergence_observe(&c, 20000, 3, 64 * MIB, &d), CONVERGENCE_ABORT);
    p.timeout_per_gib_s = 0;
    convergence_start(&c, &p, 512 * MIB, 0);
    assert_int_equal(convergence_observe(&c, 100000000, 3, 64 * MIB, &d), CONVERGENCE_NONE);
}

static void test_schedule_parse(void **state)
{
    (void)state;
    struct convergence_policy p;
    convergence_policy_defaults(&p);
    char why[200];
    assert_int_equal(convergence_schedule_parse("100, 500,2000", &p, why, sizeof(why)), 0);
    assert_int_equal(p.n_downtime, 3);
    assert_int_equal(p.downtime_ms[2], 2000);
    assert_int_equal(convergence_schedule_parse("500,100", &p, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "rise"));
    assert_int_equal(convergence_schedule_parse("0", &p, why, sizeof(why)), -EINVAL);
    assert_int_equal(convergence_schedule_parse("", &p, why, sizeof(why)), -EINVAL);
    assert_int_equal(convergence_schedule_parse("300,", &p, why, sizeof(why)), -EINVAL);
    assert_int_equal(convergence_schedule_parse("300ms", &p, why, sizeof(why)), -EINVAL);
    assert_int_equal(convergence_schedule_parse("1,2,3,4,5,6,7,8,9", &p, why, sizeof(why)),
                     -EINVAL);
    /* A failed parse leaves the schedule as it was. */
    assert_int_equal(p.n_downtime, 3);
}

static void test_start_at_a_requested_limit(void **state)
{
    (void)state;
    struct convergence_policy p;
    convergence_policy_defaults(&p); /* 300, 1000, 2000 */
    convergence_policy_start_at(&p, 1500);
    assert_int_equal(p.n_downtime, 2);
    assert_int_equal(p.downtime_ms[0], 1500);
    assert_int_equal(p.downtime_ms[1], 2000);
}

static void test_policy_json(void **state)
{
    (void)state;
    struct convergence_policy p;
    convergence_policy_defaults(&p);
    char key[64], why[300];
    struct json_object *o = json_tokener_parse(
        "{\"downtime_schedule_ms\": [100, 400], \"auto_converge\": true, \"allow_postcopy\": "
        "true, \"completion_timeout_per_gib_s\": 30, \"timeout_action\": \"postcopy\"}");
    assert_int_equal(convergence_policy_apply_json(&p, o, key, sizeof(key), why, sizeof(why)), 0);
    json_object_put(o);
    assert_true(p.auto_converge && p.allow_postcopy);
    assert_int_equal(p.timeout_action, CONVERGENCE_POSTCOPY);
    assert_int_equal(p.downtime_ms[1], 400);
    /* Round trip. */
    struct convergence_policy q;
    convergence_policy_defaults(&q);
    o = convergence_policy_to_json(&p);
    assert_int_equal(convergence_policy_apply_json(&q, o, key, sizeof(key), why, sizeof(why)), 0);
    json_object_put(o);
    assert_memory_equal(&p, &q, sizeof(p));
    /* Refusals name the key and leave the policy as it was. */
    static const struct {
        const char *json, *key;
    } bad[] = {
        {"{\"timeout_action\": \"postcopy\", \"allow_postcopy\": false}", "timeout_action"},
        {"{\"timeout_action\": \"later\"}", "timeout_action"},
        {"{\"auto_converge\": 1}", "auto_converge"},
        {"{\"completion_timeout_per_gib_s\": -1}", "completion_timeout_per_gib_s"},
        {"{\"downtime_schedule_ms\": [300, \"x\"]}", "downtime_schedule_ms"},
        {"{\"downtime_schedule_ms\": []}", "downtime_schedule_ms"},
        {"{\"throttle\": 5}", "throttle"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = json_tokener_parse(bad[i].json);
        assert_int_equal(convergence_policy_apply_json(&q, o, key, sizeof(key), why, sizeof(why)),
                         -EINVAL);
        assert_string_equal(key, bad[i].key);
        json_object_put(o);
    }
    assert_memory_equal(&p, &q, sizeof(p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_converging_rounds_take_no_step),
        cmocka_unit_test(test_flat_rounds_raise_the_downtime_then_postcopy),
        cmocka_unit_test(test_no_postcopy_unless_allowed),
        cmocka_unit_test(test_completion_timeout_per_gib),
        cmocka_unit_test(test_schedule_parse),
        cmocka_unit_test(test_start_at_a_requested_limit),
        cmocka_unit_test(test_policy_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
