/* The registry is an etcd cluster (registry = etcd://H1:2379,H2:2379,...):
 * every agent is equal and writes straight into etcd (agent/etcd.h).
 *
 * Keys, under etcd_prefix (default "/lmnet/"); MACs and numbers as
 * fixed-width hex so that key order is address order:
 *   pools/NAME                  the pool's definition (its API JSON)
 *   blocks/POOL/MAC             a claimed block starting at MAC: {"owner", "end"}
 *   singles/POOL/MAC            a single-address claim: {"owner"}
 *   members/UUID                a member, on the member's lease
 *   inventory/UUID              its host inventory
 *   reach/UUID                  what it hears, {"heard", "at_ms"}, on its lease
 *   networks/ID                 a cluster network's settings
 *   network-names/NAME          the network id holding NAME (lower case)
 *   network-subnets/SUBNET      the network id of SUBNET ("10.0.0.0_24")
 *   vlans/NNNN, vlan-names/NAME the VLAN catalogue
 *   heartbeat-key               the key that signs heartbeats (hex)
 *   migrated                    set once by lmnetd --migrate-registry
 *
 * Uniqueness is a compare-and-swap each time: a block is claimed by a
 * transaction that puts its key only if the key does not exist and no
 * single claim inside it changed since they were read; a single address
 * only if neither its key nor the key of the block position covering it
 * exist.  A transaction whose answer was lost is retried on the next
 * endpoint and then fails its compare: the key is read back and, when its
 * owner is this node, the claim was ours.
 *
 * Membership is a lease (MEMBER_TTL_S) kept alive by every round of the
 * membership thread; an agent that dies drops out of the list when its
 * lease expires, and with it its heartbeat reports.  Reads
 * go to etcd every time (linearizable), so every agent's view is current;
 * the membership thread and the network view keep local copies for when
 * etcd cannot be reached.
 *
 * Threads: any.  The lease id and the per-pool scan marks are guarded by
 * registry_etcd->lock; the etcd client is thread-safe.  One thread of its
 * own, "lmnet-etcdwatch" (started by the first join, stopped by destroy),
 * owns a watch on members/ and the local member copy it writes: a member
 * that joins or is gone reaches this agent's list as soon as etcd says so,
 * not at the membership thread's next round (which stays as the fallback). */
#include "agent/registry.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "agent/etcd.h"
#include "agent/inventory.h"
#include "base/log.h"
#include "base/mac.h"
#include "model/network.h"
#include "agent/reachability.h"
#include "client/client.h"
#include "db/event.h"
#include "db/network.h"
#include "db/vlan.h"

#define MEMBER_TTL_S 15
#define CAS_RETRIES  64
#define MAX_MARKS    32
#define SCAN_PAGE    64 /* block keys read per round of a claim */

struct scan_mark {
    char pool[64];
    uint64_t below; /* every block position below this is known claimed */
};

struct registry_etcd {
    struct registry registry; /* first: the interface */
    struct etcd *etcd;
    char prefix[128];
    pthread_mutex_t lock; /* guards lease, joined_ms, marks */
    int64_t lease;
    int64_t joined_ms;
    struct scan_mark marks[MAX_MARKS];
    size_t n_marks;
    pthread_t watcher; /* lmnet-etcdwatch */
    bool watching;     /* under lock */
    atomic_bool stop;
};

static struct registry_etcd *of(struct registry *r)
{
    return (struct registry_etcd *)r;
}

static int unreachable(struct refusal *err, int r, const char *what)
{
    if (r == -EACCES)
        return refuse(err, r, REFUSAL_UNAVAILABLE, "registry-refused",
                      "etcd refused to %s: %s (check etcd_user, etcd_password_file and "
                      "the TLS settings)",
                      what, etcd_last_error());
    if (r == -EIO) /* it answered, and refused */
        return refuse(err, r, REFUSAL_UNAVAILABLE, "registry-refused", "cannot %s: %s", what,
                      etcd_last_error());
    return refuse(err, r, REFUSAL_UNAVAILABLE, "registry-unreachable",
                  "cannot %s: etcd did not answer: %s", what, etcd_last_error());
}

static void key_of(struct registry *registry, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void key_of(struct registry *registry, char *buf, size_t size, const char *fmt, ...)
{
    int n = snprintf(buf, size, "%s", of(registry)->prefix);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, size - (size_t)n, fmt, ap);
    va_end(ap);
}

static struct json_object *parse(const char *text)
{
    return text ? json_tokener_parse(text) : NULL;
}

static const char *str_field(struct json_object *o, const char *name)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static int64_t int_field(struct json_object *o, const char *name)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, name, &v) ? json_object_get_int64(v) : 0;
}

