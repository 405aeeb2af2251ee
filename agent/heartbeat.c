/* Heartbeats on the cluster networks: see agent/heartbeat.h.
 *
 * Threads: one, "lmnet-heartbeat".  It owns the sockets and the peer table
 * and talks to the registry through agent->registry; heartbeat_status()
 * reads the counters and a JSON copy of the listeners under hb->lock. */
#include "agent/heartbeat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "agent/clusternet.h"
#include "agent/inventory.h"
#include "base/log.h"
#include "agent/registry.h"
#include "agent/reachability.h"
#include "base/siphash.h"
#include "db/heartbeat_key.h"

#define PACKET_V1 84 /* unsigned: a cluster with no key yet */
#define PACKET_V2 96 /* v1, the sender's run id and the SipHash tag */
#define SIGNED_BYTES 88
#define KEY_REFETCH_MS 60000
#define INVENTORY_RESEND_MS 60000
#define REPORT_EVERY_MS 3000
#define MAX_POLL_MS 200

struct peer {
    char node[37];
    char address[64];
    struct sockaddr_storage sa;
    socklen_t sa_len;
    int64_t last_heard_ms; /* CLOCK_MONOTONIC; 0: never */
    bool seen;             /* a signed datagram came: run and seq are set */
    uint32_t run, seq;     /* the last one's, against replays */
};

struct binding {
    char network[37];
    char name[64];
    char address[64];
    int fd;
    char error[128]; /* why it could not bind, "" when bound */
    size_t n_peers;
    struct peer *peers;
};

struct heartbeat {
    struct agent *agent;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards stopping, the counters and status */
    bool stopping;
    bool signing;               /* keyed, for the status */
    uint64_t sent, received, ignored;
    char last_ignored[160];
    struct json_object *status; /* listeners as last built */

    /* Thread-owned. */
    struct binding *bindings;
    size_t n_bindings;
    uint32_t seq;
    uint32_t run;               /* from the start time: each run's is above the last's */
    bool keyed;                 /* heartbeats are signed with key */
    uint8_t key[HEARTBEAT_KEY_SIZE];
    int64_t key_fetched_ms;
    char *inventory_sent;       /* JSON text last accepted by the registry */
    int64_t inventory_sent_ms;
    char *report_sent;          /* JSON text of the last report */
    int64_t report_sent_ms;
};

static unsigned interval_ms(const struct heartbeat *hb)
{
    unsigned v = hb->agent->config.heartbeat_interval;
    return v < 50 ? 50 : v;
}

static int64_t heard_window_ms(const struct heartbeat *hb)
{
    unsigned t = hb->agent->config.heartbeat_threshold;
    return (int64_t)interval_ms(hb) * (t ? t : 1);
}

static bool stopping(struct heartbeat *hb)
{
    pthread_mutex_lock(&hb->lock);
    bool s = hb->stopping;
    pthread_mutex_unlock(&hb->lock);
    return s;
}

static int to_sockaddr(const char *address, unsigned port, struct sockaddr_storage *sa, socklen_t *len)
{
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return 0;
    }
    return -EINVAL;
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
}

static void binding_release(struct binding *b)
{
    if (b->fd >= 0)
        close(b->fd);
    free(b->peers);
}

static int open_socket(const char *address, unsigned port, char *error, size_t size)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (to_sockaddr(address, port, &sa, &len) < 0) {
        snprintf(error, size, "'%s' is not an address", address);
        return -EINVAL;
    }
    int fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(error, size, "socket: %s", strerror(errno));
        return -errno;
    }
    if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
        int e = errno;
        snprintf(error, size, "cannot bind %s port %u: %s", address, port, strerror(e));
        close(fd);
        return -e;
    }
    return fd;
}

/* Rebuilds the bindings from VIEW, keeping sockets and last-heard times
 * that are still valid. */
