/* /v1/migrations: live migrations, as users see them, and the calls a source
 * agent makes on a destination agent.
 *
 * POST /v1/migrations is accepted by any agent: when the VM does not run
 * here, the request is forwarded to the member it runs on (the one whose
 * GET /v1/vms/{vm} says so) and that agent's answer is relayed.  The answer
 * is 202 with Location: /v1/migrations/{id}, to poll.
 *
 * The peer calls (prepare, switchover, finish, abort) need the admin scope;
 * agents present their peer token. */
#include "api/migration.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "agent/peer.h"
#include "api/relay.h"
#include "db/db.h"
#include "db/member.h"
#include "db/migration.h"
#include "db/vm.h"
#include "migrate/migrator.h"
#include "api/problem.h"
#include "migrate/peer_protocol.h"

static int no_migrator(struct response *resp)
{
    return response_problem(resp, 503, "migrations-off", NULL,
                            "this agent takes part in no migration: it has no hypervisor or "
                            "no cluster networks (see the agent's log at start)");
}

/* Finds the member the VM named VM runs on: 0 and its URL, or -ENOENT. */
static int find_vm_host(struct request *req, const char *vm, char *url, size_t size)
{
    struct member *members = NULL;
    size_t n = 0;
    int r = member_list(db_pool_get(req->agent->db), &members, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    char path[128];
    snprintf(path, sizeof(path), "/v1/vms/%s", vm);
    for (size_t i = 0; i < n && r == -ENOENT; i++) {
        if (strcmp(members[i].uuid, req->agent->node_id) == 0)
            continue;
        struct client *client = NULL;
        if (peer_client_create(req->agent, members[i].url, 3000, &client) < 0)
            continue;
        struct client_reply reply;
        if (client_call(client, "GET", path, NULL, NULL, &reply) == 0 && reply.status == 200) {
            struct json_object *host = NULL;
            if (json_object_object_get_ex(reply.body, "host", &host) &&
                json_object_is_type(host, json_type_string) &&
                strcmp(json_object_get_string(host), members[i].uuid) == 0) {
                snprintf(url, size, "%s", members[i].url);
                r = 0;
            }
        }
        client_reply_release(&reply);
        client_destroy(client);
    }
    free(members);
    return r;
}

int migration_request_parse(struct request *req, struct response *resp,
                            struct migration_request *rq)
{
    struct json_object *body = req->json, *v = NULL;
    if (!body || !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body must be {\"vm\": NAME, \"destination\": MEMBER, \"mode\": "
                                "\"live\"|\"quick\", \"options\": {...}}");
    memset(rq, 0, sizeof(*rq));
    rq->downtime_limit_ms = -1;
    rq->channels = 1;
    if (!json_object_object_get_ex(body, "vm", &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0 || json_object_get_string_len(v) >= (int)sizeof(rq->vm))
        return response_problem(resp, 422, "invalid", "/vm", "'vm' (a VM name or id) is required");
    snprintf(rq->vm, sizeof(rq->vm), "%s", json_object_get_string(v));
    if (!json_object_object_get_ex(body, "destination", &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
        json_object_get_string_len(v) >= (int)sizeof(rq->destination))
        return response_problem(resp, 422, "invalid", "/destination",
                                "'destination' (a member's name or id) is required");
    snprintf(rq->destination, sizeof(rq->destination), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(body, "mode", &v)) {
        const char *mode = json_object_get_string(v);
        if (!json_object_is_type(v, json_type_string) ||
            (strcmp(mode, "live") != 0 && strcmp(mode, "quick") != 0))
            return response_problem(resp, 422, "invalid", "/mode", "'mode' is live or quick");
        rq->quick = strcmp(mode, "quick") == 0;
    }
    struct json_object *options = NULL;
    if (!json_object_object_get_ex(body, "options", &options) || !options)
        return 0;
    if (!json_object_is_type(options, json_type_object))
        return response_problem(resp, 422, "invalid", "/options", "'options' must be an object");
    json_object_object_foreach(options, key, val) {
        char pointer[80];
        snprintf(pointer, sizeof(pointer), "/options");
        problem_pointer_append(pointer, sizeof(pointer), key);
        int64_t x = json_object_get_int64(val);
        bool is_int = json_object_is_type(val, json_type_int);
        if (strcmp(key, "downtime_limit_ms") == 0) {
            if (!is_int || x < 1 || x > 60000)
                return response_problem(resp, 422, "invalid", pointer,
                                        "downtime_limit_ms is 1 to 60000");
            rq->downtime_limit_ms = x;
        } else if (strcmp(key, "max_bandwidth") == 0) {
            if (!is_int || x < 0)
                return response_problem(resp, 422, "invalid", pointer,
                                        "max_bandwidth is bytes per second, 0 for no cap");
            rq->max_bandwidth = (uint64_t)x;
        } else if (strcmp(key, "channels") == 0) {
            if (!is_int || x < 1 || x > 16)
                return response_problem(resp, 422, "invalid", pointer, "channels is 1 to 16");
            rq->channels = (unsigned)x;
        } else if (strcmp(key, "allow_management_network") == 0 ||
                   strcmp(key, "convert_dynamic_macs") == 0) {
            if (!json_object_is_type(val, json_type_boolean))
                return response_problem(resp, 422, "invalid", pointer, "%s is true or false", key);
            if (key[0] == 'a')
                rq->allow_management_network = json_object_get_boolean(val);
            else
                rq->convert_dynamic_macs = json_object_get_boolean(val);
        } else if (strcmp(key, "convergence") == 0) {
            /* Refines this agent's defaults (migrate/plan/convergence.h). */
            migrator_convergence_defaults(req->agent, &rq->convergence);
            char name[64], why[300];
            if (convergence_policy_apply_json(&rq->convergence, val, name, sizeof(name), why,
                                              sizeof(why)) < 0) {
                char at[160];
                snprintf(at, sizeof(at), "/options/convergence");
                if (name[0])
                    problem_pointer_append(at, sizeof(at), name);
                return response_problem(resp, 422, "invalid", at, "%s", why);
            }
            rq->has_convergence = true;
        } else {
            return response_problem(resp, 422, "invalid", pointer,
                                    "unknown option '%s' (known: downtime_limit_ms, "
                                    "max_bandwidth, channels, allow_management_network, "
                                    "convert_dynamic_macs, convergence)",
                                    key);
        }
    }
    return 0;
}

static int create_migration(struct request *req, struct response *resp)
{
    struct migration_request rq;
    int r = migration_request_parse(req, resp, &rq);
    if (r < 0)
        return r;
    struct vm vm;
    r = vm_get(db_pool_get(req->agent->db), rq.vm, &vm);
    if (r < 0 || strcmp(vm.host, req->agent->node_id) != 0) {
        char url[256];
        if (find_vm_host(req, rq.vm, url, sizeof(url)) == 0)
            return relay(req, resp, url, "the VM's host", "POST", "/v1/migrations", req->json, 30000);
        if (r < 0)
            return response_problem(resp, 404, "vm-not-found", "/vm",
                                    "no member of the cluster runs a VM '%s'", rq.vm);
    }
    if (!req->agent->migrator)
        return no_migrator(resp);
    char uuid[37];
    struct refusal refusal;
    r = migrator_submit(req->agent->migrator, &rq, req->token_name, uuid, &refusal);
    if (r == -EPERM)
        return response_refusal(resp, &refusal);
    if (r < 0)
        return r;
    struct migration mig;
    r = migration_get(db_pool_get(req->agent->db), uuid, &mig);
    if (r < 0)
        return r;
    char location[80];
    snprintf(location, sizeof(location), "/v1/migrations/%s", uuid);
    response_header(resp, "Location", location);
    struct json_object *body = migration_to_json(&mig);
    migration_release(&mig);
    return response_json(resp, 202, body);
}

static int list_migrations(struct request *req, struct response *resp)
{
    const char *after = request_query(req, "after");
    const char *limit_s = request_query(req, "limit");
    long limit = 100;
    if (limit_s) {
        char *end = NULL;
        limit = strtol(limit_s, &end, 10);
        if (!*limit_s || *end || limit < 1 || limit > 1000)
            return response_problem(resp, 400, "invalid-query", NULL, "'limit' must be 1 to 1000");
    }
    const char *active = request_query(req, "active");
    struct migration probe;
    if (after && migration_get(db_pool_get(req->agent->db), after, &probe) < 0)
        return response_problem(resp, 400, "invalid-query", NULL,
                                "'after' is the 'next' of a previous page, not '%s'", after);
    if (after)
        migration_release(&probe);
    struct migration *list = NULL;
    size_t n = 0;
    int r = migration_list(db_pool_get(req->agent->db), after, (int)limit + 1,
                           active && strcmp(active, "false") != 0, &list, &n);
    if (r < 0)
        return r;
    size_t shown = n > (size_t)limit ? (size_t)limit : n;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < shown; i++)
        json_object_array_add(items, migration_to_json(&list[i]));
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next",
                           n > shown ? json_object_new_string(list[shown - 1].uuid) : NULL);
    migration_list_free(list, n);
    return response_json(resp, 200, body);
}

static int load(struct request *req, struct response *resp, struct migration *mig)
{
    const char *id = request_param(req, "id");
    int r = migration_get(db_pool_get(req->agent->db), id, mig);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no migration '%s' here", id);
    return r;
}

/* With ?source=NODE, a migration this agent does not drive (it relayed the
 * request, or it is the destination, whose record lacks the source's
 * figures) is answered by its source.  Returns 1 when this agent answers
 * itself. */
static int relay_to_source(struct request *req, struct response *resp, const char *method,
                           const char *path)
{
    const char *source = request_query(req, "source");
    struct member src;
    struct migration mig;
    struct db *db = db_pool_get(req->agent->db);
    if (!source || strcmp(source, req->agent->node_id) == 0 || !db ||
        member_get(db, source, &src) < 0)
        return 1;
    if (migration_get(db, request_param(req, "id"), &mig) == 0) {
        bool source_here = mig.role == MIGRATION_ROLE_SOURCE;
        migration_release(&mig);
        if (source_here)
            return 1; /* the source is this agent after all */
    }
    return relay(req, resp, src.url, "the migration's source host", method, path, req->json, 30000);
}

static int get_migration(struct request *req, struct response *resp)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/migrations/%s", request_param(req, "id"));
    int relayed = relay_to_source(req, resp, "GET", path);
    if (relayed <= 0)
        return relayed;
    struct migration mig;
    int r = load(req, resp, &mig);
    if (r < 0)
        return r;
    struct json_object *body = migration_to_json(&mig);
    migration_release(&mig);
    struct migration_step *steps = NULL;
    size_t n = 0;
    if (migration_steps(db_pool_get(req->agent->db), request_param(req, "id"), &steps, &n) == 0) {
        struct json_object *journal = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            struct json_object *s = json_object_new_object();
            json_object_object_add(s, "seq", json_object_new_int(steps[i].seq));
            json_object_object_add(s, "step", json_object_new_string(steps[i].step));
            json_object_object_add(s, "status", json_object_new_string(
                                                    migration_step_status_to_string(steps[i].status)));
            json_object_object_add(s, "time_ms", json_object_new_int64(steps[i].time_ms));
            json_object_array_add(journal, s);
        }
        json_object_object_add(body, "journal", journal);
        migration_steps_free(steps, n);
    }
    return response_json(resp, 200, body);
}

