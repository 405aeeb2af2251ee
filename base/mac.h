/* MAC addresses as 48-bit integers: parsing the three spellings users type,
 * printing the one spelling lmnet answers with, and range arithmetic for
 * pools and blocks.
 *
 * An address is a uint64_t whose low 48 bits are the address, first octet
 * most significant, so ranges compare and count like numbers. */
#ifndef LMNET_AGENT_MAC_H
#define LMNET_AGENT_MAC_H

#include <stdbool.h>
#include <stdint.h>

#define MAC_MAX UINT64_C(0xffffffffffff)
#define MAC_STRING_SIZE 18 /* "aa:bb:cc:dd:ee:ff" and NUL */

/* Parses "aa:bb:cc:dd:ee:ff", "aa-bb-cc-dd-ee-ff" or "aabbccddeeff" (hex
 * digits in either case; one separator style throughout).  Returns 0 and
 * *mac, or -EINVAL. */
int mac_parse(const char *text, uint64_t *mac);

/* Prints MAC lower-case with colons into OUT and returns OUT. */
char *mac_format(uint64_t mac, char out[MAC_STRING_SIZE]);

/* True when the I/G bit (the low bit of the first octet) is set: a group
 * address, never given to an adapter. */
bool mac_is_multicast(uint64_t mac);

/* An inclusive range of addresses. */
struct mac_range {
    uint64_t start;
    uint64_t end;
};

/* Parses "START-END", each address in any of the three spellings (two
 * dash-spelled addresses split at their middle).  Returns 0 or -EINVAL. */
int mac_range_parse(const char *text, struct mac_range *range);

/* Number of addresses in RANGE (start <= end). */
uint64_t mac_range_size(const struct mac_range *range);

/* True when A and B share at least one address. */
bool mac_range_overlaps(const struct mac_range *a, const struct mac_range *b);

/* True when MAC lies in RANGE. */
bool mac_range_contains(const struct mac_range *range, uint64_t mac);

/* Checks a range given for a pool: start <= end, and no multicast address
 * inside it (the I/G bit is in the first octet, so a range containing one
 * has a multicast start or end, or spans a first octet with the bit set).
 * Returns 0 or -EINVAL with the reason in WHY (at least 128 bytes). */
int mac_range_check(const struct mac_range *range, char *why, unsigned long why_size);

#endif
