/* /v1/mac-pools: static pools (cluster-wide, decided by the registry), this
 * host's dynamic pool, allocations and block claims.
 *
 * Creating and deleting pools and claiming blocks happen on the registry;
 * any other agent relays them there.  Allocations are made and released on
 * the agent that is asked, inside its own blocks (agent/allocator.h), and
 * listed where they were made. */
#include "api/macpool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "agent/allocator.h"
#include "base/cleanup.h"
#include "agent/membership.h"
#include "agent/registry.h"
#include "api/relay.h"
#include "db/event.h"
#include "db/macpool.h"
#include "api/problem.h"

static int parse_mac_param(struct request *req, struct response *resp, uint64_t *mac)
{
    const char *text = request_param(req, "mac");
    if (mac_parse(text, mac) < 0)
        return response_problem(resp, 400, "invalid", NULL,
                                "'%s' is not a MAC address (aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff "
                                "or aabbccddeeff)",
                                text);
    return 0;
}

/* "node UUID (host NAME)" for the holder of a block, as far as the member
 * list knows it, into OUT (320 bytes). */
static const char *holder_text(struct request *req, const char *node, char *out, size_t size)
{
    struct member *members = NULL;
    size_t n = 0;
    struct refusal err;
    const char *name = NULL;
    if (registry_members(req->agent->registry, &members, &n, &err) == 0)
        for (size_t i = 0; i < n && !name; i++)
            if (strcmp(members[i].uuid, node) == 0)
                name = members[i].name;
    if (name && name[0])
        snprintf(out, size, "node %s (host %s)", node, name);
    else
        snprintf(out, size, "node %s", node);
    free(members);
    return out;
}

/* The 409 for a pool that blocks still hold: which block, and whose. */
static int pool_in_use(struct request *req, struct response *resp, const char *name, size_t n,
                       const struct mac_block *held)
{
    char a[MAC_STRING_SIZE], e[MAC_STRING_SIZE], who[320];
    holder_text(req, held->owner, who, sizeof(who));
    char count[48] = "";
    if (n > 1)
        snprintf(count, sizeof(count), " (and %zu more)", n - 1);
    return response_problem(resp, 409, "pool-in-use", NULL,
                            "pool '%s' stays: %s %s-%s is held by %s%s; a node gives a block "
                            "back when the last address in it is released, so release that "
                            "host's allocations (GET /v1/mac-pools/%s/allocations there) first",
                            name, held->single ? "address claim" : "block",
                            mac_format(held->start, a), mac_format(held->end, e), who, count, name);
}

/* ---- an etcd registry: every agent reads and writes the pools there ---- */

static int shared_list_pools(struct request *req, struct response *resp)
{
    struct db *db = db_pool_get(req->agent->db);
    struct macpool *pools = NULL;
    size_t n = 0;
    int r = req->agent->registry->ops->pool_list(req->agent->registry, &pools, &n);
    if (r < 0)
        return registry_problem(req, resp, r, "list the MAC pools");
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, macpool_to_json(&pools[i], macpool_count_allocated(
                                                                    db, pools[i].name)));
    free(pools);
    struct macpool dynamic;
    if (macpool_get(db, MACPOOL_DYNAMIC_NAME, &dynamic) == 0)
        json_object_array_add(items, macpool_to_json(&dynamic, macpool_count_allocated(
                                                                   db, dynamic.name)));
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    return response_json(resp, 200, body);
}

static int shared_create_pool(struct request *req, struct response *resp)
{
    struct macpool pool;
    char pointer[64], detail[256];
    if (macpool_from_json(req->json, &pool, pointer, sizeof(pointer), detail, sizeof(detail)) < 0)
        return response_problem(resp, 422, "invalid", pointer, "%s", detail);
    char clash[64] = "";
    int r = req->agent->registry->ops->pool_create(req->agent->registry, &pool, clash);
    if (r == -EEXIST)
        return response_problem(resp, 409, "conflict", "/name", "a MAC pool '%s' exists",
                                pool.name);
    if (r == -EADDRINUSE)
        return response_problem(resp, 409, "pool-overlap", "/ranges",
                                "the ranges overlap pool '%s'; pools may not share addresses",
                                clash);
    if (r < 0)
        return registry_problem(req, resp, r, "create the MAC pool");
    struct json_object *body = macpool_to_json(&pool, 0);
    event_record(db_pool_get(req->agent->db), req->agent->node_id, req->token_name,
                 "macpool.create", pool.name, body);
    char location[128];
    snprintf(location, sizeof(location), "/v1/mac-pools/%s", pool.name);
    response_header(resp, "Location", location);
    return response_json(resp, 201, body);
}

