/* agent/registry_agent.c against a fake registry on loopback that answers
 * one canned HTTP reply per connection: a refusal whose problem has a null
 * "type" is a refusal, not a strstr(NULL) (found by
 * tests/fuzz/fuzz_registry_reply); a well-formed claim is read. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "agent/agent.h"
#include "agent/registry.h"

#define NODE "6f1c8a52-3b7e-4d2a-9c1f-0123456789ab"

struct fake {
    int fd;
    const char *reply;
    pthread_t thread;
    char url[64];
};

/* Accepts one connection, reads the request's head (and a small body),
 * sends the reply and closes. */
static void *serve(void *arg)
{
    struct fake *f = arg;
    int c = accept(f->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    char buf[8192];
    size_t have = 0;
    while (have < sizeof(buf) - 1) {
        ssize_t n = recv(c, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (end && (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0) <= have)
            break;
    }
    char out[2048];
    int len = snprintf(out, sizeof(out),
                       "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                       strlen(f->reply), f->reply);
    if (send(c, out, (size_t)len, MSG_NOSIGNAL) != len)
        fprintf(stderr, "fake registry: short send\n");
    close(c);
    return NULL;
}

static void fake_start(struct fake *f, const char *reply)
{
    f->reply = reply;
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(f->fd, 4), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", ntohs(sin.sin_port));
    assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
}

static void fake_stop(struct fake *f)
{
    pthread_join(f->thread, NULL);
    close(f->fd);
}

static int claim_with(const char *reply, struct refusal *err)
{
    struct fake f;
    fake_start(&f, reply);
    struct agent agent;
    memset(&agent, 0, sizeof(agent));
    struct registry *reg = NULL;
    assert_int_equal(registry_agent_create(&agent, f.url, &reg), 0);
    struct mac_block block;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n_reserved = 0;
    memset(err, 0, sizeof(*err));
    int r = registry_claim_block(reg, "fleet", NODE, "test", &block, reserved, &n_reserved, err);
    registry_destroy(reg);
    fake_stop(&f);
    return r;
}

static void test_refusal_with_null_type(void **state)
{
    (void)state;
    struct refusal err;
    assert_int_equal(claim_with("{\"type\": null, \"status\": 409}", &err), -EEXIST);
    assert_int_equal(err.kind, REFUSAL_CONFLICT);
    assert_string_equal(err.type, "mac-in-use");
}

static void test_exhausted(void **state)
{
    (void)state;
    struct refusal err;
    assert_int_equal(claim_with("{\"type\": \"https://lmnet.example/problems/mac-pool-exhausted\","
                                " \"title\": \"Conflict\", \"status\": 409, \"detail\": \"full\"}",
                                &err),
                     -ENOSPC);
    assert_string_equal(err.type, "mac-pool-exhausted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusal_with_null_type),
        cmocka_unit_test(test_exhausted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