static int cancel_migration(struct request *req, struct response *resp)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/migrations/%s/cancel", request_param(req, "id"));
    int relayed = relay_to_source(req, resp, "POST", path);
    if (relayed <= 0)
        return relayed;
    struct migration mig;
    int r = load(req, resp, &mig);
    if (r < 0)
        return r;
    char source[37];
    snprintf(source, sizeof(source), "%s", mig.source);
    migration_release(&mig);
    if (!req->agent->migrator)
        return no_migrator(resp);
    const char *id = request_param(req, "id");
    r = migrator_cancel(req->agent->migrator, id);
    if (r == -EXDEV) {
        struct member src;
        if (member_get(db_pool_get(req->agent->db), source, &src) < 0)
            return response_problem(resp, 502, "peer-unreachable", NULL,
                                    "the source host %s of this migration is not a known member",
                                    source);
        return relay(req, resp, src.url, "the migration's source host", "POST", path, req->json,
                     30000);
    }
    if (r == -EALREADY)
        return response_problem(resp, 409, "migration-finished", NULL,
                                "migration %s has already ended", id);
    if (r == -EBUSY)
        return response_problem(resp, 409, "past-switchover", NULL,
                                "migration %s has passed switchover; it can only finish", id);
    if (r == -EAGAIN)
        return response_problem(resp, 409, "not-running-here", NULL,
                                "migration %s is not driven by this agent right now; retry", id);
    if (r < 0)
        return r;
    r = load(req, resp, &mig);
    if (r < 0)
        return r;
    struct json_object *body = migration_to_json(&mig);
    migration_release(&mig);
    return response_json(resp, 202, body);
}