static int shared_delete_pool(struct request *req, struct response *resp, const char *name)
{
    struct mac_block held;
    int r = req->agent->registry->ops->pool_delete(req->agent->registry, name, &held);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no MAC pool '%s'", name);
    if (r == -EBUSY)
        return pool_in_use(req, resp, name, 1, &held);
    if (r < 0)
        return registry_problem(req, resp, r, "delete the MAC pool");
    struct db *db = db_pool_get(req->agent->db);
    macpool_delete(db, name); /* this agent's copy, if it had one */
    event_record(db, req->agent->node_id, req->token_name, "macpool.delete", name, NULL);
    resp->status = 204;
    return 0;
}

static int list_pools(struct request *req, struct response *resp)
{
    if (registry_is_shared(req->agent->registry) && !request_query(req, "local"))
        return shared_list_pools(req, resp);
    if (!agent_is_registry(req->agent) && !request_query(req, "local")) {
        /* The registry knows every static pool; this host adds its own. */
        int r = relay_to_registry(req, resp, "GET", "/v1/mac-pools", NULL);
        struct macpool dynamic;
        struct json_object *items = NULL;
        if (r == 0 && resp->status == 200 &&
            json_object_object_get_ex(resp->body, "items", &items) &&
            macpool_get(db_pool_get(req->agent->db), MACPOOL_DYNAMIC_NAME, &dynamic) == 0)
            json_object_array_add(
                items, macpool_to_json(&dynamic, macpool_count_allocated(
                                                     db_pool_get(req->agent->db), dynamic.name)));
        return r;
    }
    struct db *db = db_pool_get(req->agent->db);
    struct macpool *pools = NULL;
    size_t n = 0;
    int r = macpool_list(db, &pools, &n);
    if (r < 0)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items,
                              macpool_to_json(&pools[i], macpool_count_allocated(db, pools[i].name)));
    free(pools);
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    return response_json(resp, 200, body);
}

static int create_pool(struct request *req, struct response *resp)
{
    if (registry_is_shared(req->agent->registry))
        return shared_create_pool(req, resp);
    if (!agent_is_registry(req->agent))
        return relay_to_registry(req, resp, "POST", "/v1/mac-pools", req->json);
    struct macpool pool;
    char pointer[64], detail[256];
    if (macpool_from_json(req->json, &pool, pointer, sizeof(pointer), detail, sizeof(detail)) < 0)
        return response_problem(resp, 422, "invalid", pointer, "%s", detail);
    struct db *db = db_pool_get(req->agent->db);
    char clash[64] = "";
    int r = macpool_insert(db, &pool, clash);
    if (r == -EEXIST)
        return response_problem(resp, 409, "conflict", "/name", "a MAC pool '%s' exists",
                                pool.name);
    if (r == -EADDRINUSE)
        return response_problem(resp, 409, "pool-overlap", "/ranges",
                                "the ranges overlap pool '%s'; pools may not share addresses",
                                clash);
    if (r < 0)
        return r;
    r = macpool_get(db, pool.name, &pool);
    if (r < 0)
        return r;
    struct json_object *body = macpool_to_json(&pool, 0);
    event_record(db, req->agent->node_id, req->token_name, "macpool.create", pool.name, body);
    char location[128];
    snprintf(location, sizeof(location), "/v1/mac-pools/%s", pool.name);
    response_header(resp, "Location", location);
    return response_json(resp, 201, body);
}

