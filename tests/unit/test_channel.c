/* migrate/channel.c: bytes cross the listener/forwarder pair intact in both
 * directions, a wrong token or a replayed hello is refused without closing
 * the listener, the token is good for max_connections only, probes and
 * silent clients neither burn nor delay the listener, the forwarder's unix
 * socket is 0660 without touching the process-wide umask, and destroy never
 * hangs.  Real sockets on
 * loopback; a thread plays QEMU on each side. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include "migrate/channel.h"

/* The umask is the whole process's: a thread that changes it, even for a
 * moment, changes the mode of every file other threads create meanwhile.
 * This test binary's umask() counts the calls made from the library. */
static int umask_calls;
mode_t umask(mode_t mask)
{
    umask_calls++;
    return (mode_t)syscall(SYS_umask, mask);
}

struct qemu_sink {
    int listen_fd;
    char path[108];
    size_t received;
    uint64_t checksum;
    pthread_t thread;
};

/* The destination "QEMU": accepts one connection, reads to EOF summing the
 * bytes, then answers with the count (the return path). */
static void *sink_thread(void *arg)
{
    struct qemu_sink *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            s->checksum = s->checksum * 31 + buf[i];
        s->received += (size_t)n;
    }
    char reply[64];
    int len = snprintf(reply, sizeof(reply), "got %zu\n", s->received);
    if (send(fd, reply, (size_t)len, MSG_NOSIGNAL) != len)
        fprintf(stderr, "sink: reply not sent (the channel was cut)\n");
    close(fd);
    return NULL;
}

static void sink_start(struct qemu_sink *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->path, sizeof(s->path), "/tmp/lmnet-test-%d-%s.sock", (int)getpid(), name);
    unlink(s->path);
    s->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
    assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(s->listen_fd, 4), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, sink_thread, s), 0);
}

