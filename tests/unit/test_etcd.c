/* agent/etcd.c: base64 and prefix ends, endpoint lists, and the calls
 * against canned HTTP servers: answers decoded (base64 keys and values,
 * int64 strings), a refused endpoint and a 503 endpoint skipped for the
 * next, a transaction whose compare failed, a lease that is gone, the
 * authentication token fetched and presented, the request bodies as
 * etcd wants them, and the watch stream (split anywhere, broken, stopped). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "agent/etcd.h"

/* ---- a canned HTTP server: answers each connection's request with the
 * next scripted reply, and keeps what it was sent ---- */

#define MAX_REPLIES 8

struct canned {
    int fd;
    unsigned port;
    pthread_t thread;
    const char *replies[MAX_REPLIES]; /* "STATUS BODY" */
    size_t n_replies;
    char requests[MAX_REPLIES][2048];
    size_t n_requests;
};

/* A streamed body, to the end of the connection: written in pieces at
 * each '|' (a pause between, so that the client reads them apart); a final
 * '~' holds the connection open until the client closes it. */
static void stream_reply(int fd, int status, const char *body)
{
    char head[256];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                      "Connection: close\r\n\r\n",
                      status);
    if (write(fd, head, (size_t)hn) < 0)
        return;
    for (const char *p = body; *p && *p != '~';) {
        size_t n = strcspn(p, "|~");
        if (n && write(fd, p, n) < 0)
            return;
        p += n;
        if (*p == '|') {
            p++;
            usleep(30000);
        }
    }
    if (strchr(body, '~')) {
        char sink[256];
        while (read(fd, sink, sizeof(sink)) > 0)
            ;
    }
}

