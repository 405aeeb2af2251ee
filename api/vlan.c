/* /v1/vlans: the VLAN catalogue.  The registry keeps it; every other agent
 * relays reads and changes there, so the whole cluster sees one list. */
#include "api/vlan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "agent/membership.h"
#include "agent/registry.h"
#include "model/vlan.h"
#include "api/relay.h"
#include "db/event.h"
#include "db/vlan.h"
#include "api/problem.h"

static int relay_self(struct request *req, struct response *resp, const char *method)
{
    return relay_to_registry(req, resp, method, req->path, req->json);
}

/* The catalogue: this agent's database on the registry agent, or etcd,
 * where every agent writes itself (registry_is_shared). */
static bool shared(const struct request *req)
{
    return registry_is_shared(req->agent->registry);
}

static int catalogue_list(struct request *req, struct vlan **out, size_t *n)
{
    struct registry *registry = req->agent->registry;
    return shared(req) ? registry->ops->vlan_list(registry, out, n)
                       : vlan_list(db_pool_get(req->agent->db), out, n);
}

static int catalogue_get(struct request *req, unsigned id, struct vlan *out)
{
    if (!shared(req))
        return vlan_get(db_pool_get(req->agent->db), id, out);
    struct vlan *all = NULL;
    size_t n = 0;
    int r = catalogue_list(req, &all, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (size_t i = 0; i < n && r == -ENOENT; i++)
        if (all[i].id == id) {
            *out = all[i];
            r = 0;
        }
    free(all);
    return r;
}

static int catalogue_insert(struct request *req, const struct vlan *vlan)
{
    struct registry *registry = req->agent->registry;
    return shared(req) ? registry->ops->vlan_create(registry, vlan)
                       : vlan_insert(db_pool_get(req->agent->db), vlan);
}

static int catalogue_delete(struct request *req, unsigned id)
{
    struct registry *registry = req->agent->registry;
    return shared(req) ? registry->ops->vlan_delete(registry, id)
                       : vlan_delete(db_pool_get(req->agent->db), id);
}

/* A catalogue call that failed for want of the registry. */
static int catalogue_problem(struct request *req, struct response *resp, int r, const char *what)
{
    return shared(req) && r != -ENOMEM ? registry_problem(req, resp, r, what) : r;
}

static int parse_id(struct request *req, struct response *resp, unsigned *id)
{
    const char *s = request_param(req, "id");
    char *end = NULL;
    *id = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || !vlan_id_valid(v))
        return response_problem(resp, 404, "not-found", NULL, "'%s' is not a VLAN id (1-4094)", s);
    *id = (unsigned)v;
    return 0;
}

static int list_vlans(struct request *req, struct response *resp)
{
    if (!agent_is_registry(req->agent) && !shared(req))
        return relay_self(req, resp, "GET");
    struct vlan *vlans = NULL;
    size_t n = 0;
    int r = catalogue_list(req, &vlans, &n);
    if (r < 0)
        return catalogue_problem(req, resp, r, "list the VLANs");
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, vlan_to_json(&vlans[i]));
    free(vlans);
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    return response_json(resp, 200, body);
}

int vlan_request_parse(struct json_object *body, struct vlan *vlan, struct response *resp)
{
    struct json_object *v = NULL;
    if (!body || !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body is {\"id\": 1-4094, \"name\": NAME, \"description\"?: TEXT}");
    memset(vlan, 0, sizeof(*vlan));
    if (!json_object_object_get_ex(body, "id", &v) || !json_object_is_type(v, json_type_int) ||
        !vlan_id_valid(json_object_get_int64(v)))
        return response_problem(resp, 422, "invalid", "/id", "'id' is a VLAN id from 1 to 4094");
    vlan->id = (unsigned)json_object_get_int(v);
    if (!json_object_object_get_ex(body, "name", &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0 || json_object_get_string_len(v) >= (int)sizeof(vlan->name))
        return response_problem(resp, 422, "invalid", "/name", "'name' is 1 to 63 characters");
    snprintf(vlan->name, sizeof(vlan->name), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(body, "description", &v) && v) {
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) >= (int)sizeof(vlan->description))
            return response_problem(resp, 422, "invalid", "/description",
                                    "'description' is at most 255 characters");
        snprintf(vlan->description, sizeof(vlan->description), "%s", json_object_get_string(v));
    }
    return 0;
}

int vlan_patch_parse(struct json_object *body, struct vlan *vlan, struct response *resp)
{
    if (!body || !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body is {\"name\"?: NAME, \"description\"?: TEXT}");
    json_object_object_foreach(body, key, v)
    {
        if (strcmp(key, "name") == 0) {
            if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
                json_object_get_string_len(v) >= (int)sizeof(vlan->name))
                return response_problem(resp, 422, "invalid", "/name",
                                        "'name' is 1 to 63 characters");
            snprintf(vlan->name, sizeof(vlan->name), "%s", json_object_get_string(v));
        } else if (strcmp(key, "description") == 0) {
            if (!json_object_is_type(v, json_type_string) ||
                json_object_get_string_len(v) >= (int)sizeof(vlan->description))
                return response_problem(resp, 422, "invalid", "/description",
                                        "'description' is at most 255 characters");
            snprintf(vlan->description, sizeof(vlan->description), "%s", json_object_get_string(v));
        } else {
            char pointer[80];
            pointer[0] = '\0';
            problem_pointer_append(pointer, sizeof(pointer), key);
            return response_problem(resp, 422, "invalid", pointer,
                                    "'%s' cannot be changed; name and description can", key);
        }
    }
    return 0;
}

