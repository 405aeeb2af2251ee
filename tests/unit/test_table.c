/* Unit tests for cli/table.c: column widths, the dashes under the headers,
 * NULL cells, and the last column left unpadded. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/table.h"

/* Prints TABLE into a new string the caller frees. */
static char *render(const struct table *table)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    table_print(table, f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(text);
    return text;
}

static void test_widths_and_dashes(void **state)
{
    (void)state;
    const char *headers[] = {"Name", "Id", "Url"};
    struct table *t = table_create(3, headers);
    assert_non_null(t);
    const char *r1[] = {"hv-a", "aaaaaaaa", "http://10.0.0.1:8470"};
    const char *r2[] = {"hypervisor-long", "b", "http://b"};
    assert_int_equal(table_add_row(t, r1), 0);
    assert_int_equal(table_add_row(t, r2), 0);
    char *text = render(t);
    /* Each column as wide as its widest cell, one space between columns,
     * dashes as long as each header, the last column not padded. */
    assert_string_equal(text, "Name            Id       Url\n"
                              "----            --       ---\n"
                              "hv-a            aaaaaaaa http://10.0.0.1:8470\n"
                              "hypervisor-long b        http://b\n");
    free(text);
    table_destroy(t);
}

static void test_header_widest(void **state)
{
    (void)state;
    const char *headers[] = {"Registry", "LastSeen"};
    struct table *t = table_create(2, headers);
    const char *r1[] = {"yes", ""};
    const char *r2[] = {NULL, "2023-11-14T22:13:20Z"};
    assert_int_equal(table_add_row(t, r1), 0);
    assert_int_equal(table_add_row(t, r2), 0);
    char *text = render(t);
    assert_string_equal(text, "Registry LastSeen\n"
                              "-------- --------\n"
                              "yes      \n"
                              "         2023-11-14T22:13:20Z\n");
    free(text);
    table_destroy(t);
}

static void test_headers_only_and_one_column(void **state)
{
    (void)state;
    const char *headers[] = {"Status", "Version"};
    struct table *t = table_create(2, headers);
    char *text = render(t);
    assert_string_equal(text, "Status Version\n"
                              "------ -------\n");
    free(text);
    table_destroy(t);

    const char *one[] = {"Id"};
    t = table_create(1, one);
    const char *row[] = {"0b7e5c1a-1111-4222-8333-944455556666"};
    assert_int_equal(table_add_row(t, row), 0);
    text = render(t);
    assert_string_equal(text, "Id\n"
                              "--\n"
                              "0b7e5c1a-1111-4222-8333-944455556666\n");
    free(text);
    table_destroy(t);
    table_destroy(NULL);
}

static void test_cells_copied(void **state)
{
    (void)state;
    char header[] = "Key";
    const char *headers[] = {header, "Value"};
    struct table *t = table_create(2, headers);
    char key[] = "node", value[] = "hv-a";
    const char *row[] = {key, value};
    assert_int_equal(table_add_row(t, row), 0);
    strcpy(header, "XXX");
    strcpy(key, "XXXX");
    strcpy(value, "XXXX");
    char *text = render(t);
    assert_string_equal(text, "Key  Value\n"
                              "---  -----\n"
                              "node hv-a\n");
    free(text);

    /* Many rows: widths follow the widest whatever its position. */
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        const char *r[] = {k, i == 57 ? "a-much-longer-value" : "v"};
        assert_int_equal(table_add_row(t, r), 0);
    }
    text = render(t);
    assert_non_null(strstr(text, "Key  Value\n---  -----\nnode hv-a\nk0   v\n"));
    assert_non_null(strstr(text, "\nk57  a-much-longer-value\nk58  v\n"));
    assert_non_null(strstr(text, "\nk99  v\n"));
    free(text);
    table_destroy(t);
}

/* Control characters a client put into a name (ANSI escapes, a newline
 * that would forge a row) print as \xNN; UTF-8 prints as it is. */
static void test_control_characters_escaped(void **state)
{
    (void)state;
    const char *headers[] = {"Name", "Note"};
    struct table *t = table_create(2, headers);
    assert_non_null(t);
    const char *r1[] = {"evil\x1b[2J", "a\nfake row\r\x7f"};
    const char *r2[] = {"caf\xc3\xa9", "tab\there"};
    assert_int_equal(table_add_row(t, r1), 0);
    assert_int_equal(table_add_row(t, r2), 0);
    char *text = render(t);
    assert_string_equal(text, "Name        Note\n"
                              "----        ----\n"
                              "evil\\x1b[2J a\\x0afake row\\x0d\\x7f\n"
                              "caf\xc3\xa9       tab\\x09here\n");
    free(text);
    table_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths_and_dashes),           cmocka_unit_test(test_header_widest),
        cmocka_unit_test(test_headers_only_and_one_column), cmocka_unit_test(test_cells_copied),
        cmocka_unit_test(test_control_characters_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
