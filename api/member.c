/* /v1/cluster/members, /v1/cluster/join-tokens and /v1/cluster/join.
 *
 * The registry decides membership (agent/membership.h has the protocol).
 * On the registry, POST /v1/cluster/join-tokens (admin) makes a one-time
 * join token; POST /v1/cluster/members {"join_token", "id", "name", "url"}
 * spends it, records the member and answers with the member's own
 * credential; PUT /v1/cluster/members/{id} (that member's credential only)
 * refreshes it (agents do so every few seconds).  The registry never calls
 * the URL it is given: a member is whoever proved it with a token, and its
 * URL must name the address it called from (member_address_check).  POST
 * /v1/cluster/join {"token"} (admin) makes this agent join its registry.
 * Any other agent forwards join tokens and removals to its registry,
 * and serves GET from its local copy, saying whether the registry was
 * reachable. */
#include "api/member.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "agent/credential.h"
#include "agent/membership.h"
#include "agent/registry.h"
#include "api/problem.h"
#include "api/relay.h"
#include "db/db.h"
#include "db/event.h"
#include "db/join_token.h"
#include "db/member.h"
#include "api/problem.h"

#define JOIN_TOKEN_TTL_DEFAULT_S 3600
#define JOIN_TOKEN_TTL_MAX_S     (7 * 24 * 3600)

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

/* Reads the string KEY of the body into OUT (SIZE bytes), or sets a 422
 * problem saying what it must be. */
static int body_string(struct request *req, struct response *resp, const char *key, char *out,
                       size_t size, const char *what)
{
    struct json_object *v = NULL;
    const char *text =
        json_object_object_get_ex(req->json, key, &v) && json_object_is_type(v, json_type_string)
            ? json_object_get_string(v)
            : NULL;
    bool printable = text != NULL;
    for (const char *c = text; printable && *c; c++)
        printable = (unsigned char)*c >= 0x20 && *c != 0x7f;
    if (!text || !*text || strlen(text) >= size || !printable) {
        char pointer[40];
        pointer[0] = '\0';
        problem_pointer_append(pointer, sizeof(pointer), key);
        return response_problem(resp, 422, "invalid", pointer, "'%s' (%s) is required", key, what);
    }
    memcpy(out, text, strlen(text) + 1);
    return 0;
}

/* The name and base URL a member reports for itself, into M. */
static int member_fields(struct request *req, struct response *resp, struct member *m)
{
    int r = body_string(req, resp, "name", m->name, sizeof(m->name), "the agent's host name");
    if (r < 0)
        return r;
    r = body_string(req, resp, "url", m->url, sizeof(m->url),
                    "the agent's base URL, http://HOST:PORT");
    if (r < 0)
        return r;
    size_t scheme = strncmp(m->url, "http://", 7) == 0    ? 7
                    : strncmp(m->url, "https://", 8) == 0 ? 8
                                                          : 0;
    if (!scheme || strlen(m->url) == scheme || strchr(m->url + scheme, '/'))
        return response_problem(resp, 422, "invalid", "/url",
                                "'%s' is not a base URL like http://192.0.2.10:8470", m->url);
    return 0;
}

/* With member_address_check on, M's URL must name the address the call
 * comes from: a member is found where it proved itself, and nobody can
 * point the cluster's calls (and their peer token) at another host. */
static int check_url_is_caller(struct request *req, struct response *resp, const struct member *m)
{
    if (!req->agent->config.member_address_check)
        return 0;
    const char *host = strstr(m->url, "://") + 3;
    char text[256];
    size_t len = *host == '[' ? strcspn(host + 1, "]") : strcspn(host, ":");
    snprintf(text, sizeof(text), "%.*s", (int)len, *host == '[' ? host + 1 : host);
    unsigned char a[16], b[16];
    int family = strchr(text, ':') ? AF_INET6 : AF_INET;
    bool same = req->client_address[0] && inet_pton(family, text, a) == 1 &&
                inet_pton(family, req->client_address, b) == 1 &&
                memcmp(a, b, family == AF_INET6 ? 16 : 4) == 0;
    if (same)
        return 0;
    return response_problem(resp, 422, "url-not-caller", "/url",
                            "'url' must name the address this call comes from (%s), not '%s': "
                            "the cluster calls members only where they are (set "
                            "management_address on the member, or member_address_check = 0 on "
                            "the registry when NAT is in between)",
                            req->client_address[0] ? req->client_address : "unknown", text);
}

