/* base/mac.c: the three spellings, printing, multicast and ranges. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "base/mac.h"

static void test_parse_three_spellings(void **state)
{
    (void)state;
    uint64_t a, b, c;
    assert_int_equal(mac_parse("00:1D:d8:b7:1c:00", &a), 0);
    assert_int_equal(mac_parse("00-1d-D8-B7-1C-00", &b), 0);
    assert_int_equal(mac_parse("001dd8b71c00", &c), 0);
    assert_true(a == UINT64_C(0x001dd8b71c00));
    assert_true(a == b && b == c);
    char out[MAC_STRING_SIZE];
    assert_string_equal(mac_format(a, out), "00:1d:d8:b7:1c:00");
    assert_string_equal(mac_format(MAC_MAX, out), "ff:ff:ff:ff:ff:ff");
}

static void test_parse_refuses(void **state)
{
    (void)state;
    const char *bad[] = { "", "00:1d:d8:b7:1c", "00:1d:d8:b7:1c:0", "00:1d-d8:b7:1c:00",
                          "00.1d.d8.b7.1c.00", "001dd8b71c0g", "00:1d:d8:b7:1c:00:",
                          "0x1dd8b71c00", "00:1d:d8:b7:1c:000", " 00:1d:d8:b7:1c:00" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t m = 7;
        assert_int_equal(mac_parse(bad[i], &m), -EINVAL);
        assert_true(m == 7); /* untouched */
    }
    uint64_t m;
    assert_int_equal(mac_parse(NULL, &m), -EINVAL);
}

static void test_multicast(void **state)
{
    (void)state;
    assert_true(mac_is_multicast(UINT64_C(0x01005e000001)));
    assert_true(mac_is_multicast(MAC_MAX));
    assert_false(mac_is_multicast(UINT64_C(0x00155d000001)));
    assert_false(mac_is_multicast(UINT64_C(0x02155d000001))); /* local, unicast */
}

static void test_ranges(void **state)
{
    (void)state;
    struct mac_range oui = { UINT64_C(0x001dd8000000), UINT64_C(0x001dd8ffffff) };
    assert_true(mac_range_size(&oui) == 16777216);
    struct mac_range a = { 10, 20 }, b = { 20, 30 }, c = { 21, 30 };
    assert_true(mac_range_overlaps(&a, &b));
    assert_true(mac_range_overlaps(&b, &a));
    assert_false(mac_range_overlaps(&a, &c));
    assert_true(mac_range_contains(&a, 10) && mac_range_contains(&a, 20));
    assert_false(mac_range_contains(&a, 21));
    char why[256];
    assert_int_equal(mac_range_check(&oui, why, sizeof(why)), 0);
    struct mac_range backwards = { 30, 20 };
    assert_int_equal(mac_range_check(&backwards, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "after"));
    struct mac_range mcast = { UINT64_C(0x00ffffffff00), UINT64_C(0x020000000010) };
    assert_int_equal(mac_range_check(&mcast, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "multicast"));
}

static void test_range_parse(void **state)
{
    (void)state;
    struct mac_range r;
    assert_int_equal(mac_range_parse("00:1d:d8:b7:1c:00-00:1d:d8:f4:1f:ff", &r), 0);
    assert_true(r.start == UINT64_C(0x001dd8b71c00) && r.end == UINT64_C(0x001dd8f41fff));
    assert_int_equal(mac_range_parse("00-1d-d8-b7-1c-00-00-1d-d8-f4-1f-ff", &r), 0);
    assert_true(r.start == UINT64_C(0x001dd8b71c00) && r.end == UINT64_C(0x001dd8f41fff));
    assert_int_equal(mac_range_parse("001dd8b71c00-001dd8f41fff", &r), 0);
    assert_int_equal(mac_range_parse("001dd8b71c00", &r), -EINVAL);
    assert_int_equal(mac_range_parse("00:1d-00:2d", &r), -EINVAL);
    assert_int_equal(mac_range_parse("001dd8b71c00-001dd8f41fff-00", &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_three_spellings),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_multicast),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_range_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
