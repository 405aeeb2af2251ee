/* The registry is another agent (registry = http(s)://...): every call is a
 * REST call to it over the peer client, with a timeout per call, and one
 * short-lived client per call (calls come from several threads). */
#include "agent/registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "agent/credential.h"
#include "base/mac.h"
#include "agent/membership.h"
#include "model/network.h"
#include "agent/peer.h"

#define CLAIM_TIMEOUT_MS     5000
#define MEMBER_TIMEOUT_MS    3000
#define NETWORK_TIMEOUT_MS   2000
#define HEARTBEAT_TIMEOUT_MS 1000

struct registry_agent {
    struct registry registry; /* first: the interface */
    char *url;
};

static struct registry_agent *of(struct registry *r)
{
    return (struct registry_agent *)r;
}

/* One call presenting TOKEN: 0 with REPLY filled (any status), or a
 * negative errno with REPLY's error set (release REPLY either way). */
static int call_with(struct registry *registry, const char *token, long timeout_ms,
                     const char *method, const char *path, struct json_object *body,
                     struct client_reply *reply)
{
    struct client *client = NULL;
    memset(reply, 0, sizeof(*reply));
    int r = peer_client_create_as(registry->agent, of(registry)->url, token, timeout_ms, &client);
    if (r < 0) {
        snprintf(reply->error, sizeof(reply->error), "cannot create a client: %s", strerror(-r));
        return r;
    }
    r = client_call(client, method, path, body, NULL, reply);
    client_destroy(client);
    return r;
}

/* One call with the peer token. */
static int call(struct registry *registry, long timeout_ms, const char *method, const char *path,
                struct json_object *body, struct client_reply *reply)
{
    return call_with(registry, registry->agent->peer_token, timeout_ms, method, path, body, reply);
}

static void agent_destroy(struct registry *registry)
{
    free(of(registry)->url);
    free(registry);
}

static int agent_pool_get(struct registry *registry, const char *pool, struct macpool *out,
                          struct refusal *err)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/mac-pools/%s", pool);
    struct client_reply reply;
    int r = call(registry, CLAIM_TIMEOUT_MS, "GET", path, NULL, &reply);
    if (r < 0) {
        refuse(err, r, REFUSAL_UNAVAILABLE, "registry-unreachable",
               "pool '%s' is not known here yet and the registry %s cannot be reached: %s", pool,
               of(registry)->url, reply.error);
        client_reply_release(&reply);
        return r;
    }
    if (reply.status == 404) {
        client_reply_release(&reply);
        return refuse(err, -ENOENT, REFUSAL_NOT_FOUND, "not-found",
                      "the cluster has no MAC pool '%s'", pool);
    }
    char pointer[64], detail[256];
    r = reply.status == 200
            ? macpool_from_json(reply.body, out, pointer, sizeof(pointer), detail, sizeof(detail))
            : -EPROTO;
    client_reply_release(&reply);
    if (r < 0)
        return refuse(err, r, REFUSAL_BAD_ANSWER, "registry-answer",
                      "the registry's pool '%s' cannot be read", pool);
    return 0;
}

