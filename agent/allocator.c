/* Cluster-wide MAC allocation: see agent/allocator.h. */
#include "agent/allocator.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"
#include "agent/membership.h"
#include "agent/metrics.h"
#include "agent/registry.h"
#include "db/event.h"

#define BUSY_RETRIES 5
#define CLAIM_ROUNDS 256 /* block claims one allocation may wait through */

/* Allocation writes are group-committed: each request joins a queue; the
 * first one in leads, writing every queued allocation (each with its event,
 * each in its own savepoint so one failure undoes only itself) in one
 * transaction with one fsync, then wakes the others with their results.
 * While it writes, new requests queue for the next batch.  write_lock
 * serialises this process's writers, so SQLite's busy handler (whose
 * sleeps grow to 100 ms) is never what orders them. */
struct pending {
    struct pending *next;
    const char *pool;
    const struct allocation_request *rq;
    const struct mac_holder *holder;
    const char *actor;
    struct mac_allocation *out;
    int result;
    bool done;
    pthread_cond_t wake; /* signalled when done (one waiter each: no herd) */
};

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t claim_lock = PTHREAD_MUTEX_INITIALIZER; /* one block claim at a time */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER; /* guards queue, leading */
static struct pending *queue;
static bool leading;

static int64_t record_in(struct db *db, struct agent *agent, const char *actor, const char *kind,
                         uint64_t mac, const char *pool, const struct mac_holder *holder)
{
    char text[MAC_STRING_SIZE];
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "pool", json_object_new_string(pool));
    if (holder) {
        json_object_object_add(detail, "vm", json_object_new_string(holder->vm));
        json_object_object_add(detail, "adapter", json_object_new_string(holder->adapter));
    }
    return event_record(db, agent->node_id, actor, kind, mac_format(mac, text), detail);
}

static void record_block(struct agent *agent, const char *actor, const char *pool,
                         const char *node, const struct mac_block *b)
{
    char a[MAC_STRING_SIZE], e[MAC_STRING_SIZE], subject[64];
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "pool", json_object_new_string(pool));
    json_object_object_add(detail, "node", json_object_new_string(node));
    json_object_object_add(detail, "single", json_object_new_boolean(b->single));
    snprintf(subject, sizeof(subject), "%s-%s", mac_format(b->start, a), mac_format(b->end, e));
    event_record(db_pool_get(agent->db), agent->node_id, actor, "mac.block.claim", subject,
                 detail);
}

static void record_release(struct agent *agent, const char *actor, const char *pool,
                           const struct mac_block *b)
{
    char a[MAC_STRING_SIZE], e[MAC_STRING_SIZE], subject[64];
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "pool", json_object_new_string(pool));
    json_object_object_add(detail, "node", json_object_new_string(agent->node_id));
    json_object_object_add(detail, "single", json_object_new_boolean(b->single));
    snprintf(subject, sizeof(subject), "%s-%s", mac_format(b->start, a), mac_format(b->end, e));
    event_record(db_pool_get(agent->db), agent->node_id, actor ? actor : "lmnetd",
                 "mac.block.release", subject, detail);
}

/* The two octets of the management IPv4 address for the dynamic pool. */
static void management_octets(const struct agent *agent, uint8_t *o3, uint8_t *o4)
{
    const struct config *c = &agent->config;
    const char *address = c->management_address ? c->management_address : c->listen_address;
    struct in_addr in;
    *o3 = *o4 = 0;
    if (inet_pton(AF_INET, address, &in) == 1) {
        const uint8_t *b = (const uint8_t *)&in.s_addr;
        *o3 = b[2];
        *o4 = b[3];
    }
}

static int from_registry(struct refusal *err, int r, const struct refusal *e)
{
    *err = *e;
    return r;
}

