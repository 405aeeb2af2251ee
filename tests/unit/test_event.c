/* Unit tests for db/event.c: recording events, listing them with keyset
 * paging (after, limit, kind), the JSON form, and events following their
 * transaction. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "base/log.h"
#include "db/event.h"

#define NODE "6f1c2d3e-0000-4000-8000-000000000001"

static int setup(void **state)
{
    log_set_level(LOG_LEVEL_ERROR);
    struct db *db = NULL;
    if (db_open(":memory:", &db) < 0)
        return -1;
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    db_close(*state);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct json_object *detail_of(const char *mac, int vlan)
{
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "mac", json_object_new_string(mac));
    json_object_object_add(d, "vlan", json_object_new_int(vlan));
    return d;
}

static void test_record_and_read_back(void **state)
{
    struct db *db = *state;
    int64_t before = now_ms();
    struct json_object *detail = detail_of("52:54:00:00:00:01", 10);
    int64_t id = event_record(db, NODE, "ops", "mac.allocate", "52:54:00:00:00:01", detail);
    int64_t after = now_ms();
    assert_true(id > 0);
    /* The detail is not consumed. */
    assert_int_equal(json_object_get_int(json_object_object_get(detail, "vlan")), 10);

    struct event *events = NULL;
    size_t n = 99;
    assert_int_equal(event_list(db, 0, NULL, 10, &events, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(events[0].id, id);
    assert_true(events[0].time_ms >= before && events[0].time_ms <= after);
    assert_string_equal(events[0].node, NODE);
    assert_string_equal(events[0].actor, "ops");
    assert_string_equal(events[0].kind, "mac.allocate");
    assert_string_equal(events[0].subject, "52:54:00:00:00:01");
    assert_non_null(events[0].detail);
    struct json_object *parsed = json_tokener_parse(events[0].detail);
    assert_non_null(parsed);
    assert_true(json_object_equal(parsed, detail));
    json_object_put(parsed);

    /* The JSON form round-trips the detail as an object. */
    struct json_object *obj = event_to_json(&events[0]);
    assert_int_equal(json_object_get_int64(json_object_object_get(obj, "id")), id);
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "node")), NODE);
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "actor")), "ops");
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "kind")),
                        "mac.allocate");
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "subject")),
                        "52:54:00:00:00:01");
    struct json_object *d = NULL;
    assert_true(json_object_object_get_ex(obj, "detail", &d));
    assert_true(json_object_is_type(d, json_type_object));
    assert_true(json_object_equal(d, detail));
    json_object_put(obj);
    json_object_put(detail);
    event_list_free(events, n);
}

