/* /v1/switches: this host's virtual switches (agent/switchport.h). */
#include "api/switch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "agent/switchport.h"
#include "model/vlan.h"

static int no_switch(struct response *resp)
{
    return response_problem(resp, 503, "no-virtual-switch", NULL,
                            "this agent has no virtual switch: set 'ovsdb' in lmnetd.conf to "
                            "Open vSwitch's socket (unix:/run/openvswitch/db.sock)");
}

static int list_switches(struct request *req, struct response *resp)
{
    struct vswitch_record *list = NULL;
    size_t n = 0;
    int r = switch_list(db_pool_get(req->agent->db), &list, &n);
    if (r < 0)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, switch_to_json(&list[i]));
    free(list);
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    return response_json(resp, 200, body);
}

int switch_request_parse(struct json_object *body, struct vswitch_record *s, struct response *resp)
{
    struct json_object *v = NULL;
    if (!body || !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body is {\"name\", \"type\": \"external\"|\"internal\"|\"private\", "
                                "\"uplink\"?, \"vlans\"?, \"management_vlan\"?}");
    memset(s, 0, sizeof(*s));
    int r = 0;
    if (!json_object_object_get_ex(body, "name", &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) >= (int)sizeof(s->name))
        r = response_problem(resp, 422, "invalid", "/name", "'name' is 1-15 of a-z, 0-9, '-'");
    else
        snprintf(s->name, sizeof(s->name), "%s", json_object_get_string(v));
    if (r == 0 && (!json_object_object_get_ex(body, "type", &v) ||
                   switch_type_from_string(json_object_get_string(v), &s->type) < 0))
        r = response_problem(resp, 422, "invalid", "/type", "'type' is external, internal or private");
    if (r == 0 && json_object_object_get_ex(body, "uplink", &v) && v) {
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) >= (int)sizeof(s->uplink))
            r = response_problem(resp, 422, "invalid", "/uplink", "'uplink' names a NIC");
        else
            snprintf(s->uplink, sizeof(s->uplink), "%s", json_object_get_string(v));
    }
    if (r == 0 && json_object_object_get_ex(body, "vlans", &v) && v) {
        if (!json_object_is_type(v, json_type_array) ||
            json_object_array_length(v) > SWITCH_MAX_VLANS)
            r = response_problem(resp, 422, "invalid", "/vlans",
                                 "'vlans' lists the VLAN ids the uplink trunks ([] for all; "
                                 "at most 4094)");
        for (size_t i = 0; r == 0 && i < json_object_array_length(v); i++) {
            struct json_object *id = json_object_array_get_idx(v, i);
            if (!json_object_is_type(id, json_type_int) || !vlan_id_valid(json_object_get_int64(id))) {
                char pointer[32];
                snprintf(pointer, sizeof(pointer), "/vlans/%zu", i);
                r = response_problem(resp, 422, "invalid", pointer, "VLAN ids are 1 to 4094");
            } else {
                s->uplink_vlans[s->n_uplink_vlans++] = (uint16_t)json_object_get_int(id);
            }
        }
    }
    if (r == 0 && json_object_object_get_ex(body, "management_vlan", &v) && v) {
        if (!json_object_is_type(v, json_type_int) || !vlan_id_valid(json_object_get_int64(v)) ||
            s->type != SWITCH_INTERNAL)
            r = response_problem(resp, 422, "invalid", "/management_vlan",
                                 "'management_vlan' (1-4094) is for an internal switch");
        else
            s->management_vlan = (uint16_t)json_object_get_int(v);
    }
    return r;
}

static int create_switch(struct request *req, struct response *resp)
{
    if (!req->agent->switchport)
        return no_switch(resp);
    struct vswitch_record *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int r = switch_request_parse(req->json, s, resp);
    if (r == 0) {
        struct refusal err;
        r = switchport_switch_add(req->agent->switchport, s, req->token_name, &err);
        if (r < 0) {
            r = response_refusal(resp, &err);
        } else {
            char location[64];
            snprintf(location, sizeof(location), "/v1/switches/%s", s->name);
            response_header(resp, "Location", location);
            r = response_json(resp, 201, switch_to_json(s));
        }
    }
    free(s);
    return r;
}

static int get_switch(struct request *req, struct response *resp)
{
    struct vswitch_record *s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    int r = switch_get(db_pool_get(req->agent->db), request_param(req, "name"), s);
    if (r == -ENOENT)
        r = response_problem(resp, 404, "not-found", NULL, "no switch '%s'", request_param(req, "name"));
    else if (r == 0)
        r = response_json(resp, 200, switch_to_json(s));
    free(s);
    return r;
}

static int delete_switch(struct request *req, struct response *resp)
{
    if (!req->agent->switchport)
        return no_switch(resp);
    struct refusal err;
    int r = switchport_switch_remove(req->agent->switchport, request_param(req, "name"),
                                     req->token_name, &err);
    if (r < 0)
        return response_refusal(resp, &err);
    resp->status = 204;
    return 0;
}

/* POST /v1/switches/scrub?dry_run=true: what lmnet made on this host's
 * switch, listed, and (without dry_run) removed. */
static int scrub(struct request *req, struct response *resp)
{
    if (!req->agent->switchport)
        return no_switch(resp);
    const char *dry = request_query(req, "dry_run");
    struct json_object *plan = NULL;
    int r = switchport_scrub(req->agent->switchport, dry && strcmp(dry, "false") != 0,
                             req->token_name, &plan);
    if (r < 0)
        return r;
    return response_json(resp, 200, plan);
}

const struct route switch_routes[] = {
    { HTTP_POST, "/v1/switches/scrub", SCOPE_ADMIN, scrub },
    { HTTP_GET, "/v1/switches", SCOPE_READ, list_switches },
    { HTTP_POST, "/v1/switches", SCOPE_ADMIN, create_switch },
    { HTTP_GET, "/v1/switches/{name}", SCOPE_READ, get_switch },
    { HTTP_DELETE, "/v1/switches/{name}", SCOPE_ADMIN, delete_switch },
    { 0, NULL, 0, NULL },
};