int allocator_learn_pool(struct agent *agent, const char *pool, struct refusal *err)
{
    struct db *db = db_pool_get(agent->db);
    struct macpool p;
    int r = macpool_get(db, pool, &p);
    if (r == 0)
        return 0;
    if (r != -ENOENT)
        return refuse(err, r, REFUSAL_INTERNAL, "database", "cannot read pool '%s': %s", pool,
                      strerror(-r));
    if (strcmp(pool, MACPOOL_DYNAMIC_NAME) == 0) {
        uint8_t o3, o4;
        management_octets(agent, &o3, &o4);
        struct mac_range range = macpool_dynamic_default(o3, o4);
        const char *configured = agent->config.dynamic_mac_range;
        if (configured && mac_range_parse(configured, &range) < 0)
            return refuse(err, -EINVAL, REFUSAL_INTERNAL, "configuration",
                          "dynamic_mac_range '%s' is not START-END", configured);
        r = macpool_ensure_dynamic(db, agent->node_id, &range);
        return r < 0 ? refuse(err, r, REFUSAL_INTERNAL, "database",
                              "cannot create the dynamic pool: %s", strerror(-r))
                     : 0;
    }
    struct refusal e;
    r = registry_pool_get(agent->registry, pool, &p, &e);
    if (r < 0)
        return from_registry(err, r, &e);
    if (registry_is_self(agent->registry))
        return 0; /* created in between */
    char clash[64] = "";
    r = macpool_insert(db, &p, clash);
    if (r == -EEXIST)
        return 0; /* another thread learned it first */
    if (r == -EADDRINUSE)
        return refuse(err, r, REFUSAL_CONFLICT, "pool-overlap",
                      "pool '%s' overlaps pool '%s' known to this agent only", pool, clash);
    return r < 0 ? refuse(err, r, REFUSAL_INTERNAL, "database", "cannot store pool '%s'", pool) : 0;
}

int allocator_claim(struct agent *agent, const char *pool, const char *node, bool has_mac,
                    uint64_t mac, const char *actor, struct mac_block *block, uint64_t *reserved,
                    size_t *n_reserved, struct refusal *err)
{
    struct db *db = db_pool_get(agent->db);
    *n_reserved = 0;
    int r;
    if (has_mac) {
        char holder[37] = "";
        pthread_mutex_lock(&write_lock);
        r = macpool_claim_address(db, pool, mac, node, holder);
        pthread_mutex_unlock(&write_lock);
        if (r == -EEXIST) {
            char text[MAC_STRING_SIZE];
            return refuse(err, r, REFUSAL_CONFLICT, "mac-in-use",
                          "%s lies in a block or claim of node %s; allocate it there",
                          mac_format(mac, text), holder);
        }
        memset(block, 0, sizeof(*block));
        block->start = block->end = mac;
        block->single = true;
        snprintf(block->owner, sizeof(block->owner), "%s", node);
    } else {
        pthread_mutex_lock(&write_lock);
        r = macpool_claim_block(db, pool, node, block, reserved, n_reserved);
        pthread_mutex_unlock(&write_lock);
        if (r == -ENOSPC)
            return refuse(err, r, REFUSAL_CONFLICT, "mac-pool-exhausted",
                          "every block of pool '%s' is claimed; add a range to the pool", pool);
    }
    if (r == -ENOENT)
        return refuse(err, r, REFUSAL_NOT_FOUND, "not-found", "no MAC pool '%s'", pool);
    if (r < 0)
        return refuse(err, r, REFUSAL_INTERNAL, "database", "cannot claim in pool '%s': %s", pool,
                      strerror(-r));
    record_block(agent, actor, pool, node, block);
    return 0;
}

/* Gets a block (or the single address MAC) of POOL for this agent and
 * records it here. */
static int claim_here(struct agent *agent, const char *pool, bool has_mac, uint64_t mac,
                      const char *actor, struct refusal *err)
{
    struct mac_block block;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n_reserved = 0;
    struct refusal e;
    int r = has_mac ? registry_claim_address(agent->registry, pool, agent->node_id, mac, actor,
                                             &block, &e)
                    : registry_claim_block(agent->registry, pool, agent->node_id, actor, &block,
                                           reserved, &n_reserved, &e);
    if (r < 0)
        return from_registry(err, r, &e);
    if (registry_is_self(agent->registry))
        return 0; /* claimed in this very database */
    pthread_mutex_lock(&write_lock);
    r = macpool_add_block(db_pool_get(agent->db), pool, &block, reserved, n_reserved);
    pthread_mutex_unlock(&write_lock);
    if (r < 0)
        return refuse(err, r, REFUSAL_INTERNAL, "database", "cannot record the claimed block: %s",
                      strerror(-r));
    record_block(agent, actor, pool, agent->node_id, &block);
    return 0;
}

static int write_one(struct agent *agent, struct db *db, struct pending *p)
{
    int r = db_begin(db); /* a savepoint inside the batch */
    if (r < 0)
        return r;
    /* Checked again inside the transaction: the block holding the
     * requested address may have gone back to the registry since. */
    if (p->rq->has_mac && !macpool_owns(db, p->pool, agent->node_id, p->rq->mac))
        r = -EAGAIN;
    else
        r = p->rq->has_mac
                ? macpool_allocate_at(db, p->pool, p->rq->mac, p->holder, p->rq->key, p->out)
                : macpool_allocate_next(db, p->pool, agent->node_id, p->holder, p->rq->key, p->out);
    if (r == 0 && record_in(db, agent, p->actor, "mac.allocate", p->out->mac, p->pool,
                            p->holder) < 0)
        r = -EIO;
    if (r < 0 && r != -ENOSPC) {
        db_rollback(db);
        return r;
    }
    int c = db_commit(db); /* -ENOSPC keeps its 'full' marks, see macpool_allocate_next */
    return c < 0 ? c : r;
}

