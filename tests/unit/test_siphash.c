/* base/siphash.c against the reference's test vectors (key 00 01 .. 0f,
 * message 00 01 .. len-1), and that the key and every byte matter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "base/siphash.h"

static void test_reference_vectors(void **state)
{
    (void)state;
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    /* From the SipHash paper (appendix A) and its reference vectors.h. */
    assert_true(siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
    assert_true(siphash24(key, msg, 1) == 0x74f839c593dc67fdULL);
    assert_true(siphash24(key, msg, 8) == 0x93f5f5799a932462ULL);
    assert_true(siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
}

static void test_key_and_bytes_matter(void **state)
{
    (void)state;
    uint8_t key[16] = { 1 }, other[16] = { 2 }, msg[96] = { 0 };
    uint64_t h = siphash24(key, msg, sizeof(msg));
    assert_true(siphash24(other, msg, sizeof(msg)) != h);
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] ^= 1;
        assert_true(siphash24(key, msg, sizeof(msg)) != h);
        msg[i] ^= 1;
    }
    assert_true(siphash24(key, msg, sizeof(msg)) == h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vectors),
        cmocka_unit_test(test_key_and_bytes_matter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