static void etcd_destroy_registry(struct registry *registry)
{
    struct registry_etcd *e = of(registry);
    atomic_store(&e->stop, true);
    if (e->watching)
        pthread_join(e->watcher, NULL);
    etcd_destroy(e->etcd);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

/* ---- pools ---- */

static int read_pool(struct registry *registry, const char *name, struct macpool *out)
{
    char key[256];
    key_of(registry, key, sizeof(key), "pools/%s", name);
    struct etcd_kv kv;
    int r = etcd_get(of(registry)->etcd, key, &kv);
    if (r < 0)
        return r;
    _cleanup_json_ struct json_object *o = parse(kv.value);
    etcd_kv_release(&kv);
    char pointer[64], detail[256];
    r = o ? macpool_from_json(o, out, pointer, sizeof(pointer), detail, sizeof(detail)) : -EPROTO;
    if (r < 0)
        return -EPROTO;
    out->created_ms = int_field(o, "created_ms");
    return 0;
}

static int e_pool_get(struct registry *registry, const char *pool, struct macpool *out,
                      struct refusal *err)
{
    int r = read_pool(registry, pool, out);
    if (r == -ENOENT)
        return refuse(err, r, REFUSAL_NOT_FOUND, "not-found", "the cluster has no MAC pool '%s'",
                      pool);
    if (r == -EPROTO)
        return refuse(err, r, REFUSAL_BAD_ANSWER, "registry-answer",
                      "etcd's pool '%s' cannot be read", pool);
    return r < 0 ? unreachable(err, r, "read the pool") : 0;
}

static int e_pool_list(struct registry *registry, struct macpool **out, size_t *n)
{
    char prefix[256];
    key_of(registry, prefix, sizeof(prefix), "pools/");
    struct etcd_range rg;
    int r = etcd_get_prefix(of(registry)->etcd, prefix, &rg);
    if (r < 0)
        return r;
    *out = calloc(rg.n ? rg.n : 1, sizeof(**out));
    *n = 0;
    for (size_t i = 0; *out && i < rg.n; i++) {
        _cleanup_json_ struct json_object *o = parse(rg.kvs[i].value);
        char pointer[64], detail[256];
        if (o && macpool_from_json(o, &(*out)[*n], pointer, sizeof(pointer), detail,
                                   sizeof(detail)) == 0) {
            (*out)[*n].created_ms = int_field(o, "created_ms");
            (*n)++;
        }
    }
    etcd_range_release(&rg);
    return *out ? 0 : -ENOMEM;
}

static bool ranges_overlap(const struct macpool *a, const struct macpool *b)
{
    for (size_t i = 0; i < a->n_ranges; i++)
        for (size_t k = 0; k < b->n_ranges; k++)
            if (a->ranges[i].start <= b->ranges[k].end && b->ranges[k].start <= a->ranges[i].end)
                return true;
    return false;
}

static int e_pool_create(struct registry *registry, const struct macpool *pool, char *clash)
{
    char prefix[256], key[256];
    key_of(registry, prefix, sizeof(prefix), "pools/");
    key_of(registry, key, sizeof(key), "pools/%s", pool->name);
    for (int attempt = 0; attempt < CAS_RETRIES; attempt++) {
        struct etcd_range rg;
        int r = etcd_get_prefix(of(registry)->etcd, prefix, &rg);
        if (r < 0)
            return r;
        for (size_t i = 0; i < rg.n; i++) {
            _cleanup_json_ struct json_object *o = parse(rg.kvs[i].value);
            struct macpool other;
            char pointer[64], detail[256];
            if (strcmp(rg.kvs[i].key, key) == 0) {
                etcd_range_release(&rg);
                return -EEXIST;
            }
            if (o &&
                macpool_from_json(o, &other, pointer, sizeof(pointer), detail, sizeof(detail)) ==
                    0 &&
                ranges_overlap(pool, &other)) {
                if (clash)
                    snprintf(clash, 64, "%s", other.name);
                etcd_range_release(&rg);
                return -EADDRINUSE;
            }
        }
        _cleanup_free_ char *end = etcd_prefix_end(prefix);
        struct etcd_txn *txn = etcd_txn_new();
        if (!txn || !end) {
            etcd_range_release(&rg);
            etcd_txn_free(txn);
            return -ENOMEM;
        }
        /* No pool came or went since the overlap check. */
        etcd_txn_range_unchanged_since(txn, prefix, end, rg.revision);
        etcd_txn_absent(txn, key);
        etcd_range_release(&rg);
        _cleanup_json_ struct json_object *o = macpool_to_json(pool, -1);
        json_object_object_add(o, "created_ms", json_object_new_int64(clock_wall_ms()));
        etcd_txn_put(txn, key, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), 0);
        r = etcd_txn_commit(of(registry)->etcd, txn);
        etcd_txn_free(txn);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return -EAGAIN;
}

/* The claim at KV (under the blocks/ or singles/ PREFIX) as a block. */
static void block_at(const struct etcd_kv *kv, const char *prefix, bool single,
                     struct mac_block *out)
{
    _cleanup_json_ struct json_object *o = parse(kv->value);
    memset(out, 0, sizeof(*out));
    out->start = strtoull(kv->key + strlen(prefix), NULL, 16);
    out->end = out->start;
    out->single = single;
    if (!single && mac_parse(str_field(o, "end"), &out->end) < 0)
        out->end = out->start;
    snprintf(out->owner, sizeof(out->owner), "%s", str_field(o, "owner"));
}

static int e_pool_delete(struct registry *registry, const char *pool, struct mac_block *held)
{
    char key[256], blocks[256], singles[256];
    key_of(registry, key, sizeof(key), "pools/%s", pool);
    key_of(registry, blocks, sizeof(blocks), "blocks/%s/", pool);
    key_of(registry, singles, sizeof(singles), "singles/%s/", pool);
    struct etcd_kv kv;
    int r = etcd_get(of(registry)->etcd, key, &kv);
    if (r < 0)
        return r;
    etcd_kv_release(&kv);
    struct etcd_range rb, rs;
    r = etcd_get_prefix(of(registry)->etcd, blocks, &rb);
    if (r < 0)
        return r;
    r = etcd_get_prefix(of(registry)->etcd, singles, &rs);
    if (r < 0) {
        etcd_range_release(&rb);
        return r;
    }
    bool used = rb.n || rs.n;
    if (used && held)
        block_at(rb.n ? &rb.kvs[0] : &rs.kvs[0], rb.n ? blocks : singles, rb.n == 0, held);
    int64_t revision = rs.revision;
    etcd_range_release(&rb);
    etcd_range_release(&rs);
    if (used)
        return -EBUSY;
    _cleanup_free_ char *bend = etcd_prefix_end(blocks);
    _cleanup_free_ char *send = etcd_prefix_end(singles);
    struct etcd_txn *txn = etcd_txn_new();
    if (!txn || !bend || !send) {
        etcd_txn_free(txn);
        return -ENOMEM;
    }
    etcd_txn_range_unchanged_since(txn, blocks, bend, revision);
    etcd_txn_range_unchanged_since(txn, singles, send, revision);
    etcd_txn_delete(txn, key);
    r = etcd_txn_commit(of(registry)->etcd, txn);
    etcd_txn_free(txn);
    return r < 0 ? r : r == 1 ? 0 : -EBUSY;
}

/* ---- blocks ---- */

static uint64_t *mark_of(struct registry_etcd *e, const char *pool)
{
    for (size_t i = 0; i < e->n_marks; i++)
        if (strcmp(e->marks[i].pool, pool) == 0)
            return &e->marks[i].below;
    if (e->n_marks == MAX_MARKS)
        e->n_marks = 0; /* forget them all: marks are only a shortcut */
    struct scan_mark *m = &e->marks[e->n_marks++];
    snprintf(m->pool, sizeof(m->pool), "%s", pool);
    m->below = 0;
    return &m->below;
}

/* The owner of the claim at KEY: 0 and OWNER (37 bytes), -ENOENT, or an
 * errno. */
static int owner_at(struct registry *registry, const char *key, char *owner)
{
    struct etcd_kv kv;
    int r = etcd_get(of(registry)->etcd, key, &kv);
    if (r < 0)
        return r;
    _cleanup_json_ struct json_object *o = parse(kv.value);
    etcd_kv_release(&kv);
    snprintf(owner, 37, "%s", str_field(o, "owner"));
    return 0;
}

/* Other nodes' single claims inside BLOCK: RESERVED and the revision read. */
static int singles_in(struct registry *registry, const char *pool, const char *node,
                      const struct mac_block *b, uint64_t *reserved, size_t *n_reserved,
                      int64_t *revision, char *start, char *end)
{
    key_of(registry, start, 256, "singles/%s/%012" PRIx64, pool, b->start);
    key_of(registry, end, 256, "singles/%s/%012" PRIx64, pool, b->end + 1);
    struct etcd_range rg;
    char prefix[256];
    key_of(registry, prefix, sizeof(prefix), "singles/%s/", pool);
    int r = etcd_get_range(of(registry)->etcd, start, end, 0, &rg);
    if (r < 0)
        return r;
    struct etcd_kv *kvs = rg.kvs;
    *n_reserved = 0;
    for (size_t i = 0; i < rg.n; i++) {
        _cleanup_json_ struct json_object *o = parse(kvs[i].value);
        uint64_t mac = strtoull(kvs[i].key + strlen(prefix), NULL, 16);
        if (strcmp(str_field(o, "owner"), node) != 0 && reserved &&
            *n_reserved < MACPOOL_MAX_RESERVED)
            reserved[(*n_reserved)++] = mac;
    }
    *revision = rg.revision;
    etcd_range_release(&rg);
    return 0;
}

/* True when the block at START, claimed in etcd with VALUE, is NODE's but
 * not in this agent's database: a claim whose answer was lost, or made
 * just before the agent was killed.  It is handed out again rather than
 * left unused. */
static bool adoptable(struct registry *registry, const char *pool, const char *node, uint64_t start,
                      const char *value)
{
    _cleanup_json_ struct json_object *o = parse(value);
    if (strcmp(str_field(o, "owner"), node) != 0 || strcmp(node, registry->agent->node_id) != 0)
        return false;
    struct db *db = db_pool_get(registry->agent->db);
    return db && !macpool_owns(db, pool, node, start);
}

static int e_claim_block(struct registry *registry, const char *pool, const char *node,
                         const char *actor, struct mac_block *out, uint64_t *reserved,
                         size_t *n_reserved, struct refusal *err)
{
    (void)actor;
    struct registry_etcd *e = of(registry);
    struct macpool p;
    int r = e_pool_get(registry, pool, &p, err);
    if (r < 0)
        return r;
    /* In address order, so that the mark (every position below it is
     * claimed) holds across ranges. */
    for (size_t i = 1; i < p.n_ranges; i++)
        for (size_t k = i; k > 0 && p.ranges[k - 1].start > p.ranges[k].start; k--) {
            struct mac_range t = p.ranges[k];
            p.ranges[k] = p.ranges[k - 1];
            p.ranges[k - 1] = t;
        }
    char prefix[256];
    key_of(registry, prefix, sizeof(prefix), "blocks/%s/", pool);
    for (int attempt = 0; attempt < CAS_RETRIES; attempt++) {
        pthread_mutex_lock(&e->lock);
        uint64_t below = *mark_of(e, pool);
        pthread_mutex_unlock(&e->lock);
        /* The claimed blocks from the mark on, in address order. */
        char from[256];
        key_of(registry, from, sizeof(from), "blocks/%s/%012" PRIx64, pool, below);
        _cleanup_free_ char *to = etcd_prefix_end(prefix);
        struct etcd_range rg;
        r = to ? etcd_get_range(e->etcd, from, to, SCAN_PAGE, &rg) : -ENOMEM;
        if (r < 0)
            return unreachable(err, r, "claim a block");
        bool found = false, adopted = false;
        memset(out, 0, sizeof(*out));
        size_t k = 0;
        for (size_t i = 0; i < p.n_ranges && !found; i++) {
            const struct mac_range *range = &p.ranges[i];
            if (range->end < below)
                continue; /* wholly below the mark: claimed */
            uint64_t s = range->start;
            if (below > s)
                s += (below - s + p.block_size - 1) / p.block_size * p.block_size;
            for (; s <= range->end && !found; s += p.block_size) {
                char key[256];
                key_of(registry, key, sizeof(key), "blocks/%s/%012" PRIx64, pool, s);
                while (k < rg.n && strcmp(rg.kvs[k].key, key) < 0)
                    k++;
                bool claimed = k < rg.n && strcmp(rg.kvs[k].key, key) == 0;
                if (claimed && !adoptable(registry, pool, node, s, rg.kvs[k].value))
                    continue;
                out->start = s;
                out->end = range->end - s + 1 > p.block_size ? s + p.block_size - 1 : range->end;
                found = true;
                adopted = claimed;
            }
        }
        /* Past the page read, a position may be claimed: read on from the
         * last key (every position before it is claimed). */
        char last[256] = "";
        if (rg.more && rg.n)
            snprintf(last, sizeof(last), "%s", rg.kvs[rg.n - 1].key);
        uint64_t last_start = last[0] ? strtoull(last + strlen(prefix), NULL, 16) : 0;
        etcd_range_release(&rg);
        if (last[0] && (!found || out->start > last_start)) {
            pthread_mutex_lock(&e->lock);
            uint64_t *mark = mark_of(e, pool);
            if (*mark < last_start)
                *mark = last_start;
            pthread_mutex_unlock(&e->lock);
            attempt--; /* progress, not contention */
            continue;
        }
        if (!found && below > 0) {
            /* Nothing above the mark: blocks given back may have left gaps
             * below it (fresh space first, then gaps, as registry_self). */
            pthread_mutex_lock(&e->lock);
            *mark_of(e, pool) = 0;
            pthread_mutex_unlock(&e->lock);
            attempt--;
            continue;
        }
        if (!found)
            return refuse(err, -ENOSPC, REFUSAL_CONFLICT, "mac-pool-exhausted",
                          "every block of pool '%s' is claimed; add a range to the pool", pool);
        pthread_mutex_lock(&e->lock);
        uint64_t *mark = mark_of(e, pool);
        if (*mark < out->start)
            *mark = out->start;
        pthread_mutex_unlock(&e->lock);
        snprintf(out->owner, sizeof(out->owner), "%s", node);
        char start[256], end[256], key[256];
        int64_t revision = 0;
        r = singles_in(registry, pool, node, out, reserved, n_reserved, &revision, start, end);
        if (r < 0)
            return unreachable(err, r, "claim a block");
        if (adopted) {
            log_info("registry block adopted pool=%s start=%012" PRIx64
                     " (claimed for this node in etcd, not known here: the agent stopped "
                     "before it recorded the claim)",
                     pool, out->start);
            return 0;
        }
        key_of(registry, key, sizeof(key), "blocks/%s/%012" PRIx64, pool, out->start);
        struct etcd_txn *txn = etcd_txn_new();
        if (!txn)
            return refuse(err, -ENOMEM, REFUSAL_INTERNAL, "internal", "out of memory");
        etcd_txn_absent(txn, key);
        etcd_txn_range_unchanged_since(txn, start, end, revision);
        _cleanup_json_ struct json_object *v = json_object_new_object();
        json_object_object_add(v, "owner", json_object_new_string(node));
        char text[MAC_STRING_SIZE];
        json_object_object_add(v, "end", json_object_new_string(mac_format(out->end, text)));
        json_object_object_add(v, "claimed_ms", json_object_new_int64(clock_wall_ms()));
        etcd_txn_put(txn, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), 0);
        r = etcd_txn_commit(e->etcd, txn);
        etcd_txn_free(txn);
        if (r == 1)
            return 0;
        if (r < 0)
            return unreachable(err, r, "claim a block");
        /* Lost: someone else's, or ours with the answer lost on the way. */
        char owner[37] = "";
        if (owner_at(registry, key, owner) == 0 && strcmp(owner, node) == 0)
            return 0;
    }
    return refuse(err, -EBUSY, REFUSAL_UNAVAILABLE, "busy",
                  "pool '%s': too many agents claimed at once; retry", pool);
}