/* POST /v1/mac-pools/{pool}/blocks {"node", "mac"?}. */
static int claim(struct registry *registry, const char *pool, const char *node, bool has_mac,
                 uint64_t mac, struct mac_block *block, uint64_t *reserved, size_t *n_reserved,
                 struct refusal *err)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    json_object_object_add(body, "node", json_object_new_string(node));
    if (has_mac) {
        char text[MAC_STRING_SIZE];
        json_object_object_add(body, "mac", json_object_new_string(mac_format(mac, text)));
    }
    char path[128];
    snprintf(path, sizeof(path), "/v1/mac-pools/%s/blocks", pool);
    struct client_reply reply;
    int r = call(registry, CLAIM_TIMEOUT_MS, "POST", path, body, &reply);
    if (r < 0) {
        refuse(err, r, REFUSAL_UNAVAILABLE, "registry-unreachable",
               "this agent holds no free address of pool '%s' and cannot reach the "
               "registry %s to claim more: %s",
               pool, of(registry)->url, reply.error);
        client_reply_release(&reply);
        return r;
    }
    if (reply.status != 201) {
        char line[512];
        struct json_object *type = NULL;
        /* The registry's problem type; a body without one (or with a null
         * there) is no exhaustion. */
        bool exhausted = json_object_object_get_ex(reply.body, "type", &type) &&
                         json_object_is_type(type, json_type_string) &&
                         strstr(json_object_get_string(type), "mac-pool-exhausted");
        bool in_use = reply.status == 409 && !exhausted;
        long status = reply.status;
        refuse(err, -EPERM, status == 404 ? REFUSAL_NOT_FOUND : REFUSAL_CONFLICT,
               exhausted ? "mac-pool-exhausted"
               : in_use  ? "mac-in-use"
                         : "registry-refused",
               "%s", client_reply_message(&reply, line, sizeof(line)));
        client_reply_release(&reply);
        return status == 404 ? -ENOENT : exhausted ? -ENOSPC : -EEXIST;
    }
    struct json_object *v = NULL;
    memset(block, 0, sizeof(*block));
    r = json_object_object_get_ex(reply.body, "start", &v)
            ? mac_parse(json_object_get_string(v), &block->start)
            : -EPROTO;
    if (r >= 0)
        r = json_object_object_get_ex(reply.body, "end", &v)
                ? mac_parse(json_object_get_string(v), &block->end)
                : -EPROTO;
    block->single =
        json_object_object_get_ex(reply.body, "single", &v) && json_object_get_boolean(v);
    snprintf(block->owner, sizeof(block->owner), "%s", node);
    struct json_object *list = NULL;
    if (r >= 0 && reserved && json_object_object_get_ex(reply.body, "reserved", &list) &&
        json_object_is_type(list, json_type_array))
        for (size_t i = 0; i < json_object_array_length(list) && *n_reserved < MACPOOL_MAX_RESERVED;
             i++)
            if (mac_parse(json_object_get_string(json_object_array_get_idx(list, i)),
                          &reserved[*n_reserved]) == 0)
                (*n_reserved)++;
    client_reply_release(&reply);
    if (r < 0)
        return refuse(err, r, REFUSAL_BAD_ANSWER, "registry-answer",
                      "the registry's block answer cannot be read");
    return 0;
}

static int agent_claim_block(struct registry *registry, const char *pool, const char *node,
                             const char *actor, struct mac_block *out, uint64_t *reserved,
                             size_t *n_reserved, struct refusal *err)
{
    (void)actor; /* the registry records our token's name */
    return claim(registry, pool, node, false, 0, out, reserved, n_reserved, err);
}

static int agent_claim_address(struct registry *registry, const char *pool, const char *node,
                               uint64_t mac, const char *actor, struct mac_block *out,
                               struct refusal *err)
{
    (void)actor;
    size_t n = 0;
    return claim(registry, pool, node, true, mac, out, NULL, &n, err);
}

/* DELETE /v1/mac-pools/{pool}/blocks/{start}?single=..., presenting this
 * member's own credential: the registry gives back only the caller's own
 * blocks. */
static int agent_release_block(struct registry *registry, const char *pool, const char *node,
                               const struct mac_block *block, const char *actor,
                               struct refusal *err)
{
    (void)actor; /* the registry records the member's name */
    (void)node;  /* the credential says who we are */
    char credential[CREDENTIAL_SIZE];
    if (membership_credential(registry->agent->membership, credential) < 0)
        return refuse(err, -EACCES, REFUSAL_UNAVAILABLE, "not-joined",
                      "this agent has no member credential yet, so it cannot give the block "
                      "back to the registry %s; it keeps the block",
                      of(registry)->url);
    char path[192], start[MAC_STRING_SIZE];
    snprintf(path, sizeof(path), "/v1/mac-pools/%s/blocks/%s%s", pool,
             mac_format(block->start, start), block->single ? "?single=true" : "");
    struct client_reply reply;
    int r = call_with(registry, credential, CLAIM_TIMEOUT_MS, "DELETE", path, NULL, &reply);
    explicit_bzero(credential, sizeof(credential));
    char msg[512];
    if (r < 0) {
        refuse(err, r, REFUSAL_UNAVAILABLE, "registry-unreachable",
               "cannot give a block of pool '%s' back: the registry %s did not answer: %s", pool,
               of(registry)->url, reply.error);
        client_reply_release(&reply);
        return r;
    }
    long status = reply.status;
    if (status != 204 && status != 200)
        refuse(err, 0,
               status == 404   ? REFUSAL_NOT_FOUND
               : status == 409 ? REFUSAL_CONFLICT
                               : REFUSAL_BAD_ANSWER,
               status == 404   ? "not-found"
               : status == 409 ? "block-in-use"
                               : "registry-refused",
               "%s", client_reply_message(&reply, msg, sizeof(msg)));
    client_reply_release(&reply);
    if (status == 204 || status == 200)
        return 0;
    return status == 404                    ? -ENOENT
           : status == 409                  ? -ENOTEMPTY
           : status == 401 || status == 403 ? -EACCES
                                            : -EPROTO;
}