/* Writes BATCH in one transaction and sets each result. */
static void write_batch(struct agent *agent, struct pending *batch)
{
    struct db *db = db_pool_get(agent->db);
    pthread_mutex_lock(&write_lock);
    int r = db ? db_begin(db) : -EIO;
    for (struct pending *p = batch; p; p = p->next)
        p->result = r < 0 ? r : write_one(agent, db, p);
    if (r == 0) {
        r = db_commit(db);
        if (r < 0) /* nothing of the batch is stored */
            for (struct pending *p = batch; p; p = p->next)
                p->result = r;
    }
    pthread_mutex_unlock(&write_lock);
}

static int write_batched(struct agent *agent, const char *pool,
                         const struct allocation_request *rq, const struct mac_holder *holder,
                         const char *actor, struct mac_allocation *out)
{
    struct pending self = { .pool = pool, .rq = rq, .holder = holder, .actor = actor, .out = out };
    pthread_cond_init(&self.wake, NULL);
    pthread_mutex_lock(&queue_lock);
    self.next = queue;
    queue = &self;
    /* A leader is writing: it takes this request in its next batch (it
     * leads until the queue is empty), so waiting for 'done' is enough. */
    while (!self.done && leading)
        pthread_cond_wait(&self.wake, &queue_lock);
    if (!self.done) {
        leading = true;
        while (queue) {
            struct pending *batch = queue;
            queue = NULL;
            pthread_mutex_unlock(&queue_lock);
            write_batch(agent, batch);
            pthread_mutex_lock(&queue_lock);
            for (struct pending *p = batch, *next; p; p = next) {
                next = p->next; /* P may be gone once signalled */
                p->done = true;
                pthread_cond_signal(&p->wake);
            }
        }
        leading = false;
    }
    pthread_mutex_unlock(&queue_lock);
    pthread_cond_destroy(&self.wake);
    return self.result;
}

static void holder_of(const struct agent *agent, const struct allocation_request *rq,
                      const char *actor, struct mac_holder *h)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->vm, sizeof(h->vm), "%s", rq->vm);
    snprintf(h->adapter, sizeof(h->adapter), "%s", rq->adapter);
    snprintf(h->host, sizeof(h->host), "%s", agent->node_id);
    snprintf(h->actor, sizeof(h->actor), "%s", actor ? actor : "agent");
}

static int held_by(struct refusal *err, const struct mac_allocation *a)
{
    char text[MAC_STRING_SIZE];
    return refuse(err, -EEXIST, REFUSAL_CONFLICT, "mac-in-use",
                  "%s is already held by vm '%s' adapter '%s' on host %s", mac_format(a->mac, text),
                  a->holder.vm, a->holder.adapter, a->holder.host);
}

/* The allocation A made earlier with RQ's key answers RQ again (0) only if
 * RQ is the same request (pool, vm, adapter and any requested address): a
 * retry.  Another request with that key is refused, since answering it with
 * A's address would put one MAC on two adapters. */
static int replay(const struct allocation_request *rq, const char *pool,
                  const struct mac_allocation *a, struct refusal *err)
{
    if (strcmp(a->pool, pool) == 0 && strcmp(a->holder.vm, rq->vm) == 0 &&
        strcmp(a->holder.adapter, rq->adapter) == 0 && (!rq->has_mac || rq->mac == a->mac))
        return 0;
    char text[MAC_STRING_SIZE];
    return refuse(err, -EINVAL, REFUSAL_INVALID, "idempotency-key-reused",
                  "Idempotency-Key '%s' was used for another request (pool '%s', vm '%s', adapter "
                  "'%s', %s); a retry repeats the same body, a new request needs a new key",
                  rq->key, a->pool, a->holder.vm, a->holder.adapter, mac_format(a->mac, text));
}

