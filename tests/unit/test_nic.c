/* agent/nic.c: what the kernel's ethtool speed fields mean.  Reading real
 * NICs needs a host (tests/integration/test_nics.sh); this checks the
 * arithmetic on the values drivers really report, under UBSan too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "agent/nic.h"

static void test_link_speed(void **state)
{
    (void)state;
    assert_int_equal(nic_link_speed_mbps(10000, 0), 10000);
    assert_int_equal(nic_link_speed_mbps(10, 0), 10);
    /* 100 Gbit/s and 400 Gbit/s need the high half. */
    assert_int_equal(nic_link_speed_mbps(100000 & 0xffff, 100000 >> 16), 100000);
    assert_int_equal(nic_link_speed_mbps(400000 & 0xffff, 400000 >> 16), 400000);
    /* Unknown: 0, 0xffff, and SPEED_UNKNOWN (-1 in both halves, as a bridge
     * without ports or a bond without slaves reports: its high half shifted
     * into a signed int's sign bit was undefined behaviour). */
    assert_int_equal(nic_link_speed_mbps(0, 0), -1);
    assert_int_equal(nic_link_speed_mbps(0xffff, 0), -1);
    assert_int_equal(nic_link_speed_mbps(0xffff, 0xffff), -1);
    /* A high half with its top bit set is still a number, if a silly one. */
    assert_int_equal(nic_link_speed_mbps(0, 0x8000), 0x80000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
