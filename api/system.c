/* The agent's own resources: /v1/health (open, for load balancers and
 * systemd watchdogs), /v1/version and /v1/host. */
#include "api/system.h"

#include <errno.h>
#include "agent/agent.h"
#include "db/migration.h"
#include "agent/membership.h"
#include "db/db.h"

static int get_health(struct request *req, struct response *resp)
{
    struct json_object *body = json_object_new_object();
    struct db *db = db_pool_get(req->agent->db);
    bool db_ok = db != NULL;
    json_object_object_add(body, "status", json_object_new_string(db_ok ? "ok" : "degraded"));
    struct json_object *checks = json_object_new_object();
    json_object_object_add(checks, "database", json_object_new_string(db_ok ? "ok" : "unavailable"));
    json_object_object_add(body, "checks", checks);
    if (req->agent->membership) {
        /* An unreachable registry degrades, not fails, the agent: it keeps
         * allocating from the MAC blocks it holds. */
        struct registry_status rs;
        membership_status(req->agent->membership, &rs);
        struct json_object *registry = json_object_new_object();
        json_object_object_add(registry, "self", json_object_new_boolean(rs.self));
        json_object_object_add(registry, "url", json_object_new_string(req->agent->config.registry));
        json_object_object_add(registry, "reachable", json_object_new_boolean(rs.reachable));
        if (!rs.reachable && rs.error[0])
            json_object_object_add(registry, "error", json_object_new_string(rs.error));
        json_object_object_add(checks, "registry", json_object_new_string(rs.reachable ? "ok" : "unreachable"));
        json_object_object_add(body, "registry", registry);
        if (!rs.reachable && db_ok)
            json_object_object_add(body, "status", json_object_new_string("degraded"));
    }
    return response_json(resp, db_ok ? 200 : 503, body);
}

static int get_version(struct request *req, struct response *resp)
{
    (void)req;
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "version", json_object_new_string(LMNET_VERSION));
    json_object_object_add(body, "api", json_object_new_string("v1"));
    return response_json(resp, 200, body);
}

static int get_host(struct request *req, struct response *resp)
{
    const struct agent *agent = req->agent;
    char url[300];
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "node_id", json_object_new_string(agent->node_id));
    json_object_object_add(body, "hostname", json_object_new_string(agent->hostname));
    json_object_object_add(body, "version", json_object_new_string(LMNET_VERSION));
    json_object_object_add(body, "uptime_seconds", json_object_new_double(agent_uptime(agent)));
    json_object_object_add(body, "url", json_object_new_string(agent_url(agent, url, sizeof(url))));
    json_object_object_add(body, "registry", json_object_new_string(agent->config.registry));
    /* Migration slots, read by source agents before they start one here. */
    struct db *db = db_pool_get(agent->db);
    int src = db ? migration_count_active(db, MIGRATION_ROLE_SOURCE) : -EIO;
    int dst = db ? migration_count_active(db, MIGRATION_ROLE_DESTINATION) : -EIO;
    struct json_object *slots = json_object_new_object();
    json_object_object_add(slots, "active_source", json_object_new_int(src < 0 ? 0 : src));
    json_object_object_add(slots, "active_destination", json_object_new_int(dst < 0 ? 0 : dst));
    json_object_object_add(slots, "max", json_object_new_int((int)agent->config.max_migrations));
    json_object_object_add(body, "migrations", slots);
    /* Uptime changes every call: an ETag over it would never match, so the
     * host resource's tag covers only its stable identity. */
    struct json_object *stable = json_object_new_string(agent->node_id);
    etag_of_json(stable, resp->etag, sizeof(resp->etag));
    json_object_put(stable);
    return response_json(resp, 200, body);
}

const struct route system_routes[] = {
    { HTTP_GET, "/v1/health", SCOPE_NONE, get_health },
    { HTTP_GET, "/v1/version", SCOPE_READ, get_version },
    { HTTP_GET, "/v1/host", SCOPE_READ, get_host },
    { 0, NULL, 0, NULL },
};