static void rebind(struct heartbeat *hb, const struct network_view *view)
{
    const char *self = hb->agent->node_id;
    unsigned port = hb->agent->config.heartbeat_port;
    struct binding *next = calloc(view->n ? view->n : 1, sizeof(*next));
    if (!next)
        return;
    size_t n = 0;
    for (size_t i = 0; i < view->n; i++) {
        const struct cluster_network *net = &view->networks[i];
        const char *mine = network_address_of(net, self);
        if (!mine || net->n_interfaces < 2)
            continue;
        struct binding *b = &next[n];
        b->fd = -1;
        snprintf(b->network, sizeof(b->network), "%s", net->settings.id);
        snprintf(b->name, sizeof(b->name), "%s", net->settings.name);
        snprintf(b->address, sizeof(b->address), "%s", mine);
        b->peers = calloc(net->n_interfaces, sizeof(*b->peers));
        if (!b->peers)
            continue;
        struct binding *old = NULL;
        for (size_t k = 0; k < hb->n_bindings && !old; k++)
            if (strcmp(hb->bindings[k].network, b->network) == 0 &&
                strcmp(hb->bindings[k].address, b->address) == 0)
                old = &hb->bindings[k];
        for (size_t k = 0; k < net->n_interfaces; k++) {
            const struct network_endpoint *e = &net->interfaces[k];
            struct peer *p = &b->peers[b->n_peers];
            if (strcmp(e->node, self) == 0 || to_sockaddr(e->address, port, &p->sa, &p->sa_len) < 0)
                continue;
            snprintf(p->node, sizeof(p->node), "%s", e->node);
            snprintf(p->address, sizeof(p->address), "%s", e->address);
            for (size_t q = 0; old && q < old->n_peers; q++)
                if (strcmp(old->peers[q].node, p->node) == 0 && strcmp(old->peers[q].address, p->address) == 0) {
                    p->last_heard_ms = old->peers[q].last_heard_ms;
                    p->seen = old->peers[q].seen;
                    p->run = old->peers[q].run;
                    p->seq = old->peers[q].seq;
                }
            b->n_peers++;
        }
        if (old && old->fd >= 0) {
            b->fd = old->fd;
            old->fd = -1;
        } else {
            b->fd = open_socket(mine, port, b->error, sizeof(b->error));
            if (b->fd < 0 && (!old || strcmp(old->error, b->error) != 0))
                log_warning("no heartbeats on cluster network name=\"%s\" reason=\"%s\"", b->name, b->error);
            else if (b->fd >= 0)
                log_info("heartbeats on cluster network name=\"%s\" address=%s port=%u peers=%zu", b->name,
                         mine, port, b->n_peers);
        }
        n++;
    }
    for (size_t k = 0; k < hb->n_bindings; k++)
        binding_release(&hb->bindings[k]);
    free(hb->bindings);
    hb->bindings = next;
    hb->n_bindings = n;
}

static bool heard(const struct heartbeat *hb, const struct peer *p, int64_t now)
{
    return p->last_heard_ms && now - p->last_heard_ms <= heard_window_ms(hb);
}

static void publish_status(struct heartbeat *hb)
{
    int64_t now = clock_mono_ms();
    struct json_object *list = json_object_new_array();
    for (size_t i = 0; i < hb->n_bindings; i++) {
        const struct binding *b = &hb->bindings[i];
        struct json_object *o = json_object_new_object(), *peers = json_object_new_array();
        json_object_object_add(o, "network", json_object_new_string(b->network));
        json_object_object_add(o, "name", json_object_new_string(b->name));
        json_object_object_add(o, "address", json_object_new_string(b->address));
        json_object_object_add(o, "bound", json_object_new_boolean(b->fd >= 0));
        json_object_object_add(o, "error", b->error[0] ? json_object_new_string(b->error) : NULL);
        for (size_t k = 0; k < b->n_peers; k++) {
            const struct peer *p = &b->peers[k];
            struct json_object *po = json_object_new_object();
            json_object_object_add(po, "node", json_object_new_string(p->node));
            json_object_object_add(po, "address", json_object_new_string(p->address));
            json_object_object_add(po, "heard", json_object_new_boolean(heard(hb, p, now)));
            json_object_object_add(po, "last_heard_ms_ago",
                                   p->last_heard_ms ? json_object_new_int64(now - p->last_heard_ms) : NULL);
            json_object_array_add(peers, po);
        }
        json_object_object_add(o, "peers", peers);
        json_object_array_add(list, o);
    }
    pthread_mutex_lock(&hb->lock);
    json_object_put(hb->status);
    hb->status = list;
    pthread_mutex_unlock(&hb->lock);
}

/* Sends this host's inventory to the registry when it changed. */
static void share_inventory(struct heartbeat *hb)
{
    struct agent *agent = hb->agent;
    _cleanup_json_ struct json_object *inv = inventory_collect(agent);
    if (!inv)
        return;
    const char *text = json_object_to_json_string_ext(inv, JSON_C_TO_STRING_PLAIN);
    int64_t now = clock_mono_ms();
    if (hb->inventory_sent && strcmp(hb->inventory_sent, text) == 0 &&
        now - hb->inventory_sent_ms < INVENTORY_RESEND_MS)
        return;
    int r = registry_inventory_put(agent->registry, agent->node_id, inv);
    if (r < 0)
        return;
    free(hb->inventory_sent);
    hb->inventory_sent = strdup(text);
    hb->inventory_sent_ms = now;
}

