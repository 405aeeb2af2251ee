/* /v1/host/nics: the host inventory (model/nic.h).  PATCH changes offloads
 * and answers with what the kernel then reports: a driver may refuse or
 * tie one offload to another, and the answer lists what did not take. */
#include "api/nic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "model/nic.h"
#include "db/event.h"
#include "api/problem.h"

static int list_nics(struct request *req, struct response *resp)
{
    (void)req;
    struct nic *nics = NULL;
    size_t n = 0;
    int r = nic_list(&nics, &n);
    if (r < 0)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, nic_to_json(&nics[i]));
    free(nics);
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    return response_json(resp, 200, body);
}

static int get_nic(struct request *req, struct response *resp)
{
    struct nic nic;
    int r = nic_get(request_param(req, "name"), &nic);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no NIC '%s' on this host",
                                request_param(req, "name"));
    if (r < 0)
        return r;
    return response_json(resp, 200, nic_to_json(&nic));
}

int nic_patch_parse(struct json_object *body, struct json_object **offloads, struct response *resp)
{
    *offloads = NULL;
    if (!body || !json_object_object_get_ex(body, "offloads", offloads) ||
        !json_object_is_type(*offloads, json_type_object))
        return response_problem(resp, 422, "invalid", "/offloads",
                                "body is {\"offloads\": {\"rx_checksum\"|\"tx_checksum\"|\"tso\"|"
                                "\"gso\"|\"gro\": true|false}}");
    json_object_object_foreach(*offloads, key, val) {
        enum nic_offload o;
        char pointer[48];
        snprintf(pointer, sizeof(pointer), "/offloads");
        problem_pointer_append(pointer, sizeof(pointer), key);
        if (nic_offload_from_string(key, &o) < 0)
            return response_problem(resp, 422, "invalid", pointer,
                                    "unknown offload '%s' (rx_checksum, tx_checksum, tso, gso, gro)",
                                    key);
        if (!json_object_is_type(val, json_type_boolean))
            return response_problem(resp, 422, "invalid", pointer, "'%s' is true or false", key);
    }
    return 0;
}

static int patch_nic(struct request *req, struct response *resp)
{
    const char *name = request_param(req, "name");
    struct json_object *offloads = NULL;
    int r = nic_patch_parse(req->json, &offloads, resp);
    if (r < 0)
        return r;
    struct nic nic;
    r = nic_get(name, &nic);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no NIC '%s' on this host", name);
    if (r < 0)
        return r;
    struct json_object *refused = json_object_new_array();
    json_object_object_foreach(offloads, key2, val2) {
        enum nic_offload o;
        nic_offload_from_string(key2, &o);
        r = nic_set_offload(name, o, json_object_get_boolean(val2));
        if (r < 0 && r != -EOPNOTSUPP) {
            json_object_put(refused);
            return r;
        }
    }
    r = nic_get(name, &nic);
    if (r < 0) {
        json_object_put(refused);
        return r;
    }
    json_object_object_foreach(offloads, key3, val3) {
        enum nic_offload o;
        nic_offload_from_string(key3, &o);
        if (nic.offloads[o] != (json_object_get_boolean(val3) ? 1 : 0))
            json_object_array_add(refused, json_object_new_string(key3));
    }
    struct json_object *body = nic_to_json(&nic);
    json_object_object_add(body, "not_applied", refused);
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "requested", json_object_get(offloads));
    json_object_object_add(detail, "not_applied", json_object_get(refused));
    event_record(db_pool_get(req->agent->db), req->agent->node_id, req->token_name, "nic.offload",
                 name, detail);
    return response_json(resp, 200, body);
}

const struct route nic_routes[] = {
    { HTTP_GET, "/v1/host/nics", SCOPE_READ, list_nics },
    { HTTP_GET, "/v1/host/nics/{name}", SCOPE_READ, get_nic },
    { HTTP_PATCH, "/v1/host/nics/{name}", SCOPE_ADMIN, patch_nic },
    { 0, NULL, 0, NULL },
};