static int get_pool(struct request *req, struct response *resp)
{
    const char *name = request_param(req, "name");
    struct db *db = db_pool_get(req->agent->db);
    struct macpool pool;
    int r = macpool_get(db, name, &pool);
    if (!agent_is_registry(req->agent) && !registry_is_shared(req->agent->registry) &&
        strcmp(name, MACPOOL_DYNAMIC_NAME) != 0) {
        /* The registry's definition is the current one (ranges change);
         * this host's copy serves while the registry is away. */
        char path[128];
        snprintf(path, sizeof(path), "/v1/mac-pools/%s", name);
        bool have_copy = r == 0;
        r = relay_to_registry(req, resp, "GET", path, NULL);
        if (r == 0 && resp->status == 200 && resp->body)
            json_object_object_add(resp->body, "allocated_here",
                                   json_object_new_int64(macpool_count_allocated(db, name)));
        if (!have_copy || resp->status != 502)
            return r;
        json_object_put(resp->body);
        resp->body = NULL;
        resp->status = 0;
        resp->content_type = NULL;
        r = macpool_get(db, name, &pool);
    }
    if (r == -ENOENT &&
        (strcmp(name, MACPOOL_DYNAMIC_NAME) == 0 || registry_is_shared(req->agent->registry))) {
        struct refusal err;
        if (allocator_learn_pool(req->agent, name, &err) < 0)
            return response_refusal(resp, &err);
        r = macpool_get(db, name, &pool);
    }
    if (r == -ENOENT && !agent_is_registry(req->agent)) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/mac-pools/%s", name);
        return relay_to_registry(req, resp, "GET", path, NULL);
    }
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no MAC pool '%s'", name);
    if (r < 0)
        return r;
    return response_json(resp, 200, macpool_to_json(&pool, macpool_count_allocated(db, name)));
}

static int delete_pool(struct request *req, struct response *resp)
{
    const char *name = request_param(req, "name");
    if (registry_is_shared(req->agent->registry) && strcmp(name, MACPOOL_DYNAMIC_NAME) != 0)
        return shared_delete_pool(req, resp, name);
    if (!agent_is_registry(req->agent)) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/mac-pools/%s", name);
        return relay_to_registry(req, resp, "DELETE", path, NULL);
    }
    struct db *db = db_pool_get(req->agent->db);
    struct mac_block *blocks = NULL;
    size_t n = 0;
    int r = macpool_blocks(db, name, NULL, &blocks, &n);
    if (r < 0)
        return r;
    if (n > 0 && strcmp(name, MACPOOL_DYNAMIC_NAME) != 0) {
        struct mac_block held = blocks[0];
        free(blocks);
        return pool_in_use(req, resp, name, n, &held);
    }
    free(blocks);
    r = macpool_delete(db, name);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no MAC pool '%s'", name);
    if (r == -EBUSY)
        return response_problem(resp, 409, "pool-in-use", NULL,
                                "addresses of pool '%s' are allocated; release them first", name);
    if (r < 0)
        return r;
    event_record(db, req->agent->node_id, req->token_name, "macpool.delete", name, NULL);
    resp->status = 204;
    return 0;
}

/* PATCH /v1/mac-pools/{name} {"ranges"?, "description"?}: grows a static
 * pool, or shrinks it where no block is claimed; the block size stays. */
