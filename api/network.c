/* /v1/cluster/networks and friends: see api/network.h.
 *
 * The registry decides names, roles and metrics and measures the states
 * from everyone's heartbeat reports; any other agent relays changes to it
 * and answers reads from the registry's view, or from its own copy of it
 * when the registry is away ("registry_reachable": false). */
#include "api/network.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "agent/advice.h"
#include "agent/agent.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "agent/clusternet.h"
#include "agent/heartbeat.h"
#include "agent/membership.h"
#include "agent/reachability.h"
#include "agent/registry.h"
#include "api/relay.h"
#include "db/event.h"
#include "db/heartbeat_key.h"
#include "db/member.h"
#include "db/network.h"
#include "api/problem.h"

static int load_view(struct request *req, struct response *resp, struct network_view *view, bool *cached)
{
    int r = clusternet_view(req->agent, view, cached);
    if (r == -ENOENT)
        return response_problem(resp, 502, "registry-unreachable", NULL,
                                "the registry (%s) did not answer and this agent has no copy of the "
                                "cluster networks yet",
                                req->agent->config.registry);
    return r;
}

static int list_networks(struct request *req, struct response *resp)
{
    struct network_view view;
    bool cached = false;
    int r = load_view(req, resp, &view, &cached);
    if (r < 0)
        return r;
    struct json_object *body = network_view_to_json(&view);
    network_view_release(&view);
    json_object_object_add(body, "next", NULL);
    json_object_object_add(body, "registry_reachable", json_object_new_boolean(!cached));
    return response_json(resp, 200, body);
}

static int get_network(struct request *req, struct response *resp)
{
    struct network_view view;
    bool cached = false;
    int r = load_view(req, resp, &view, &cached);
    if (r < 0)
        return r;
    const struct cluster_network *net = network_view_find(&view, request_param(req, "id"));
    if (!net) {
        network_view_release(&view);
        return response_problem(resp, 404, "not-found", NULL,
                                "no cluster network with id or name '%s' (lmnetctl network list shows them)",
                                request_param(req, "id"));
    }
    struct json_object *body = network_to_json(net, true);
    network_view_release(&view);
    json_object_object_add(body, "registry_reachable", json_object_new_boolean(!cached));
    return response_json(resp, 200, body);
}

/* Applies the PATCH body to *s; sets a problem and returns its errno on bad
 * input, before anything is stored. */
int network_patch_parse(struct response *resp, struct json_object *body, struct network_settings *s)
{
    if (!body || !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "", "body is a JSON object of the fields to change");
    json_object_object_foreach(body, key, v) {
        if (strcmp(key, "name") == 0) {
            if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
                json_object_get_string_len(v) >= (int)sizeof(s->name))
                return response_problem(resp, 422, "invalid", "/name", "'name' is 1 to 63 characters");
            snprintf(s->name, sizeof(s->name), "%s", json_object_get_string(v));
        } else if (strcmp(key, "role") == 0) {
            if (!json_object_is_type(v, json_type_string) ||
                network_role_from_string(json_object_get_string(v), &s->role) < 0)
                return response_problem(resp, 422, "invalid", "/role",
                                        "'role' is one of none, management, migration, storage, vm");
        } else if (strcmp(key, "metric") == 0) {
            if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                json_object_get_int64(v) > 999999)
                return response_problem(resp, 422, "invalid", "/metric",
                                        "'metric' is a whole number from 0 to 999999 (lower is preferred)");
            s->metric = json_object_get_int(v);
            s->auto_metric = false;
        } else if (strcmp(key, "auto_metric") == 0) {
            if (!json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v))
                return response_problem(resp, 422, "invalid", "/auto_metric",
                                        "'auto_metric' can only be set to true (setting 'metric' "
                                        "turns it off)");
            s->auto_metric = true;
        } else {
            char pointer[80];
            pointer[0] = '\0';
            problem_pointer_append(pointer, sizeof(pointer), key);
            return response_problem(resp, 422, "invalid", pointer,
                                    "'%s' cannot be changed; name, role, metric and auto_metric can", key);
        }
    }
    if (json_object_object_get_ex(body, "metric", NULL) && json_object_object_get_ex(body, "auto_metric", NULL))
        return response_problem(resp, 422, "invalid", "/auto_metric",
                                "give either 'metric' (a fixed metric) or 'auto_metric': true, not both");
    return 0;
}

