/* For the fuzz targets of stream protocols (QMP, OVSDB, OpenFlow): the
 * input becomes everything the other party sends on a socketpair, followed
 * by the end of its stream, so the module reads it through its real framing
 * code and then sees the peer stop sending instead of waiting for more. */
#ifndef LMNET_TESTS_FUZZ_STREAM_H
#define LMNET_TESTS_FUZZ_STREAM_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

/* Returns our end of a stream socketpair whose other end (*PEER: close it
 * when done) has sent DATA and shut down its sending side, or -1.  SIZE
 * must fit in the socket buffer (the targets run with a -max_len of a few
 * KiB); what we write is kept by the peer unread and dropped with it. */
static inline int fuzz_stream(const uint8_t *data, size_t size, int *peer)
{
    signal(SIGPIPE, SIG_IGN);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    size_t sent = 0;
    while (sent < size) {
        ssize_t n = send(sv[1], data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);
    *peer = sv[1];
    return sv[0];
}
#endif