static int patch_fields_check(struct json_object *body, struct response *resp)
{
    if (!body || !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body is {\"ranges\"?: [{\"start\": MAC, \"end\": MAC}], "
                                "\"description\"?: TEXT}");
    json_object_object_foreach(body, key, v)
    {
        (void)v;
        if (strcmp(key, "ranges") != 0 && strcmp(key, "description") != 0) {
            char pointer[80];
            pointer[0] = '\0';
            problem_pointer_append(pointer, sizeof(pointer), key);
            return response_problem(resp, 422, "invalid", pointer,
                                    "'%s' cannot be changed; ranges and description can", key);
        }
    }
    return 0;
}

int macpool_patch_parse(const struct macpool *pool, struct json_object *body, struct macpool *changed,
                        struct response *resp)
{
    int r = patch_fields_check(body, resp);
    if (r < 0)
        return r;
    /* The changed pool, checked as a new one would be. */
    _cleanup_json_ struct json_object *merged = macpool_to_json(pool, -1);
    json_object_object_del(merged, "kind");
    json_object_object_del(merged, "size");
    json_object_object_del(merged, "generation");
    json_object_object_foreach(body, k, val)
    {
        json_object_object_add(merged, k, json_object_get(val));
    }
    char pointer[64], detail[256];
    if (macpool_from_json(merged, changed, pointer, sizeof(pointer), detail, sizeof(detail)) < 0)
        return response_problem(resp, 422, "invalid", pointer, "%s", detail);
    return 0;
}

static int patch_pool(struct request *req, struct response *resp)
{
    const char *name = request_param(req, "name");
    struct json_object *body = req->json;
    int r = patch_fields_check(body, resp);
    if (r < 0)
        return r;
    if (registry_is_shared(req->agent->registry))
        return response_problem(resp, 409, "not-supported", NULL,
                                "a pool's ranges are changed with 'registry = self' only; the "
                                "etcd registry cannot change them yet");
    if (!agent_is_registry(req->agent)) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/mac-pools/%s", name);
        return relay_to_registry(req, resp, "PATCH", path, req->json);
    }
    struct db *db = db_pool_get(req->agent->db);
    struct macpool pool;
    r = macpool_get(db, name, &pool);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no MAC pool '%s'", name);
    if (r < 0)
        return r;
    if (pool.kind != MACPOOL_STATIC)
        return response_problem(resp, 409, "conflict", NULL,
                                "the dynamic pool is set by dynamic_mac_range in lmnetd.conf");
    struct macpool changed;
    r = macpool_patch_parse(&pool, body, &changed, resp);
    if (r < 0)
        return r;
    char clash[64] = "";
    struct mac_block in_the_way;
    r = macpool_update(db, &changed, clash, &in_the_way);
    if (r == -EADDRINUSE)
        return response_problem(resp, 409, "pool-overlap", "/ranges",
                                "the ranges overlap pool '%s'; pools may not share addresses",
                                clash);
    if (r == -EBUSY) {
        char a[MAC_STRING_SIZE], e[MAC_STRING_SIZE], who[320];
        return response_problem(resp, 409, "range-in-use", "/ranges",
                                "block %s-%s is held by %s and would fall outside the ranges; a "
                                "pool shrinks only where no block is claimed (a node gives a "
                                "block back when the last address in it is released)",
                                mac_format(in_the_way.start, a), mac_format(in_the_way.end, e),
                                holder_text(req, in_the_way.owner, who, sizeof(who)));
    }
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no MAC pool '%s'", name);
    if (r < 0)
        return r;
    r = macpool_get(db, name, &pool);
    if (r < 0)
        return r;
    struct json_object *out = macpool_to_json(&pool, macpool_count_allocated(db, name));
    event_record(db, req->agent->node_id, req->token_name, "macpool.change", name, out);
    return response_json(resp, 200, out);
}

static int copy_field(struct json_object *body, const char *key, char *out, size_t size)
{
    struct json_object *v = NULL;
    out[0] = '\0';
    if (!body || !json_object_object_get_ex(body, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) >= size)
        return -EINVAL;
    snprintf(out, size, "%s", json_object_get_string(v));
    return 0;
}

int allocation_request_parse(struct json_object *body, struct allocation_request *rq,
                             struct response *resp)
{
    memset(rq, 0, sizeof(*rq));
    if (body && !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body is {\"mac\"?: MAC, \"vm\"?: NAME, \"adapter\"?: NAME}");
    if (copy_field(body, "vm", rq->vm, sizeof(rq->vm)) < 0)
        return response_problem(resp, 422, "invalid", "/vm", "'vm' is a name of at most 63 bytes");
    if (copy_field(body, "adapter", rq->adapter, sizeof(rq->adapter)) < 0)
        return response_problem(resp, 422, "invalid", "/adapter",
                                "'adapter' is a name of at most 63 bytes");
    char mac_text[32];
    if (copy_field(body, "mac", mac_text, sizeof(mac_text)) < 0 ||
        (mac_text[0] && mac_parse(mac_text, &rq->mac) < 0))
        return response_problem(resp, 422, "invalid", "/mac",
                                "'mac' is aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabbccddeeff");
    rq->has_mac = mac_text[0] != '\0';
    return 0;
}

static int allocate(struct request *req, struct response *resp)
{
    const char *pool = request_param(req, "name");
    struct allocation_request rq;
    int r = allocation_request_parse(req->json, &rq, resp);
    if (r < 0)
        return r;
    const char *key = request_header(req, "Idempotency-Key");
    if (key) {
        if (strlen(key) == 0 || strlen(key) >= sizeof(rq.key))
            return response_problem(resp, 400, "invalid", NULL,
                                    "Idempotency-Key is 1 to 127 characters");
        snprintf(rq.key, sizeof(rq.key), "%s", key);
    }
    struct mac_allocation a;
    struct refusal err;
    r = allocator_allocate(req->agent, pool, &rq, req->token_name, &a, &err);
    if (r < 0)
        return response_refusal(resp, &err);
    char mac[MAC_STRING_SIZE], location[160];
    snprintf(location, sizeof(location), "/v1/mac-pools/%s/allocations/%s", pool,
             mac_format(a.mac, mac));
    response_header(resp, "Location", location);
    return response_json(resp, r == 1 ? 201 : 200, mac_allocation_to_json(&a));
}

static int list_allocations(struct request *req, struct response *resp)
{
    const char *pool = request_param(req, "name");
    uint64_t from = 0;
    const char *after = request_query(req, "after");
    if (after) {
        if (mac_parse(after, &from) < 0 || from == MAC_MAX)
            return response_problem(resp, 400, "invalid-query", NULL,
                                    "'after' is the 'next' of a previous page");
        from++;
    }
    long limit = 100;
    const char *s = request_query(req, "limit");
    if (s) {
        char *end = NULL;
        limit = strtol(s, &end, 10);
        if (!*s || *end || limit < 1 || limit > 1000)
            return response_problem(resp, 400, "invalid-query", NULL, "'limit' is 1 to 1000");
    }
    struct db *db = db_pool_get(req->agent->db);
    struct macpool p;
    if (macpool_get(db, pool, &p) == -ENOENT && strcmp(pool, MACPOOL_DYNAMIC_NAME) != 0)
        return response_problem(resp, 404, "not-found", NULL,
                                "no MAC pool '%s' is known on this host", pool);
    struct mac_allocation *list = NULL;
    size_t n = 0;
    int r = macpool_allocations(db, pool, from, (int)limit + 1, &list, &n);
    if (r < 0)
        return r;
    size_t shown = n > (size_t)limit ? (size_t)limit : n;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < shown; i++)
        json_object_array_add(items, mac_allocation_to_json(&list[i]));
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    char next[MAC_STRING_SIZE];
    json_object_object_add(body, "next",
                           n > shown ? json_object_new_string(mac_format(list[shown - 1].mac, next))
                                     : NULL);
    free(list);
    return response_json(resp, 200, body);
}