static int allocate(struct agent *agent, const char *pool, const struct allocation_request *rq,
                    const char *actor, struct mac_allocation *out, struct refusal *err)
{
    struct db *db = db_pool_get(agent->db);
    if (!db)
        return refuse(err, -EIO, REFUSAL_INTERNAL, "database", "no database connection");
    if (rq->key[0] && macpool_find_key(db, rq->key, out) == 0)
        return replay(rq, pool, out, err);
    int r = allocator_learn_pool(agent, pool, err);
    if (r < 0)
        return r;
    struct mac_holder holder;
    holder_of(agent, rq, actor, &holder);
    if (rq->has_mac && mac_is_multicast(rq->mac)) {
        char text[MAC_STRING_SIZE];
        return refuse(err, -EINVAL, REFUSAL_INVALID, "invalid",
                      "%s is a multicast address; adapters need unicast",
                      mac_format(rq->mac, text));
    }
    bool dynamic = strcmp(pool, MACPOOL_DYNAMIC_NAME) == 0;
    int claim_rounds = 0;
    for (int attempt = 0; attempt < BUSY_RETRIES; attempt++) {
        if (rq->has_mac && !macpool_owns(db, pool, agent->node_id, rq->mac)) {
            struct mac_allocation here;
            if (macpool_find(db, rq->mac, &here) == 0)
                return held_by(err, &here);
            if (dynamic) {
                char text[MAC_STRING_SIZE];
                return refuse(err, -EINVAL, REFUSAL_INVALID, "invalid",
                              "%s is not in this host's dynamic pool", mac_format(rq->mac, text));
            }
            /* Under claim_lock: a block of ours that is going back to the
             * registry (give_back) is not claimed again in between. */
            pthread_mutex_lock(&claim_lock);
            r = claim_here(agent, pool, true, rq->mac, actor, err);
            pthread_mutex_unlock(&claim_lock);
            if (r < 0)
                return r;
        }
        r = write_batched(agent, pool, rq, &holder, actor, out);
        if (r == -EEXIST && rq->has_mac)
            return held_by(err, out);
        if (r == -EAGAIN && rq->has_mac)
            continue; /* its block went back to the registry meanwhile: claim it again */
        if (r == -ENOSPC && !rq->has_mac) {
            if (dynamic)
                return refuse(err, r, REFUSAL_CONFLICT, "mac-pool-exhausted",
                              "this host's dynamic pool is exhausted (widen dynamic_mac_range "
                              "or use a static pool)");
            /* One claim at a time: requests that ran out together must not
             * each take a block. */
            pthread_mutex_lock(&claim_lock);
            r = macpool_has_room(db, pool, agent->node_id)
                    ? 0
                    : claim_here(agent, pool, false, 0, actor, err);
            pthread_mutex_unlock(&claim_lock);
            if (r < 0)
                return r;
            /* A fresh block (ours or another request's) is progress, not a
             * busy round: under many requests and small blocks others may
             * take each fresh address first for a while. */
            if (claim_rounds++ < CLAIM_ROUNDS)
                attempt--;
            continue;
        }
        if (r == -EBUSY)
            continue;
        if (r == -EEXIST && rq->key[0] && macpool_find_key(db, rq->key, out) == 0)
            return replay(rq, pool, out, err); /* the same key raced in from another request */
        if (r < 0)
            return refuse(err, r, REFUSAL_INTERNAL, "database", "cannot allocate: %s",
                          strerror(-r));
        return 1;
    }
    return refuse(err, -EBUSY, REFUSAL_UNAVAILABLE, "busy", "the database stayed busy; retry");
}

int allocator_allocate(struct agent *agent, const char *pool, const struct allocation_request *rq,
                       const char *actor, struct mac_allocation *out, struct refusal *err)
{
    int r = allocate(agent, pool, rq, actor, out, err);
    if (r != 0) /* 0 is a retried request answered again, not a new allocation */
        metrics_count_allocation(agent->metrics, r > 0);
    return r;
}

/* Gives the block of POOL that held MAC back to the registry when no
 * address in it is allocated any more, so that pools can shrink and be
 * deleted.  On the registry itself (self) its release checks and deletes
 * in one transaction; elsewhere the block is first removed here, in the
 * transaction that finds it empty, so no allocation lands in it while the
 * registry is asked, and put back when the registry keeps it (unreachable:
 * the block is still ours and serves on).  Failures are logged, never the
 * release's: the address is free either way.  Returns 1 and *GIVEN when a
 * block went back, 0 when none did, or a negative errno. */
