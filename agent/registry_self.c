/* This agent is the registry (registry = self): every call is a
 * transaction on its own SQLite database.  Block claims go through the
 * allocator's registry side (allocator_claim), which orders them with the
 * allocations written to the same tables. */
#include "agent/registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "agent/allocator.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "agent/clusternet.h"
#include "base/mac.h"
#include "agent/reachability.h"
#include "db/event.h"

static struct db *db_of(struct registry *registry)
{
    return db_pool_get(registry->agent->db);
}

static int copy_error(struct refusal *err, int r, const struct refusal *a)
{
    if (r < 0 && err)
        *err = *a;
    return r;
}

static void self_destroy(struct registry *registry)
{
    free(registry);
}

static int self_pool_get(struct registry *registry, const char *pool, struct macpool *out,
                         struct refusal *err)
{
    struct db *db = db_of(registry);
    int r = db ? macpool_get(db, pool, out) : -EIO;
    if (r == -ENOENT)
        return refuse(err, r, REFUSAL_NOT_FOUND, "not-found", "no MAC pool '%s'", pool);
    if (r < 0)
        return refuse(err, r, REFUSAL_INTERNAL, "database", "cannot read pool '%s': %s", pool,
                      strerror(-r));
    return 0;
}

static int self_claim_block(struct registry *registry, const char *pool, const char *node,
                            const char *actor, struct mac_block *out, uint64_t *reserved,
                            size_t *n_reserved, struct refusal *err)
{
    struct refusal a;
    int r = allocator_claim(registry->agent, pool, node, false, 0, actor, out, reserved, n_reserved,
                            &a);
    return copy_error(err, r, &a);
}

static int self_claim_address(struct registry *registry, const char *pool, const char *node,
                              uint64_t mac, const char *actor, struct mac_block *out,
                              struct refusal *err)
{
    struct refusal a;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n = 0;
    int r = allocator_claim(registry->agent, pool, node, true, mac, actor, out, reserved, &n, &a);
    return copy_error(err, r, &a);
}

static int self_release_block(struct registry *registry, const char *pool, const char *node,
                              const struct mac_block *block, const char *actor, struct refusal *err)
{
    struct db *db = db_of(registry);
    if (!db)
        return refuse(err, -EIO, REFUSAL_INTERNAL, "database", "no database connection");
    int r = db_begin(db);
    if (r == 0)
        r = macpool_release_block(db, pool, node, block);
    if (r == 0) {
        char a[MAC_STRING_SIZE], e[MAC_STRING_SIZE], subject[64];
        _cleanup_json_ struct json_object *detail = json_object_new_object();
        json_object_object_add(detail, "pool", json_object_new_string(pool));
        json_object_object_add(detail, "node", json_object_new_string(node));
        snprintf(subject, sizeof(subject), "%s-%s", mac_format(block->start, a),
                 mac_format(block->end, e));
        int64_t id = event_record(db, registry->agent->node_id, actor ? actor : "lmnetd",
                                  "mac.block.release", subject, detail);
        r = id < 0 ? (int)id : db_commit(db);
    }
    if (r < 0)
        db_rollback(db);
    if (r == -ENOENT)
        return refuse(err, r, REFUSAL_NOT_FOUND, "not-found", "node %s holds no such block of '%s'",
                      node, pool);
    if (r == -ENOTEMPTY)
        return refuse(err, r, REFUSAL_CONFLICT, "block-in-use",
                      "addresses of the block are still allocated");
    if (r < 0)
        return refuse(err, r, REFUSAL_INTERNAL, "database", "cannot release the block: %s",
                      strerror(-r));
    return 0;
}

/* The registry records itself; other members join over POST
 * /v1/cluster/members (api/member.c) with a one-time join token. */
static int self_join(struct registry *registry, const struct registry_join *join,
                     struct refusal *err)
{
    struct db *db = db_of(registry);
    if (!db)
        return refuse(err, -EIO, REFUSAL_INTERNAL, "database", "no database connection");
    struct member m = {.registry = strcmp(join->node, registry->agent->node_id) == 0,
                       .last_seen_ms = clock_wall_ms()};
    snprintf(m.uuid, sizeof(m.uuid), "%s", join->node);
    snprintf(m.name, sizeof(m.name), "%s", join->name);
    snprintf(m.url, sizeof(m.url), "%s", join->url);
    /* Another member may have held this URL (a re-created agent): the
     * joining row wins. */
    struct member *all = NULL;
    size_t n = 0;
    if (member_list(db, &all, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(all[i].url, m.url) == 0 && strcmp(all[i].uuid, m.uuid) != 0)
                member_delete(db, all[i].uuid);
        free(all);
    }
    int r = member_upsert(db, &m);
    return r < 0 ? refuse(err, r, REFUSAL_INTERNAL, "database", "cannot record member %s: %s",
                          m.uuid, strerror(-r))
                 : 0;
}

static int self_members(struct registry *registry, struct member **out, size_t *n,
                        struct refusal *err)
{
    struct db *db = db_of(registry);
    int r = db ? member_list(db, out, n) : -EIO;
    return r < 0 ? refuse(err, r, REFUSAL_INTERNAL, "database", "cannot list members: %s",
                          strerror(-r))
                 : 0;
}

static int self_networks(struct registry *registry, struct network_view *out)
{
    return clusternet_build(registry->agent, out);
}

static int self_inventory_put(struct registry *registry, const char *node,
                              struct json_object *inventory)
{
    return clusternet_record_inventory(registry->agent, node, inventory);
}

static int self_reachability_put(struct registry *registry, const char *node,
                                 struct json_object *heard)
{
    return reachability_report(registry->agent->reachability, node, heard, clock_mono_ms());
}

static int self_heartbeat_key(struct registry *registry, uint8_t key[HEARTBEAT_KEY_SIZE])
{
    struct db *db = db_of(registry);
    return db ? heartbeat_key_make(db, key) : -EIO;
}

static const struct registry_ops self_ops = {
    .name = "self",
    .destroy = self_destroy,
    .pool_get = self_pool_get,
    .claim_block = self_claim_block,
    .claim_address = self_claim_address,
    .release_block = self_release_block,
    .join = self_join,
    .members = self_members,
    .networks = self_networks,
    .inventory_put = self_inventory_put,
    .reachability_put = self_reachability_put,
    .heartbeat_key = self_heartbeat_key,
};

int registry_self_create(struct agent *agent, struct registry **out)
{
    struct registry *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->ops = &self_ops;
    r->agent = agent;
    *out = r;
    return 0;
}