static void *serve(void *arg)
{
    struct canned *c = arg;
    for (size_t i = 0; i < c->n_replies; i++) {
        int fd = accept(c->fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        char *req = c->requests[c->n_requests++];
        size_t got = 0;
        /* headers, then Content-Length bytes */
        while (got < 2047) {
            ssize_t n = read(fd, req + got, 2047 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = '\0';
            char *end = strstr(req, "\r\n\r\n");
            const char *cl = strcasestr(req, "Content-Length:");
            if (end && cl && got >= (size_t)(end + 4 - req) + strtoul(cl + 15, NULL, 10))
                break;
        }
        int status = atoi(c->replies[i]);
        const char *body = strchr(c->replies[i], ' ') + 1;
        if (strpbrk(body, "|~")) { /* a stream: see stream_reply() */
            stream_reply(fd, status, body);
            close(fd);
            continue;
        }
        char head[256];
        int hn = snprintf(head, sizeof(head),
                          "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          status, strlen(body));
        if (write(fd, head, (size_t)hn) < 0 || write(fd, body, strlen(body)) < 0)
            fprintf(stderr, "canned server: write failed\n");
        close(fd);
    }
    return NULL;
}

static unsigned listen_any(int *fd_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *fd_out = fd;
    return ntohs(a.sin_port);
}

static void canned_start(struct canned *c)
{
    c->port = listen_any(&c->fd);
    pthread_create(&c->thread, NULL, serve, c);
}

static void canned_stop(struct canned *c)
{
    pthread_join(c->thread, NULL);
    close(c->fd);
}

/* A port nothing listens on. */
static unsigned closed_port(void)
{
    int fd;
    unsigned port = listen_any(&fd);
    close(fd);
    return port;
}

static struct etcd *client_for(const char *endpoints, const char *user)
{
    struct etcd_options o = {.endpoints = endpoints,
                             .timeout_ms = 2000,
                             .user = user,
                             .password = user ? "secret" : NULL};
    struct etcd *e = NULL;
    assert_int_equal(etcd_create(&o, &e), 0);
    return e;
}

/* ---- tests ---- */

static void test_base64(void **state)
{
    (void)state;
    const char *cases[][2] = {{"", ""},
                              {"f", "Zg=="},
                              {"fo", "Zm8="},
                              {"foo", "Zm9v"},
                              {"foob", "Zm9vYg=="},
                              {"fooba", "Zm9vYmE="},
                              {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *e = etcd_base64_encode(cases[i][0], strlen(cases[i][0]));
        assert_string_equal(e, cases[i][1]);
        size_t len = 0;
        char *d = etcd_base64_decode(e, &len);
        assert_non_null(d);
        assert_int_equal(len, strlen(cases[i][0]));
        assert_string_equal(d, cases[i][0]);
        free(e);
        free(d);
    }
    assert_null(etcd_base64_decode("Zm9", NULL));  /* not a multiple of 4 */
    assert_null(etcd_base64_decode("Zm9*", NULL)); /* not the alphabet */
    assert_null(etcd_base64_decode("Z=9v", NULL)); /* padding inside */
    assert_null(etcd_base64_decode("Zg==Zg==", NULL));
}

static void test_prefix_end(void **state)
{
    (void)state;
    char *e = etcd_prefix_end("/lmnet/blocks/");
    assert_string_equal(e, "/lmnet/blocks0");
    free(e);
}

static void test_endpoint_lists(void **state)
{
    (void)state;
    const char *bad[] = {"", "host", "h:1/x", ",", NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct etcd_options o = {.endpoints = bad[i]};
        struct etcd *e = NULL;
        assert_int_equal(etcd_create(&o, &e), -EINVAL);
    }
    struct etcd *e = client_for("h1:2379, http://h2:2379 ,h3:2379", NULL);
    etcd_destroy(e);
    etcd_destroy(NULL);
}

static void test_get_after_failover(void **state)
{
    (void)state;
    struct canned bad = {.replies = {"503 {\"error\":\"etcdserver: no leader\",\"code\":14}"},
                         .n_replies = 1};
    struct canned good = {
        .replies = {"200 {\"header\":{\"revision\":\"42\"},\"kvs\":[{\"key\":\"Zm9v\","
                    "\"value\":\"YmFy\",\"create_revision\":\"7\",\"mod_revision\":\"9\","
                    "\"lease\":\"123456789012\"}],\"count\":\"1\"}",
                    "200 {\"header\":{\"revision\":\"42\"}}"},
        .n_replies = 2};
    canned_start(&bad);
    canned_start(&good);
    char endpoints[128];
    snprintf(endpoints, sizeof(endpoints), "127.0.0.1:%u,127.0.0.1:%u,127.0.0.1:%u", closed_port(),
             bad.port, good.port);
    struct etcd *e = client_for(endpoints, NULL);
    struct etcd_kv kv;
    assert_int_equal(etcd_get(e, "foo", &kv), 0);
    assert_string_equal(kv.key, "foo");
    assert_string_equal(kv.value, "bar");
    assert_int_equal(kv.create_revision, 7);
    assert_int_equal(kv.mod_revision, 9);
    assert_int_equal(kv.lease, INT64_C(123456789012));
    etcd_kv_release(&kv);
    /* The endpoint that answered is asked first next time. */
    assert_int_equal(etcd_get(e, "foo", &kv), -ENOENT);
    etcd_destroy(e);
    canned_stop(&bad);
    canned_stop(&good);
    assert_non_null(strstr(good.requests[0], "POST /v3/kv/range "));
    assert_non_null(strstr(good.requests[0], "\"key\":\"Zm9v\""));
    assert_int_equal(good.n_requests, 2);
}

static void test_nobody_answers(void **state)
{
    (void)state;
    char endpoints[64];
    snprintf(endpoints, sizeof(endpoints), "127.0.0.1:%u,127.0.0.1:%u", closed_port(),
             closed_port());
    struct etcd *e = client_for(endpoints, NULL);
    struct etcd_kv kv;
    int r = etcd_get(e, "foo", &kv);
    assert_true(r == -ECONNREFUSED || r == -EHOSTUNREACH);
    assert_true(strlen(etcd_last_error()) > 0);
    etcd_destroy(e);
}

/* An endpoint written https:// is dialled over TLS even when the client's
 * default is plain HTTP (the error names the URL it tried). */
static void test_endpoint_scheme_kept(void **state)
{
    (void)state;
    char endpoints[96];
    snprintf(endpoints, sizeof(endpoints), "https://127.0.0.1:%u", closed_port());
    struct etcd *e = client_for(endpoints, NULL);
    struct etcd_kv kv;
    assert_true(etcd_get(e, "foo", &kv) < 0);
    assert_non_null(strstr(etcd_last_error(), "https://127.0.0.1:"));
    etcd_destroy(e);
}

/* The client key is refused unless mode 0600 (or stricter). */
static void test_key_file_mode(void **state)
{
    (void)state;
    char path[] = "/tmp/lmnet-etcd-key.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct etcd_options o = {
        .endpoints = "127.0.0.1:2379", .tls = true, .key_file = path, .cert_file = path};
    struct etcd *e = NULL;
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(etcd_create(&o, &e), -EPERM);
    assert_non_null(strstr(etcd_last_error(), "mode 0644"));
    assert_non_null(strstr(etcd_last_error(), "chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(etcd_create(&o, &e), 0);
    etcd_destroy(e);
    unlink(path);
    o.key_file = path; /* gone now */
    assert_int_equal(etcd_create(&o, &e), -ENOENT);
}

static void test_txn_and_lease(void **state)
{
    (void)state;
    struct canned c = {.replies = {"200 {\"header\":{},\"succeeded\":true}", "200 {\"header\":{}}",
                                   "200 {\"result\":{\"ID\":\"5\",\"TTL\":\"10\"}}",
                                   "200 {\"result\":{\"ID\":\"5\"}}",
                                   "400 {\"error\":\"bad\",\"message\":\"bad request\","
                                   "\"code\":3}"},
                       .n_replies = 5};
    canned_start(&c);
    char endpoints[64];
    snprintf(endpoints, sizeof(endpoints), "127.0.0.1:%u", c.port);
    struct etcd *e = client_for(endpoints, NULL);
    struct etcd_txn *txn = etcd_txn_new();
    etcd_txn_absent(txn, "k");
    etcd_txn_put(txn, "k", "v", 5);
    assert_int_equal(etcd_txn_commit(e, txn), 1);
    assert_int_equal(etcd_txn_commit(e, txn), 0); /* "succeeded" left out: false */
    etcd_txn_free(txn);
    assert_int_equal(etcd_lease_keepalive(e, 5), 0);
    assert_int_equal(etcd_lease_keepalive(e, 5), -ENOENT); /* no TTL: the lease is gone */
    assert_int_equal(etcd_put(e, "k", "v", 0), -EIO);      /* refused: not tried elsewhere */
    assert_non_null(strstr(etcd_last_error(), "bad request"));
    etcd_destroy(e);
    canned_stop(&c);
    /* compare create_revision == 0 as a string, the value base64 */
    assert_non_null(strstr(c.requests[0], "\"target\":\"CREATE\""));
    assert_non_null(strstr(c.requests[0], "\"create_revision\":\"0\""));
    assert_non_null(strstr(c.requests[0], "\"request_put\":{\"key\":\"aw==\",\"value\":\"dg==\","
                                          "\"lease\":\"5\"}"));
    assert_non_null(strstr(c.requests[2], "POST /v3/lease/keepalive "));
    assert_non_null(strstr(c.requests[2], "\"ID\":\"5\""));
}

static void test_auth_token(void **state)
{
    (void)state;
    struct canned c = {.replies = {"200 {\"header\":{},\"token\":\"tok1\"}",
                                   "401 {\"error\":\"etcdserver: invalid auth token\",\"code\":16}",
                                   "200 {\"header\":{},\"token\":\"tok2\"}", "200 {\"header\":{}}"},
                       .n_replies = 4};
    canned_start(&c);
    char endpoints[64];
    snprintf(endpoints, sizeof(endpoints), "127.0.0.1:%u", c.port);
    struct etcd *e = client_for(endpoints, "lmnet");
    assert_int_equal(etcd_put(e, "k", "v", 0), 0);
    etcd_destroy(e);
    canned_stop(&c);
    assert_non_null(strstr(c.requests[0], "POST /v3/auth/authenticate "));
    assert_non_null(strstr(c.requests[0], "\"name\":\"lmnet\""));
    assert_non_null(strstr(c.requests[1], "Authorization: tok1"));
    assert_non_null(strstr(c.requests[3], "Authorization: tok2")); /* the expired one replaced */
}

/* The watch stream as the gateway sends it: an object split mid-way over
 * two chunks, two objects in one chunk, a put and a delete. */
#define WATCH_CREATED "{\"result\":{\"header\":{\"revision\":\"10\"},\"created\":true}}\n"
#define WATCH_PUT                                                                                  \
    "{\"result\":{\"header\":{\"revision\":\"11\"},\"events\":[{\"kv\":{\"key\":"                  \
    "\"L3AvbWVtYmVycy9h\",\"value\":\"b25l\",\"create_revision\":\"11\",\"mod_revision\":\"11\"}}" \
    "]}}\n"
#define WATCH_DELETE                                                                               \
    "{\"result\":{\"header\":{\"revision\":\"12\"},\"events\":[{\"type\":\"DELETE\",\"kv\":{"      \
    "\"key\":\"L3AvbWVtYmVycy9i\",\"mod_revision\":\"12\"}}]}}\n"

struct seen {
    char keys[8][64];
    char values[8][64];
    bool deleted[8];
    size_t n;
};

static void on_event(void *ctx, const struct etcd_event *event)
{
    struct seen *s = ctx;
    if (s->n == 8)
        return;
    snprintf(s->keys[s->n], 64, "%s", event->kv.key);
    snprintf(s->values[s->n], 64, "%s", event->kv.value);
    s->deleted[s->n++] = event->deleted;
}

static void test_watch_parser(void **state)
{
    (void)state;
    const char *stream = WATCH_CREATED WATCH_PUT WATCH_DELETE;
    size_t len = strlen(stream);
    /* every split point: the events come out the same */
    for (size_t cut = 1; cut < len; cut += 7) {
        struct seen s = {0};
        struct etcd_watch_parser p = {.fn = on_event, .ctx = &s};
        assert_int_equal(etcd_watch_parser_feed(&p, stream, cut), 0);
        assert_int_equal(etcd_watch_parser_feed(&p, stream + cut, len - cut), 0);
        etcd_watch_parser_release(&p);
        assert_int_equal(s.n, 2);
        assert_string_equal(s.keys[0], "/p/members/a");
        assert_string_equal(s.values[0], "one");
        assert_false(s.deleted[0]);
        assert_string_equal(s.keys[1], "/p/members/b");
        assert_true(s.deleted[1]);
        assert_int_equal(p.revision, 12);
    }
    /* created from now: seen up to the store's revision */
    struct etcd_watch_parser p = {0};
    assert_int_equal(etcd_watch_parser_feed(&p, WATCH_CREATED, strlen(WATCH_CREATED)), 0);
    assert_int_equal(p.revision, 10);
    /* compacted: read everything again */
    const char *compacted = "{\"result\":{\"header\":{\"revision\":\"30\"},\"canceled\":true,"
                            "\"compact_revision\":\"20\"}}";
    assert_int_equal(etcd_watch_parser_feed(&p, compacted, strlen(compacted)), -ESTALE);
    assert_int_equal(p.compact_revision, 20);
    etcd_watch_parser_release(&p);
    /* not a stream of etcd's */
    struct etcd_watch_parser q = {0};
    assert_int_equal(etcd_watch_parser_feed(&q, "{\"x\":1}", 7), -EPROTO);
    assert_int_equal(etcd_watch_parser_feed(&q, "]", 1), -EPROTO);
    etcd_watch_parser_release(&q);
}

/* Members of the wrong type are refused or ignored, never read as what
 * they are not: "events" that is no list (json-c's length assertion
 * aborted the agent), a null "type" (strcmp of NULL), a null
 * "cancel_reason" (found by tests/fuzz/fuzz_etcd). */
static void test_watch_wrong_types(void **state)
{
    (void)state;
    const char *refused[] = {
        "{\"result\": {\"header\": {\"revision\": \"7\"}, \"events\": \"8\"}}",
        "{\"result\": {\"events\": {\"kv\": {}}}}",
        "{\"result\": {\"events\": 3}}",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        struct etcd_watch_parser p = {0};
        assert_int_equal(etcd_watch_parser_feed(&p, refused[i], strlen(refused[i])), -EPROTO);
        etcd_watch_parser_release(&p);
    }
    const char *null_type = "{\"result\": {\"events\": [{\"type\": null, \"kv\": "
                            "{\"key\": \"YQ==\", \"value\": \"Yg==\", \"mod_revision\": \"9\"}}]}}";
    struct etcd_watch_parser p = {0};
    assert_int_equal(etcd_watch_parser_feed(&p, null_type, strlen(null_type)), 0);
    assert_int_equal(p.revision, 9);
    etcd_watch_parser_release(&p);
    const char *null_reason = "{\"result\": {\"canceled\": true, \"cancel_reason\": null}}";
    struct etcd_watch_parser q = {0};
    assert_int_equal(etcd_watch_parser_feed(&q, null_reason, strlen(null_reason)), -EIO);
    etcd_watch_parser_release(&q);
    const char *none = "{\"result\": {\"events\": null}}";
    struct etcd_watch_parser r = {0};
    assert_int_equal(etcd_watch_parser_feed(&r, none, strlen(none)), 0);
    etcd_watch_parser_release(&r);
}

static void test_watch_stream(void **state)
{
    (void)state;
    /* the stream split mid-object over the wire, then broken by the server */
    struct canned c = {
        .replies = {"200 " WATCH_CREATED "|{\"result\":{\"header\":{\"revis|ion\":"
                    "\"11\"},\"events\":[{\"kv\":{\"key\":\"L3AvbWVtYmVycy9h\",\"value\":"
                    "\"b25l\",\"mod_revision\":\"11\"}}]}}\n|" WATCH_DELETE},
        .n_replies = 1};
    canned_start(&c);
    char endpoints[64];
    snprintf(endpoints, sizeof(endpoints), "127.0.0.1:%u,127.0.0.1:%u", closed_port(), c.port);
    struct etcd *e = client_for(endpoints, NULL);
    struct seen s = {0};
    atomic_bool stop = false;
    int64_t revision = 0;
    assert_int_equal(etcd_watch(e, "/p/members/", 10, on_event, &s, &stop, &revision), -EPIPE);
    assert_int_equal(revision, 12); /* watch again from 13 */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "/p/members/a");
    assert_string_equal(s.values[0], "one");
    assert_true(s.deleted[1]);
    etcd_destroy(e);
    canned_stop(&c);
    assert_non_null(strstr(c.requests[0], "POST /v3/watch "));
    assert_non_null(strstr(c.requests[0], "{\"create_request\":{\"key\":\"L3AvbWVtYmVycy8=\","
                                          "\"range_end\":\"L3AvbWVtYmVyczA=\","
                                          "\"start_revision\":\"10\"}}"));
}

static void *stop_later(void *arg)
{
    usleep(200000);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

static void test_watch_stop(void **state)
{
    (void)state;
    /* a stream that stays open: the watch ends when told to */
    struct canned c = {.replies = {"200 " WATCH_CREATED "~"}, .n_replies = 1};
    canned_start(&c);
    char endpoints[64];
    snprintf(endpoints, sizeof(endpoints), "127.0.0.1:%u", c.port);
    struct etcd *e = client_for(endpoints, NULL);
    atomic_bool stop = false;
    pthread_t t;
    pthread_create(&t, NULL, stop_later, &stop);
    int64_t revision = 0;
    assert_int_equal(etcd_watch(e, "/p/members/", 0, NULL, NULL, &stop, &revision), -ECANCELED);
    assert_int_equal(revision, 10);
    pthread_join(t, NULL);
    etcd_destroy(e);
    canned_stop(&c);
    assert_null(strstr(c.requests[0], "start_revision"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_watch_wrong_types),
        cmocka_unit_test(test_prefix_end),
        cmocka_unit_test(test_endpoint_lists),
        cmocka_unit_test(test_get_after_failover),
        cmocka_unit_test(test_nobody_answers),
        cmocka_unit_test(test_txn_and_lease),
        cmocka_unit_test(test_auth_token),
        cmocka_unit_test(test_watch_parser),
        cmocka_unit_test(test_watch_stream),
        cmocka_unit_test(test_watch_stop),
        cmocka_unit_test(test_endpoint_scheme_kept),
        cmocka_unit_test(test_key_file_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
