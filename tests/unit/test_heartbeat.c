/* agent/heartbeat.c: which signed heartbeats count.  Copies of datagrams
 * already seen never do, while the member is heard or not; a member that
 * restarted (a later run) counts at once, even while its last run is still
 * heard; an earlier run only once the member went quiet; and each start's
 * run is above the one before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "agent/heartbeat.h"

static void test_first_datagram_counts(void **state)
{
    (void)state;
    assert_null(heartbeat_refusal(false, 0, 0, false, 12, 1));
    assert_null(heartbeat_refusal(false, 0, 0, true, 12, 1));
}

static void test_same_run_needs_a_higher_sequence(void **state)
{
    (void)state;
    assert_null(heartbeat_refusal(true, 12, 40, true, 12, 41));
    assert_non_null(heartbeat_refusal(true, 12, 40, true, 12, 40));
    assert_non_null(heartbeat_refusal(true, 12, 40, true, 12, 3));
    /* A copy stays a copy once the member went quiet. */
    assert_non_null(heartbeat_refusal(true, 12, 40, false, 12, 40));
    assert_non_null(strstr(heartbeat_refusal(true, 12, 40, true, 12, 40), "replayed"));
}

static void test_restart_is_heard_at_once(void **state)
{
    (void)state;
    /* The restarted member's first datagram, while its old run is still
     * heard: it counts (the old code waited for the old run to go quiet,
     * so a quick restart left the network partitioned for a while). */
    assert_null(heartbeat_refusal(true, 12, 40, true, 13, 1));
    assert_null(heartbeat_refusal(true, 12, 40, false, 13, 1));
}

static void test_earlier_run_only_after_quiet(void **state)
{
    (void)state;
    const char *why = heartbeat_refusal(true, 12, 40, true, 11, 900);
    assert_non_null(why);
    assert_non_null(strstr(why, "replayed"));
    assert_null(heartbeat_refusal(true, 12, 40, false, 11, 900));
}

static void test_runs_grow_with_the_start_time(void **state)
{
    (void)state;
    int64_t t = HEARTBEAT_RUN_EPOCH_MS + INT64_C(86400000) * 400;
    uint32_t a = heartbeat_run_at(t);
    /* A start at least one tick later (heartbeat_start waits one) is above. */
    assert_true(heartbeat_run_at(t + HEARTBEAT_RUN_TICK_MS) > a);
    assert_true(heartbeat_run_at(t + 3600 * 1000) > a);
    assert_true(heartbeat_run_at(HEARTBEAT_RUN_EPOCH_MS + INT64_C(86400000) * 365 * 30) > a);
    /* A clock before the epoch (never set) still gives a run. */
    assert_int_equal(heartbeat_run_at(0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_datagram_counts),
        cmocka_unit_test(test_same_run_needs_a_higher_sequence),
        cmocka_unit_test(test_restart_is_heard_at_once),
        cmocka_unit_test(test_earlier_run_only_after_quiet),
        cmocka_unit_test(test_runs_grow_with_the_start_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
