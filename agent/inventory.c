/* The host inventory as members share it: see agent/inventory.h. */
#include "agent/inventory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "base/log.h"
#include "model/nic.h"
#include "db/db.h"
#include "db/switch.h"

/* The external switch NIC carries, as uplink or as its bridge's own port. */
static const char *switch_of(const struct vswitch_record *switches, size_t n, const char *nic)
{
    for (size_t i = 0; i < n; i++)
        if (switches[i].type == SWITCH_EXTERNAL &&
            (strcmp(switches[i].uplink, nic) == 0 || strcmp(switches[i].name, nic) == 0))
            return switches[i].name;
    return NULL;
}

struct json_object *inventory_collect(struct agent *agent)
{
    struct nic *nics = NULL;
    size_t n = 0;
    int r = nic_list(&nics, &n);
    if (r < 0) {
        log_errno(LOG_LEVEL_WARNING, r, "cannot read the host's NICs for the inventory");
        return NULL;
    }
    struct vswitch_record *switches = NULL;
    size_t n_switches = 0;
    struct db *db = agent->vswitch ? db_pool_get(agent->db) : NULL;
    if (db && switch_list(db, &switches, &n_switches) < 0)
        n_switches = 0;
    struct json_object *list = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        /* Loopback is no network, and the taps lmnet makes for VM ports
         * are the VMs' (thousands of them say nothing about the host). */
        if (nics[i].loopback || strcmp(nics[i].driver, "tun") == 0)
            continue;
        struct json_object *o = nic_to_json(&nics[i]);
        const char *sw = switch_of(switches, n_switches, nics[i].name);
        json_object_object_add(o, "switch", sw ? json_object_new_string(sw) : NULL);
        json_object_array_add(list, o);
    }
    free(switches);
    free(nics);
    struct json_object *inv = json_object_new_object();
    json_object_object_add(inv, "node", json_object_new_string(agent->node_id));
    json_object_object_add(inv, "name", json_object_new_string(agent->hostname));
    json_object_object_add(inv, "nics", list);
    return inv;
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

int inventory_endpoints(struct json_object *all, struct network_endpoint **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    json_object_object_foreach(all, member, entry) {
        struct json_object *inv = NULL, *nics = NULL;
        if (!json_object_object_get_ex(entry, "inventory", &inv) ||
            !json_object_object_get_ex(inv, "nics", &nics) || !json_object_is_type(nics, json_type_array))
            continue;
        for (size_t i = 0; i < json_object_array_length(nics); i++) {
            struct json_object *nic = json_object_array_get_idx(nics, i), *addresses = NULL;
            if (!json_object_object_get_ex(nic, "addresses", &addresses) ||
                !json_object_is_type(addresses, json_type_array))
                continue;
            for (size_t k = 0; k < json_object_array_length(addresses); k++) {
                struct json_object *a = json_object_array_get_idx(addresses, k), *prefix = NULL;
                /* A prefix that is no bit count (a member's own word: -3, 200)
                 * is an unreadable entry, not 4294967293 bits. */
                if (!json_object_object_get_ex(a, "prefix", &prefix) ||
                    !json_object_is_type(prefix, json_type_int) || json_object_get_int64(prefix) < 0 ||
                    json_object_get_int64(prefix) > 128 || strlen(str_of(a, "address")) == 0)
                    continue;
                if (db_grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
                    free(*out);
                    *out = NULL;
                    *n = 0;
                    return -ENOMEM;
                }
                struct network_endpoint *e = &(*out)[(*n)++];
                memset(e, 0, sizeof(*e));
                snprintf(e->node, sizeof(e->node), "%s", member);
                snprintf(e->node_name, sizeof(e->node_name), "%s", str_of(inv, "name"));
                snprintf(e->address, sizeof(e->address), "%s", str_of(a, "address"));
                e->prefix = (unsigned)json_object_get_int(prefix);
                snprintf(e->nic, sizeof(e->nic), "%s", str_of(nic, "name"));
                network_endpoint_link_from_json(nic, e);
            }
        }
    }
    return 0;
}