/* With a join token: POST /v1/cluster/members {"join_token", "id", "name",
 * "url"}, which answers with this member's credential.  With the member's
 * credential: PUT /v1/cluster/members/ID {"name", "url"}, presenting it. */
static int agent_join(struct registry *registry, const struct registry_join *join,
                      struct refusal *err)
{
    if (join->issued)
        join->issued[0] = '\0';
    bool first = credential_is(join->credential, CREDENTIAL_JOIN_PREFIX);
    if (!first && !credential_is(join->credential, CREDENTIAL_MEMBER_PREFIX))
        return refuse(err, -EACCES, REFUSAL_UNAUTHENTICATED, "not-joined",
                      "this agent has no member credential: join with a join token");
    _cleanup_json_ struct json_object *body = json_object_new_object();
    if (first) {
        json_object_object_add(body, "join_token", json_object_new_string(join->credential));
        json_object_object_add(body, "id", json_object_new_string(join->node));
    }
    json_object_object_add(body, "name", json_object_new_string(join->name));
    json_object_object_add(body, "url", json_object_new_string(join->url));
    char path[96];
    snprintf(path, sizeof(path), "/v1/cluster/members/%s", join->node);
    struct client_reply reply;
    char msg[512];
    int r =
        first ? call(registry, MEMBER_TIMEOUT_MS, "POST", "/v1/cluster/members", body, &reply)
              : call_with(registry, join->credential, MEMBER_TIMEOUT_MS, "PUT", path, body, &reply);
    if (r < 0 || reply.status >= 300) {
        long status = r < 0 ? 0 : reply.status; /* read only when it answered */
        /* The registry's 401 is about the join token or credential, not
         * about whoever called us: a 403 here. */
        refuse(err, r < 0 ? r : -EPERM,
               r < 0           ? REFUSAL_UNAVAILABLE
               : status == 401 ? REFUSAL_FORBIDDEN
                               : client_refusal_kind(status),
               r < 0           ? "registry-unreachable"
               : status == 401 ? (first ? "join-token-refused" : "credential-refused")
                               : "registry-refused",
               "%s", client_reply_message(&reply, msg, sizeof(msg)));
        client_reply_release(&reply);
        return r < 0 ? r : status == 401 || status == 403 ? -EACCES : -EPERM;
    }
    struct json_object *v = NULL;
    if (first && join->issued && json_object_object_get_ex(reply.body, "credential", &v) &&
        json_object_is_type(v, json_type_string) &&
        strlen(json_object_get_string(v)) < CREDENTIAL_SIZE)
        snprintf(join->issued, CREDENTIAL_SIZE, "%s", json_object_get_string(v));
    client_reply_release(&reply);
    return 0;
}

static int agent_members(struct registry *registry, struct member **out, size_t *n,
                         struct refusal *err)
{
    struct client_reply reply;
    char msg[512];
    int r = call(registry, MEMBER_TIMEOUT_MS, "GET", "/v1/cluster/members", NULL, &reply);
    struct json_object *items = NULL;
    if (r < 0 || reply.status != 200 || !reply.body ||
        !json_object_object_get_ex(reply.body, "items", &items) ||
        !json_object_is_type(items, json_type_array)) {
        refuse(err, r < 0 ? r : -EPROTO, r < 0 ? REFUSAL_UNAVAILABLE : REFUSAL_BAD_ANSWER,
               r < 0 ? "registry-unreachable" : "registry-answer", "%s",
               r < 0 || reply.status != 200 ? client_reply_message(&reply, msg, sizeof(msg))
                                            : "registry sent a member list we cannot read");
        client_reply_release(&reply);
        return r < 0 ? r : -EPROTO;
    }
    size_t total = json_object_array_length(items);
    struct member *members = calloc(total ? total : 1, sizeof(*members));
    size_t kept = 0;
    for (size_t i = 0; members && i < total; i++)
        if (member_from_json(json_object_array_get_idx(items, i), &members[kept]) == 0)
            kept++;
    client_reply_release(&reply);
    if (!members)
        return refuse(err, -ENOMEM, REFUSAL_INTERNAL, "internal", "out of memory");
    *out = members;
    *n = kept;
    return 0;
}