/* ---- peer calls (destination side) ---- */

static int peer_prepare(struct request *req, struct response *resp)
{
    if (!req->agent->migrator)
        return no_migrator(resp);
    if (!req->json || !json_object_is_type(req->json, json_type_object))
        return response_problem(resp, 422, "invalid", "", "body must be a prepare request");
    struct json_object *id = NULL;
    if (!json_object_object_get_ex(req->json, "id", &id) ||
        !json_object_is_type(id, json_type_string) ||
        strcmp(json_object_get_string(id), request_param(req, "id")) != 0)
        return response_problem(resp, 422, "invalid", "/id", "'id' must match the path");
    struct json_object *answer = NULL;
    struct refusal refusal;
    int r = migrator_dest_prepare(req->agent->migrator, req->json, &answer, &refusal);
    if (r == -EPERM)
        return response_refusal(resp, &refusal);
    if (r < 0)
        return r;
    return response_json(resp, 201, answer);
}

static int peer_switchover(struct request *req, struct response *resp)
{
    if (!req->agent->migrator)
        return no_migrator(resp);
    int r = migrator_dest_switchover(req->agent->migrator, request_param(req, "id"));
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL,
                                "no incoming migration '%s' is prepared here",
                                request_param(req, "id"));
    if (r < 0)
        return r;
    return response_json(resp, 200, json_object_new_object());
}