static int give_back_one(struct agent *agent, const char *pool, uint64_t mac, const char *actor,
                         struct mac_block *given)
{
    struct db *db = db_pool_get(agent->db);
    bool self = registry_is_self(agent->registry);
    char a[MAC_STRING_SIZE], e[MAC_STRING_SIZE];
    struct mac_block block;
    given->single = false;
    /* claim_lock: no claim of ours (which could adopt the block from the
     * registry, or record a requested address in it) runs in between. */
    pthread_mutex_lock(&claim_lock);
    pthread_mutex_lock(&write_lock);
    int r = macpool_empty_block(db, pool, agent->node_id, mac, !self, &block);
    pthread_mutex_unlock(&write_lock);
    if (r <= 0) {
        pthread_mutex_unlock(&claim_lock);
        if (r < 0)
            log_warning("cannot look at the block of a released address pool=%s mac=%s: %s", pool,
                        mac_format(mac, a), strerror(-r));
        return r;
    }
    struct refusal rerr;
    r = registry_release_block(agent->registry, pool, agent->node_id, &block, actor, &rerr);
    if (r < 0 && r != -ENOENT && !self) {
        pthread_mutex_lock(&write_lock);
        int k = macpool_add_block(db, pool, &block, NULL, 0);
        pthread_mutex_unlock(&write_lock);
        if (k < 0)
            log_error("block %s-%s of pool %s stays claimed at the registry but is lost here: "
                      "%s",
                      mac_format(block.start, a), mac_format(block.end, e), pool, strerror(-k));
    }
    pthread_mutex_unlock(&claim_lock);
    if (r < 0 && r != -ENOENT) {
        log_warning("an empty block stays claimed pool=%s block=%s-%s: %s", pool,
                    mac_format(block.start, a), mac_format(block.end, e), rerr.detail);
        return r;
    }
    log_info("block given back pool=%s block=%s-%s single=%d", pool, mac_format(block.start, a),
             mac_format(block.end, e), block.single);
    if (!self) /* the registry agent records its side itself */
        record_release(agent, actor, pool, &block);
    *given = block;
    return 1;
}

static void give_back(struct agent *agent, const char *pool, uint64_t mac, const char *actor)
{
    struct mac_block given;
    /* A requested address inside a block of ours may be noted as a single
     * claim too: after the single, the block around it. */
    if (give_back_one(agent, pool, mac, actor, &given) == 1 && given.single)
        give_back_one(agent, pool, mac, actor, &given);
}

#define GIVE_BACK_BATCH 16

int allocator_give_back_empty(struct agent *agent, int64_t min_age_ms)
{
    struct db *db = db_pool_get(agent->db);
    if (!db)
        return -EIO;
    struct macpool_block_ref *refs = NULL;
    size_t n = 0;
    int r = macpool_empty_blocks(db, agent->node_id, clock_wall_ms() - min_age_ms, GIVE_BACK_BATCH,
                                 &refs, &n);
    if (r < 0)
        return r;
    int given = 0;
    for (size_t i = 0; i < n; i++) {
        struct mac_block b;
        /* Found again under the locks (it may have been allocated from
         * since); one that stays claimed is tried again next time. */
        r = give_back_one(agent, refs[i].pool, refs[i].block.start, "lmnetd", &b);
        if (r == 1)
            given++;
        else if (r < 0 && r != -ENOENT)
            break; /* the registry is away: the rest waits too */
    }
    free(refs);
    return given;
}

int allocator_release(struct agent *agent, const char *pool, uint64_t mac, const char *actor,
                      struct refusal *err)
{
    struct db *db = db_pool_get(agent->db);
    struct mac_allocation released;
    int r = -EBUSY;
    for (int attempt = 0; attempt < BUSY_RETRIES && r == -EBUSY; attempt++) {
        pthread_mutex_lock(&write_lock);
        r = db_begin(db);
        if (r == 0) {
            r = macpool_release(db, pool, mac, &released);
            if (r == 0 && record_in(db, agent, actor, "mac.release", mac, pool,
                                    &released.holder) < 0)
                r = -EIO;
            if (r == 0)
                r = db_commit(db);
            else
                db_rollback(db);
        }
        pthread_mutex_unlock(&write_lock);
    }
    char text[MAC_STRING_SIZE];
    if (r == -ENOENT)
        return refuse(err, r, REFUSAL_NOT_FOUND, "not-found",
                      "%s is not allocated from pool '%s' on this host (an address is released "
                      "on the host that allocated it)",
                      mac_format(mac, text), pool);
    if (r < 0)
        return refuse(err, r, REFUSAL_INTERNAL, "database", "cannot release: %s", strerror(-r));
    metrics_count_release(agent->metrics);
    if (strcmp(pool, MACPOOL_DYNAMIC_NAME) != 0) /* the dynamic pool's block is the host's */
        give_back(agent, pool, mac, actor);
    return 0;
}
