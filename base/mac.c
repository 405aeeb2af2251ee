/* MAC addresses as integers: see base/mac.h. */
#include "base/mac.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int mac_parse(const char *text, uint64_t *mac)
{
    if (!text)
        return -EINVAL;
    size_t len = strlen(text);
    char sep = 0;
    if (len == 17) {
        sep = text[2];
        if (sep != ':' && sep != '-')
            return -EINVAL;
    } else if (len != 12) {
        return -EINVAL;
    }
    uint64_t value = 0;
    const char *p = text;
    for (int octet = 0; octet < 6; octet++) {
        if (octet > 0 && sep) {
            if (*p != sep)
                return -EINVAL;
            p++;
        }
        int hi = hex_value(p[0]), lo = hi < 0 ? -1 : hex_value(p[1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        value = value << 8 | (uint64_t)(hi << 4 | lo);
        p += 2;
    }
    if (*p)
        return -EINVAL;
    *mac = value;
    return 0;
}

char *mac_format(uint64_t mac, char out[MAC_STRING_SIZE])
{
    snprintf(out, MAC_STRING_SIZE, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(mac >> 40) & 0xff,
             (unsigned)(mac >> 32) & 0xff, (unsigned)(mac >> 24) & 0xff,
             (unsigned)(mac >> 16) & 0xff, (unsigned)(mac >> 8) & 0xff, (unsigned)mac & 0xff);
    return out;
}

bool mac_is_multicast(uint64_t mac)
{
    return (mac >> 40) & 1;
}

int mac_range_parse(const char *text, struct mac_range *range)
{
    size_t len = strlen(text);
    const char *dash = len == 35 && text[17] == '-' ? text + 17 : strchr(text, '-');
    if (!dash || (len != 35 && strchr(dash + 1, '-')) || dash - text > 17)
        return -EINVAL;
    char start[18];
    memcpy(start, text, (size_t)(dash - text));
    start[dash - text] = '\0';
    struct mac_range r;
    if (mac_parse(start, &r.start) < 0 || mac_parse(dash + 1, &r.end) < 0)
        return -EINVAL;
    *range = r;
    return 0;
}

uint64_t mac_range_size(const struct mac_range *range)
{
    return range->end - range->start + 1;
}

bool mac_range_overlaps(const struct mac_range *a, const struct mac_range *b)
{
    return a->start <= b->end && b->start <= a->end;
}

bool mac_range_contains(const struct mac_range *range, uint64_t mac)
{
    return mac >= range->start && mac <= range->end;
}

int mac_range_check(const struct mac_range *range, char *why, unsigned long why_size)
{
    char a[MAC_STRING_SIZE], b[MAC_STRING_SIZE];
    if (range->start > MAC_MAX || range->end > MAC_MAX || range->start > range->end) {
        snprintf(why, why_size, "start %s is after end %s", mac_format(range->start, a),
                 mac_format(range->end, b));
        return -EINVAL;
    }
    /* The first octet runs from the start's to the end's; any odd one in
     * between is a group (multicast) octet. */
    unsigned first = (unsigned)(range->start >> 40), last = (unsigned)(range->end >> 40);
    for (unsigned o = first; o <= last; o++)
        if (o & 1) {
            snprintf(why, why_size,
                     "the range contains multicast addresses (first octet %02x has the I/G bit "
                     "set); adapters need unicast addresses",
                     o);
            return -EINVAL;
        }
    return 0;
}