static int patch_network(struct request *req, struct response *resp)
{
    if (!req->json || !json_object_is_type(req->json, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body must be an object with name, role, metric or auto_metric");
    struct registry *registry = req->agent->registry;
    bool shared = registry_is_shared(registry);
    if (!agent_is_registry(req->agent) && !shared)
        return relay_to_registry(req, resp, "PATCH", req->path, req->json);
    struct db *db = db_pool_get(req->agent->db);
    if (!db)
        return -EIO;
    struct network_settings *all = NULL;
    size_t n = 0;
    int r = shared ? registry->ops->network_list(registry, &all, &n) : network_list(db, &all, &n);
    if (r < 0 && shared)
        return registry_problem(req, resp, r, "read the cluster networks");
    if (r < 0)
        return r;
    const char *key = request_param(req, "id");
    struct network_settings *s = NULL;
    for (size_t i = 0; i < n && !s; i++)
        if (strcmp(all[i].id, key) == 0 || strcasecmp(all[i].name, key) == 0)
            s = &all[i];
    if (!s) {
        free(all);
        return response_problem(resp, 404, "not-found", NULL, "no cluster network with id or name '%s'", key);
    }
    struct network_settings before = *s, after = *s;
    free(all);
    r = network_patch_parse(resp, req->json, &after);
    if (r < 0)
        return r;
    if (shared) {
        r = registry->ops->network_update(registry, &before, &after);
        if (r == -EEXIST)
            return response_problem(resp, 409, "conflict", "/name",
                                    "another cluster network is named '%s'", after.name);
        if (r == -EAGAIN || r == -ENOENT)
            return response_problem(resp, 409, "conflict", NULL,
                                    "the network changed meanwhile; read it and try again");
        if (r < 0)
            return registry_problem(req, resp, r, "change the cluster network");
    }
    r = db_begin(db);
    if (r < 0)
        return r;
    r = shared ? 0 : network_update(db, &after);
    if (r == -EEXIST) {
        db_rollback(db);
        return response_problem(resp, 409, "conflict", "/name", "another cluster network is named '%s'",
                                after.name);
    }
    if (r == 0) {
        _cleanup_json_ struct json_object *detail = json_object_new_object();
        json_object_object_add(detail, "name", json_object_new_string(after.name));
        if (strcmp(before.name, after.name) != 0)
            json_object_object_add(detail, "was", json_object_new_string(before.name));
        json_object_object_add(detail, "role", json_object_new_string(network_role_to_string(after.role)));
        json_object_object_add(detail, "metric", after.auto_metric ? NULL : json_object_new_int(after.metric));
        json_object_object_add(detail, "auto_metric", json_object_new_boolean(after.auto_metric));
        int64_t id = event_record(db, req->agent->node_id, req->token_name, "network.change", after.id, detail);
        r = id < 0 ? (int)id : 0;
    }
    if (r == 0)
        r = db_commit(db);
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    struct network_view view;
    r = clusternet_view(req->agent, &view, NULL);
    if (r < 0)
        return r;
    const struct cluster_network *net = network_view_find(&view, after.id);
    struct json_object *body = net ? network_to_json(net, true) : NULL;
    network_view_release(&view);
    return body ? response_json(resp, 200, body) : -EIO;
}

static int list_checks(struct request *req, struct response *resp)
{
    struct network_view view;
    bool cached = false;
    int r = load_view(req, resp, &view, &cached);
    if (r < 0)
        return r;
    struct member *members = NULL;
    size_t n = 0;
    struct db *db = db_pool_get(req->agent->db);
    r = db ? member_list(db, &members, &n) : -EIO;
    struct advice_member *am = r == 0 ? calloc(n ? n : 1, sizeof(*am)) : NULL;
    if (r == 0 && !am)
        r = -ENOMEM;
    if (r < 0) {
        free(members);
        network_view_release(&view);
        return r;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(am[i].node, sizeof(am[i].node), "%s", members[i].uuid);
        snprintf(am[i].name, sizeof(am[i].name), "%.63s", members[i].name);
    }
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", advice_check(&view, am, n));
    json_object_object_add(body, "registry_reachable", json_object_new_boolean(!cached));
    free(am);
    free(members);
    network_view_release(&view);
    return response_json(resp, 200, body);
}

/* A member reports about itself only: {id} must be the member whose
 * credential authenticated the call. */
static int check_reporter(struct request *req, struct response *resp)
{
    const char *id = request_param(req, "id");
    if (strcmp(id, req->member) == 0)
        return 0;
    return response_problem(resp, 403, "not-this-member", NULL,
                            "member %s may report only about itself, not about '%s'", req->member,
                            id);
}

static int put_inventory(struct request *req, struct response *resp)
{
    int c = check_reporter(req, resp);
    if (c < 0)
        return c;
    struct json_object *nics = NULL;
    if (!req->json || !json_object_object_get_ex(req->json, "nics", &nics) ||
        !json_object_is_type(nics, json_type_array))
        return response_problem(resp, 422, "invalid", "/nics",
                                "body must be an inventory: {\"nics\": [NIC, ...]} as GET /v1/host/nics");
    if (!agent_is_registry(req->agent))
        return relay_to_registry(req, resp, "PUT", req->path, req->json);
    int r = clusternet_record_inventory(req->agent, request_param(req, "id"), req->json);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL,
                                "'%s' is not a cluster member; join first (POST /v1/cluster/members)",
                                request_param(req, "id"));
    if (r < 0)
        return r;
    resp->status = 204;
    return 0;
}

static int put_reachability(struct request *req, struct response *resp)
{
    int c = check_reporter(req, resp);
    if (c < 0)
        return c;
    struct json_object *heard = NULL;
    if (!req->json || !json_object_object_get_ex(req->json, "heard", &heard))
        return response_problem(resp, 422, "invalid", "/heard",
                                "body must be {\"heard\": {\"NETWORK_ID\": [\"NODE_ID\", ...]}}");
    if (!agent_is_registry(req->agent))
        return relay_to_registry(req, resp, "PUT", req->path, req->json);
    struct db *db = db_pool_get(req->agent->db);
    struct member m;
    int r = db ? member_get(db, request_param(req, "id"), &m) : -EIO;
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "'%s' is not a cluster member",
                                request_param(req, "id"));
    if (r < 0)
        return r;
    r = reachability_report(req->agent->reachability, m.uuid, heard, clock_mono_ms());
    if (r == -EINVAL)
        return response_problem(resp, 422, "invalid", "/heard",
                                "'heard' maps network ids to arrays of node ids");
    if (r < 0)
        return r;
    resp->status = 204;
    return 0;
}