static int peer_finish(struct request *req, struct response *resp)
{
    if (!req->agent->migrator)
        return no_migrator(resp);
    /* The source sends its measurements along; older or absent: -1. */
    struct peer_finish finish;
    char why[200];
    if (peer_finish_decode(req->json, &finish, why, sizeof(why)) < 0)
        return response_problem(resp, 422, "invalid", NULL, "%s", why);
    int r = migrator_dest_finish(req->agent->migrator, request_param(req, "id"),
                                 finish.downtime_ms, finish.switchover_gap_ms);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL,
                                "no incoming migration '%s' is prepared here",
                                request_param(req, "id"));
    if (r == -ETIMEDOUT)
        return response_problem(resp, 504, "vm-not-running", NULL,
                                "the migrated VM did not start running here");
    if (r < 0)
        return r;
    return response_json(resp, 200, json_object_new_object());
}

static int peer_abort(struct request *req, struct response *resp)
{
    if (!req->agent->migrator)
        return no_migrator(resp);
    struct peer_abort abort_;
    char why[200];
    if (peer_abort_decode(req->json, &abort_, why, sizeof(why)) < 0)
        return response_problem(resp, 422, "invalid", NULL, "%s", why);
    int r = migrator_dest_abort(req->agent->migrator, request_param(req, "id"),
                                abort_.reason[0] ? abort_.reason : NULL);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no migration '%s' here",
                                request_param(req, "id"));
    if (r < 0)
        return r;
    return response_json(resp, 200, json_object_new_object());
}

const struct route migration_routes[] = {
    { HTTP_GET, "/v1/migrations", SCOPE_READ, list_migrations },
    { HTTP_POST, "/v1/migrations", SCOPE_ADMIN, create_migration },
    { HTTP_GET, "/v1/migrations/{id}", SCOPE_READ, get_migration },
    { HTTP_POST, "/v1/migrations/{id}/cancel", SCOPE_ADMIN, cancel_migration },
    { HTTP_POST, "/v1/migrations/{id}/prepare", SCOPE_ADMIN, peer_prepare },
    { HTTP_POST, "/v1/migrations/{id}/switchover", SCOPE_ADMIN, peer_switchover },
    { HTTP_POST, "/v1/migrations/{id}/finish", SCOPE_ADMIN, peer_finish },
    { HTTP_POST, "/v1/migrations/{id}/abort", SCOPE_ADMIN, peer_abort },
    { 0, NULL, 0, NULL },
};