/* The block position of POOL covering MAC, or false when MAC lies outside
 * every range. */
static bool position_of(const struct macpool *p, uint64_t mac, uint64_t *start)
{
    for (size_t i = 0; i < p->n_ranges; i++)
        if (mac >= p->ranges[i].start && mac <= p->ranges[i].end) {
            *start =
                p->ranges[i].start + (mac - p->ranges[i].start) / p->block_size * p->block_size;
            return true;
        }
    return false;
}

static int e_claim_address(struct registry *registry, const char *pool, const char *node,
                           uint64_t mac, const char *actor, struct mac_block *out,
                           struct refusal *err)
{
    (void)actor;
    struct macpool p;
    int r = e_pool_get(registry, pool, &p, err);
    if (r < 0)
        return r;
    char text[MAC_STRING_SIZE], single[256], block[256] = "";
    key_of(registry, single, sizeof(single), "singles/%s/%012" PRIx64, pool, mac);
    uint64_t start = 0;
    bool in_range = position_of(&p, mac, &start);
    if (in_range)
        key_of(registry, block, sizeof(block), "blocks/%s/%012" PRIx64, pool, start);
    memset(out, 0, sizeof(*out));
    out->start = out->end = mac;
    out->single = true;
    snprintf(out->owner, sizeof(out->owner), "%s", node);
    for (int attempt = 0; attempt < CAS_RETRIES; attempt++) {
        char owner[37] = "";
        r = in_range ? owner_at(registry, block, owner) : -ENOENT;
        if (r == 0) {
            if (strcmp(owner, node) != 0)
                return refuse(err, -EEXIST, REFUSAL_CONFLICT, "mac-in-use",
                              "%s lies in a block or claim of node %s; allocate it there",
                              mac_format(mac, text), owner);
            return 0; /* our own block holds it (recorded here as a single claim) */
        }
        if (r != -ENOENT)
            return unreachable(err, r, "claim the address");
        r = owner_at(registry, single, owner);
        if (r == 0) {
            if (strcmp(owner, node) != 0)
                return refuse(err, -EEXIST, REFUSAL_CONFLICT, "mac-in-use",
                              "%s lies in a block or claim of node %s; allocate it there",
                              mac_format(mac, text), owner);
            return 0;
        }
        if (r != -ENOENT)
            return unreachable(err, r, "claim the address");
        struct etcd_txn *txn = etcd_txn_new();
        if (!txn)
            return refuse(err, -ENOMEM, REFUSAL_INTERNAL, "internal", "out of memory");
        etcd_txn_absent(txn, single);
        if (in_range)
            etcd_txn_absent(txn, block);
        _cleanup_json_ struct json_object *v = json_object_new_object();
        json_object_object_add(v, "owner", json_object_new_string(node));
        etcd_txn_put(txn, single, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), 0);
        r = etcd_txn_commit(of(registry)->etcd, txn);
        etcd_txn_free(txn);
        if (r == 1)
            return 0;
        if (r < 0)
            return unreachable(err, r, "claim the address");
        /* a compare failed: read again (the next round says whose it is) */
    }
    return refuse(err, -EBUSY, REFUSAL_UNAVAILABLE, "busy", "the address stayed contended; retry");
}