static int get_heartbeats(struct request *req, struct response *resp)
{
    if (!req->agent->heartbeat)
        return response_problem(resp, 503, "heartbeats-off", NULL, "this agent sends no heartbeats");
    return response_json(resp, 200, heartbeat_status(req->agent->heartbeat));
}

/* GET /v1/cluster/heartbeat-key: the key that signs heartbeats, for the
 * cluster's agents (admin scope: the peers' token).  The registry makes it
 * the first time it is asked. */
static int get_heartbeat_key(struct request *req, struct response *resp)
{
    bool shared = registry_is_shared(req->agent->registry);
    if (!agent_is_registry(req->agent) && !shared)
        return relay_to_registry(req, resp, "GET", req->path, NULL);
    struct db *db = db_pool_get(req->agent->db);
    uint8_t key[HEARTBEAT_KEY_SIZE];
    int r = shared ? registry_heartbeat_key(req->agent->registry, key)
            : db   ? heartbeat_key_make(db, key)
                   : -EIO;
    if (r < 0 && shared)
        return registry_problem(req, resp, r, "read the heartbeat key");
    if (r < 0)
        return r;
    char hex[2 * HEARTBEAT_KEY_SIZE + 1];
    for (size_t i = 0; i < HEARTBEAT_KEY_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    explicit_bzero(key, sizeof(key));
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "key", json_object_new_string(hex));
    explicit_bzero(hex, sizeof(hex));
    response_header(resp, "Cache-Control", "no-store");
    return response_json(resp, 200, body);
}

const struct route network_routes[] = {
    { HTTP_GET, "/v1/cluster/networks", SCOPE_READ, list_networks },
    { HTTP_GET, "/v1/cluster/networks/{id}", SCOPE_READ, get_network },
    { HTTP_PATCH, "/v1/cluster/networks/{id}", SCOPE_ADMIN, patch_network },
    { HTTP_GET, "/v1/cluster/checks", SCOPE_READ, list_checks },
    { HTTP_GET, "/v1/cluster/heartbeats", SCOPE_READ, get_heartbeats },
    { HTTP_GET, "/v1/cluster/heartbeat-key", SCOPE_ADMIN, get_heartbeat_key },
    { HTTP_PUT, "/v1/cluster/members/{id}/inventory", SCOPE_MEMBER, put_inventory },
    { HTTP_PUT, "/v1/cluster/members/{id}/reachability", SCOPE_MEMBER, put_reachability },
    { 0, NULL, 0, NULL },
};
