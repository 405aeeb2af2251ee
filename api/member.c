/* /v1/cluster/members.
 *
 * The registry decides membership.  On the registry, POST {"url": U} checks
 * that an agent answers at U (GET U/v1/host with the peer token), that it is
 * not running a registry of its own, and records it; repeating the call
 * refreshes the member (agents re-register every few seconds).  Any other
 * agent forwards POST and DELETE to its registry, and serves GET from its
 * local copy, saying whether the registry was reachable. */
#include "api/member.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agent/agent.h"
#include "agent/cleanup.h"
#include "agent/clock.h"
#include "agent/membership.h"
#include "agent/peer.h"
#include "api/relay.h"
#include "db/db.h"
#include "db/event.h"
#include "db/member.h"

static int list_members(struct request *req, struct response *resp)
{
    struct db *db = db_pool_get(req->agent->db);
    if (!db)
        return -EIO;
    struct member *members = NULL;
    size_t n = 0;
    int r = member_list(db, &members, &n);
    if (r < 0)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, member_to_json(&members[i]));
    free(members);
    struct registry_status status;
    membership_status(req->agent->membership, &status);
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    json_object_object_add(body, "registry_reachable", json_object_new_boolean(status.reachable));
    return response_json(resp, 200, body);
}

static int get_member(struct request *req, struct response *resp)
{
    struct db *db = db_pool_get(req->agent->db);
    if (!db)
        return -EIO;
    struct member m;
    int r = member_get(db, request_param(req, "id"), &m);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no member with id '%s'",
                                request_param(req, "id"));
    if (r < 0)
        return r;
    return response_json(resp, 200, member_to_json(&m));
}

/* Asks the agent at URL who it is.  Fills *m, or sets a problem. */
static int probe_agent(struct request *req, struct response *resp, const char *url, struct member *m)
{
    struct client *client = NULL;
    int r = peer_client_create(req->agent, url, 3000, &client);
    if (r < 0)
        return r;
    struct client_reply reply;
    char msg[512];
    r = client_call(client, "GET", "/v1/host", NULL, NULL, &reply);
    client_destroy(client);
    if (r < 0 || reply.status != 200 || !reply.body) {
        int p = response_problem(resp, 502, "member-unreachable", "/url",
                                 "no lmnet agent answered at %s: %s", url,
                                 client_reply_message(&reply, msg, sizeof(msg)));
        client_reply_release(&reply);
        return p;
    }
    struct json_object *v;
    const char *node_id = json_object_object_get_ex(reply.body, "node_id", &v) ? json_object_get_string(v) : "";
    const char *hostname = json_object_object_get_ex(reply.body, "hostname", &v) ? json_object_get_string(v) : "";
    const char *registry = json_object_object_get_ex(reply.body, "registry", &v) ? json_object_get_string(v) : "";
    if (strlen(node_id) != 36) {
        client_reply_release(&reply);
        return response_problem(resp, 502, "member-unreachable", "/url",
                                "the service at %s did not answer like an lmnet agent", url);
    }
    if (strcmp(registry, "self") == 0 && strcmp(node_id, req->agent->node_id) != 0) {
        char ours[256];
        int p = response_problem(resp, 409, "member-is-registry", "/url",
                                 "the agent at %s runs its own registry (registry = self); set "
                                 "'registry = %s' in its lmnetd.conf and restart it: it then "
                                 "joins by itself",
                                 url, agent_url(req->agent, ours, sizeof(ours)));
        client_reply_release(&reply);
        return p;
    }
    memset(m, 0, sizeof(*m));
    snprintf(m->uuid, sizeof(m->uuid), "%s", node_id);
    snprintf(m->name, sizeof(m->name), "%s", hostname);
    snprintf(m->url, sizeof(m->url), "%s", url);
    m->registry = strcmp(node_id, req->agent->node_id) == 0;
    m->last_seen_ms = clock_wall_ms();
    client_reply_release(&reply);
    return 0;
}