static int agent_networks(struct registry *registry, struct network_view *out)
{
    struct client_reply reply;
    int r = call(registry, NETWORK_TIMEOUT_MS, "GET", "/v1/cluster/networks", NULL, &reply);
    if (r == 0)
        r = reply.status == 200 && reply.body ? network_view_from_json(reply.body, out) : -EPROTO;
    client_reply_release(&reply);
    return r;
}

/* PUT /v1/cluster/members/NODE/WHAT with this member's own credential. */
static int put_node(struct registry *registry, const char *node, const char *what,
                    struct json_object *body)
{
    char credential[CREDENTIAL_SIZE];
    if (membership_credential(registry->agent->membership, credential) < 0)
        return -EAGAIN; /* not joined yet: next round */
    char path[128];
    snprintf(path, sizeof(path), "/v1/cluster/members/%s/%s", node, what);
    struct client_reply reply;
    int r = call_with(registry, credential, HEARTBEAT_TIMEOUT_MS, "PUT", path, body, &reply);
    explicit_bzero(credential, sizeof(credential));
    if (r == 0 && reply.status != 204 && reply.status != 200)
        r = -EAGAIN; /* refused, or the registry is busy: next round */
    client_reply_release(&reply);
    return r;
}

static int agent_inventory_put(struct registry *registry, const char *node,
                               struct json_object *inventory)
{
    return put_node(registry, node, "inventory", inventory);
}

static int agent_reachability_put(struct registry *registry, const char *node,
                                  struct json_object *heard)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    json_object_object_add(body, "heard", json_object_get(heard));
    return put_node(registry, node, "reachability", body);
}

static int agent_heartbeat_key(struct registry *registry, uint8_t key[HEARTBEAT_KEY_SIZE])
{
    struct client_reply reply;
    int r = call(registry, HEARTBEAT_TIMEOUT_MS, "GET", "/v1/cluster/heartbeat-key", NULL, &reply);
    struct json_object *v = NULL;
    const char *hex = NULL;
    if (r == 0 && reply.status == 200 && json_object_object_get_ex(reply.body, "key", &v) &&
        json_object_is_type(v, json_type_string))
        hex = json_object_get_string(v);
    r = hex && strlen(hex) == 2 * HEARTBEAT_KEY_SIZE ? 0 : -EAGAIN;
    for (size_t i = 0; r == 0 && i < HEARTBEAT_KEY_SIZE; i++) {
        unsigned x;
        if (sscanf(hex + 2 * i, "%2x", &x) != 1)
            r = -EPROTO;
        key[i] = (uint8_t)x;
    }
    client_reply_release(&reply);
    return r;
}

static const struct registry_ops agent_ops = {
    .name = "agent",
    .destroy = agent_destroy,
    .pool_get = agent_pool_get,
    .claim_block = agent_claim_block,
    .claim_address = agent_claim_address,
    .release_block = agent_release_block,
    .join = agent_join,
    .members = agent_members,
    .networks = agent_networks,
    .inventory_put = agent_inventory_put,
    .reachability_put = agent_reachability_put,
    .heartbeat_key = agent_heartbeat_key,
};

int registry_agent_create(struct agent *agent, const char *url, struct registry **out)
{
    struct registry_agent *r = calloc(1, sizeof(*r));
    if (!r || !(r->url = strdup(url))) {
        free(r);
        return -ENOMEM;
    }
    r->registry.ops = &agent_ops;
    r->registry.agent = agent;
    *out = &r->registry;
    return 0;
}
