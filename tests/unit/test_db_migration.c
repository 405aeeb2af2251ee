/* db/migration.c: the phase rules, the journal and what a rollback undoes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "db/db.h"
#include "db/migration.h"

static struct migration sample(const char *uuid, const char *vm)
{
    struct migration m = { 0 };
    snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
    snprintf(m.vm, sizeof(m.vm), "%s", vm);
    snprintf(m.vm_name, sizeof(m.vm_name), "web-%s", vm);
    m.role = MIGRATION_ROLE_SOURCE;
    snprintf(m.source, sizeof(m.source), "node-a");
    snprintf(m.destination, sizeof(m.destination), "node-b");
    snprintf(m.destination_url, sizeof(m.destination_url), "http://192.0.2.2:8470");
    m.phase = MIGRATION_QUEUED;
    m.options = (char *)"{\"channels\":4}";
    m.downtime_ms = -1;
    m.switchover_gap_ms = -1;
    return m;
}

static int setup(void **state)
{
    struct db *db = NULL;
    assert_int_equal(db_open(":memory:", &db), 0);
    *state = db;
    return 0;
}

static int teardown(void **state)
{
    db_close(*state);
    return 0;
}

static void test_phase_names_round_trip(void **state)
{
    (void)state;
    for (unsigned i = 0; i < MIGRATION_PHASE_COUNT; i++) {
        enum migration_phase p;
        assert_int_equal(migration_phase_from_string(migration_phase_to_string(i), &p), 0);
        assert_int_equal(p, i);
    }
    enum migration_phase p;
    assert_int_equal(migration_phase_from_string("flying", &p), -EINVAL);
}

static void test_phase_rules(void **state)
{
    (void)state;
    assert_true(migration_phase_can_move(MIGRATION_QUEUED, MIGRATION_PREFLIGHT));
    assert_true(migration_phase_can_move(MIGRATION_TRANSFERRING, MIGRATION_SWITCHOVER));
    assert_false(migration_phase_can_move(MIGRATION_SWITCHOVER, MIGRATION_TRANSFERRING));
    /* Cancelling is only possible before switchover. */
    assert_true(migration_phase_can_move(MIGRATION_TRANSFERRING, MIGRATION_CANCELLING));
    assert_false(migration_phase_can_move(MIGRATION_SWITCHOVER, MIGRATION_CANCELLING));
    assert_false(migration_phase_can_move(MIGRATION_FINISHING, MIGRATION_CANCELLING));
    assert_true(migration_phase_can_move(MIGRATION_CANCELLING, MIGRATION_CANCELLED));
    assert_false(migration_phase_can_move(MIGRATION_CANCELLING, MIGRATION_COMPLETED));
    assert_true(migration_phase_can_move(MIGRATION_QUEUED, MIGRATION_CANCELLED));
    assert_false(migration_phase_can_move(MIGRATION_PREPARING, MIGRATION_CANCELLED));
    /* Final is final. */
    assert_false(migration_phase_can_move(MIGRATION_COMPLETED, MIGRATION_FAILED));
    assert_false(migration_phase_can_move(MIGRATION_CANCELLED, MIGRATION_QUEUED));
    assert_true(migration_phase_can_move(MIGRATION_SWITCHOVER, MIGRATION_FAILED));
    assert_true(migration_phase_before_switchover(MIGRATION_TRANSFERRING));
    assert_false(migration_phase_before_switchover(MIGRATION_SWITCHOVER));
}

static void test_insert_get(void **state)
{
    struct db *db = *state;
    struct migration m = sample("m-1", "vm-1");
    assert_int_equal(migration_insert(db, &m), 0);
    assert_int_equal(migration_insert(db, &m), -EEXIST);
    struct migration got;
    assert_int_equal(migration_get(db, "m-1", &got), 0);
    assert_string_equal(got.vm_name, "web-vm-1");
    assert_string_equal(got.options, "{\"channels\":4}");
    assert_int_equal(got.phase, MIGRATION_QUEUED);
    assert_int_equal(got.role, MIGRATION_ROLE_SOURCE);
    assert_true(got.downtime_ms == -1);
    assert_null(got.progress);
    assert_true(got.created_ms > 0);
    migration_release(&got);
    assert_int_equal(migration_get(db, "m-2", &got), -ENOENT);
}

