/* libFuzzer target: what members report to the registry, read the way the
 * registry reads it.  The first byte picks the reader; the rest is JSON:
 *   0  one member's inventory (PUT /v1/cluster/members/{id}/inventory),
 *      stored beside a well-formed one;
 *   1  the whole table of stored inventories, as network_inventory_all()
 *      or the etcd registry gives it;
 *   2  a heartbeat report (PUT .../reachability, {"heard": ...}'s value).
 * Inventories become endpoints (agent/inventory.c), the networks they
 * reveal (network_discover()) and the view every member caches
 * (network_view_build(), network_view_to_json()); reports go into the
 * reachability table and are asked about. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "agent/inventory.h"
#include "agent/reachability.h"
#include "model/network.h"

#define NODE "6f1c8a52-3b7e-4d2a-9c1f-0123456789ab"
#define OTHER "0b8e2c4d-1a2b-4c3d-8e9f-fedcba987654"

static const char other_inventory[] =
    "{\"node\": \"" OTHER "\", \"name\": \"h2\", \"nics\": [{\"name\": \"eth0\", \"mac\": "
    "\"02:00:00:00:00:02\", \"mtu\": 1500, \"state\": \"up\", \"speed_mbps\": 10000, "
    "\"default_gateway\": true, \"switch\": null, \"addresses\": [{\"address\": \"10.0.0.6\", "
    "\"prefix\": 24}]}]}";

static bool terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

static void read_inventories(struct json_object *all)
{
    struct network_endpoint *endpoints = NULL;
    size_t n = 0;
    if (inventory_endpoints(all, &endpoints, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct network_endpoint *e = &endpoints[i];
        if (!terminated(e->node, sizeof(e->node)) || !terminated(e->nic, sizeof(e->nic)) ||
            !terminated(e->address, sizeof(e->address)) ||
            !terminated(e->node_name, sizeof(e->node_name)) ||
            !terminated(e->vswitch, sizeof(e->vswitch)) || e->prefix > 128)
            abort();
        for (unsigned k = 0; k < NIC_OFFLOAD_COUNT; k++)
            if (e->offloads[k] < -1 || e->offloads[k] > 1)
                abort();
    }
    const char *management[] = {"10.0.0.5"};
    struct network_settings *added = NULL;
    size_t n_added = 0;
    if (network_discover(endpoints, n, NULL, 0, management, 1, &added, &n_added) == 0) {
        for (size_t i = 0; i < n_added; i++) {
            if (!added[i].name[0] || added[i].number < 1)
                abort();
            for (size_t k = 0; k < i; k++)
                if (added[k].number == added[i].number || strcmp(added[k].id, added[i].id) == 0)
                    abort();
        }
        struct network_view view = {0};
        if (network_view_build(added, n_added, endpoints, n, NULL, NULL, &view) == 0) {
            network_auto_metrics(&view);
            json_object_put(network_view_to_json(&view));
            network_view_release(&view);
        }
        free(added);
    }
    free(endpoints);
}

static void read_report(struct json_object *heard)
{
    static struct reachability *table;
    if (!table && !(table = reachability_create()))
        abort();
    if (reachability_report(table, NODE, heard, 1000) == 0 &&
        json_object_is_type(heard, json_type_object)) {
        json_object_object_foreach(heard, network, nodes) {
            (void)nodes;
            reachability_heard(table, network, OTHER, NODE, 1000);
            reachability_heard(table, network, NODE, NODE, 1000);
        }
    }
    /* A report that old counts as hearing nothing. */
    if (reachability_heard(table, "x", OTHER, NODE, 1000 + REACHABILITY_FRESH_MS + 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct json_tokener *tok = json_tokener_new();
    struct json_object *body = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
    json_tokener_free(tok);
    if (!body)
        return 0;
    switch (data[0] % 3) {
    case 0: {
        struct json_object *all = json_object_new_object(), *mine = json_object_new_object(),
                           *theirs = json_object_new_object();
        json_object_object_add(mine, "reported", json_object_new_int64(1));
        json_object_object_add(mine, "inventory", json_object_get(body));
        json_object_object_add(theirs, "reported", json_object_new_int64(1));
        json_object_object_add(theirs, "inventory", json_tokener_parse(other_inventory));
        json_object_object_add(all, NODE, mine);
        json_object_object_add(all, OTHER, theirs);
        read_inventories(all);
        json_object_put(all);
        break;
    }
    case 1:
        /* Both registries build the table as an object (whatever each
         * entry holds). */
        if (json_object_is_type(body, json_type_object))
            read_inventories(body);
        break;
    case 2:
        read_report(body);
        break;
    }
    json_object_put(body);
    return 0;
}