static bool is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return true;
}

/* Records an event about M when it is new or its name or URL changed. */
static int record_change(struct request *req, struct db *db, const struct member *m,
                         const struct member *before, const char *kind)
{
    if (before && strcmp(before->url, m->url) == 0 && strcmp(before->name, m->name) == 0)
        return 0;
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "url", json_object_new_string(m->url));
    json_object_object_add(detail, "name", json_object_new_string(m->name));
    int64_t e = event_record(db, req->agent->node_id, req->token_name, kind, m->uuid, detail);
    return e < 0 ? (int)e : 0;
}

/* POST /v1/cluster/join-tokens {"ttl"?: seconds}: a one-time join token. */
static int create_join_token(struct request *req, struct response *resp)
{
    if (!agent_is_registry(req->agent))
        return relay_to_registry(req, resp, "POST", req->path, req->json);
    int64_t ttl = JOIN_TOKEN_TTL_DEFAULT_S;
    struct json_object *v = NULL;
    if (req->json && !json_object_is_type(req->json, json_type_object))
        return response_problem(resp, 422, "invalid", "", "body must be {} or {\"ttl\": SECONDS}");
    if (req->json && json_object_object_get_ex(req->json, "ttl", &v)) {
        ttl = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (ttl < 1 || ttl > JOIN_TOKEN_TTL_MAX_S)
            return response_problem(resp, 422, "invalid", "/ttl",
                                    "'ttl' is the token's lifetime in seconds, 1 to %d",
                                    JOIN_TOKEN_TTL_MAX_S);
    }
    char token[CREDENTIAL_SIZE], hash[CREDENTIAL_HASH_SIZE];
    int r = credential_generate(CREDENTIAL_JOIN_PREFIX, token);
    if (r < 0)
        return r;
    credential_hash(token, hash);
    int64_t expires = clock_wall_ms() + ttl * 1000;
    struct db *db = db_pool_get(req->agent->db);
    r = db ? db_begin(db) : -EIO;
    if (r == 0)
        r = join_token_add(db, hash, expires, req->token_name);
    if (r == 0) {
        _cleanup_json_ struct json_object *detail = json_object_new_object();
        json_object_object_add(detail, "ttl", json_object_new_int64(ttl));
        int64_t e =
            event_record(db, req->agent->node_id, req->token_name, "join-token.create", "", detail);
        r = e < 0 ? (int)e : db_commit(db);
    }
    if (r < 0) {
        if (db)
            db_rollback(db);
        explicit_bzero(token, sizeof(token));
        return r;
    }
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "token", json_object_new_string(token));
    explicit_bzero(token, sizeof(token));
    char when[40];
    time_t sec = (time_t)(expires / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_object_add(body, "expires", json_object_new_string(when));
    response_header(resp, "Cache-Control", "no-store");
    return response_json(resp, 201, body);
}

/* POST /v1/cluster/members {"join_token", "id", "name", "url"}: an agent
 * joins.  No bearer token: the join token is the proof.  Nothing is called
 * at the URL, so the answer says nothing about what listens there. */
