/* cli/cli.c: the "did you mean" suggestion for a mistyped command, and the
 * list filters (--role, --state, --host ...). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "cli/cli.h"

static const char *const nouns[] = {"host",    "health", "version", "cluster",   "events",
                                    "macpool", "vlan",   "network", "nic",       "switch",
                                    "port",    "vm",     "migrate", "migration", NULL};

static void test_typos_find_the_command(void **state)
{
    (void)state;
    assert_string_equal(cli_suggest("netwrok", nouns), "network");  /* swapped letters */
    assert_string_equal(cli_suggest("networks", nouns), "network"); /* one too many */
    assert_string_equal(cli_suggest("migratoin", nouns), "migration");
    assert_string_equal(cli_suggest("evnts", nouns), "events");
    assert_string_equal(cli_suggest("swtich", nouns), "switch");
    assert_string_equal(cli_suggest("macpol", nouns), "macpool");
}

static void test_no_guess_when_nothing_is_close(void **state)
{
    (void)state;
    assert_null(cli_suggest("frobnicate", nouns));
    assert_null(cli_suggest("x", nouns)); /* one letter is not a typo of "vm" */
    assert_null(cli_suggest("", nouns));
    assert_null(cli_suggest(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", nouns));
}

static struct json_object *networks(void)
{
    return json_tokener_parse("[{\"name\":\"a\",\"role\":\"migration\",\"state\":\"up\"},"
                              "{\"name\":\"b\",\"role\":\"storage\",\"state\":\"down\"},"
                              "{\"name\":\"c\",\"role\":\"migration\",\"state\":\"down\"},"
                              "{\"name\":\"d\",\"host\":\"id-1\",\"host_name\":null}]");
}

static void test_filter_keeps_the_matching_items(void **state)
{
    (void)state;
    struct json_object *items = networks();
    struct json_object *kept = cli_filter_items(items, "role", NULL, "MIGRATION");
    assert_int_equal(json_object_array_length(kept), 2); /* a and c, case ignored */
    assert_string_equal(cli_str(json_object_array_get_idx(kept, 0), "name"), "a");
    assert_string_equal(cli_str(json_object_array_get_idx(kept, 1), "name"), "c");
    struct json_object *both = cli_filter_items(kept, "state", NULL, "down");
    assert_int_equal(json_object_array_length(both), 1);
    assert_string_equal(cli_str(json_object_array_get_idx(both, 0), "name"), "c");
    json_object_put(both);
    json_object_put(kept);

    /* the second key: a VM's host by name or by id; a null member matches nothing */
    kept = cli_filter_items(items, "host_name", "host", "id-1");
    assert_int_equal(json_object_array_length(kept), 1);
    assert_string_equal(cli_str(json_object_array_get_idx(kept, 0), "name"), "d");
    json_object_put(kept);

    kept = cli_filter_items(items, "role", NULL, NULL); /* no filter: all */
    assert_int_equal(json_object_array_length(kept), 4);
    json_object_put(kept);
    kept = cli_filter_items(NULL, "role", NULL, "vm"); /* no items: empty, not NULL */
    assert_non_null(kept);
    assert_int_equal(json_object_array_length(kept), 0);
    json_object_put(kept);
    json_object_put(items);
}

static void test_a_choice_outside_the_list_is_refused(void **state)
{
    (void)state;
    static const char *const roles[] = {"none", "management", "migration", "storage", "vm", NULL};
    char *text = NULL;
    size_t size = 0;
    FILE *err = open_memstream(&text, &size);
    struct cli cli = {.output = CLI_OUTPUT_TABLE, .out = stdout, .err = err};
    assert_true(cli_check_choice(&cli, "--role", "Migration", roles));
    assert_false(cli_check_choice(&cli, "--role", "foo", roles));
    fclose(err);
    assert_non_null(strstr(text, "--role must be one of none, management, migration, storage, vm, "
                                 "not 'foo'"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typos_find_the_command),
        cmocka_unit_test(test_no_guess_when_nothing_is_close),
        cmocka_unit_test(test_filter_keeps_the_matching_items),
        cmocka_unit_test(test_a_choice_outside_the_list_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
