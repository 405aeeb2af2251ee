/* model/vlan.c: access and trunk assignments and the field paths of their
 * errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "model/vlan.h"

static int parse(const char *text, struct vlan_assignment *a, char *pointer, char *detail)
{
    struct json_object *o = json_tokener_parse(text);
    int r = vlan_assignment_from_json(o, "/adapters/0/vlan", a, pointer, 64, detail, 256);
    json_object_put(o);
    return r;
}

static struct vlan_assignment a;

static void test_access(void **state)
{
    (void)state;
    char pointer[64], detail[256];
    assert_int_equal(parse("{\"mode\":\"access\",\"id\":100}", &a, pointer, detail), 0);
    assert_int_equal(a.mode, VLAN_MODE_ACCESS);
    assert_int_equal(a.id, 100);
    assert_true(vlan_assignment_carries(&a, 100));
    assert_false(vlan_assignment_carries(&a, 101));
    struct json_object *o = vlan_assignment_to_json(&a);
    assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                        "{\"mode\":\"access\",\"id\":100}");
    json_object_put(o);
}

static void test_trunk_sorted_with_native(void **state)
{
    (void)state;
    char pointer[64], detail[256];
    assert_int_equal(
        parse("{\"mode\":\"trunk\",\"allowed\":[300,100,4094],\"native\":100}", &a, pointer,
              detail),
        0);
    assert_int_equal(a.n_allowed, 3);
    assert_int_equal(a.allowed[0], 100);
    assert_int_equal(a.allowed[2], 4094);
    assert_int_equal(a.native, 100);
    assert_true(vlan_assignment_carries(&a, 300));
    struct json_object *o = vlan_assignment_to_json(&a);
    assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                        "{\"mode\":\"trunk\",\"allowed\":[100,300,4094],\"native\":100}");
    json_object_put(o);
}

static void test_refusals_name_the_field(void **state)
{
    (void)state;
    struct {
        const char *text, *pointer;
    } cases[] = {
        { "{\"mode\":\"access\",\"id\":0}", "/adapters/0/vlan/id" },
        { "{\"mode\":\"access\",\"id\":4095}", "/adapters/0/vlan/id" },
        { "{\"mode\":\"access\",\"id\":\"100\"}", "/adapters/0/vlan/id" },
        { "{\"mode\":\"access\"}", "/adapters/0/vlan/id" },
        { "{\"mode\":\"hybrid\",\"id\":1}", "/adapters/0/vlan/mode" },
        { "{\"id\":1}", "/adapters/0/vlan/mode" },
        { "{\"mode\":\"trunk\",\"allowed\":[]}", "/adapters/0/vlan/allowed" },
        { "{\"mode\":\"trunk\",\"allowed\":[10,20,10]}", "/adapters/0/vlan/allowed/2" },
        { "{\"mode\":\"trunk\",\"allowed\":[10,5000]}", "/adapters/0/vlan/allowed/1" },
        { "{\"mode\":\"trunk\",\"allowed\":[10,20],\"native\":30}", "/adapters/0/vlan/native" },
        { "{\"mode\":\"access\",\"id\":5,\"native\":5}", "/adapters/0/vlan" },
        { "[1,2]", "/adapters/0/vlan" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char pointer[64] = "", detail[256] = "";
        assert_int_equal(parse(cases[i].text, &a, pointer, detail), -EINVAL);
        assert_string_equal(pointer, cases[i].pointer);
        assert_true(strlen(detail) > 10);
    }
    char pointer[64], detail[256];
    parse("{\"mode\":\"trunk\",\"allowed\":[10,20,10]}", &a, pointer, detail);
    assert_non_null(strstr(detail, "twice"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_trunk_sorted_with_native),
        cmocka_unit_test(test_refusals_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
