/* /v1/ports: VM ports on this host's switches (agent/switchport.h).  A
 * PATCH takes any subset of the fields POST takes, except name, switch and
 * MAC, which a port keeps for life. */
#include "api/port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "agent/switchport.h"
#include "api/problem.h"

static int no_switch(struct response *resp)
{
    return response_problem(resp, 503, "no-virtual-switch", NULL,
                            "this agent has no virtual switch: set 'ovsdb' in lmnetd.conf to "
                            "Open vSwitch's socket (unix:/run/openvswitch/db.sock)");
}

static int list_ports(struct request *req, struct response *resp)
{
    struct port_record *list = NULL;
    size_t n = 0;
    int r = port_list(db_pool_get(req->agent->db), request_query(req, "switch"), &list, &n);
    if (r < 0)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, port_to_json(&list[i]));
    free(list);
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    return response_json(resp, 200, body);
}

static int create_port(struct request *req, struct response *resp)
{
    if (!req->agent->switchport)
        return no_switch(resp);
    struct port_record *p = malloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    char pointer[64], detail[256];
    int r = port_from_json(req->json, false, p, pointer, sizeof(pointer), detail, sizeof(detail));
    if (r < 0) {
        free(p);
        return response_problem(resp, 422, "invalid", pointer, "%s", detail);
    }
    /* Where the MAC came from is the agent's record, not the caller's say:
     * a MAC given here was allocated from no pool, so deleting the port
     * must not hand it back to one (another adapter may hold it). */
    if (json_object_object_get_ex(req->json, "mac_source", NULL)) {
        free(p);
        return response_problem(resp, 422, "read-only", "/mac_source",
                                "'mac_source' is set by the agent: give 'mac', or 'mac_pool' to "
                                "take one from a pool");
    }
    struct refusal err;
    r = switchport_port_add(req->agent->switchport, p, req->token_name, &err);
    if (r < 0) {
        free(p);
        return response_refusal(resp, &err);
    }
    char location[64];
    snprintf(location, sizeof(location), "/v1/ports/%s", p->name);
    response_header(resp, "Location", location);
    r = response_json(resp, 201, port_to_json(p));
    free(p);
    return r;
}

static int load(struct request *req, struct response *resp, struct port_record *p)
{
    int r = port_get(db_pool_get(req->agent->db), request_param(req, "name"), p);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no port '%s'",
                                request_param(req, "name"));
    return r;
}

static int get_port(struct request *req, struct response *resp)
{
    struct port_record *p = malloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    int r = load(req, resp, p);
    if (r == 0)
        r = response_json(resp, 200, port_to_json(p));
    free(p);
    return r;
}

int port_patch_parse(struct json_object *current, struct json_object *patch,
                     struct port_record *changed, struct response *resp)
{
    if (!patch || !json_object_is_type(patch, json_type_object))
        return response_problem(resp, 422, "invalid", "", "body is a JSON object of the fields to change");
    json_object_object_foreach(patch, key, val) {
        if (strcmp(key, "name") == 0 || strcmp(key, "switch") == 0 || strcmp(key, "mac") == 0 ||
            strcmp(key, "mac_pool") == 0 || strcmp(key, "mac_source") == 0) {
            char pointer[40];
            pointer[0] = '\0';
            problem_pointer_append(pointer, sizeof(pointer), key);
            return response_problem(resp, 422, "read-only", pointer,
                                    "'%s' is kept for the port's life; delete and re-create "
                                    "the port to change it",
                                    key);
        }
        json_object_object_add(current, key, json_object_get(val));
    }
    char pointer[64], detail[256];
    if (port_from_json(current, true, changed, pointer, sizeof(pointer), detail, sizeof(detail)) < 0)
        return response_problem(resp, 422, "invalid", pointer, "%s", detail);
    return 0;
}

static int patch_port(struct request *req, struct response *resp)
{
    if (!req->agent->switchport)
        return no_switch(resp);
    if (!req->json || !json_object_is_type(req->json, json_type_object))
        return response_problem(resp, 422, "invalid", "", "body is a JSON object of the fields to change");
    struct port_record *p = malloc(sizeof(*p)), *changed = malloc(sizeof(*changed));
    int r = p && changed ? load(req, resp, p) : -ENOMEM;
    if (r == 0) {
        _cleanup_json_ struct json_object *current = port_to_json(p);
        char etag[40];
        etag_of_json(current, etag, sizeof(etag));
        r = request_check_if_match(req, resp, etag);
        if (r == 0)
            r = port_patch_parse(current, req->json, changed, resp);
        if (r == 0) {
            struct refusal err;
            r = switchport_port_change(req->agent->switchport, changed, req->token_name, &err);
            if (r < 0)
                r = response_refusal(resp, &err);
            else if (load(req, resp, p) == 0)
                r = response_json(resp, 200, port_to_json(p));
        }
    }
    free(p);
    free(changed);
    return r;
}

static int delete_port(struct request *req, struct response *resp)
{
    if (!req->agent->switchport)
        return no_switch(resp);
    struct refusal err;
    int r = switchport_port_remove(req->agent->switchport, request_param(req, "name"), true,
                                   req->token_name, &err);
    if (r < 0)
        return response_refusal(resp, &err);
    resp->status = 204;
    return 0;
}

const struct route port_routes[] = {
    { HTTP_GET, "/v1/ports", SCOPE_READ, list_ports },
    { HTTP_POST, "/v1/ports", SCOPE_ADMIN, create_port },
    { HTTP_GET, "/v1/ports/{name}", SCOPE_READ, get_port },
    { HTTP_PATCH, "/v1/ports/{name}", SCOPE_ADMIN, patch_port },
    { HTTP_DELETE, "/v1/ports/{name}", SCOPE_ADMIN, delete_port },
    { 0, NULL, 0, NULL },
};