static int e_release_block(struct registry *registry, const char *pool, const char *node,
                           const struct mac_block *block, const char *actor, struct refusal *err)
{
    (void)actor;
    char key[256], owner[37] = "";
    key_of(registry, key, sizeof(key), "%s/%s/%012" PRIx64, block->single ? "singles" : "blocks",
           pool, block->start);
    struct etcd_kv kv;
    int r = etcd_get(of(registry)->etcd, key, &kv);
    if (r == -ENOENT)
        return refuse(err, r, REFUSAL_NOT_FOUND, "not-found", "node %s holds no such block of '%s'",
                      node, pool);
    if (r < 0)
        return unreachable(err, r, "release the block");
    _cleanup_json_ struct json_object *o = parse(kv.value);
    int64_t revision = kv.mod_revision;
    etcd_kv_release(&kv);
    snprintf(owner, sizeof(owner), "%s", str_field(o, "owner"));
    if (strcmp(owner, node) != 0)
        return refuse(err, -ENOENT, REFUSAL_NOT_FOUND, "not-found",
                      "node %s holds no such block of '%s'", node, pool);
    struct etcd_txn *txn = etcd_txn_new();
    if (!txn)
        return refuse(err, -ENOMEM, REFUSAL_INTERNAL, "internal", "out of memory");
    etcd_txn_unchanged(txn, key, revision);
    etcd_txn_delete(txn, key);
    r = etcd_txn_commit(of(registry)->etcd, txn);
    etcd_txn_free(txn);
    if (r < 0)
        return unreachable(err, r, "release the block");
    if (r == 0)
        return refuse(err, -EAGAIN, REFUSAL_CONFLICT, "conflict", "the block changed meanwhile");
    /* The scan mark stays: the gap is claimed again once no fresh space is
     * left above it (e_claim_block), not by the next claim. */
    return 0;
}

/* ---- membership ---- */

static void watch_start(struct registry_etcd *e);

/* The member lease, granted or kept alive: 0 and *lease, or an errno. */
static int keep_lease(struct registry_etcd *e, int64_t *lease)
{
    pthread_mutex_lock(&e->lock);
    int64_t id = e->lease;
    pthread_mutex_unlock(&e->lock);
    int r = id ? etcd_lease_keepalive(e->etcd, id) : -ENOENT;
    if (r == -ENOENT) {
        r = etcd_lease_grant(e->etcd, MEMBER_TTL_S, &id);
        if (r == 0)
            log_info("registry lease granted id=%" PRId64 " ttl=%d", id, MEMBER_TTL_S);
    }
    if (r < 0)
        return r;
    pthread_mutex_lock(&e->lock);
    e->lease = id;
    pthread_mutex_unlock(&e->lock);
    *lease = id;
    return 0;
}

static int64_t current_lease(struct registry_etcd *e)
{
    pthread_mutex_lock(&e->lock);
    int64_t id = e->lease;
    pthread_mutex_unlock(&e->lock);
    return id;
}

static int e_join(struct registry *registry, const struct registry_join *join, struct refusal *err)
{
    struct registry_etcd *e = of(registry);
    int64_t lease = 0;
    int r = keep_lease(e, &lease);
    if (r < 0)
        return unreachable(err, r, "keep this agent's membership");
    pthread_mutex_lock(&e->lock);
    if (!e->joined_ms)
        e->joined_ms = clock_wall_ms();
    int64_t joined = e->joined_ms;
    pthread_mutex_unlock(&e->lock);
    char key[256];
    key_of(registry, key, sizeof(key), "members/%s", join->node);
    _cleanup_json_ struct json_object *v = json_object_new_object();
    json_object_object_add(v, "id", json_object_new_string(join->node));
    json_object_object_add(v, "name", json_object_new_string(join->name));
    json_object_object_add(v, "url", json_object_new_string(join->url));
    json_object_object_add(v, "joined_ms", json_object_new_int64(joined));
    json_object_object_add(v, "last_seen_ms", json_object_new_int64(clock_wall_ms()));
    r = etcd_put(e->etcd, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), lease);
    if (r < 0)
        return unreachable(err, r, "record this agent as a member");
    watch_start(e);
    return 0;
}

static int read_members(struct registry *registry, struct member **out, size_t *n,
                        int64_t *revision, struct refusal *err)
{
    char prefix[256];
    key_of(registry, prefix, sizeof(prefix), "members/");
    struct etcd_range rg;
    int r = etcd_get_prefix(of(registry)->etcd, prefix, &rg);
    if (r < 0)
        return unreachable(err, r, "list the members");
    *revision = rg.revision;
    *out = calloc(rg.n ? rg.n : 1, sizeof(**out));
    for (size_t i = 0; *out && i < rg.n; i++) {
        _cleanup_json_ struct json_object *o = parse(rg.kvs[i].value);
        struct member *m = &(*out)[*n];
        memset(m, 0, sizeof(*m));
        snprintf(m->uuid, sizeof(m->uuid), "%s", str_field(o, "id"));
        snprintf(m->name, sizeof(m->name), "%s", str_field(o, "name"));
        snprintf(m->url, sizeof(m->url), "%s", str_field(o, "url"));
        m->joined_ms = int_field(o, "joined_ms");
        m->last_seen_ms = int_field(o, "last_seen_ms");
        if (strlen(m->uuid) == 36)
            (*n)++;
    }
    etcd_range_release(&rg);
    return *out ? 0 : refuse(err, -ENOMEM, REFUSAL_INTERNAL, "internal", "out of memory");
}

static int e_members(struct registry *registry, struct member **out, size_t *n, struct refusal *err)
{
    int64_t revision = 0;
    return read_members(registry, out, n, &revision, err);
}

/* ---- the member watch (thread lmnet-etcdwatch) ---- */

/* Reads the member list from etcd into the local copy.  Returns the
 * revision it was read at, or 0 when it could not be read. */
static int64_t copy_members(struct registry_etcd *e)
{
    struct member *members = NULL;
    size_t n = 0;
    int64_t revision = 0;
    struct refusal err;
    if (read_members(&e->registry, &members, &n, &revision, &err) < 0)
        return 0; /* the membership thread's rounds say why */
    struct db *db = db_pool_get(e->registry.agent->db);
    int r = db ? member_replace_all(db, members, n) : -EIO;
    free(members);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot store the member list");
    return revision;
}

static void on_member_event(void *ctx, const struct etcd_event *event)
{
    (void)event;
    copy_members(ctx);
}

static void *watch_thread(void *arg)
{
    struct registry_etcd *e = arg;
    pthread_setname_np(pthread_self(), "lmnet-etcdwatch");
    char prefix[256];
    key_of(&e->registry, prefix, sizeof(prefix), "members/");
    int64_t revision = 0; /* 0: read everything again, then watch from there */
    unsigned failures = 0;
    while (!atomic_load(&e->stop)) {
        int64_t from = revision ? revision + 1 : copy_members(e) + 1;
        int r = from > 1
                    ? etcd_watch(e->etcd, prefix, from, on_member_event, e, &e->stop, &revision)
                    : -EHOSTUNREACH;
        if (r == -ECANCELED)
            break;
        if (r == -ESTALE) {
            log_info("registry watch: %s; reading the members again", etcd_last_error());
            revision = 0;
            continue;
        }
        if (from <= revision)
            failures = 0; /* it delivered: a new break is news */
        if (failures++ == 0) {
            log_errno(LOG_LEVEL_WARNING, r,
                      "registry watch broke, watching again from %" PRId64 ": %s", revision + 1,
                      etcd_last_error());
            continue; /* at once, on the next endpoint that answers */
        }
        /* a short pause, so that an etcd away is not asked in a loop */
        for (int i = 0; i < 5 && !atomic_load(&e->stop); i++)
            clock_sleep_ms(100);
    }
    return NULL;
}

static void watch_start(struct registry_etcd *e)
{
    pthread_mutex_lock(&e->lock);
    if (!e->watching && !atomic_load(&e->stop)) {
        int r = -pthread_create(&e->watcher, NULL, watch_thread, e);
        if (r < 0)
            log_errno(LOG_LEVEL_WARNING, r, "cannot start the registry watch");
        e->watching = r == 0;
    }
    pthread_mutex_unlock(&e->lock);
}