static void sink_stop(struct qemu_sink *s)
{
    shutdown(s->listen_fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    unlink(s->path);
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

static void test_token_is_hex(void **state)
{
    (void)state;
    char a[CHANNEL_TOKEN_HEX + 1], b[CHANNEL_TOKEN_HEX + 1];
    assert_int_equal(channel_token_generate(a), 0);
    assert_int_equal(channel_token_generate(b), 0);
    assert_int_equal(strlen(a), CHANNEL_TOKEN_HEX);
    assert_int_equal(strspn(a, "0123456789abcdef"), CHANNEL_TOKEN_HEX);
    assert_string_not_equal(a, b);
}

static void test_bytes_cross_both_ways(void **state)
{
    (void)state;
    struct qemu_sink sink;
    sink_start(&sink, "dst");
    char token[CHANNEL_TOKEN_HEX + 1];
    assert_int_equal(channel_token_generate(token), 0);
    struct channel *listener = NULL, *forwarder = NULL;
    assert_int_equal(channel_listen("127.0.0.1", 0, token, sink.path, 1, &listener), 0);
    assert_true(channel_port(listener) > 0);
    char src_path[108];
    snprintf(src_path, sizeof(src_path), "/tmp/lmnet-test-%d-src.sock", (int)getpid());
    assert_int_equal(channel_forward(src_path, "127.0.0.1", "127.0.0.1", channel_port(listener),
                                     token, &forwarder), 0);

    /* The source "QEMU": 32 MiB of a known pattern, then read the reply. */
    int fd = connect_unix(src_path);
    assert_true(fd >= 0);
    size_t total = 32u << 20;
    unsigned char *data = malloc(total);
    uint64_t checksum = 0;
    for (size_t i = 0; i < total; i++) {
        data[i] = (unsigned char)(i * 7 + (i >> 13));
        checksum = checksum * 31 + data[i];
    }
    size_t sent = 0;
    while (sent < total) {
        ssize_t n = write(fd, data + sent, total - sent);
        assert_true(n > 0);
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char reply[64] = { 0 };
    ssize_t n = 0, got = 0;
    while ((n = read(fd, reply + got, sizeof(reply) - 1 - (size_t)got)) > 0)
        got += n;
    close(fd);
    sink_stop(&sink);

    char want[64];
    snprintf(want, sizeof(want), "got %zu\n", total);
    assert_string_equal(reply, want);
    assert_int_equal(sink.received, total);
    assert_true(sink.checksum == checksum);
    struct channel_stats st;
    channel_stats(listener, &st);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.rejected, 0);
    assert_true(st.bytes_forward == total);
    assert_true(st.bytes_backward == strlen(want));
    channel_stats(forwarder, &st);
    assert_true(st.bytes_forward == total);
    channel_destroy(forwarder);
    channel_destroy(listener);
    assert_int_equal(access(src_path, F_OK), -1); /* the forwarder removed its socket */
    free(data);
}

static void test_wrong_token_refused_listener_stays(void **state)
{
    (void)state;
    struct qemu_sink sink;
    sink_start(&sink, "dst2");
    char good[CHANNEL_TOKEN_HEX + 1], bad[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(good);
    channel_token_generate(bad);
    struct channel *listener = NULL, *forwarder = NULL;
    assert_int_equal(channel_listen("127.0.0.1", 0, good, sink.path, 1, &listener), 0);
    char src_path[108];
    snprintf(src_path, sizeof(src_path), "/tmp/lmnet-test-%d-src2.sock", (int)getpid());
    assert_int_equal(channel_forward(src_path, NULL, "127.0.0.1", channel_port(listener), bad,
                                     &forwarder), 0);
    int fd = connect_unix(src_path);
    assert_true(fd >= 0);
    char c;
    /* The forwarder closes QEMU's connection when the token is refused. */
    assert_int_equal(read(fd, &c, 1), 0);
    close(fd);
    struct channel_stats st;
    for (int i = 0; i < 100; i++) {
        channel_stats(listener, &st);
        if (st.rejected)
            break;
        usleep(10000);
    }
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.connections, 0);
    assert_int_equal(sink.received, 0);
    channel_destroy(forwarder);

    /* A wrong hello does not close the listener (a 256-bit token cannot be
     * guessed, and closing would let anyone on the network cancel a
     * migration): the right token still gets through. */
    assert_int_equal(channel_forward(src_path, NULL, "127.0.0.1", channel_port(listener), good,
                                     &forwarder), 0);
    fd = connect_unix(src_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "pages", 5), 5);
    shutdown(fd, SHUT_WR);
    char reply[16] = {0};
    ssize_t n, got = 0;
    while ((n = read(fd, reply + got, sizeof(reply) - 1 - (size_t)got)) > 0)
        got += n;
    assert_string_equal(reply, "got 5\n");
    close(fd);
    channel_stats(listener, &st);
    assert_int_equal(st.connections, 1);
    channel_destroy(forwarder);
    channel_destroy(listener);
    sink_stop(&sink);
}

static void test_token_spent_after_max_connections(void **state)
{
    (void)state;
    struct qemu_sink sink;
    sink_start(&sink, "dst3");
    char token[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(token);
    struct channel *listener = NULL, *forwarder = NULL;
    assert_int_equal(channel_listen("127.0.0.1", 0, token, sink.path, 1, &listener), 0);
    char src_path[108];
    snprintf(src_path, sizeof(src_path), "/tmp/lmnet-test-%d-src3.sock", (int)getpid());
    assert_int_equal(channel_forward(src_path, NULL, "127.0.0.1", channel_port(listener), token,
                                     &forwarder), 0);
    int first = connect_unix(src_path);
    assert_true(first >= 0);
    assert_int_equal(write(first, "x", 1), 1);
    struct channel_stats st;
    for (int i = 0; i < 100; i++) {
        channel_stats(listener, &st);
        if (st.connections)
            break;
        usleep(10000);
    }
    assert_int_equal(st.connections, 1);
    int second = connect_unix(src_path);
    assert_true(second >= 0);
    char c;
    assert_int_equal(read(second, &c, 1), 0); /* refused: the token is spent */
    close(second);
    close(first);
    channel_destroy(forwarder);
    channel_destroy(listener);
    sink_stop(&sink);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct channel *c = NULL;
    char token[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(token);
    assert_int_equal(channel_listen("127.0.0.1", 0, "short", "/tmp/x", 1, &c), -EINVAL);
    assert_int_equal(channel_listen("not-an-ip", 0, token, "/tmp/x", 1, &c), -EINVAL);
    assert_int_equal(channel_listen("127.0.0.1", 0, token, "/tmp/x", 0, &c), -EINVAL);
    assert_int_equal(channel_forward("/tmp/lmnet-x.sock", NULL, "nowhere", 1, token, &c), -EINVAL);
    channel_destroy(NULL);
}

static void test_destroy_mid_transfer(void **state)
{
    (void)state;
    struct qemu_sink sink;
    sink_start(&sink, "dst4");
    char token[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(token);
    struct channel *listener = NULL, *forwarder = NULL;
    assert_int_equal(channel_listen("127.0.0.1", 0, token, sink.path, 1, &listener), 0);
    char src_path[108];
    snprintf(src_path, sizeof(src_path), "/tmp/lmnet-test-%d-src4.sock", (int)getpid());
    assert_int_equal(channel_forward(src_path, NULL, "127.0.0.1", channel_port(listener), token,
                                     &forwarder), 0);
    int fd = connect_unix(src_path);
    char buf[65536] = { 0 };
    for (int i = 0; i < 16; i++)
        assert_true(write(fd, buf, sizeof(buf)) > 0);
    /* Cancel with the stream still open: destroy must cut it, not wait. */
    channel_destroy(forwarder);
    channel_destroy(listener);
    close(fd);
    sink_stop(&sink);
}

/* A taker: keeps a copy of the connection, as QEMU's getfd does, or
 * refuses it. */
struct taker {
    int fd;     /* our copy, -1 until taken */
    int calls;
    int answer; /* what take returns */
};

static int take(void *ctx, int fd)
{
    struct taker *t = ctx;
    t->calls++;
    if (t->answer < 0)
        return t->answer;
    t->fd = dup(fd);
    return t->fd < 0 ? -1 : 0;
}

static void test_handoff_gives_the_connection(void **state)
{
    (void)state;
    char token[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(token);
    struct taker t = { .fd = -1 };
    struct channel *listener = NULL;
    assert_int_equal(channel_listen_handoff("127.0.0.1", 0, token, take, &t, &listener), 0);
    int fd = channel_connect("127.0.0.1", "127.0.0.1", channel_port(listener), token);
    assert_true(fd >= 0);
    /* "OK" came after the taker had its copy. */
    assert_int_equal(t.calls, 1);
    assert_true(t.fd >= 0);
    /* The stream goes straight from one end to the taker's copy, both ways,
     * and the listener's own copy is closed (end of stream reaches us once
     * the taker closes too). */
    assert_int_equal(write(fd, "pages", 5), 5);
    char buf[8] = { 0 };
    assert_int_equal(read(t.fd, buf, 5), 5);
    assert_memory_equal(buf, "pages", 5);
    assert_int_equal(write(t.fd, "ack", 3), 3);
    assert_int_equal(read(fd, buf, 3), 3);
    assert_memory_equal(buf, "ack", 3);
    struct channel_stats st;
    for (int i = 0; i < 100; i++) { /* counted just after the OK went */
        channel_stats(listener, &st);
        if (st.connections)
            break;
        usleep(10000);
    }
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.bytes_forward, 0); /* nothing passed through us */
    close(t.fd);
    assert_int_equal(read(fd, buf, 1), 0);
    close(fd);
    /* The token is spent: a second connection is refused. */
    assert_true(channel_connect(NULL, "127.0.0.1", channel_port(listener), token) < 0);
    assert_int_equal(t.calls, 1);
    channel_destroy(listener);
}

static void test_handoff_refusals(void **state)
{
    (void)state;
    char good[CHANNEL_TOKEN_HEX + 1], bad[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(good);
    channel_token_generate(bad);
    /* A wrong token: refused and never handed over; the right one still
     * gets through afterwards. */
    struct taker t = { .fd = -1 };
    struct channel *listener = NULL;
    assert_int_equal(channel_listen_handoff("127.0.0.1", 0, good, take, &t, &listener), 0);
    assert_int_equal(channel_connect(NULL, "127.0.0.1", channel_port(listener), bad), -EACCES);
    assert_int_equal(t.calls, 0);
    struct channel_stats st;
    channel_stats(listener, &st);
    assert_int_equal(st.rejected, 1);
    int fd = channel_connect(NULL, "127.0.0.1", channel_port(listener), good);
    assert_true(fd >= 0);
    assert_int_equal(t.calls, 1);
    close(fd);
    close(t.fd);
    channel_destroy(listener);

    /* The taker refuses (QEMU did not take the descriptor): the source
     * hears a refusal, not an OK. */
    struct taker no = { .fd = -1, .answer = -EIO };
    assert_int_equal(channel_listen_handoff("127.0.0.1", 0, good, take, &no, &listener), 0);
    assert_int_equal(channel_connect(NULL, "127.0.0.1", channel_port(listener), good), -EACCES);
    assert_int_equal(no.calls, 1);
    channel_destroy(listener);

    assert_int_equal(channel_listen_handoff("127.0.0.1", 0, good, NULL, NULL, &listener), -EINVAL);
    assert_int_equal(channel_connect(NULL, "127.0.0.1", 1, "short"), -EINVAL);
    assert_int_equal(channel_connect(NULL, "nowhere", 1, good), -EINVAL);
}

/* A raw TCP connection to the listener on loopback, or -errno. */
static int connect_tcp(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* The hello a source sends for channel INDEX, as written on the wire
 * (migrate/channel.h): "LMNETMIG2 " TOKEN " " NNN " " "\n". */
static void hello_bytes(const char *token, unsigned index, char out[CHANNEL_HELLO_SIZE])
{
    char text[CHANNEL_HELLO_SIZE + 1];
    snprintf(text, sizeof(text), "LMNETMIG2 %s %03u \n", token, index);
    assert_int_equal(strlen(text), CHANNEL_HELLO_SIZE);
    memcpy(out, text, CHANNEL_HELLO_SIZE);
}

/* Sends HELLO on a new connection; returns the connection when the
 * listener said "OK", else -EACCES (closed on us). */
static int hello_raw(uint16_t port, const char hello[CHANNEL_HELLO_SIZE])
{
    int fd = connect_tcp(port);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, hello, CHANNEL_HELLO_SIZE, MSG_NOSIGNAL), CHANNEL_HELLO_SIZE);
    char ok[3];
    ssize_t got = 0, n;
    while (got < 3 && (n = read(fd, ok + got, (size_t)(3 - got))) > 0)
        got += n;
    if (got == 3 && memcmp(ok, "OK\n", 3) == 0)
        return fd;
    close(fd);
    return -EACCES;
}

/* Issue 14: a plain connect-and-close used to burn the listener (the
 * source's real connection then found nobody listening). */
static void test_connect_and_close_does_not_burn(void **state)
{
    (void)state;
    char token[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(token);
    struct taker t = {.fd = -1};
    struct channel *listener = NULL;
    assert_int_equal(channel_listen_handoff("127.0.0.1", 0, token, take, &t, &listener), 0);
    for (int i = 0; i < 5; i++) {
        int probe = connect_tcp(channel_port(listener));
        assert_true(probe >= 0);
        close(probe);
    }
    /* Half a hello, then gone: no better. */
    int half = connect_tcp(channel_port(listener));
    assert_int_equal(send(half, "LMNETMIG2 ", 10, MSG_NOSIGNAL), 10);
    close(half);
    int fd = channel_connect(NULL, "127.0.0.1", channel_port(listener), token);
    assert_true(fd >= 0);
    assert_int_equal(t.calls, 1);
    struct channel_stats st;
    channel_stats(listener, &st);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.rejected, 0);
    close(fd);
    close(t.fd);
    channel_destroy(listener);
}

/* Issue 14: a client that connects and says nothing used to hold the
 * listener for its whole hello timeout.  The good source is served while
 * the silent ones are still connected and still silent. */
static void test_silent_client_does_not_delay(void **state)
{
    (void)state;
    char token[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(token);
    struct qemu_sink sink;
    sink_start(&sink, "dst6");
    struct channel *listener = NULL;
    assert_int_equal(channel_listen("127.0.0.1", 0, token, sink.path, 2, &listener), 0);
    int silent[3];
    for (int i = 0; i < 3; i++) {
        silent[i] = connect_tcp(channel_port(listener));
        assert_true(silent[i] >= 0);
    }
    char hello[CHANNEL_HELLO_SIZE];
    hello_bytes(token, 0, hello);
    int fd = hello_raw(channel_port(listener), hello);
    assert_true(fd >= 0);
    /* The listener has not given up on the silent ones yet (it would have
     * had to wait their hello deadline out first): the good one did not
     * queue behind them. */
    struct channel_stats st;
    channel_stats(listener, &st);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.dropped, 0);
    for (int i = 0; i < 3; i++) {
        char c;
        assert_int_equal(recv(silent[i], &c, 1, MSG_DONTWAIT), -1);
        assert_int_equal(errno, EAGAIN);
    }
    /* The silent ones are dropped at their deadline; they never counted. */
    for (int i = 0; i < 3; i++) {
        char c;
        assert_int_equal(read(silent[i], &c, 1), 0);
        close(silent[i]);
    }
    channel_stats(listener, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.connections, 1);
    close(fd);
    channel_destroy(listener);
    sink_stop(&sink);
}

/* Issue 14: the same hello used to be good max_connections times; now each
 * channel index is good once, and a replay neither counts nor burns. */
static void test_replayed_hello_refused(void **state)
{
    (void)state;
    char token[CHANNEL_TOKEN_HEX + 1];
    channel_token_generate(token);
    struct qemu_sink sink;
    sink_start(&sink, "dst5");
    struct channel *listener = NULL;
    assert_int_equal(channel_listen("127.0.0.1", 0, token, sink.path, 2, &listener), 0);
    char hello0[CHANNEL_HELLO_SIZE], hello1[CHANNEL_HELLO_SIZE], hello9[CHANNEL_HELLO_SIZE];
    hello_bytes(token, 0, hello0);
    hello_bytes(token, 1, hello1);
    hello_bytes(token, 9, hello9);
    int first = hello_raw(channel_port(listener), hello0);
    assert_true(first >= 0);
    assert_int_equal(hello_raw(channel_port(listener), hello0), -EACCES); /* replayed */
    assert_int_equal(hello_raw(channel_port(listener), hello9), -EACCES); /* no such channel */
    struct channel_stats st;
    channel_stats(listener, &st);
    assert_int_equal(st.connections, 1);
    assert_int_equal(st.rejected, 2);
    /* The listener still takes the channel not yet used. */
    int second = hello_raw(channel_port(listener), hello1);
    assert_true(second >= 0);
    channel_stats(listener, &st);
    assert_int_equal(st.connections, 2);
    close(second);
    close(first);
    channel_destroy(listener);
    sink_stop(&sink);
}

/* The forwarder's socket is 0660 whatever the umask, appears at its path
 * with that mode (bound in a private directory, renamed into place), and
 * leaves nothing else behind; the umask is never changed. */
static void test_forwarder_socket_mode_without_umask(void **state)
{
    (void)state;
    char dir[] = "/tmp/lmnet-test-umask-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[108];
    snprintf(path, sizeof(path), "%s/mig-0123abcd.sock", dir);
    mode_t saved = (mode_t)syscall(SYS_umask, 022);
    const mode_t masks[] = { 0, 022, 077 };
    for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]); i++) {
        syscall(SYS_umask, masks[i]);
        umask_calls = 0;
        char token[CHANNEL_TOKEN_HEX + 1];
        assert_int_equal(channel_token_generate(token), 0);
        struct channel *forwarder = NULL;
        assert_int_equal(channel_forward(path, NULL, "127.0.0.1", 9, token, &forwarder), 0);
        assert_int_equal(umask_calls, 0);
        assert_int_equal((mode_t)syscall(SYS_umask, masks[i]), masks[i]);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0660);
        int fd = connect_unix(path);
        assert_true(fd >= 0);
        close(fd);
        DIR *d = opendir(dir);
        assert_non_null(d);
        int entries = 0;
        for (struct dirent *e; (e = readdir(d));)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                entries++;
        closedir(d);
        assert_int_equal(entries, 1); /* the socket, no private directory left */
        channel_destroy(forwarder);
        assert_int_equal(access(path, F_OK), -1);
    }
    syscall(SYS_umask, saved);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    /* SIGPIPE keeps its default action: the channel must not die of it. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_is_hex),
        cmocka_unit_test(test_bytes_cross_both_ways),
        cmocka_unit_test(test_wrong_token_refused_listener_stays),
        cmocka_unit_test(test_token_spent_after_max_connections),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_destroy_mid_transfer),
        cmocka_unit_test(test_handoff_gives_the_connection),
        cmocka_unit_test(test_handoff_refusals),
        cmocka_unit_test(test_connect_and_close_does_not_burn),
        cmocka_unit_test(test_silent_client_does_not_delay),
        cmocka_unit_test(test_replayed_hello_refused),
        cmocka_unit_test(test_forwarder_socket_mode_without_umask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
