/* The direct multifd path: see migrate/direct.h. */
#include "migrate/direct.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DIRECT_BACKLOG 32

union address {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

/* Parses TEXT into *out (port 0).  Returns its length or -EINVAL. */
static int parse(const char *text, union address *out)
{
    memset(out, 0, sizeof(*out));
    if (text && inet_pton(AF_INET, text, &out->v4.sin_addr) == 1) {
        out->v4.sin_family = AF_INET;
        return (int)sizeof(out->v4);
    }
    if (text && inet_pton(AF_INET6, text, &out->v6.sin6_addr) == 1) {
        out->v6.sin6_family = AF_INET6;
        return (int)sizeof(out->v6);
    }
    return -EINVAL;
}

/* A program that accepts a packet whose IP source is PEER, and drops any
 * other.  The filter sees the packet from its transport header on; the IP
 * header is at the negative offset SKF_NET_OFF. */
static int attach_peer_filter(int fd, const union address *peer)
{
    struct sock_filter code[12];
    size_t n = 0;
    if (peer->sa.sa_family == AF_INET) {
        code[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12);
        code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                 ntohl(peer->v4.sin_addr.s_addr), 0, 1);
    } else {
        /* Four words of the IPv6 source (offset 8); each mismatch jumps to
         * the drop at the end. */
        for (int i = 0; i < 4; i++) {
            uint32_t word;
            memcpy(&word, &peer->v6.sin6_addr.s6_addr[4 * i], 4);
            code[n++] =
                (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 8 + 4 * i);
            code[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(word), 0,
                                                     (uint8_t)(7 - 2 * i));
        }
    }
    code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
    code[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
        return -errno;
    /* The program cannot be swapped for a looser one by whoever holds the
     * socket later (QEMU). */
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) < 0)
        return -errno;
    return 0;
}

int direct_listen(const char *address, const char *peer, uint16_t *port)
{
    union address local, remote;
    int len = parse(address, &local);
    if (len < 0 || parse(peer, &remote) < 0)
        return -EINVAL;
    if (local.sa.sa_family != remote.sa.sa_family)
        return -EAFNOSUPPORT;
    int fd = socket(local.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = attach_peer_filter(fd, &remote);
    if (r == 0 && bind(fd, &local.sa, (socklen_t)len) < 0)
        r = -errno;
    if (r == 0 && listen(fd, DIRECT_BACKLOG) < 0)
        r = -errno;
    union address bound;
    socklen_t bound_len = sizeof(bound);
    if (r == 0 && getsockname(fd, &bound.sa, &bound_len) < 0)
        r = -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    *port = ntohs(bound.sa.sa_family == AF_INET ? bound.v4.sin_port : bound.v6.sin6_port);
    return fd;
}

int direct_route_source(const char *destination, char *out, size_t size)
{
    union address to;
    int len = parse(destination, &to);
    if (len < 0)
        return -EINVAL;
    if (to.sa.sa_family == AF_INET)
        to.v4.sin_port = htons(9);
    else
        to.v6.sin6_port = htons(9);
    int fd = socket(to.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    union address from;
    socklen_t from_len = sizeof(from);
    int r = 0;
    if (connect(fd, &to.sa, (socklen_t)len) < 0 || getsockname(fd, &from.sa, &from_len) < 0)
        r = -errno;
    close(fd);
    if (r < 0)
        return r;
    const void *raw = from.sa.sa_family == AF_INET ? (const void *)&from.v4.sin_addr
                                                   : (const void *)&from.v6.sin6_addr;
    if (!inet_ntop(from.sa.sa_family, raw, out, (socklen_t)size))
        return -errno;
    return 0;
}

/* Whether A and B are the same address (textual forms may differ). */
static bool same_address(const union address *a, const union address *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return false;
    if (a->sa.sa_family == AF_INET)
        return a->v4.sin_addr.s_addr == b->v4.sin_addr.s_addr;
    return memcmp(&a->v6.sin6_addr, &b->v6.sin6_addr, sizeof(a->v6.sin6_addr)) == 0;
}

bool direct_path_safe(const char *source, const char *destination, const char *route_source)
{
    union address s, d, r;
    if (parse(source, &s) < 0 || parse(destination, &d) < 0 || parse(route_source, &r) < 0)
        return false;
    return s.sa.sa_family == d.sa.sa_family && same_address(&s, &r);
}