static int join_member(struct request *req, struct response *resp)
{
    struct json_object *url_obj = NULL;
    if (!req->json || !json_object_is_type(req->json, json_type_object))
        return response_problem(resp, 422, "invalid", "", "body must be {\"url\": \"http://HOST:PORT\"}");
    if (!json_object_object_get_ex(req->json, "url", &url_obj) ||
        !json_object_is_type(url_obj, json_type_string))
        return response_problem(resp, 422, "invalid", "/url",
                                "'url' (the agent's base URL, http://HOST:PORT) is required");
    const char *url = json_object_get_string(url_obj);
    size_t len = strlen(url);
    size_t scheme = strncmp(url, "http://", 7) == 0 ? 7 : strncmp(url, "https://", 8) == 0 ? 8 : 0;
    if (!scheme || len >= 256 || len == scheme || strchr(url + scheme, '/'))
        return response_problem(resp, 422, "invalid", "/url",
                                "'%s' is not a base URL like http://192.0.2.10:8470", url);
    if (!agent_is_registry(req->agent))
        return relay_to_registry(req, resp, "POST", "/v1/cluster/members", req->json);

    struct member m;
    int r = probe_agent(req, resp, url, &m);
    if (r < 0)
        return r;
    struct db *db = db_pool_get(req->agent->db);
    if (!db)
        return -EIO;
    r = db_begin(db);
    if (r < 0)
        return r;
    struct member existing;
    bool known = member_get(db, m.uuid, &existing) == 0;
    r = member_upsert(db, &m);
    if (r >= 0 && (!known || strcmp(existing.url, m.url) != 0 || strcmp(existing.name, m.name) != 0)) {
        _cleanup_json_ struct json_object *detail = json_object_new_object();
        json_object_object_add(detail, "url", json_object_new_string(m.url));
        json_object_object_add(detail, "name", json_object_new_string(m.name));
        int64_t e = event_record(db, req->agent->node_id, req->token_name,
                                 known ? "member.update" : "member.join", m.uuid, detail);
        r = e < 0 ? (int)e : 0;
    }
    if (r >= 0)
        r = member_get(db, m.uuid, &m);
    if (r >= 0)
        r = db_commit(db);
    else
        db_rollback(db);
    if (r == -EEXIST)
        return response_problem(resp, 409, "conflict", "/url",
                                "another member already uses %s; remove it first", url);
    if (r < 0)
        return r;
    char location[80];
    snprintf(location, sizeof(location), "/v1/cluster/members/%s", m.uuid);
    response_header(resp, "Location", location);
    return response_json(resp, known ? 200 : 201, member_to_json(&m));
}

static int remove_member(struct request *req, struct response *resp)
{
    const char *id = request_param(req, "id");
    if (!agent_is_registry(req->agent)) {
        char path[96];
        snprintf(path, sizeof(path), "/v1/cluster/members/%s", id);
        return relay_to_registry(req, resp, "DELETE", path, NULL);
    }
    if (strcmp(id, req->agent->node_id) == 0)
        return response_problem(resp, 409, "conflict", NULL, "the registry cannot remove itself");
    struct db *db = db_pool_get(req->agent->db);
    if (!db)
        return -EIO;
    struct member m;
    int r = member_get(db, id, &m);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no member with id '%s'", id);
    if (r < 0)
        return r;
    char etag[40];
    _cleanup_json_ struct json_object *current = member_to_json(&m);
    etag_of_json(current, etag, sizeof(etag));
    r = request_check_if_match(req, resp, etag);
    if (r < 0)
        return r;
    r = db_begin(db);
    if (r < 0)
        return r;
    r = member_delete(db, id);
    if (r >= 0) {
        int64_t e = event_record(db, req->agent->node_id, req->token_name, "member.remove", id, NULL);
        r = e < 0 ? (int)e : db_commit(db);
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    resp->status = 204;
    return 0;
}

const struct route member_routes[] = {
    { HTTP_GET, "/v1/cluster/members", SCOPE_READ, list_members },
    { HTTP_POST, "/v1/cluster/members", SCOPE_ADMIN, join_member },
    { HTTP_GET, "/v1/cluster/members/{id}", SCOPE_READ, get_member },
    { HTTP_DELETE, "/v1/cluster/members/{id}", SCOPE_ADMIN, remove_member },
    { 0, NULL, 0, NULL },
};