/* Keeps the key that signs heartbeats: the registry's own (made once);
 * elsewhere fetched from the registry, stored, and fetched again now and
 * then; the stored copy serves while the registry is away. */
static void refresh_key(struct heartbeat *hb)
{
    int64_t now = clock_mono_ms();
    if (hb->keyed && now - hb->key_fetched_ms < KEY_REFETCH_MS)
        return;
    struct db *db = db_pool_get(hb->agent->db);
    uint8_t key[HEARTBEAT_KEY_SIZE], stored[HEARTBEAT_KEY_SIZE];
    int r = registry_heartbeat_key(hb->agent->registry, key);
    if (!registry_is_self(hb->agent->registry)) {
        if (r == 0 && db && (heartbeat_key_get(db, stored) != 0 || memcmp(stored, key, sizeof(key)) != 0))
            heartbeat_key_put(db, key);
        else if (r < 0 && !hb->keyed && db)
            r = heartbeat_key_get(db, key);
    }
    if (r == 0) {
        if (!hb->keyed || memcmp(hb->key, key, sizeof(key)) != 0)
            log_info("heartbeats are signed with the cluster's key");
        memcpy(hb->key, key, sizeof(key));
        hb->keyed = true;
        hb->key_fetched_ms = now;
        pthread_mutex_lock(&hb->lock);
        hb->signing = true;
        pthread_mutex_unlock(&hb->lock);
    }
    explicit_bzero(key, sizeof(key));
    explicit_bzero(stored, sizeof(stored));
}

static void refresh(struct heartbeat *hb)
{
    refresh_key(hb);
    share_inventory(hb);
    struct network_view view;
    if (clusternet_view(hb->agent, &view, NULL) == 0) {
        rebind(hb, &view);
        network_view_release(&view);
    }
}

/* The tag of a signed datagram: SipHash-2-4 of its first SIGNED_BYTES,
 * little-endian. */
static void tag_of(const uint8_t key[HEARTBEAT_KEY_SIZE], const unsigned char *packet,
                   unsigned char tag[8])
{
    uint64_t h = siphash24(key, packet, SIGNED_BYTES);
    for (int i = 0; i < 8; i++)
        tag[i] = (unsigned char)(h >> (8 * i));
}

int heartbeat_datagram_parse(const unsigned char *packet, size_t n,
                             const uint8_t key[HEARTBEAT_KEY_SIZE], struct heartbeat_datagram *out,
                             const char **why)
{
    bool v1 = n == PACKET_V1 && packet[4] == 1, v2 = n == PACKET_V2 && packet[4] == 2;
    if (n < 5 || memcmp(packet, "LMHB", 4) != 0 || (!v1 && !v2)) {
        *why = "not an lmnet heartbeat";
        return -EINVAL;
    }
    if (key && !v2) {
        *why = "unsigned (this cluster signs its heartbeats)";
        return -EINVAL;
    }
    if (!key && v2) {
        *why = "signed, and this host has no key yet";
        return -EINVAL;
    }
    *out = (struct heartbeat_datagram){
        .version = v2 ? 2 : 1, .node = packet + 12, .network = packet + 48};
    if (v2) {
        unsigned char tag[8], d = 0;
        tag_of(key, packet, tag);
        for (int i = 0; i < 8; i++)
            d |= (unsigned char)(tag[i] ^ packet[SIGNED_BYTES + i]);
        if (d) {
            *why = "bad signature (not the cluster's key)";
            return -EINVAL;
        }
        uint32_t seq, run;
        memcpy(&seq, packet + 8, 4);
        memcpy(&run, packet + 84, 4);
        out->seq = ntohl(seq);
        out->run = ntohl(run);
    }
    return 0;
}

static void send_all(struct heartbeat *hb)
{
    unsigned char packet[PACKET_V2] = { 'L', 'M', 'H', 'B', 1 };
    size_t size = hb->keyed ? PACKET_V2 : PACKET_V1;
    uint32_t seq = htonl(++hb->seq), run = htonl(hb->run);
    memcpy(packet + 8, &seq, 4);
    memcpy(packet + 12, hb->agent->node_id, 36);
    if (hb->keyed) {
        packet[4] = 2;
        memcpy(packet + 84, &run, 4);
    }
    uint64_t sent = 0;
    for (size_t i = 0; i < hb->n_bindings; i++) {
        struct binding *b = &hb->bindings[i];
        if (b->fd < 0)
            continue;
        memcpy(packet + 48, b->network, 36);
        if (hb->keyed)
            tag_of(hb->key, packet, packet + SIGNED_BYTES);
        for (size_t k = 0; k < b->n_peers; k++)
            if (sendto(b->fd, packet, size, 0, (struct sockaddr *)&b->peers[k].sa,
                       b->peers[k].sa_len) == (ssize_t)size)
                sent++;
    }
    pthread_mutex_lock(&hb->lock);
    hb->sent += sent;
    pthread_mutex_unlock(&hb->lock);
}