/* ---- networks ---- */

static struct json_object *settings_to_json(const struct network_settings *s)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(s->id));
    json_object_object_add(o, "number", json_object_new_int((int)s->number));
    json_object_object_add(o, "name", json_object_new_string(s->name));
    json_object_object_add(o, "address", json_object_new_string(s->subnet.address));
    json_object_object_add(o, "prefix", json_object_new_int((int)s->subnet.prefix));
    json_object_object_add(o, "role", json_object_new_string(network_role_to_string(s->role)));
    json_object_object_add(o, "metric", json_object_new_int(s->metric));
    json_object_object_add(o, "auto_metric", json_object_new_boolean(s->auto_metric));
    return o;
}

static int settings_from_json(struct json_object *o, struct network_settings *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "%s", str_field(o, "id"));
    s->number = (unsigned)int_field(o, "number");
    snprintf(s->name, sizeof(s->name), "%s", str_field(o, "name"));
    s->metric = (int)int_field(o, "metric");
    struct json_object *v = NULL;
    s->auto_metric = json_object_object_get_ex(o, "auto_metric", &v) && json_object_get_boolean(v);
    if (network_role_from_string(str_field(o, "role"), &s->role) < 0)
        s->role = NETWORK_ROLE_NONE;
    return strlen(s->id) == 36 && subnet_of(str_field(o, "address"),
                                            (unsigned)int_field(o, "prefix"), &s->subnet) == 0
               ? 0
               : -EPROTO;
}

/* The stored settings, by number, with each one's mod_revision when
 * REVISIONS is given (the caller frees both). */
static int list_settings(struct registry *registry, struct network_settings **out, size_t *n,
                         int64_t **revisions)
{
    char prefix[256];
    key_of(registry, prefix, sizeof(prefix), "networks/");
    struct etcd_range rg;
    int r = etcd_get_prefix(of(registry)->etcd, prefix, &rg);
    if (r < 0)
        return r;
    *out = calloc(rg.n ? rg.n : 1, sizeof(**out));
    if (revisions)
        *revisions = calloc(rg.n ? rg.n : 1, sizeof(**revisions));
    *n = 0;
    for (size_t i = 0; *out && (!revisions || *revisions) && i < rg.n; i++) {
        _cleanup_json_ struct json_object *o = parse(rg.kvs[i].value);
        if (o && settings_from_json(o, &(*out)[*n]) == 0) {
            if (revisions)
                (*revisions)[*n] = rg.kvs[i].mod_revision;
            (*n)++;
        }
    }
    etcd_range_release(&rg);
    if (!*out || (revisions && !*revisions))
        return -ENOMEM;
    /* by number: insertion sort, the lists are short */
    for (size_t i = 1; i < *n; i++)
        for (size_t k = i; k > 0 && (*out)[k - 1].number > (*out)[k].number; k--) {
            struct network_settings t = (*out)[k];
            (*out)[k] = (*out)[k - 1];
            (*out)[k - 1] = t;
            if (revisions) {
                int64_t x = (*revisions)[k];
                (*revisions)[k] = (*revisions)[k - 1];
                (*revisions)[k - 1] = x;
            }
        }
    return 0;
}

static int e_network_list(struct registry *registry, struct network_settings **out, size_t *n)
{
    return list_settings(registry, out, n, NULL);
}

static void lower_name(const char *name, char *buf, size_t size)
{
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char)name[i];
        /* keep keys free of '/': a name is one key segment */
        buf[i] = c == '/' ? '_' : (char)tolower(c);
    }
    buf[i] = '\0';
}

static int e_network_update(struct registry *registry, const struct network_settings *before,
                            const struct network_settings *after)
{
    struct network_settings *all = NULL;
    int64_t *revisions = NULL;
    size_t n = 0;
    int r = list_settings(registry, &all, &n, &revisions);
    int64_t revision = -1;
    for (size_t i = 0; r == 0 && i < n; i++)
        if (strcmp(all[i].id, before->id) == 0)
            revision = revisions[i];
    free(all);
    free(revisions);
    if (r < 0)
        return r;
    if (revision < 0)
        return -ENOENT;
    char key[256], was[256], now[256], lower[64];
    key_of(registry, key, sizeof(key), "networks/%s", after->id);
    lower_name(before->name, lower, sizeof(lower));
    key_of(registry, was, sizeof(was), "network-names/%s", lower);
    lower_name(after->name, lower, sizeof(lower));
    key_of(registry, now, sizeof(now), "network-names/%s", lower);
    struct etcd_txn *txn = etcd_txn_new();
    if (!txn)
        return -ENOMEM;
    etcd_txn_unchanged(txn, key, revision);
    bool renamed = strcmp(was, now) != 0;
    if (renamed) {
        etcd_txn_absent(txn, now);
        etcd_txn_delete(txn, was);
        etcd_txn_put(txn, now, after->id, 0);
    }
    _cleanup_json_ struct json_object *v = settings_to_json(after);
    etcd_txn_put(txn, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), 0);
    r = etcd_txn_commit(of(registry)->etcd, txn);
    etcd_txn_free(txn);
    if (r < 0)
        return r;
    if (r == 1)
        return 0;
    if (renamed) {
        struct etcd_kv kv;
        if (etcd_get(of(registry)->etcd, now, &kv) == 0) {
            bool ours = strcmp(kv.value, after->id) == 0;
            etcd_kv_release(&kv);
            return ours ? -EAGAIN : -EEXIST;
        }
    }
    return -EAGAIN;
}

/* {"UUID": {"inventory": {...}}, ...} from the inventory keys. */
static struct json_object *inventories(struct registry *registry)
{
    char prefix[256];
    key_of(registry, prefix, sizeof(prefix), "inventory/");
    struct etcd_range rg;
    if (etcd_get_prefix(of(registry)->etcd, prefix, &rg) < 0)
        return NULL;
    struct json_object *all = json_object_new_object();
    for (size_t i = 0; i < rg.n; i++) {
        struct json_object *inv = parse(rg.kvs[i].value);
        if (!inv)
            continue;
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "inventory", inv);
        json_object_object_add(all, rg.kvs[i].key + strlen(prefix), entry);
    }
    etcd_range_release(&rg);
    return all;
}

/* Creates the networks discovered in ALL (inventories) not yet stored. */
static int discover(struct registry *registry, struct json_object *all)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        struct network_endpoint *endpoints = NULL;
        struct network_settings *known = NULL, *added = NULL;
        size_t n_endpoints = 0, n_known = 0, n_added = 0;
        int r = inventory_endpoints(all, &endpoints, &n_endpoints);
        if (r == 0)
            r = list_settings(registry, &known, &n_known, NULL);
        struct member *members = NULL;
        size_t n_members = 0;
        struct refusal err;
        if (r == 0)
            r = e_members(registry, &members, &n_members, &err);
        if (r == 0) {
            char addresses[64][64];
            const char *pointers[64];
            size_t n_mgmt = 0;
            for (size_t i = 0; i < n_members && n_mgmt < 64; i++)
                if (client_url_host(members[i].url, addresses[n_mgmt], 64)[0]) {
                    pointers[n_mgmt] = addresses[n_mgmt];
                    n_mgmt++;
                }
            r = network_discover(endpoints, n_endpoints, known, n_known, pointers, n_mgmt, &added,
                                 &n_added);
        }
        free(members);
        free(endpoints);
        free(known);
        bool lost = false;
        for (size_t i = 0; r == 0 && i < n_added && !lost; i++) {
            const struct network_settings *s = &added[i];
            char key[256], name[256], subnet[256], number[256], lower[64];
            key_of(registry, key, sizeof(key), "networks/%s", s->id);
            lower_name(s->name, lower, sizeof(lower));
            key_of(registry, name, sizeof(name), "network-names/%s", lower);
            key_of(registry, subnet, sizeof(subnet), "network-subnets/%s_%u", s->subnet.address,
                   s->subnet.prefix);
            key_of(registry, number, sizeof(number), "network-numbers/%06u", s->number);
            struct etcd_txn *txn = etcd_txn_new();
            if (!txn) {
                r = -ENOMEM;
                break;
            }
            etcd_txn_absent(txn, subnet);
            etcd_txn_absent(txn, name);
            etcd_txn_absent(txn, number);
            _cleanup_json_ struct json_object *v = settings_to_json(s);
            etcd_txn_put(txn, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), 0);
            etcd_txn_put(txn, name, s->id, 0);
            etcd_txn_put(txn, subnet, s->id, 0);
            etcd_txn_put(txn, number, s->id, 0);
            r = etcd_txn_commit(of(registry)->etcd, txn);
            etcd_txn_free(txn);
            if (r == 1) {
                r = 0;
                log_info("cluster network discovered name=\"%s\" subnet=%s/%u role=%s", s->name,
                         s->subnet.address, s->subnet.prefix, network_role_to_string(s->role));
                struct db *db = db_pool_get(registry->agent->db);
                _cleanup_json_ struct json_object *detail = json_object_new_object();
                json_object_object_add(detail, "address",
                                       json_object_new_string(s->subnet.address));
                json_object_object_add(detail, "prefix",
                                       json_object_new_int((int)s->subnet.prefix));
                if (db)
                    event_record(db, registry->agent->node_id, "lmnetd", "network.discovered",
                                 s->name, detail);
            } else if (r == 0) {
                lost = true; /* another agent made it, or took the number: again */
            }
        }
        free(added);
        if (r < 0)
            return r;
        if (!lost)
            return 0;
    }
    return -EAGAIN;
}

