/* Unit tests for api/server.c: a real server on 127.0.0.1 (the real router,
 * handlers and SQLite) spoken to over raw sockets, so that a test controls
 * every byte and every pause.  It covers what the server itself decides
 * before or around the handlers: a database connection that cannot be
 * opened (503, not a crash), authentication on the headers alone, body
 * limits, and the JSON it accepts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "agent/agent.h"
#include "base/log.h"
#include "api/server.h"
#include "api/token.h"
#include "db/db.h"

#define ADMIN_TOKEN "0123456789abcdef0123456789abcdef"

struct fixture {
    char dir[64];
    char db_path[128];
    char token_path[128];
    struct agent agent;
    struct server *server;
    unsigned port;
};

/* Limits the next setup() gives the server (the defaults when 0). */
static unsigned next_request_timeout, next_per_ip;

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/lmnet-test-server-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db_path, sizeof(f->db_path), "%s/lmnet.db", f->dir);
    snprintf(f->token_path, sizeof(f->token_path), "%s/tokens", f->dir);
    FILE *t = fopen(f->token_path, "w");
    assert_non_null(t);
    fprintf(t, "ops admin %s\n", ADMIN_TOKEN);
    fclose(t);
    assert_int_equal(chmod(f->token_path, 0600), 0);

    log_set_level(LOG_LEVEL_ERROR);
    assert_int_equal(config_init(&f->agent.config), 0);
    assert_int_equal(config_set(&f->agent.config, "listen", "127.0.0.1:0", NULL, 0), 0);
    if (next_request_timeout)
        f->agent.config.request_timeout = next_request_timeout;
    if (next_per_ip)
        f->agent.config.max_connections_per_ip = next_per_ip;
    next_request_timeout = next_per_ip = 0;
    char err[256];
    assert_int_equal(token_set_load(f->token_path, &f->agent.tokens, err, sizeof(err)), 0);
    assert_int_equal(db_pool_create(f->db_path, &f->agent.db), 0);
    snprintf(f->agent.node_id, sizeof(f->agent.node_id), "00000000-0000-4000-8000-000000000001");
    snprintf(f->agent.hostname, sizeof(f->agent.hostname), "test");
    clock_gettime(CLOCK_MONOTONIC, &f->agent.started);
    assert_int_equal(server_start(&f->agent, &f->server), 0);
    f->port = server_port(f->server);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    server_stop(f->server);
    db_pool_destroy(f->agent.db);
    token_set_destroy(f->agent.tokens);
    config_release(&f->agent.config);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Connects from the loopback address FROM (e.g. 0x7f000002) to the server. */