int member_join_parse(struct request *req, struct response *resp, char *token, size_t token_size,
                      struct member *m)
{
    token[0] = '\0';
    if (!req->json || !json_object_is_type(req->json, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body must be {\"join_token\", \"id\", \"name\", \"url\"}");
    if (!json_object_object_get_ex(req->json, "join_token", NULL))
        return response_problem(resp, 422, "invalid", "/join_token",
                                "agents join by themselves: make a join token on the registry "
                                "(lmnetctl cluster join-token), then on the new agent run "
                                "'lmnetctl cluster join TOKEN'");
    memset(m, 0, sizeof(*m));
    int r = body_string(req, resp, "join_token", token, token_size, "a join token, lmj_...");
    if (r == 0)
        r = body_string(req, resp, "id", m->uuid, sizeof(m->uuid), "the agent's node id");
    if (r == 0 && !is_uuid(m->uuid))
        r = response_problem(resp, 422, "invalid", "/id", "'id' must be a node id (a UUID)");
    if (r == 0)
        r = member_fields(req, resp, m);
    return r;
}

static int join_member(struct request *req, struct response *resp)
{
    char token[CREDENTIAL_SIZE + 8];
    struct member m = {0};
    int r = member_join_parse(req, resp, token, sizeof(token), &m);
    if (r < 0) {
        explicit_bzero(token, sizeof(token));
        return r;
    }
    if (!agent_is_registry(req->agent)) {
        /* Not relayed: the registry checks the URL against the caller's
         * address, which would be ours. */
        explicit_bzero(token, sizeof(token));
        return response_problem(resp, 409, "not-the-registry", NULL,
                                "this agent is not the registry; join at %s",
                                req->agent->config.registry);
    }
    r = check_url_is_caller(req, resp, &m);
    if (r < 0) {
        explicit_bzero(token, sizeof(token));
        return r;
    }
    bool shaped = credential_is(token, CREDENTIAL_JOIN_PREFIX);
    char hash[CREDENTIAL_HASH_SIZE];
    credential_hash(token, hash);
    explicit_bzero(token, sizeof(token));
    if (strcmp(m.uuid, req->agent->node_id) == 0)
        return response_problem(resp, 409, "member-is-registry", "/id",
                                "%s is the registry's own node id", m.uuid);
    struct db *db = db_pool_get(req->agent->db);
    if (!db)
        return -EIO;
    r = db_begin(db);
    if (r < 0)
        return r;
    r = shaped ? join_token_spend(db, hash, clock_wall_ms()) : -EACCES;
    if (r == -EACCES) {
        /* Spent tokens stay spent even though the join goes no further. */
        int c = db_commit(db);
        if (c < 0)
            return c;
        response_header(resp, "WWW-Authenticate", "Bearer realm=\"lmnet\"");
        return response_problem(resp, 401, "join-token-invalid", "/join_token",
                                "the join token is unknown, spent or expired: make a new one on "
                                "the registry (lmnetctl cluster join-token)");
    }
    struct member before;
    bool known = r == 0 && member_get(db, m.uuid, &before) == 0;
    /* Another member may hold this URL (a re-created agent): the joining
     * row wins, as the admin who made the token wants it in. */
    struct member *all = NULL;
    size_t n = 0;
    if (r == 0 && (r = member_list(db, &all, &n)) == 0) {
        for (size_t i = 0; r == 0 && i < n; i++)
            if (strcmp(all[i].url, m.url) == 0 && strcmp(all[i].uuid, m.uuid) != 0)
                r = member_delete(db, all[i].uuid);
        free(all);
    }
    m.last_seen_ms = clock_wall_ms();
    if (r == 0)
        r = member_upsert(db, &m);
    char credential[CREDENTIAL_SIZE];
    if (r >= 0)
        r = credential_generate(CREDENTIAL_MEMBER_PREFIX, credential);
    if (r >= 0) {
        credential_hash(credential, hash);
        r = member_set_credential(db, m.uuid, hash);
    }
    if (r >= 0)
        r = record_change(req, db, &m, NULL, known ? "member.rejoin" : "member.join");
    if (r >= 0)
        r = member_get(db, m.uuid, &m);
    if (r >= 0)
        r = db_commit(db);
    else
        db_rollback(db);
    if (r < 0) {
        explicit_bzero(credential, sizeof(credential));
        return r;
    }
    char location[80];
    snprintf(location, sizeof(location), "/v1/cluster/members/%s", m.uuid);
    response_header(resp, "Location", location);
    response_header(resp, "Cache-Control", "no-store");
    struct json_object *body = member_to_json(&m);
    json_object_object_add(body, "credential", json_object_new_string(credential));
    explicit_bzero(credential, sizeof(credential));
    return response_json(resp, 201, body);
}

/* PUT /v1/cluster/members/{id} {"name", "url"}: a member refreshes itself
 * (only itself: its own credential). */
static int refresh_member(struct request *req, struct response *resp)
{
    const char *id = request_param(req, "id");
    if (strcmp(id, req->member) != 0)
        return response_problem(resp, 403, "not-this-member", NULL,
                                "member %s may refresh only itself, not '%s'", req->member, id);
    if (!req->json || !json_object_is_type(req->json, json_type_object))
        return response_problem(resp, 422, "invalid", "", "body must be {\"name\", \"url\"}");
    struct db *db = db_pool_get(req->agent->db);
    if (!db)
        return -EIO;
    struct member before, m;
    int r = member_get(db, id, &before);
    if (r < 0)
        return r;
    m = before;
    r = member_fields(req, resp, &m);
    if (r == 0 && strcmp(m.url, before.url) != 0)
        r = check_url_is_caller(req, resp, &m);
    if (r < 0)
        return r;
    m.last_seen_ms = clock_wall_ms();
    r = db_begin(db);
    if (r < 0)
        return r;
    r = member_upsert(db, &m);
    if (r >= 0)
        r = record_change(req, db, &m, &before, "member.update");
    if (r >= 0)
        r = member_get(db, id, &m);
    if (r >= 0)
        r = db_commit(db);
    else
        db_rollback(db);
    if (r == -EEXIST)
        return response_problem(resp, 409, "conflict", "/url",
                                "another member already uses %s; remove it first", m.url);
    if (r < 0)
        return r;
    return response_json(resp, 200, member_to_json(&m));
}

/* POST /v1/cluster/join {"token"}: this agent joins its registry. */
static int join_cluster(struct request *req, struct response *resp)
{
    char token[CREDENTIAL_SIZE + 8];
    if (!req->json || !json_object_is_type(req->json, json_type_object))
        return response_problem(resp, 422, "invalid", "", "body must be {\"token\": JOIN_TOKEN}");
    int r = body_string(req, resp, "token", token, sizeof(token),
                        "a join token from 'lmnetctl cluster join-token' on the registry");
    if (r < 0)
        return r;
    struct refusal err = {0};
    r = membership_join(req->agent, token, &err);
    explicit_bzero(token, sizeof(token));
    if (r < 0)
        return response_problem(resp, problem_status_of_refusal(err.kind),
                                err.type[0] ? err.type : "internal",
                                err.kind == REFUSAL_INVALID ? "/token" : NULL, "%s", err.detail);
    struct db *db = db_pool_get(req->agent->db);
    struct member m = {0};
    snprintf(m.uuid, sizeof(m.uuid), "%s", req->agent->node_id);
    snprintf(m.name, sizeof(m.name), "%s", req->agent->hostname);
    agent_url(req->agent, m.url, sizeof(m.url));
    m.joined_ms = m.last_seen_ms = clock_wall_ms();
    if (db) {
        _cleanup_json_ struct json_object *detail = json_object_new_object();
        json_object_object_add(detail, "registry",
                               json_object_new_string(req->agent->config.registry));
        event_record(db, req->agent->node_id, req->token_name, "cluster.join", m.uuid, detail);
    }
    return response_json(resp, 200, member_to_json(&m));
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
    { HTTP_POST, "/v1/cluster/members", SCOPE_NONE, join_member },
    { HTTP_GET, "/v1/cluster/members/{id}", SCOPE_READ, get_member },
    { HTTP_PUT, "/v1/cluster/members/{id}", SCOPE_MEMBER, refresh_member },
    { HTTP_DELETE, "/v1/cluster/members/{id}", SCOPE_ADMIN, remove_member },
    { HTTP_POST, "/v1/cluster/join-tokens", SCOPE_ADMIN, create_join_token },
    { HTTP_POST, "/v1/cluster/join", SCOPE_ADMIN, join_cluster },
    { 0, NULL, 0, NULL },
};