static int create_vlan(struct request *req, struct response *resp)
{
    if (!agent_is_registry(req->agent) && !shared(req))
        return relay_self(req, resp, "POST");
    struct vlan vlan;
    int r = vlan_request_parse(req->json, &vlan, resp);
    if (r < 0)
        return r;
    struct db *db = db_pool_get(req->agent->db);
    r = catalogue_insert(req, &vlan);
    if (r == -EEXIST) {
        struct vlan existing;
        bool id_taken = catalogue_get(req, vlan.id, &existing) == 0;
        if (id_taken)
            return response_problem(resp, 409, "conflict", "/id", "VLAN %u exists (named '%s')",
                                    vlan.id, existing.name);
        return response_problem(resp, 409, "conflict", "/name", "a VLAN named '%s' exists",
                                vlan.name);
    }
    if (r < 0)
        return catalogue_problem(req, resp, r, "add the VLAN");
    struct json_object *out = vlan_to_json(&vlan);
    char subject[16], location[32];
    snprintf(subject, sizeof(subject), "%u", vlan.id);
    event_record(db, req->agent->node_id, req->token_name, "vlan.create", subject, out);
    snprintf(location, sizeof(location), "/v1/vlans/%u", vlan.id);
    response_header(resp, "Location", location);
    return response_json(resp, 201, out);
}

static int get_vlan(struct request *req, struct response *resp)
{
    if (!agent_is_registry(req->agent) && !shared(req))
        return relay_self(req, resp, "GET");
    unsigned id;
    int r = parse_id(req, resp, &id);
    if (r < 0)
        return r;
    struct vlan vlan;
    r = catalogue_get(req, id, &vlan);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "VLAN %u is not in the catalogue", id);
    if (r < 0)
        return catalogue_problem(req, resp, r, "read the VLAN");
    return response_json(resp, 200, vlan_to_json(&vlan));
}

/* PATCH /v1/vlans/{id} {"name"?, "description"?}: the id stays (ports and
 * switches refer to it). */
static int patch_vlan(struct request *req, struct response *resp)
{
    if (!agent_is_registry(req->agent))
        return relay_self(req, resp, "PATCH");
    unsigned id;
    int r = parse_id(req, resp, &id);
    if (r < 0)
        return r;
    struct json_object *body = req->json;
    if (!body || !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body is {\"name\"?: NAME, \"description\"?: TEXT}");
    struct db *db = db_pool_get(req->agent->db);
    struct vlan vlan;
    r = vlan_get(db, id, &vlan);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "VLAN %u is not in the catalogue",
                                id);
    if (r < 0)
        return r;
    r = vlan_patch_parse(body, &vlan, resp);
    if (r < 0)
        return r;
    r = vlan_update(db, &vlan);
    if (r == -EEXIST)
        return response_problem(resp, 409, "conflict", "/name", "a VLAN named '%s' exists",
                                vlan.name);
    if (r < 0)
        return r;
    struct json_object *out = vlan_to_json(&vlan);
    char subject[16];
    snprintf(subject, sizeof(subject), "%u", vlan.id);
    event_record(db, req->agent->node_id, req->token_name, "vlan.change", subject, out);
    return response_json(resp, 200, out);
}

static int delete_vlan(struct request *req, struct response *resp)
{
    if (!agent_is_registry(req->agent) && !shared(req))
        return relay_self(req, resp, "DELETE");
    unsigned id;
    int r = parse_id(req, resp, &id);
    if (r < 0)
        return r;
    struct db *db = db_pool_get(req->agent->db);
    struct vlan vlan;
    r = catalogue_get(req, id, &vlan);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "VLAN %u is not in the catalogue", id);
    if (r < 0)
        return catalogue_problem(req, resp, r, "read the VLAN");
    char etag[40];
    struct json_object *view = vlan_to_json(&vlan);
    etag_of_json(view, etag, sizeof(etag));
    r = request_check_if_match(req, resp, etag);
    if (r < 0) {
        json_object_put(view);
        return r;
    }
    r = catalogue_delete(req, id);
    if (r == 0) {
        char subject[16];
        snprintf(subject, sizeof(subject), "%u", id);
        event_record(db, req->agent->node_id, req->token_name, "vlan.delete", subject, view);
    }
    json_object_put(view);
    if (r < 0)
        return catalogue_problem(req, resp, r, "delete the VLAN");
    resp->status = 204;
    return 0;
}

const struct route vlan_routes[] = {
    {HTTP_GET, "/v1/vlans", SCOPE_READ, list_vlans},
    {HTTP_POST, "/v1/vlans", SCOPE_ADMIN, create_vlan},
    {HTTP_GET, "/v1/vlans/{id}", SCOPE_READ, get_vlan},
    {HTTP_PATCH, "/v1/vlans/{id}", SCOPE_ADMIN, patch_vlan},
    {HTTP_DELETE, "/v1/vlans/{id}", SCOPE_ADMIN, delete_vlan},
    {0, NULL, 0, NULL},
};
