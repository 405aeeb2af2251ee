/* model/subnet.c: canonical subnets, containment, what is never a cluster
 * network, Get-ClusterNetwork's AddressMask. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "model/subnet.h"

static void test_canonical_form(void **state)
{
    (void)state;
    struct subnet a, b;
    assert_int_equal(subnet_of("10.78.0.17", 24, &a), 0);
    assert_string_equal(a.address, "10.78.0.0");
    assert_int_equal(a.family, AF_INET);
    assert_int_equal(subnet_of("10.78.0.200", 24, &b), 0);
    assert_true(subnet_equal(&a, &b));
    assert_int_equal(subnet_of("10.78.0.200", 25, &b), 0);
    assert_string_equal(b.address, "10.78.0.128");
    assert_false(subnet_equal(&a, &b)); /* same bits, another prefix */
    assert_int_equal(subnet_of("172.16.5.9", 12, &b), 0);
    assert_string_equal(b.address, "172.16.0.0");
    assert_int_equal(subnet_of("fd00:77::1234", 64, &b), 0);
    assert_string_equal(b.address, "fd00:77::");
    assert_int_equal(b.family, AF_INET6);
    assert_int_equal(subnet_of("2001:db8:1:2:3::1", 52, &b), 0);
    assert_string_equal(b.address, "2001:db8:1::");
}

static void test_bad_input(void **state)
{
    (void)state;
    struct subnet s;
    assert_int_equal(subnet_of("10.0.0.300", 24, &s), -EINVAL);
    assert_int_equal(subnet_of("10.0.0.1", 33, &s), -EINVAL);
    assert_int_equal(subnet_of("fd00::1", 129, &s), -EINVAL);
    assert_int_equal(subnet_of("eth0", 24, &s), -EINVAL);
    assert_int_equal(subnet_of(NULL, 24, &s), -EINVAL);
}

static void test_contains(void **state)
{
    (void)state;
    struct subnet s;
    assert_int_equal(subnet_of("10.77.0.0", 24, &s), 0);
    assert_true(subnet_contains(&s, "10.77.0.1"));
    assert_true(subnet_contains(&s, "10.77.0.255"));
    assert_false(subnet_contains(&s, "10.77.1.1"));
    assert_false(subnet_contains(&s, "fd00::1"));
    assert_false(subnet_contains(&s, "not an address"));
    assert_int_equal(subnet_of("0.0.0.0", 0, &s), 0);
    assert_true(subnet_contains(&s, "192.0.2.1"));
}

static void test_host_only(void **state)
{
    (void)state;
    struct subnet s;
    assert_int_equal(subnet_of("127.0.0.1", 8, &s), 0);
    assert_true(subnet_is_host_only(&s));
    assert_int_equal(subnet_of("169.254.10.1", 16, &s), 0);
    assert_true(subnet_is_host_only(&s));
    assert_int_equal(subnet_of("10.0.0.1", 32, &s), 0);
    assert_true(subnet_is_host_only(&s));
    assert_int_equal(subnet_of("::1", 128, &s), 0);
    assert_true(subnet_is_host_only(&s));
    assert_int_equal(subnet_of("fe80::1", 64, &s), 0);
    assert_true(subnet_is_host_only(&s));
    assert_int_equal(subnet_of("10.0.0.1", 31, &s), 0);
    assert_false(subnet_is_host_only(&s));
    assert_int_equal(subnet_of("fd00::1", 64, &s), 0);
    assert_false(subnet_is_host_only(&s));
}

static void test_mask_text(void **state)
{
    (void)state;
    struct subnet s;
    char buf[64];
    assert_int_equal(subnet_of("10.0.0.1", 24, &s), 0);
    assert_string_equal(subnet_mask_text(&s, buf, sizeof(buf)), "255.255.255.0");
    assert_int_equal(subnet_of("10.0.0.1", 20, &s), 0);
    assert_string_equal(subnet_mask_text(&s, buf, sizeof(buf)), "255.255.240.0");
    assert_int_equal(subnet_of("10.0.0.1", 0, &s), 0);
    assert_string_equal(subnet_mask_text(&s, buf, sizeof(buf)), "0.0.0.0");
    assert_int_equal(subnet_of("fd00::1", 64, &s), 0);
    assert_string_equal(subnet_mask_text(&s, buf, sizeof(buf)), "64");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_form), cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_contains),       cmocka_unit_test(test_host_only),
        cmocka_unit_test(test_mask_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
