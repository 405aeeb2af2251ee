/* api/cli.c: the "did you mean" suggestion for a mistyped command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "api/cli.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typos_find_the_command),
        cmocka_unit_test(test_no_guess_when_nothing_is_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