static int e_inventory_put(struct registry *registry, const char *node,
                           struct json_object *inventory)
{
    if (!current_lease(of(registry)))
        return -EAGAIN; /* not a member yet */
    /* Not on the lease: as with the SQLite registry, a member that is away
     * keeps its interfaces in the view (they read as unreachable). */
    char key[256];
    key_of(registry, key, sizeof(key), "inventory/%s", node);
    int r = etcd_put(of(registry)->etcd, key,
                     json_object_to_json_string_ext(inventory, JSON_C_TO_STRING_PLAIN), 0);
    if (r < 0)
        return r;
    _cleanup_json_ struct json_object *all = inventories(registry);
    return all ? discover(registry, all) : -EIO;
}

static int e_reachability_put(struct registry *registry, const char *node,
                              struct json_object *heard)
{
    int64_t lease = current_lease(of(registry));
    if (!lease)
        return -EAGAIN;
    char key[256];
    key_of(registry, key, sizeof(key), "reach/%s", node);
    _cleanup_json_ struct json_object *v = json_object_new_object();
    json_object_object_add(v, "heard", json_object_get(heard));
    json_object_object_add(v, "at_ms", json_object_new_int64(clock_wall_ms()));
    return etcd_put(of(registry)->etcd, key,
                    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), lease);
}

static int e_networks(struct registry *registry, struct network_view *out)
{
    struct network_settings *settings = NULL;
    size_t n = 0, n_endpoints = 0;
    struct network_endpoint *endpoints = NULL;
    int r = list_settings(registry, &settings, &n, NULL);
    _cleanup_json_ struct json_object *all = r < 0 ? NULL : inventories(registry);
    if (r == 0 && !all)
        r = -EHOSTUNREACH;
    if (r == 0)
        r = inventory_endpoints(all, &endpoints, &n_endpoints);
    /* The reports as a table of our own, aged by when they were written. */
    struct reachability *table = r == 0 ? reachability_create() : NULL;
    if (r == 0 && !table)
        r = -ENOMEM;
    if (r == 0) {
        char prefix[256];
        key_of(registry, prefix, sizeof(prefix), "reach/");
        struct etcd_range rg;
        r = etcd_get_prefix(of(registry)->etcd, prefix, &rg);
        int64_t now_wall = clock_wall_ms(), now_mono = clock_mono_ms();
        for (size_t i = 0; r == 0 && i < rg.n; i++) {
            _cleanup_json_ struct json_object *o = parse(rg.kvs[i].value);
            struct json_object *heard = NULL;
            if (o && json_object_object_get_ex(o, "heard", &heard))
                reachability_report(table, rg.kvs[i].key + strlen(prefix), heard,
                                    now_mono - (now_wall - int_field(o, "at_ms")));
        }
        if (r == 0)
            etcd_range_release(&rg);
    }
    if (r == 0)
        r = network_view_build(settings, n, endpoints, n_endpoints, reachability_reach, table, out);
    reachability_destroy(table);
    free(endpoints);
    free(settings);
    return r;
}

/* ---- heartbeat key ---- */

static int hex_key(const char *hex, uint8_t key[HEARTBEAT_KEY_SIZE])
{
    if (strlen(hex) != 2 * HEARTBEAT_KEY_SIZE)
        return -EPROTO;
    for (size_t i = 0; i < HEARTBEAT_KEY_SIZE; i++) {
        unsigned x;
        if (sscanf(hex + 2 * i, "%2x", &x) != 1)
            return -EPROTO;
        key[i] = (uint8_t)x;
    }
    return 0;
}

static int e_heartbeat_key(struct registry *registry, uint8_t key[HEARTBEAT_KEY_SIZE])
{
    char name[256];
    key_of(registry, name, sizeof(name), "heartbeat-key");
    for (int attempt = 0; attempt < 3; attempt++) {
        struct etcd_kv kv;
        int r = etcd_get(of(registry)->etcd, name, &kv);
        if (r == 0) {
            r = hex_key(kv.value, key);
            explicit_bzero(kv.value, strlen(kv.value));
            etcd_kv_release(&kv);
            return r;
        }
        if (r != -ENOENT)
            return r;
        uint8_t fresh[HEARTBEAT_KEY_SIZE];
        if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh))
            return -EIO;
        char hex[2 * HEARTBEAT_KEY_SIZE + 1];
        for (size_t i = 0; i < HEARTBEAT_KEY_SIZE; i++)
            snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
        struct etcd_txn *txn = etcd_txn_new();
        if (!txn)
            return -ENOMEM;
        etcd_txn_absent(txn, name);
        etcd_txn_put(txn, name, hex, 0);
        r = etcd_txn_commit(of(registry)->etcd, txn);
        etcd_txn_free(txn);
        explicit_bzero(hex, sizeof(hex));
        explicit_bzero(fresh, sizeof(fresh));
        if (r < 0)
            return r;
        /* made, or another agent made it first: read it back */
    }
    return -EAGAIN;
}

/* ---- VLANs ---- */

static int e_vlan_list(struct registry *registry, struct vlan **out, size_t *n)
{
    char prefix[256];
    key_of(registry, prefix, sizeof(prefix), "vlans/");
    struct etcd_range rg;
    int r = etcd_get_prefix(of(registry)->etcd, prefix, &rg);
    if (r < 0)
        return r;
    *out = calloc(rg.n ? rg.n : 1, sizeof(**out));
    *n = 0;
    for (size_t i = 0; *out && i < rg.n; i++) {
        _cleanup_json_ struct json_object *o = parse(rg.kvs[i].value);
        struct vlan *v = &(*out)[*n];
        memset(v, 0, sizeof(*v));
        v->id = (unsigned)int_field(o, "id");
        snprintf(v->name, sizeof(v->name), "%s", str_field(o, "name"));
        snprintf(v->description, sizeof(v->description), "%s", str_field(o, "description"));
        v->created_ms = int_field(o, "created_ms");
        if (v->id >= 1 && v->id <= 4094)
            (*n)++;
    }
    etcd_range_release(&rg);
    return *out ? 0 : -ENOMEM;
}