static void test_defaults(void **state)
{
    struct db *db = *state;
    int64_t id = event_record(db, NULL, NULL, "agent.start", NULL, NULL);
    assert_true(id > 0);
    struct event *events = NULL;
    size_t n = 0;
    assert_int_equal(event_list(db, 0, NULL, 10, &events, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(events[0].node, "");
    assert_string_equal(events[0].actor, "agent");
    assert_string_equal(events[0].kind, "agent.start");
    assert_string_equal(events[0].subject, "");
    assert_null(events[0].detail);

    struct json_object *obj = event_to_json(&events[0]);
    struct json_object *d = (struct json_object *)1;
    assert_true(json_object_object_get_ex(obj, "detail", &d));
    assert_null(d); /* present, null */
    json_object_put(obj);
    event_list_free(events, n);
    event_list_free(NULL, 0);
}

/* Records COUNT events, kinds alternating "a.x" (odd ids) and "b.y". */
static void record_many(struct db *db, int count)
{
    for (int i = 1; i <= count; i++) {
        char subject[16];
        snprintf(subject, sizeof(subject), "s%d", i);
        int64_t id = event_record(db, NODE, "ops", i % 2 ? "a.x" : "b.y", subject, NULL);
        assert_int_equal(id, i);
    }
}

static void assert_ids(struct event *events, size_t n, const int64_t *want, size_t n_want)
{
    if (n != n_want)
        fail_msg("%zu events, expected %zu", n, n_want);
    for (size_t i = 0; i < n; i++)
        if (events[i].id != want[i])
            fail_msg("event %zu has id %lld, expected %lld", i, (long long)events[i].id,
                     (long long)want[i]);
}

static void test_paging(void **state)
{
    struct db *db = *state;
    record_many(db, 10);
    struct event *events = NULL;
    size_t n = 0;

    assert_int_equal(event_list(db, 0, NULL, 3, &events, &n), 0);
    assert_ids(events, n, (const int64_t[]){1, 2, 3}, 3);
    assert_string_equal(events[2].subject, "s3");
    event_list_free(events, n);

    /* The next page starts after the last id seen. */
    assert_int_equal(event_list(db, 3, NULL, 3, &events, &n), 0);
    assert_ids(events, n, (const int64_t[]){4, 5, 6}, 3);
    event_list_free(events, n);

    assert_int_equal(event_list(db, 9, NULL, 3, &events, &n), 0);
    assert_ids(events, n, (const int64_t[]){10}, 1);
    event_list_free(events, n);

    /* Past the end: an empty page, still a valid array. */
    events = NULL;
    assert_int_equal(event_list(db, 10, NULL, 3, &events, &n), 0);
    assert_int_equal(n, 0);
    event_list_free(events, n);

    assert_int_equal(event_list(db, 0, NULL, 1000, &events, &n), 0);
    assert_int_equal(n, 10);
    for (size_t i = 1; i < n; i++)
        assert_true(events[i].id > events[i - 1].id);
    event_list_free(events, n);

    /* A negative cursor is before everything. */
    assert_int_equal(event_list(db, -5, NULL, 2, &events, &n), 0);
    assert_ids(events, n, (const int64_t[]){1, 2}, 2);
    event_list_free(events, n);
}

static void test_kind_filter(void **state)
{
    struct db *db = *state;
    record_many(db, 10);
    struct event *events = NULL;
    size_t n = 0;

    assert_int_equal(event_list(db, 0, "a.x", 100, &events, &n), 0);
    assert_ids(events, n, (const int64_t[]){1, 3, 5, 7, 9}, 5);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(events[i].kind, "a.x");
    event_list_free(events, n);

    assert_int_equal(event_list(db, 5, "a.x", 2, &events, &n), 0);
    assert_ids(events, n, (const int64_t[]){7, 9}, 2);
    event_list_free(events, n);

    assert_int_equal(event_list(db, 0, "b.y", 2, &events, &n), 0);
    assert_ids(events, n, (const int64_t[]){2, 4}, 2);
    event_list_free(events, n);

    /* Exact kinds, not prefixes or patterns. */
    assert_int_equal(event_list(db, 0, "a", 100, &events, &n), 0);
    assert_int_equal(n, 0);
    event_list_free(events, n);
    assert_int_equal(event_list(db, 0, "a.%", 100, &events, &n), 0);
    assert_int_equal(n, 0);
    event_list_free(events, n);

    /* Switching between filtered and unfiltered lists reuses statements. */
    assert_int_equal(event_list(db, 0, NULL, 100, &events, &n), 0);
    assert_int_equal(n, 10);
    event_list_free(events, n);
}

static void test_limits(void **state)
{
    struct db *db = *state;
    record_many(db, 4);
    struct event *events = NULL;
    size_t n = 99;

    assert_int_equal(event_list(db, 0, NULL, 0, &events, &n), 0);
    assert_int_equal(n, 0);
    event_list_free(events, n);

    /* A negative limit is SQLite's "no limit": it must not list more rows
     * than the array holds. */
    events = NULL;
    n = 99;
    assert_int_equal(event_list(db, 0, NULL, -1, &events, &n), -EINVAL);
    assert_null(events);
    assert_int_equal(event_list(db, 0, "a.x", -100, &events, &n), -EINVAL);
    assert_null(events);
}

static void test_follows_transaction(void **state)
{
    struct db *db = *state;
    assert_int_equal(db_begin(db), 0);
    assert_true(event_record(db, NODE, "ops", "vlan.create", "10", NULL) > 0);
    db_rollback(db);

    struct event *events = NULL;
    size_t n = 99;
    assert_int_equal(event_list(db, 0, NULL, 10, &events, &n), 0);
    assert_int_equal(n, 0);
    event_list_free(events, n);

    assert_int_equal(db_begin(db), 0);
    int64_t id = event_record(db, NODE, "ops", "vlan.create", "11", NULL);
    assert_true(id > 0);
    assert_int_equal(db_commit(db), 0);
    assert_int_equal(event_list(db, 0, NULL, 10, &events, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(events[0].id, id);
    assert_string_equal(events[0].subject, "11");
    event_list_free(events, n);
}

static void test_to_json(void **state)
{
    (void)state;
    struct event e = {
        .id = 42, .time_ms = 1700000000123LL, /* 2023-11-14T22:13:20.123Z */
    };
    strcpy(e.node, NODE);
    strcpy(e.actor, "ops");
    strcpy(e.kind, "mac.release");
    strcpy(e.subject, "52:54:00:00:00:02");
    char detail[] = "{\"vlan\":7,\"ports\":[1,2]}";
    e.detail = detail;
    struct json_object *obj = event_to_json(&e);
    assert_int_equal(json_object_object_length(obj), 7);
    assert_int_equal(json_object_get_int64(json_object_object_get(obj, "id")), 42);
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "time")),
                        "2023-11-14T22:13:20.123Z");
    struct json_object *d = json_object_object_get(obj, "detail");
    assert_int_equal(json_object_get_int(json_object_object_get(d, "vlan")), 7);
    assert_int_equal(json_object_array_length(json_object_object_get(d, "ports")), 2);
    json_object_put(obj);

    /* Milliseconds are zero-padded; the epoch is the epoch. */
    e.time_ms = 5;
    e.detail = NULL;
    obj = event_to_json(&e);
    assert_string_equal(json_object_get_string(json_object_object_get(obj, "time")),
                        "1970-01-01T00:00:00.005Z");
    json_object_put(obj);

    /* A detail that is not JSON comes out as null, not as a crash. */
    char broken[] = "{not json";
    e.detail = broken;
    obj = event_to_json(&e);
    struct json_object *v = (struct json_object *)1;
    assert_true(json_object_object_get_ex(obj, "detail", &v));
    assert_null(v);
    json_object_put(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_record_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kind_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follows_transaction, setup, teardown),
        cmocka_unit_test(test_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