static int get_allocation(struct request *req, struct response *resp)
{
    uint64_t mac;
    int r = parse_mac_param(req, resp, &mac);
    if (r < 0)
        return r;
    struct mac_allocation a;
    r = macpool_find(db_pool_get(req->agent->db), mac, &a);
    if (r == -ENOENT || (r == 0 && strcmp(a.pool, request_param(req, "name")) != 0))
        return response_problem(resp, 404, "not-found", NULL,
                                "%s is not allocated from pool '%s' on this host",
                                request_param(req, "mac"), request_param(req, "name"));
    if (r < 0)
        return r;
    return response_json(resp, 200, mac_allocation_to_json(&a));
}

static int release(struct request *req, struct response *resp)
{
    uint64_t mac;
    int r = parse_mac_param(req, resp, &mac);
    if (r < 0)
        return r;
    struct refusal err;
    r = allocator_release(req->agent, request_param(req, "name"), mac, req->token_name, &err);
    if (r < 0)
        return response_refusal(resp, &err);
    resp->status = 204;
    return 0;
}

/* POST /v1/mac-pools/{name}/blocks {"node", "mac"?}: the registry hands a
 * block (or one requested address) to an agent. */
int claim_request_parse(struct json_object *body, char node[64], bool *has_mac, uint64_t *mac,
                        struct response *resp)
{
    char mac_text[32];
    *has_mac = false;
    *mac = 0;
    if (!body || copy_field(body, "node", node, 64) < 0 || strlen(node) != 36)
        return response_problem(resp, 422, "invalid", "/node", "'node' is the claiming node's id");
    if (copy_field(body, "mac", mac_text, sizeof(mac_text)) < 0 ||
        (mac_text[0] && mac_parse(mac_text, mac) < 0))
        return response_problem(resp, 422, "invalid", "/mac", "'mac' is a MAC address");
    *has_mac = mac_text[0] != '\0';
    return 0;
}

static int claim(struct request *req, struct response *resp)
{
    const char *pool = request_param(req, "name");
    if (!agent_is_registry(req->agent)) {
        char path[128];
        snprintf(path, sizeof(path), "/v1/mac-pools/%s/blocks", pool);
        return relay_to_registry(req, resp, "POST", path, req->json);
    }
    char node[64];
    uint64_t mac = 0;
    bool has_mac = false;
    int r = claim_request_parse(req->json, node, &has_mac, &mac, resp);
    if (r < 0)
        return r;
    struct mac_block block;
    uint64_t reserved[MACPOOL_MAX_RESERVED];
    size_t n_reserved = 0;
    struct refusal err;
    r = allocator_claim(req->agent, pool, node, has_mac, mac, req->token_name,
                            &block, reserved, &n_reserved, &err);
    if (r < 0)
        return response_refusal(resp, &err);
    struct json_object *body = mac_block_to_json(&block);
    struct json_object *list = json_object_new_array();
    for (size_t i = 0; i < n_reserved; i++) {
        char text[MAC_STRING_SIZE];
        json_object_array_add(list, json_object_new_string(mac_format(reserved[i], text)));
    }
    json_object_object_add(body, "reserved", list);
    return response_json(resp, 201, body);
}