static int e_vlan_create(struct registry *registry, const struct vlan *vlan)
{
    char key[256], name[256], lower[64];
    key_of(registry, key, sizeof(key), "vlans/%04u", vlan->id);
    lower_name(vlan->name, lower, sizeof(lower));
    key_of(registry, name, sizeof(name), "vlan-names/%s", lower);
    struct etcd_txn *txn = etcd_txn_new();
    if (!txn)
        return -ENOMEM;
    etcd_txn_absent(txn, key);
    etcd_txn_absent(txn, name);
    _cleanup_json_ struct json_object *v = vlan_to_json(vlan);
    json_object_object_add(
        v, "created_ms",
        json_object_new_int64(vlan->created_ms ? vlan->created_ms : clock_wall_ms()));
    etcd_txn_put(txn, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), 0);
    char id[8];
    snprintf(id, sizeof(id), "%u", vlan->id);
    etcd_txn_put(txn, name, id, 0);
    int r = etcd_txn_commit(of(registry)->etcd, txn);
    etcd_txn_free(txn);
    return r < 0 ? r : r == 1 ? 0 : -EEXIST;
}

static int e_vlan_delete(struct registry *registry, unsigned id)
{
    char key[256], name[256], lower[64];
    key_of(registry, key, sizeof(key), "vlans/%04u", id);
    struct etcd_kv kv;
    int r = etcd_get(of(registry)->etcd, key, &kv);
    if (r < 0)
        return r;
    _cleanup_json_ struct json_object *o = parse(kv.value);
    int64_t revision = kv.mod_revision;
    etcd_kv_release(&kv);
    lower_name(str_field(o, "name"), lower, sizeof(lower));
    key_of(registry, name, sizeof(name), "vlan-names/%s", lower);
    struct etcd_txn *txn = etcd_txn_new();
    if (!txn)
        return -ENOMEM;
    etcd_txn_unchanged(txn, key, revision);
    etcd_txn_delete(txn, key);
    etcd_txn_delete(txn, name);
    r = etcd_txn_commit(of(registry)->etcd, txn);
    etcd_txn_free(txn);
    return r < 0 ? r : r == 1 ? 0 : -EAGAIN;
}

static const struct registry_ops etcd_ops = {
    .name = "etcd",
    .destroy = etcd_destroy_registry,
    .pool_get = e_pool_get,
    .claim_block = e_claim_block,
    .claim_address = e_claim_address,
    .release_block = e_release_block,
    .join = e_join,
    .members = e_members,
    .networks = e_networks,
    .inventory_put = e_inventory_put,
    .reachability_put = e_reachability_put,
    .heartbeat_key = e_heartbeat_key,
    .pool_list = e_pool_list,
    .pool_create = e_pool_create,
    .pool_delete = e_pool_delete,
    .network_list = e_network_list,
    .network_update = e_network_update,
    .vlan_list = e_vlan_list,
    .vlan_create = e_vlan_create,
    .vlan_delete = e_vlan_delete,
};

int registry_etcd_create(struct agent *agent, const char *endpoints, struct registry **out)
{
    const struct config *c = &agent->config;
    struct registry_etcd *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    pthread_mutex_init(&e->lock, NULL);
    e->registry.ops = &etcd_ops;
    e->registry.agent = agent;
    snprintf(e->prefix, sizeof(e->prefix), "%s", c->etcd_prefix ? c->etcd_prefix : "/lmnet/");
    _cleanup_free_ char *password = NULL;
    if (c->etcd_password_file) {
        char why[256];
        int r = client_read_token_file(c->etcd_password_file, &password, why, sizeof(why));
        if (r < 0) {
            log_error("cannot read etcd_password_file %s: %s", c->etcd_password_file, why);
            etcd_destroy_registry(&e->registry);
            return r;
        }
    }
    /* etcds://: TLS whatever else is set; etcd://: TLS when a CA or client
     * certificate is set (as before etcds:// existed). */
    bool etcds = strncmp(endpoints, "etcds://", 8) == 0;
    struct etcd_options options = {
        .endpoints = etcds ? endpoints + 8 : endpoints,
        .tls = etcds || c->etcd_ca_file || c->etcd_cert_file,
        .ca_file = c->etcd_ca_file,
        .cert_file = c->etcd_cert_file,
        .key_file = c->etcd_key_file,
        .user = c->etcd_user,
        .password = password,
        .timeout_ms = 2000,
    };
    int r = etcd_create(&options, &e->etcd);
    if (password)
        explicit_bzero(password, strlen(password));
    if (r < 0 && *etcd_last_error())
        log_error("etcd: %s", etcd_last_error());
    if (r < 0) {
        etcd_destroy_registry(&e->registry);
        return r;
    }
    *out = &e->registry;
    return 0;
}

/* ---- migration from a SQLite registry ---- */

#define MIGRATE_BATCH 40 /* etcd takes at most 128 operations per transaction */

struct batch {
    struct registry *registry;
    struct etcd_txn *txn;
    size_t n;       /* keys in TXN */
    size_t written; /* keys committed */
    char **keys;    /* every key written, for the check */
    char **values;
    size_t n_keys, cap;
};

static int batch_flush(struct batch *b)
{
    if (!b->txn || b->n == 0)
        return 0;
    int r = etcd_txn_commit(of(b->registry)->etcd, b->txn);
    etcd_txn_free(b->txn);
    b->txn = NULL;
    if (r == 0)
        return -EEXIST; /* a key appeared in between: someone else writes here */
    if (r < 0)
        return r;
    b->written += b->n;
    b->n = 0;
    return 0;
}

/* Adds KEY (under the prefix) = VALUE, create-only. */
static int batch_put(struct batch *b, const char *key, const char *value)
{
    if (b->n_keys == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        char **k = realloc(b->keys, cap * sizeof(*k)),
             **v = k ? realloc(b->values, cap * sizeof(*v)) : NULL;
        if (k)
            b->keys = k;
        if (!k || !v)
            return -ENOMEM;
        b->values = v;
        b->cap = cap;
    }
    if (!(b->keys[b->n_keys] = strdup(key)))
        return -ENOMEM;
    if (!(b->values[b->n_keys] = strdup(value))) {
        free(b->keys[b->n_keys]);
        return -ENOMEM;
    }
    b->n_keys++;
    if (!b->txn && !(b->txn = etcd_txn_new()))
        return -ENOMEM;
    etcd_txn_absent(b->txn, key);
    etcd_txn_put(b->txn, key, value, 0);
    if (++b->n == MIGRATE_BATCH)
        return batch_flush(b);
    return 0;
}