static void test_set_phase_checks_and_journals(void **state)
{
    struct db *db = *state;
    struct migration m = sample("m-1", "vm-1");
    assert_int_equal(migration_insert(db, &m), 0);
    assert_int_equal(migration_set_phase(db, "m-1", MIGRATION_PREFLIGHT, NULL), 0);
    assert_int_equal(migration_set_phase(db, "m-1", MIGRATION_PREPARING, NULL), 0);
    assert_int_equal(migration_set_phase(db, "m-1", MIGRATION_QUEUED, NULL), -EINVAL);
    assert_int_equal(migration_set_phase(db, "m-1", MIGRATION_CANCELLING, "cancelled by ops"), 0);
    assert_int_equal(migration_set_phase(db, "m-1", MIGRATION_CANCELLED, NULL), 0);
    assert_int_equal(migration_set_phase(db, "nope", MIGRATION_PREFLIGHT, NULL), -ENOENT);
    struct migration got;
    assert_int_equal(migration_get(db, "m-1", &got), 0);
    assert_int_equal(got.phase, MIGRATION_CANCELLED);
    assert_string_equal(got.error, "cancelled by ops");
    assert_true(got.finished_ms > 0);
    migration_release(&got);
    /* A refused move leaves nothing behind: create + 4 phase entries. */
    struct migration_step *steps;
    size_t n;
    assert_int_equal(migration_steps(db, "m-1", &steps, &n), 0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(steps[i].seq, (int)i + 1);
    assert_string_equal(steps[0].step, "create");
    assert_string_equal(steps[4].step, "phase");
    assert_non_null(strstr(steps[4].detail, "cancelled"));
    migration_steps_free(steps, n);
}

static void test_steps_to_undo(void **state)
{
    struct db *db = *state;
    struct migration m = sample("m-1", "vm-1");
    assert_int_equal(migration_insert(db, &m), 0);
    assert_true(migration_journal(db, "m-1", "prepare-ports", STEP_BEGUN, NULL) > 0);
    assert_true(migration_journal(db, "m-1", "prepare-ports", STEP_DONE, NULL) > 0);
    assert_true(migration_journal(db, "m-1", "start-qemu", STEP_BEGUN, NULL) > 0);
    assert_true(migration_journal(db, "m-1", "start-qemu", STEP_DONE, NULL) > 0);
    assert_true(migration_journal(db, "m-1", "open-channel", STEP_BEGUN, NULL) > 0);
    assert_true(migration_journal(db, "m-1", "open-channel", STEP_FAILED, NULL) > 0);
    assert_true(migration_journal(db, "m-1", "start-qemu", STEP_UNDONE, NULL) > 0);
    struct migration_step *steps;
    size_t n;
    assert_int_equal(migration_steps_to_undo(db, "m-1", &steps, &n), 0);
    /* start-qemu was undone already; open-channel never finished. */
    assert_int_equal(n, 1);
    assert_string_equal(steps[0].step, "prepare-ports");
    migration_steps_free(steps, n);
    assert_true(migration_journal(db, "m-1", "start-qemu", STEP_DONE, NULL) > 0);
    assert_int_equal(migration_steps_to_undo(db, "m-1", &steps, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(steps[0].step, "start-qemu"); /* latest first */
    assert_string_equal(steps[1].step, "prepare-ports");
    migration_steps_free(steps, n);
}

static void test_list_count_find(void **state)
{
    struct db *db = *state;
    char id[16], vm[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "m-%d", i);
        snprintf(vm, sizeof(vm), "vm-%d", i);
        struct migration m = sample(id, vm);
        assert_int_equal(migration_insert(db, &m), 0);
    }
    assert_int_equal(migration_count_active(db, MIGRATION_ROLE_SOURCE), 0); /* all queued */
    assert_int_equal(migration_set_phase(db, "m-1", MIGRATION_PREFLIGHT, NULL), 0);
    assert_int_equal(migration_set_phase(db, "m-3", MIGRATION_PREFLIGHT, NULL), 0);
    assert_int_equal(migration_count_active(db, MIGRATION_ROLE_SOURCE), 2);
    assert_int_equal(migration_count_active(db, MIGRATION_ROLE_DESTINATION), 0);
    assert_int_equal(migration_set_phase(db, "m-0", MIGRATION_CANCELLED, NULL), 0);

    struct migration *list;
    size_t n;
    assert_int_equal(migration_list(db, NULL, 2, false, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].uuid, "m-0");
    assert_string_equal(list[1].uuid, "m-1");
    migration_list_free(list, n);
    assert_int_equal(migration_list(db, "m-1", 10, false, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].uuid, "m-2");
    migration_list_free(list, n);
    assert_int_equal(migration_list(db, NULL, 10, true, &list, &n), 0);
    assert_int_equal(n, 4); /* m-0 is final */
    migration_list_free(list, n);
    assert_int_equal(migration_list(db, NULL, -1, false, &list, &n), -EINVAL);

    struct migration got;
    assert_int_equal(migration_find_unfinished_for_vm(db, "vm-3", &got), 0);
    assert_string_equal(got.uuid, "m-3");
    migration_release(&got);
    assert_int_equal(migration_find_unfinished_for_vm(db, "vm-0", &got), -ENOENT);
}

static void test_progress_network_measurements_json(void **state)
{
    struct db *db = *state;
    struct migration m = sample("m-1", "vm-1");
    assert_int_equal(migration_insert(db, &m), 0);
    struct json_object *progress = json_tokener_parse("{\"bytes\":1024,\"remaining\":0}");
    struct json_object *timings = json_tokener_parse("{\"transfer\":350}");
    assert_int_equal(migration_set_progress(db, "m-1", progress, timings), 0);
    assert_int_equal(migration_set_network(db, "m-1", "net-2", "10.0.2.1", "10.0.2.2"), 0);
    assert_int_equal(migration_set_measurements(db, "m-1", 35, 12), 0);
    assert_int_equal(migration_set_measurements(db, "nope", 1, 1), -ENOENT);
    json_object_put(progress);
    json_object_put(timings);
    struct migration got;
    assert_int_equal(migration_get(db, "m-1", &got), 0);
    struct json_object *j = migration_to_json(&got);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    assert_non_null(strstr(text, "\"phase\":\"queued\""));
    assert_non_null(strstr(text, "\"bytes\":1024"));
    assert_non_null(strstr(text, "\"destination_address\":\"10.0.2.2\""));
    assert_non_null(strstr(text, "\"downtime_ms\":35"));
    assert_non_null(strstr(text, "\"switchover_gap_ms\":12"));
    assert_non_null(strstr(text, "\"transfer\":350"));
    json_object_put(j);
    migration_release(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase_names_round_trip),
        cmocka_unit_test(test_phase_rules),
        cmocka_unit_test_setup_teardown(test_insert_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_phase_checks_and_journals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steps_to_undo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_count_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_network_measurements_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
