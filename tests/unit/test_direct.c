/* migrate/direct.c: the listening socket only the source host can open, on
 * loopback (127.0.0.0/8 lets a test send from two addresses). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "migrate/direct.h"

/* Connects from FROM to 127.0.0.1:PORT without blocking; returns the
 * socket. */
static int connect_from(const char *from, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int r = connect(fd, (struct sockaddr *)&to, sizeof(to));
    assert_true(r == 0 || errno == EINPROGRESS);
    return fd;
}

/* Whether the listener LISTENER has a connection to accept within MS. */
static int accept_within(int listener, int ms)
{
    struct pollfd p = {.fd = listener, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return -1;
    return accept(listener, NULL, NULL);
}

static void test_the_peer_connects(void **state)
{
    (void)state;
    uint16_t port = 0;
    int l = direct_listen("127.0.0.1", "127.0.0.2", &port);
    assert_true(l >= 0);
    assert_true(port > 0);
    int c = connect_from("127.0.0.2", port);
    int a = accept_within(l, 2000);
    assert_true(a >= 0);
    /* Bytes flow both ways on the accepted connection (it inherits the
     * filter, which lets the peer's packets in). */
    struct pollfd p = {.fd = c, .events = POLLOUT};
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(write(c, "ping", 4), 4);
    char buf[8];
    assert_int_equal(read(a, buf, sizeof(buf)), 4);
    assert_int_equal(write(a, "pong", 4), 4);
    p.events = POLLIN;
    assert_int_equal(poll(&p, 1, 2000), 1);
    assert_int_equal(read(c, buf, sizeof(buf)), 4);
    close(a);
    close(c);
    close(l);
}

static void test_anyone_else_gets_no_connection(void **state)
{
    (void)state;
    uint16_t port = 0;
    int l = direct_listen("127.0.0.1", "127.0.0.2", &port);
    assert_true(l >= 0);
    int c = connect_from("127.0.0.3", port);
    assert_int_equal(accept_within(l, 300), -1);
    /* Its SYN was dropped: the connect is still pending, not refused. */
    struct pollfd p = {.fd = c, .events = POLLOUT};
    assert_int_equal(poll(&p, 1, 0), 0);
    close(c);
    /* The peer still gets in afterwards. */
    c = connect_from("127.0.0.2", port);
    int a = accept_within(l, 2000);
    assert_true(a >= 0);
    close(a);
    close(c);
    close(l);
}

static void test_the_filter_cannot_be_removed(void **state)
{
    (void)state;
    uint16_t port = 0;
    int l = direct_listen("127.0.0.1", "127.0.0.2", &port);
    assert_true(l >= 0);
    int zero = 0;
    assert_int_equal(setsockopt(l, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof(zero)), -1);
    assert_int_equal(errno, EPERM);
    close(l);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    uint16_t port = 0;
    assert_int_equal(direct_listen("127.0.0.1", "h2.example", &port), -EINVAL);
    assert_int_equal(direct_listen("", "127.0.0.2", &port), -EINVAL);
    assert_int_equal(direct_listen(NULL, "127.0.0.2", &port), -EINVAL);
    assert_int_equal(direct_listen("127.0.0.1", "::1", &port), -EAFNOSUPPORT);
}

static void test_ipv6_peer(void **state)
{
    (void)state;
    uint16_t port = 0;
    int l = direct_listen("::1", "::1", &port);
    if (l == -EADDRNOTAVAIL || l == -EAFNOSUPPORT)
        skip(); /* no IPv6 loopback here */
    assert_true(l >= 0);
    int c = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, "::1", &to.sin6_addr);
    assert_int_equal(connect(c, (struct sockaddr *)&to, sizeof(to)), 0);
    int a = accept_within(l, 2000);
    assert_true(a >= 0);
    close(a);
    close(c);
    close(l);
    /* Another IPv6 peer is kept out. */
    l = direct_listen("::1", "fd00::2", &port);
    assert_true(l >= 0);
    c = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    to.sin6_port = htons(port);
    connect(c, (struct sockaddr *)&to, sizeof(to));
    assert_int_equal(accept_within(l, 300), -1);
    close(c);
    close(l);
}

static void test_route_source_and_safety(void **state)
{
    (void)state;
    char from[64];
    assert_int_equal(direct_route_source("127.0.0.1", from, sizeof(from)), 0);
    assert_string_equal(from, "127.0.0.1");
    assert_int_equal(direct_route_source("not-an-address", from, sizeof(from)), -EINVAL);
    assert_true(direct_path_safe("10.78.0.1", "10.78.0.2", "10.78.0.1"));
    /* The kernel would send from another address: the filter would drop
     * QEMU's connections. */
    assert_false(direct_path_safe("10.78.0.1", "10.78.0.2", "10.77.0.1"));
    assert_false(direct_path_safe("", "10.78.0.2", "10.78.0.1"));
    assert_false(direct_path_safe("10.78.0.1", "fd00::2", "10.78.0.1"));
    assert_true(direct_path_safe("fd00::1", "fd00::2", "fd00:0::1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_peer_connects),
        cmocka_unit_test(test_anyone_else_gets_no_connection),
        cmocka_unit_test(test_the_filter_cannot_be_removed),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_ipv6_peer),
        cmocka_unit_test(test_route_source_and_safety),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
