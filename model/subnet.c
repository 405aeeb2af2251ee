/* IP subnets: see model/subnet.h. */
#include "model/subnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static size_t family_bytes(int family)
{
    return family == AF_INET ? 4 : 16;
}

static int parse(const char *address, int *family, unsigned char bytes[16])
{
    memset(bytes, 0, 16);
    if (inet_pton(AF_INET, address, bytes) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, address, bytes) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -EINVAL;
}

static void mask(unsigned char bytes[16], size_t len, unsigned prefix)
{
    for (size_t i = 0; i < len; i++) {
        unsigned bits = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;
        bytes[i] &= (unsigned char)(bits ? 0xff << (8 - bits) : 0);
    }
}

int subnet_of(const char *address, unsigned prefix, struct subnet *out)
{
    memset(out, 0, sizeof(*out));
    if (!address || parse(address, &out->family, out->bytes) < 0)
        return -EINVAL;
    size_t len = family_bytes(out->family);
    if (prefix > 8 * len)
        return -EINVAL;
    out->prefix = prefix;
    mask(out->bytes, len, prefix);
    if (!inet_ntop(out->family, out->bytes, out->address, sizeof(out->address)))
        return -EINVAL;
    return 0;
}

bool subnet_contains(const struct subnet *subnet, const char *address)
{
    struct subnet other;
    return subnet_of(address, subnet->prefix, &other) == 0 && subnet_equal(subnet, &other);
}

bool subnet_equal(const struct subnet *a, const struct subnet *b)
{
    return a->family == b->family && a->prefix == b->prefix &&
           memcmp(a->bytes, b->bytes, family_bytes(a->family)) == 0;
}

bool subnet_is_host_only(const struct subnet *s)
{
    if (s->prefix >= 8 * family_bytes(s->family))
        return true;
    if (s->family == AF_INET)
        return s->bytes[0] == 127 || (s->bytes[0] == 169 && s->bytes[1] == 254 && s->prefix >= 16);
    static const unsigned char loopback6[16] = { [15] = 1 };
    if (memcmp(s->bytes, loopback6, 16) == 0)
        return true;
    return s->bytes[0] == 0xfe && (s->bytes[1] & 0xc0) == 0x80 && s->prefix >= 10;
}

const char *subnet_mask_text(const struct subnet *s, char *buf, size_t size)
{
    if (s->family == AF_INET6) {
        snprintf(buf, size, "%u", s->prefix);
        return buf;
    }
    unsigned char m[16] = { 0xff, 0xff, 0xff, 0xff };
    mask(m, 4, s->prefix);
    snprintf(buf, size, "%u.%u.%u.%u", m[0], m[1], m[2], m[3]);
    return buf;
}