/* DELETE /v1/mac-pools/{name}/blocks/{start}[?single=true]: a member gives
 * its block (or single-address claim) starting at START back to the
 * registry.  Only the member itself, with its own credential: the block is
 * the one that member holds, never another's. */
static int give_back(struct request *req, struct response *resp)
{
    const char *pool = request_param(req, "name");
    if (registry_is_shared(req->agent->registry))
        return response_problem(resp, 409, "registry-is-etcd", NULL,
                                "this cluster's registry is etcd (%s): every agent gives its "
                                "blocks back there itself",
                                req->agent->config.registry);
    if (!agent_is_registry(req->agent))
        return response_problem(resp, 409, "not-registry", NULL,
                                "this agent is not the registry (registry = %s); a member gives "
                                "blocks back to the registry itself",
                                req->agent->config.registry);
    struct mac_block block;
    memset(&block, 0, sizeof(block));
    const char *start = request_param(req, "start");
    if (mac_parse(start, &block.start) < 0)
        return response_problem(resp, 400, "invalid", NULL,
                                "'%s' is not a MAC address: the block's first address", start);
    const char *single = request_query(req, "single");
    if (single && strcmp(single, "true") != 0 && strcmp(single, "false") != 0)
        return response_problem(resp, 400, "invalid-query", NULL, "'single' is true or false");
    block.single = single && strcmp(single, "true") == 0;
    block.end = block.start;
    snprintf(block.owner, sizeof(block.owner), "%s", req->member);
    struct refusal err;
    int r = registry_release_block(req->agent->registry, pool, req->member, &block, req->token_name,
                                   &err);
    if (r < 0)
        return response_refusal(resp, &err);
    resp->status = 204;
    return 0;
}

static int list_blocks(struct request *req, struct response *resp)
{
    struct mac_block *blocks = NULL;
    size_t n = 0;
    struct db *db = db_pool_get(req->agent->db);
    struct macpool pool;
    int r = macpool_get(db, request_param(req, "name"), &pool);
    if (r == -ENOENT) /* as for its allocations: no such pool is a 404, not an empty list */
        return response_problem(resp, 404, "not-found", NULL, "no MAC pool '%s'",
                                request_param(req, "name"));
    if (r < 0)
        return r;
    r = macpool_blocks(db, request_param(req, "name"), request_query(req, "owner"), &blocks, &n);
    if (r < 0)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, mac_block_to_json(&blocks[i]));
    free(blocks);
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    return response_json(resp, 200, body);
}

const struct route macpool_routes[] = {
    {HTTP_GET, "/v1/mac-pools", SCOPE_READ, list_pools},
    {HTTP_POST, "/v1/mac-pools", SCOPE_ADMIN, create_pool},
    {HTTP_GET, "/v1/mac-pools/{name}", SCOPE_READ, get_pool},
    {HTTP_PATCH, "/v1/mac-pools/{name}", SCOPE_ADMIN, patch_pool},
    {HTTP_DELETE, "/v1/mac-pools/{name}", SCOPE_ADMIN, delete_pool},
    {HTTP_GET, "/v1/mac-pools/{name}/allocations", SCOPE_READ, list_allocations},
    {HTTP_POST, "/v1/mac-pools/{name}/allocations", SCOPE_ADMIN, allocate},
    {HTTP_GET, "/v1/mac-pools/{name}/allocations/{mac}", SCOPE_READ, get_allocation},
    {HTTP_DELETE, "/v1/mac-pools/{name}/allocations/{mac}", SCOPE_ADMIN, release},
    {HTTP_GET, "/v1/mac-pools/{name}/blocks", SCOPE_READ, list_blocks},
    {HTTP_POST, "/v1/mac-pools/{name}/blocks", SCOPE_ADMIN, claim},
    {HTTP_DELETE, "/v1/mac-pools/{name}/blocks/{start}", SCOPE_MEMBER, give_back},
    {0, NULL, 0, NULL},
};
