/* agent/registry_agent.c against a fake registry on loopback that answers
 * one canned HTTP reply per connection: a refusal whose problem has a null
 * "type" is a refusal, not a strstr(NULL) (found by
 * tests/fuzz/fuzz_registry_reply); a well-formed claim is read; a claim
 * presents this member's own credential, never the peer token, and an agent
 * that has not joined claims nothing (issue 14). */
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
#include "agent/credential.h"
#include "agent/membership.h"
#include "agent/registry.h"

#define NODE "6f1c8a52-3b7e-4d2a-9c1f-0123456789ab"
#define CREDENTIAL "lmm_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define PEER_TOKEN "peer-token-0123456789abcdef"

/* The member credential this agent holds: the fake replaces
 * agent/membership.c's (no membership thread in a unit test). */
static bool joined = true;
int membership_credential(struct membership *membership, char *out)
{
    (void)membership;
    if (!joined)
        return -ENOENT;
    snprintf(out, CREDENTIAL_SIZE, "%s", CREDENTIAL);
    return 0;
}

struct fake {
    int fd;
    const char *reply;
    char request[8192]; /* what the agent sent */
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
    memcpy(f->request, buf, have + 1);
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

static struct fake f;

static int claim_with(const char *reply, struct registry_error *err)
{
    fake_start(&f, reply);
    struct agent agent;
    memset(&agent, 0, sizeof(agent));
    agent.peer_token = (char *)PEER_TOKEN;
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
    struct registry_error err;
    assert_int_equal(claim_with("{\"type\": null, \"status\": 409}", &err), -EEXIST);
    assert_int_equal(err.status, 409);
    assert_string_equal(err.type, "mac-in-use");
}

static void test_claim_presents_member_credential(void **state)
{
    (void)state;
    struct registry_error err;
    claim_with("{\"type\": null, \"status\": 409}", &err);
    assert_non_null(strstr(f.request, "Authorization: Bearer " CREDENTIAL "\r\n"));
    assert_null(strstr(f.request, PEER_TOKEN));
}

static void test_claim_before_joining(void **state)
{
    (void)state;
    struct agent agent;
    memset(&agent, 0, sizeof(agent));
    agent.peer_token = (char *)PEER_TOKEN;
    struct registry *reg = NULL;
    /* Nothing listens there: a claim that tried would fail otherwise. */
    assert_int_equal(registry_agent_create(&agent, "http://127.0.0.1:1", &reg), 0);
    struct mac_block block;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n_reserved = 0;
    struct registry_error err;
    memset(&err, 0, sizeof(err));
    joined = false;
    int r = registry_claim_block(reg, "fleet", NODE, "test", &block, reserved, &n_reserved, &err);
    joined = true;
    registry_destroy(reg);
    assert_int_equal(r, -EAGAIN);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.type, "not-joined");
}

static void test_exhausted(void **state)
{
    (void)state;
    struct registry_error err;
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
        cmocka_unit_test(test_claim_presents_member_credential),
        cmocka_unit_test(test_claim_before_joining),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
