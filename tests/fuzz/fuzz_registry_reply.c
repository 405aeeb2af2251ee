/* libFuzzer target: what the cluster registry answers another agent, read
 * by agent/registry_agent.c through the real REST client (libcurl) from a
 * fake registry on loopback.  The first byte picks the call (pool, block
 * claim, address claim, block release, join, members, networks, inventory,
 * reachability, heartbeat key), the second the HTTP status; the rest is the
 * JSON body the registry answers.  Nothing may crash, leak or hang, and a
 * refusal must say why. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "agent/agent.h"
#include "agent/credential.h"
#include "base/log.h"
#include "model/network.h"
#include "agent/registry.h"

#define NODE "6f1c8a52-3b7e-4d2a-9c1f-0123456789ab"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *answer; /* the whole HTTP response to send next */
static size_t answer_len;
static int listen_fd = -1;
static char url[64];

/* Reads a request's head and body (by Content-Length), answers, closes. */
static void serve(int fd)
{
    char buf[65536];
    size_t have = 0;
    char *end = NULL;
    while (have < sizeof(buf) - 1 && !end) {
        ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            return;
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return;
    size_t body = 0;
    const char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl)
        body = strtoul(cl + 17, NULL, 10);
    size_t want = (size_t)(end + 4 - buf) + body;
    while (have < want && have < sizeof(buf) - 1) {
        ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            return;
        have += (size_t)n;
    }
    pthread_mutex_lock(&lock);
    size_t sent = 0;
    while (answer && sent < answer_len) {
        ssize_t n = send(fd, answer + sent, answer_len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    pthread_mutex_unlock(&lock);
}

static void *server(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        serve(fd);
        close(fd);
    }
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    log_open("/dev/null");
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(listen_fd, 16) < 0 || getsockname(listen_fd, (struct sockaddr *)&sin, &len) < 0)
        abort();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sin.sin_port));
    pthread_t t;
    if (pthread_create(&t, NULL, server, NULL) != 0)
        abort();
    pthread_detach(t);
    return 0;
}

static void refused(const struct refusal *err)
{
    if (!err->detail[0] || !err->type[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const int statuses[] = {200, 201, 204, 400, 404, 409, 422, 500, 502, 503};
    int status = statuses[data[1] % (sizeof(statuses) / sizeof(statuses[0]))];
    size_t body = size - 2;
    pthread_mutex_lock(&lock);
    free(answer);
    answer = malloc(body + 256);
    answer_len = (size_t)snprintf(answer, 256,
                                  "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                  status, body);
    memcpy(answer + answer_len, data + 2, body);
    answer_len += body;
    pthread_mutex_unlock(&lock);

    struct agent agent;
    memset(&agent, 0, sizeof(agent));
    snprintf(agent.node_id, sizeof(agent.node_id), "%s", NODE);
    struct registry *reg = NULL;
    if (registry_agent_create(&agent, url, &reg) < 0)
        return 0;
    struct refusal err;
    memset(&err, 0, sizeof(err));
    int r = 0;
    switch (data[0] % 10) {
    case 0: {
        struct macpool pool;
        r = registry_pool_get(reg, "fleet", &pool, &err);
        break;
    }
    case 1: {
        struct mac_block block;
        uint64_t reserved[MACPOOL_MAX_RESERVED];
        size_t n_reserved = 0;
        r = registry_claim_block(reg, "fleet", NODE, "fuzz", &block, reserved, &n_reserved, &err);
        if (r == 0 && n_reserved > MACPOOL_MAX_RESERVED)
            abort();
        break;
    }
    case 2: {
        struct mac_block block;
        r = registry_claim_address(reg, "fleet", NODE, 0x020000000001ull, "fuzz", &block, &err);
        break;
    }
    case 3: {
        struct mac_block block = {.start = 0x020000000000ull, .end = 0x02000000003full};
        snprintf(block.owner, sizeof(block.owner), "%s", NODE);
        r = registry_release_block(reg, "fleet", NODE, &block, "fuzz", &err);
        break;
    }
    case 4: {
        /* A join token (issue 14): the reply's member credential is read
         * into ISSUED. */
        char issued[CREDENTIAL_SIZE];
        struct registry_join join = {
            .credential = "lmj_0000000000000000000000000000000000000000000000000000000000000000",
            .issued = issued};
        snprintf(join.node, sizeof(join.node), "%s", NODE);
        snprintf(join.name, sizeof(join.name), "h1");
        snprintf(join.url, sizeof(join.url), "http://127.0.0.1:1");
        r = registry_join(reg, &join, &err);
        break;
    }
    case 5: {
        struct member *members = NULL;
        size_t n = 0;
        r = registry_members(reg, &members, &n, &err);
        if (r == 0)
            free(members);
        break;
    }
    case 6: {
        struct network_view view = {0};
        if (registry_networks(reg, &view) == 0)
            network_view_release(&view);
        break;
    }
    case 7: {
        struct json_object *inv = json_tokener_parse("{\"nics\": []}");
        registry_inventory_put(reg, NODE, inv);
        json_object_put(inv);
        break;
    }
    case 8: {
        struct json_object *heard = json_tokener_parse("{}");
        registry_reachability_put(reg, NODE, heard);
        json_object_put(heard);
        break;
    }
    case 9: {
        uint8_t key[HEARTBEAT_KEY_SIZE];
        registry_heartbeat_key(reg, key);
        break;
    }
    }
    if (r < 0 && data[0] % 10 <= 5)
        refused(&err);
    registry_destroy(reg);
    return 0;
}