static void ignore(struct heartbeat *hb, const struct sockaddr_storage *from, const char *why)
{
    char address[64] = "?";
    const void *a = from->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)from)->sin_addr
                                               : (const void *)&((const struct sockaddr_in6 *)from)->sin6_addr;
    inet_ntop(from->ss_family, a, address, sizeof(address));
    pthread_mutex_lock(&hb->lock);
    hb->ignored++;
    snprintf(hb->last_ignored, sizeof(hb->last_ignored), "from %s: %s", address, why);
    pthread_mutex_unlock(&hb->lock);
}

const char *heartbeat_refusal(bool seen, uint32_t last_run, uint32_t last_seq, bool heard,
                              uint32_t run, uint32_t seq)
{
    /* A copy of an earlier datagram must not make a silent member look
     * alive, and a member that restarted must be heard again at once: only
     * the key's holders can sign a run above the last one, a copy carries
     * a run and sequence number already seen. */
    if (!seen || run > last_run)
        return NULL;
    if (run == last_run)
        return seq > last_seq ? NULL : "replayed (an old sequence number)";
    /* An older run: a copy, or a member whose clock went back; the latter
     * counts once the member's last run has gone quiet. */
    return heard ? "replayed (an older run of a member heard now)" : NULL;
}

uint32_t heartbeat_run_at(int64_t wall_ms)
{
    int64_t run = (wall_ms - HEARTBEAT_RUN_EPOCH_MS) / HEARTBEAT_RUN_TICK_MS;
    return run < 1 ? 1 : run > UINT32_MAX ? UINT32_MAX : (uint32_t)run;
}

static void receive(struct heartbeat *hb, struct binding *b)
{
    for (;;) {
        unsigned char packet[PACKET_V2 + 1];
        struct sockaddr_storage from;
        socklen_t len = sizeof(from);
        ssize_t n = recvfrom(b->fd, packet, sizeof(packet), 0, (struct sockaddr *)&from, &len);
        if (n < 0)
            return;
        struct heartbeat_datagram dg;
        const char *why;
        if (heartbeat_datagram_parse(packet, n, hb->keyed ? hb->key : NULL, &dg, &why) < 0) {
            ignore(hb, &from, why);
            continue;
        }
        if (memcmp(dg.network, b->network, 36) != 0) {
            ignore(hb, &from, "names another network");
            continue;
        }
        struct peer *p = NULL;
        for (size_t k = 0; k < b->n_peers && !p; k++)
            if (memcmp(b->peers[k].node, dg.node, 36) == 0)
                p = &b->peers[k];
        if (!p) {
            ignore(hb, &from, "not a member on this network");
            continue;
        }
        if (!same_host(&p->sa, &from)) {
            ignore(hb, &from, "not the member's address on this network");
            continue;
        }
        if (dg.version == 2) {
            const char *refused = heartbeat_refusal(p->seen, p->run, p->seq,
                                                    heard(hb, p, clock_mono_ms()), dg.run, dg.seq);
            if (refused) {
                ignore(hb, &from, refused);
                continue;
            }
            p->seen = true;
            p->run = dg.run;
            p->seq = dg.seq;
        }
        p->last_heard_ms = clock_mono_ms();
        pthread_mutex_lock(&hb->lock);
        hb->received++;
        pthread_mutex_unlock(&hb->lock);
    }
}

/* Tells the registry what we hear, when it changed or every few seconds. */
static void report(struct heartbeat *hb)
{
    int64_t now = clock_mono_ms();
    _cleanup_json_ struct json_object *heard_by_net = json_object_new_object();
    for (size_t i = 0; i < hb->n_bindings; i++) {
        const struct binding *b = &hb->bindings[i];
        struct json_object *nodes = json_object_new_array();
        for (size_t k = 0; b->fd >= 0 && k < b->n_peers; k++)
            if (heard(hb, &b->peers[k], now))
                json_object_array_add(nodes, json_object_new_string(b->peers[k].node));
        json_object_object_add(heard_by_net, b->network, nodes);
    }
    const char *text = json_object_to_json_string_ext(heard_by_net, JSON_C_TO_STRING_PLAIN);
    if (hb->report_sent && strcmp(text, hb->report_sent) == 0 && now - hb->report_sent_ms < REPORT_EVERY_MS)
        return;
    int r = registry_reachability_put(hb->agent->registry, hb->agent->node_id, heard_by_net);
    if (r < 0)
        return;
    free(hb->report_sent);
    hb->report_sent = strdup(text);
    hb->report_sent_ms = now;
}