static int migrate_pools(struct batch *b, struct db *db, size_t *n_pools, size_t *n_blocks)
{
    struct registry *registry = b->registry;
    struct macpool *pools = NULL;
    size_t n = 0;
    int r = macpool_list(db, &pools, &n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (pools[i].kind != MACPOOL_STATIC)
            continue; /* the dynamic pool is the host's own */
        char key[256];
        key_of(registry, key, sizeof(key), "pools/%s", pools[i].name);
        _cleanup_json_ struct json_object *o = macpool_to_json(&pools[i], -1);
        json_object_object_add(o, "created_ms", json_object_new_int64(pools[i].created_ms));
        r = batch_put(b, key, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        (*n_pools)++;
        struct mac_block *blocks = NULL;
        size_t nb = 0;
        if (r == 0)
            r = macpool_blocks(db, pools[i].name, NULL, &blocks, &nb);
        for (size_t k = 0; r == 0 && k < nb; k++) {
            char text[MAC_STRING_SIZE];
            key_of(registry, key, sizeof(key), "%s/%s/%012" PRIx64,
                   blocks[k].single ? "singles" : "blocks", pools[i].name, blocks[k].start);
            _cleanup_json_ struct json_object *v = json_object_new_object();
            json_object_object_add(v, "owner", json_object_new_string(blocks[k].owner));
            if (!blocks[k].single)
                json_object_object_add(v, "end",
                                       json_object_new_string(mac_format(blocks[k].end, text)));
            r = batch_put(b, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
            (*n_blocks)++;
        }
        free(blocks);
    }
    free(pools);
    return r;
}

static int migrate_networks(struct batch *b, struct db *db, size_t *count)
{
    struct registry *registry = b->registry;
    struct network_settings *all = NULL;
    size_t n = 0;
    int r = network_list(db, &all, &n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        const struct network_settings *s = &all[i];
        char key[256], lower[64], number[16];
        _cleanup_json_ struct json_object *v = settings_to_json(s);
        key_of(registry, key, sizeof(key), "networks/%s", s->id);
        r = batch_put(b, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        lower_name(s->name, lower, sizeof(lower));
        key_of(registry, key, sizeof(key), "network-names/%s", lower);
        if (r == 0)
            r = batch_put(b, key, s->id);
        key_of(registry, key, sizeof(key), "network-subnets/%s_%u", s->subnet.address,
               s->subnet.prefix);
        if (r == 0)
            r = batch_put(b, key, s->id);
        snprintf(number, sizeof(number), "%06u", s->number);
        key_of(registry, key, sizeof(key), "network-numbers/%s", number);
        if (r == 0)
            r = batch_put(b, key, s->id);
        (*count)++;
    }
    free(all);
    return r;
}

static int migrate_vlans(struct batch *b, struct db *db, size_t *count)
{
    struct registry *registry = b->registry;
    struct vlan *all = NULL;
    size_t n = 0;
    int r = vlan_list(db, &all, &n);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char key[256], lower[64], id[8];
        _cleanup_json_ struct json_object *v = vlan_to_json(&all[i]);
        json_object_object_add(v, "created_ms", json_object_new_int64(all[i].created_ms));
        key_of(registry, key, sizeof(key), "vlans/%04u", all[i].id);
        r = batch_put(b, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        lower_name(all[i].name, lower, sizeof(lower));
        key_of(registry, key, sizeof(key), "vlan-names/%s", lower);
        snprintf(id, sizeof(id), "%u", all[i].id);
        if (r == 0)
            r = batch_put(b, key, id);
        (*count)++;
    }
    free(all);
    return r;
}

/* Reads back every key written and compares.  Returns the number that
 * differ, or a negative errno. */
static int migrate_check(struct batch *b)
{
    char prefix[256];
    key_of(b->registry, prefix, sizeof(prefix), "%s", "");
    struct etcd_range rg;
    int r = etcd_get_prefix(of(b->registry)->etcd, prefix, &rg);
    if (r < 0)
        return r;
    int bad = 0;
    for (size_t i = 0; i < b->n_keys; i++) {
        bool same = false;
        for (size_t k = 0; k < rg.n && !same; k++)
            same = strcmp(rg.kvs[k].key, b->keys[i]) == 0 &&
                   strcmp(rg.kvs[k].value, b->values[i]) == 0;
        if (!same) {
            log_error("migration check: %s differs in etcd", b->keys[i]);
            bad++;
        }
    }
    etcd_range_release(&rg);
    return bad;
}

int registry_etcd_migrate(struct registry *registry, struct db *db, char *message, size_t size)
{
    struct registry_etcd *e = of(registry);
    char marker[256], busy[256], prefix[256];
    key_of(registry, marker, sizeof(marker), "migrated");
    key_of(registry, busy, sizeof(busy), "migrating");
    key_of(registry, prefix, sizeof(prefix), "%s", "");
    struct etcd_kv kv;
    int r = etcd_get(e->etcd, marker, &kv);
    if (r == 0) {
        snprintf(message, size,
                 "etcd already holds a migrated registry under %s (%s); the migration runs once",
                 prefix, kv.value);
        etcd_kv_release(&kv);
        return -EEXIST;
    }
    if (r != -ENOENT) {
        snprintf(message, size, "etcd did not answer: %s", etcd_last_error());
        return r;
    }
    struct etcd_range rg;
    r = etcd_get_prefix(e->etcd, prefix, &rg);
    if (r < 0) {
        snprintf(message, size, "etcd did not answer: %s", etcd_last_error());
        return r;
    }
    size_t present = 0;
    for (size_t i = 0; i < rg.n; i++) {
        const char *rest = rg.kvs[i].key + strlen(prefix);
        /* what agents already running on etcd write for themselves */
        if (strncmp(rest, "members/", 8) != 0 && strncmp(rest, "inventory/", 10) != 0 &&
            strncmp(rest, "reach/", 6) != 0)
            present++;
    }
    etcd_range_release(&rg);
    if (present) {
        snprintf(message, size,
                 "etcd already holds %zu registry key(s) under %s (an earlier, unfinished "
                 "migration, or agents already using it); remove them (etcdctl del --prefix %s) "
                 "and run the migration again",
                 present, prefix, prefix);
        return -EEXIST;
    }
    _cleanup_json_ struct json_object *note = json_object_new_object();
    json_object_object_add(note, "from", json_object_new_string(registry->agent->node_id));
    json_object_object_add(note, "at_ms", json_object_new_int64(clock_wall_ms()));
    const char *note_text = json_object_to_json_string_ext(note, JSON_C_TO_STRING_PLAIN);
    struct etcd_txn *txn = etcd_txn_new();
    if (!txn)
        return -ENOMEM;
    etcd_txn_absent(txn, busy);
    etcd_txn_absent(txn, marker);
    etcd_txn_put(txn, busy, note_text, 0);
    r = etcd_txn_commit(e->etcd, txn);
    etcd_txn_free(txn);
    if (r <= 0) {
        snprintf(message, size, "%s",
                 r == 0 ? "another migration into this etcd is under way" : "etcd did not answer");
        return r == 0 ? -EBUSY : r;
    }

    struct batch b = {.registry = registry};
    size_t n_pools = 0, n_blocks = 0, n_networks = 0, n_vlans = 0;
    r = migrate_pools(&b, db, &n_pools, &n_blocks);
    if (r == 0)
        r = migrate_networks(&b, db, &n_networks);
    if (r == 0)
        r = migrate_vlans(&b, db, &n_vlans);
    uint8_t hk[HEARTBEAT_KEY_SIZE];
    if (r == 0 && heartbeat_key_get(db, hk) == 0) {
        char hex[2 * HEARTBEAT_KEY_SIZE + 1], key[256];
        for (size_t i = 0; i < HEARTBEAT_KEY_SIZE; i++)
            snprintf(hex + 2 * i, 3, "%02x", hk[i]);
        key_of(registry, key, sizeof(key), "heartbeat-key");
        r = batch_put(&b, key, hex);
        explicit_bzero(hex, sizeof(hex));
        explicit_bzero(hk, sizeof(hk));
    }
    if (r == 0)
        r = batch_flush(&b);
    int bad = r == 0 ? migrate_check(&b) : 0;
    if (r == 0 && bad < 0)
        r = bad;
    if (r == 0 && bad == 0) {
        txn = etcd_txn_new();
        if (!txn) {
            r = -ENOMEM;
        } else {
            etcd_txn_absent(txn, marker);
            etcd_txn_put(txn, marker, note_text, 0);
            etcd_txn_delete(txn, busy);
            r = etcd_txn_commit(e->etcd, txn);
            etcd_txn_free(txn);
            r = r == 1 ? 0 : r == 0 ? -EEXIST : r;
        }
    }
    if (r == 0 && bad == 0)
        snprintf(message, size,
                 "copied %zu pool(s), %zu block and address claim(s), %zu network(s), %zu "
                 "VLAN(s) and the heartbeat key into etcd under %s (%zu keys, each read back "
                 "and checked)",
                 n_pools, n_blocks, n_networks, n_vlans, prefix, b.n_keys);
    else if (bad > 0)
        snprintf(message, size,
                 "%d of %zu keys read back differently; nothing is marked migrated (remove the "
                 "keys with etcdctl del --prefix %s and run again)",
                 bad, b.n_keys, prefix);
    else
        snprintf(message, size,
                 "the copy stopped after %zu of the keys: %s (%s); nothing is marked migrated "
                 "(remove the keys with etcdctl del --prefix %s and run again)",
                 b.written, strerror(-r), etcd_last_error(), prefix);
    for (size_t i = 0; i < b.n_keys; i++) {
        free(b.keys[i]);
        free(b.values[i]);
    }
    free(b.keys);
    free(b.values);
    etcd_txn_free(b.txn);
    return r < 0 ? r : bad > 0 ? -EIO : 0;
}