static int connect_from(const struct fixture *f, uint32_t from)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in local = {.sin_family = AF_INET};
    local.sin_addr.s_addr = htonl(from);
    assert_int_equal(bind(fd, (struct sockaddr *)&local, sizeof(local)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static int connect_to(const struct fixture *f)
{
    return connect_from(f, INADDR_LOOPBACK);
}

/* True when the server closed FD within TIMEOUT_MS (EOF or reset). */
static bool closed_within(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return false;
    char c;
    return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the server may close early; the answer says why */
        data += n;
        len -= (size_t)n;
    }
}

/* Reads one response into BUF (NUL-terminated): the headers and, when
 * Content-Length says so, the body.  Waits at most TIMEOUT_MS.  Returns the
 * status, or 0 when the server closed or said nothing in time. */
static int read_response(int fd, char *buf, size_t size, int timeout_ms)
{
    size_t len = 0;
    buf[0] = '\0';
    for (;;) {
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t want =
                (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
            if (len >= want)
                break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            break;
        ssize_t n = recv(fd, buf + len, size - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (len == size - 1)
            break;
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return 0;
    return status;
}

/* Sends REQUEST on a new connection and returns the status; the answer is
 * left in BUF. */
static int exchange(const struct fixture *f, const char *request, char *buf, size_t size)
{
    int fd = connect_to(f);
    send_all(fd, request, strlen(request));
    int status = read_response(fd, buf, size, 5000);
    close(fd);
    return status;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

/* The lowest file descriptor number not in use. */
static int lowest_free_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    close(fd);
    return fd;
}

#define GET_VLANS                                                                                  \
    "GET /v1/vlans HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " ADMIN_TOKEN "\r\n"               \
    "Connection: close\r\n\r\n"

/* A worker thread whose SQLite connection cannot be opened (the process has
 * no file descriptor left once it accepted the socket) answers 503
 * problem+json; it used to hand the handler a NULL connection and crash. */
static void test_database_unavailable_is_503(void **state)
{
    struct fixture *f = *state;
    char buf[8192];
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);

    int fd = connect_to(f);
    /* One descriptor left: the server's accept() takes it, SQLite gets none. */
    struct rlimit tight = saved;
    tight.rlim_cur = (rlim_t)lowest_free_fd() + 1;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
    send_all(fd, GET_VLANS, strlen(GET_VLANS));
    int status = read_response(fd, buf, sizeof(buf), 5000);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    close(fd);
    assert_int_equal(status, 503);
    assert_contains(buf, "Content-Type: application/problem+json");
    assert_contains(buf, "\"status\":503");
    assert_contains(buf, "database-unavailable");

    /* Descriptors back: the next connection is served. */
    assert_int_equal(exchange(f, GET_VLANS, buf, sizeof(buf)), 200);
    assert_contains(buf, "\"items\":[]");
}

/* A client without a token is answered 401 on the headers: the server does
 * not wait for (or read) the body it announced.  It used to buffer up to
 * 1 MiB from anyone before looking at the token. */
static void test_401_before_the_body(void **state)
{
    struct fixture *f = *state;
    char buf[8192];
    int fd = connect_to(f);
    const char *head = "POST /v1/vlans HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       "Content-Length: 60000\r\n\r\n";
    send_all(fd, head, strlen(head));
    int64_t t0 = now_ms();
    int status = read_response(fd, buf, sizeof(buf), 3000);
    close(fd);
    assert_int_equal(status, 401);
    assert_true(now_ms() - t0 < 2000);
    assert_contains(buf, "WWW-Authenticate: Bearer");
}

/* A declared body over the route's limit is refused on the headers (413),
 * and a chunked one as soon as it grows past it (413, or the connection
 * closed). */
static void test_413_early(void **state)
{
    struct fixture *f = *state;
    char buf[8192];
    int fd = connect_to(f);
    const char *head = "POST /v1/vlans HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " ADMIN_TOKEN
                       "\r\nContent-Type: application/json\r\nContent-Length: 70000\r\n\r\n";
    send_all(fd, head, strlen(head));
    int status = read_response(fd, buf, sizeof(buf), 3000);
    close(fd);
    assert_int_equal(status, 413);
    assert_contains(buf, "\"status\":413");
    assert_contains(buf, "at most 65536");

    fd = connect_to(f);
    const char *chunked =
        "POST /v1/vlans HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " ADMIN_TOKEN
        "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(fd, chunked, strlen(chunked));
    static char chunk[16384 + 16];
    int n = snprintf(chunk, sizeof(chunk), "4000\r\n");
    memset(chunk + n, ' ', 16384);
    memcpy(chunk + n + 16384, "\r\n", 2);
    for (int i = 0; i < 5; i++)
        send_all(fd, chunk, (size_t)n + 16384 + 2);
    /* libmicrohttpd 0.9.75 cannot queue an answer in the middle of a body:
     * the server closes the connection instead, which refuses it as well. */
    status = read_response(fd, buf, sizeof(buf), 3000);
    bool closed = status == 0 || closed_within(fd, 3000);
    close(fd);
    if (status != 413 && !closed)
        fail_msg("a chunked body over the limit got %d and the connection stayed open", status);

    /* Under the limit, the same route works. */
    const char *ok = "POST /v1/vlans HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " ADMIN_TOKEN
                     "\r\nContent-Type: application/json\r\nContent-Length: 25\r\n"
                     "Connection: close\r\n\r\n{\"id\": 10, \"name\": \"ten\"}";
    assert_int_equal(exchange(f, ok, buf, sizeof(buf)), 201);
}

/* A client that sends its request a byte at a time (slowloris) is cut off
 * at the request deadline (1 s here), although every byte resets
 * libmicrohttpd's idle timeout; an idle keep-alive connection too. */
static void test_request_deadline(void **state)
{
    struct fixture *f = *state;
    int fd = connect_to(f);
    const char *head = "GET /v1/vlans HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    send_all(fd, head, strlen(head));
    int64_t t0 = now_ms();
    bool closed = false;
    while (!closed && now_ms() - t0 < 5000) {
        send_all(fd, "a", 1);
        closed = closed_within(fd, 300);
    }
    close(fd);
    assert_true(closed);
    int64_t took = now_ms() - t0;
    if (took < 900 || took > 3000)
        fail_msg("slow client cut after %lld ms, want about 1000", (long long)took);

    /* Idle after an answer: closed at the deadline as well. */
    char buf[8192];
    fd = connect_to(f);
    const char *get =
        "GET /v1/vlans HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " ADMIN_TOKEN "\r\n\r\n";
    send_all(fd, get, strlen(get));
    assert_int_equal(read_response(fd, buf, sizeof(buf), 3000), 200);
    assert_true(closed_within(fd, 3000));
    close(fd);
}

/* At most max_connections_per_ip (4 here) from one address; another
 * address is still served. */
static void test_per_ip_limit(void **state)
{
    struct fixture *f = *state;
    char buf[8192];
    int held[4];
    for (int i = 0; i < 4; i++)
        held[i] = connect_to(f);
    usleep(200 * 1000); /* let the server accept them */
    int fifth = connect_to(f);
    assert_true(closed_within(fifth, 2000));
    close(fifth);

    int other = connect_from(f, 0x7f000002);
    send_all(other, GET_VLANS, strlen(GET_VLANS));
    assert_int_equal(read_response(other, buf, sizeof(buf), 3000), 200);
    close(other);
    for (int i = 0; i < 4; i++)
        close(held[i]);
}

/* POSTs BODY to /v1/vlans; returns the status, the answer in BUF. */
static int post_vlan(const struct fixture *f, const char *body, char *buf, size_t size)
{
    char request[1024];
    snprintf(request, sizeof(request),
             "POST /v1/vlans HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " ADMIN_TOKEN "\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(body), body);
    return exchange(f, request, buf, size);
}

/* Bodies are strict JSON: json-c's comments and single quotes are 400;
 * invalid UTF-8 and a NUL inside a string (which C would read cut short)
 * are 422, naming the field.  The old parser took all four. */
static void test_strict_json(void **state)
{
    struct fixture *f = *state;
    char buf[8192];
    assert_int_equal(post_vlan(f, "{\"id\": 11, /* c */ \"name\": \"eleven\"}", buf, sizeof(buf)),
                     400);
    assert_contains(buf, "malformed-json");
    assert_int_equal(post_vlan(f, "{'id': 12, 'name': 'twelve'}", buf, sizeof(buf)), 400);
    assert_int_equal(post_vlan(f, "{\"id\": 13, \"name\": \"bad\xff\xfe\"}", buf, sizeof(buf)),
                     422);
    assert_contains(buf, "UTF-8");
    assert_int_equal(post_vlan(f, "{\"id\": 14, \"name\": \"a\\u0000b\"}", buf, sizeof(buf)), 422);
    assert_contains(buf, "\"pointer\":\"/name\"");
    assert_contains(buf, "NUL");
    /* json-c keeps keys as C strings: "name\u0000x" would arrive as
     * "name", and a key the schema does not list could pass as one it
     * does. */
    assert_int_equal(post_vlan(f, "{\"id\": 16, \"name\\u0000x\": \"sixteen\"}", buf, sizeof(buf)),
                     422);
    assert_contains(buf, "object key holds a NUL");
    assert_int_equal(post_vlan(f, "{\"id\\u0000\" : 17, \"name\": \"a\\\\u0000\"}", buf, sizeof(buf)),
                     422);
    /* An escaped backslash before "u0000" is no NUL. */
    assert_int_equal(post_vlan(f, "{\"id\": 18, \"name\": \"a\\\\u0000\"}", buf, sizeof(buf)),
                     201);
    /* Nothing of the refused ones was stored; strict JSON (UTF-8, a
     * trailing newline) still is. */
    assert_int_equal(post_vlan(f, "{\"id\": 15, \"name\": \"caf\xc3\xa9\"}\n", buf, sizeof(buf)),
                     201);
    assert_int_equal(exchange(f, GET_VLANS, buf, sizeof(buf)), 200);
    if (strstr(buf, "\"id\":11") || strstr(buf, "\"id\":12") || strstr(buf, "\"id\":13") ||
        strstr(buf, "\"id\":14") || strstr(buf, "\"id\":16") || strstr(buf, "\"id\":17"))
        fail_msg("a refused VLAN was stored: %s", buf);
    assert_contains(buf, "\"id\":15");
}

static int setup_deadline_1s(void **state)
{
    next_request_timeout = 1;
    return setup(state);
}

static int setup_per_ip_4(void **state)
{
    next_per_ip = 4;
    return setup(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_database_unavailable_is_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_401_before_the_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_413_early, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_deadline, setup_deadline_1s, teardown),
        cmocka_unit_test_setup_teardown(test_per_ip_limit, setup_per_ip_4, teardown),
        cmocka_unit_test_setup_teardown(test_strict_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