static void *heartbeat_thread(void *arg)
{
    struct heartbeat *hb = arg;
    pthread_setname_np(pthread_self(), "lmnet-heartbeat");
    /* One tick before the run is read from the clock, so that it is above
     * the run of the process before this one, however quick the restart. */
    clock_sleep_ms(HEARTBEAT_RUN_TICK_MS);
    hb->run = heartbeat_run_at(clock_wall_ms());
    int64_t next_refresh = 0, next_send = 0;
    while (!stopping(hb)) {
        int64_t now = clock_mono_ms();
        if (now >= next_refresh) {
            refresh(hb);
            next_refresh = clock_mono_ms() + HEARTBEAT_REFRESH_MS;
        }
        if (now >= next_send) {
            send_all(hb);
            next_send = now + interval_ms(hb);
        }
        struct pollfd fds[64];
        size_t n = 0;
        for (size_t i = 0; i < hb->n_bindings && n < 64; i++)
            if (hb->bindings[i].fd >= 0)
                fds[n++] = (struct pollfd){ .fd = hb->bindings[i].fd, .events = POLLIN };
        int64_t wait = next_send - clock_mono_ms();
        wait = wait < 0 ? 0 : wait > MAX_POLL_MS ? MAX_POLL_MS : wait;
        if (poll(fds, n, (int)wait) > 0)
            for (size_t i = 0; i < hb->n_bindings; i++)
                if (hb->bindings[i].fd >= 0)
                    receive(hb, &hb->bindings[i]);
        report(hb);
        publish_status(hb);
    }
    return NULL;
}

int heartbeat_start(struct agent *agent, struct heartbeat **out)
{
    struct heartbeat *hb = calloc(1, sizeof(*hb));
    if (!hb)
        return -ENOMEM;
    hb->agent = agent;
    pthread_mutex_init(&hb->lock, NULL);
    *out = hb;
    if (agent->config.heartbeat_port == 0) {
        log_info("heartbeats off (heartbeat_port = 0): cluster network states are not measured");
        return 0;
    }
    int r = -pthread_create(&hb->thread, NULL, heartbeat_thread, hb);
    if (r < 0) {
        heartbeat_stop(hb);
        *out = NULL;
        return log_errno(LOG_LEVEL_ERROR, r, "cannot start the heartbeat thread");
    }
    hb->started = true;
    return 0;
}

void heartbeat_stop(struct heartbeat *hb)
{
    if (!hb)
        return;
    if (hb->started) {
        pthread_mutex_lock(&hb->lock);
        hb->stopping = true;
        pthread_mutex_unlock(&hb->lock);
        pthread_join(hb->thread, NULL);
    }
    for (size_t i = 0; i < hb->n_bindings; i++)
        binding_release(&hb->bindings[i]);
    free(hb->bindings);
    free(hb->inventory_sent);
    free(hb->report_sent);
    json_object_put(hb->status);
    pthread_mutex_destroy(&hb->lock);
    free(hb);
}

struct json_object *heartbeat_status(struct heartbeat *hb)
{
    struct json_object *o = json_object_new_object();
    struct agent *agent = hb->agent;
    json_object_object_add(o, "port", json_object_new_int((int)agent->config.heartbeat_port));
    json_object_object_add(o, "interval_ms", json_object_new_int((int)interval_ms(hb)));
    json_object_object_add(o, "threshold", json_object_new_int((int)agent->config.heartbeat_threshold));
    pthread_mutex_lock(&hb->lock);
    json_object_object_add(o, "listeners", hb->status ? json_object_get(hb->status) : json_object_new_array());
    json_object_object_add(o, "sent", json_object_new_int64((int64_t)hb->sent));
    json_object_object_add(o, "received", json_object_new_int64((int64_t)hb->received));
    json_object_object_add(o, "ignored", json_object_new_int64((int64_t)hb->ignored));
    json_object_object_add(o, "signed", json_object_new_boolean(hb->signing));
    json_object_object_add(o, "last_ignored", hb->last_ignored[0] ? json_object_new_string(hb->last_ignored) : NULL);
    pthread_mutex_unlock(&hb->lock);
    return o;
}
