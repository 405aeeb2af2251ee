/* The cluster networks as this agent knows them: see agent/clusternet.h. */
#include "agent/clusternet.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "agent/inventory.h"
#include "base/log.h"
#include "agent/registry.h"
#include "client/client.h"
#include "agent/reachability.h"
#include "db/event.h"
#include "db/member.h"
#include "db/network.h"
#include "migrate/plan/planner.h"

/* The host part of each member's URL: the addresses agents talk on, whose
 * subnets start with the role management. */
static size_t management_addresses(struct db *db, char (*out)[64], size_t max)
{
    struct member *members = NULL;
    size_t n = 0, kept = 0;
    if (member_list(db, &members, &n) < 0)
        return 0;
    for (size_t i = 0; i < n && kept < max; i++)
        if (client_url_host(members[i].url, out[kept], 64)[0])
            kept++;
    free(members);
    return kept;
}

int clusternet_record_inventory(struct agent *agent, const char *member, struct json_object *inventory)
{
    struct db *db = db_pool_get(agent->db);
    if (!db)
        return -EIO;
    int r = db_begin(db);
    if (r < 0)
        return r;
    r = network_inventory_put(db, member, inventory);
    struct json_object *all = r < 0 ? NULL : network_inventory_all(db);
    struct network_endpoint *endpoints = NULL;
    struct network_settings *known = NULL, *added = NULL;
    size_t n_endpoints = 0, n_known = 0, n_added = 0;
    if (r == 0 && !all)
        r = -EIO;
    if (r == 0)
        r = inventory_endpoints(all, &endpoints, &n_endpoints);
    if (r == 0)
        r = network_list(db, &known, &n_known);
    if (r == 0) {
        char addresses[64][64];
        const char *pointers[64];
        size_t n_mgmt = management_addresses(db, addresses, 64);
        for (size_t i = 0; i < n_mgmt; i++)
            pointers[i] = addresses[i];
        r = network_discover(endpoints, n_endpoints, known, n_known, pointers, n_mgmt, &added, &n_added);
    }
    for (size_t i = 0; r == 0 && i < n_added; i++) {
        r = network_insert(db, &added[i]);
        if (r == 0) {
            _cleanup_json_ struct json_object *detail = json_object_new_object();
            json_object_object_add(detail, "address", json_object_new_string(added[i].subnet.address));
            json_object_object_add(detail, "prefix", json_object_new_int((int)added[i].subnet.prefix));
            json_object_object_add(detail, "role",
                                   json_object_new_string(network_role_to_string(added[i].role)));
            int64_t id = event_record(db, agent->node_id, "lmnetd", "network.discovered", added[i].name, detail);
            r = id < 0 ? (int)id : 0;
            log_info("cluster network discovered name=\"%s\" subnet=%s/%u role=%s", added[i].name,
                     added[i].subnet.address, added[i].subnet.prefix, network_role_to_string(added[i].role));
        }
    }
    json_object_put(all);
    free(endpoints);
    free(known);
    free(added);
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

int clusternet_build(struct agent *agent, struct network_view *out)
{
    struct db *db = db_pool_get(agent->db);
    if (!db)
        return -EIO;
    struct network_settings *settings = NULL;
    size_t n = 0, n_endpoints = 0;
    struct network_endpoint *endpoints = NULL;
    int r = network_list(db, &settings, &n);
    struct json_object *all = r < 0 ? NULL : network_inventory_all(db);
    if (r == 0 && !all)
        r = -EIO;
    if (r == 0)
        r = inventory_endpoints(all, &endpoints, &n_endpoints);
    if (r == 0)
        r = network_view_build(settings, n, endpoints, n_endpoints, reachability_reach,
                               agent->reachability, out);
    json_object_put(all);
    free(endpoints);
    free(settings);
    return r;
}

/* A non-registry agent: the registry's view, stored as our copy; or the
 * copy. */
static int fetch(struct agent *agent, struct network_view *out, bool *from_cache)
{
    struct db *db = db_pool_get(agent->db);
    if (!db)
        return -EIO;
    if (registry_networks(agent->registry, out) == 0) {
        /* Stored only when it changed: every read of the networks here
         * would otherwise be a durable write. */
        _cleanup_json_ struct json_object *fresh = network_view_to_json(out);
        _cleanup_json_ struct json_object *kept = NULL;
        bool same = network_cache_get(db, &kept, NULL) == 0 &&
                    strcmp(json_object_to_json_string_ext(kept, JSON_C_TO_STRING_PLAIN),
                           json_object_to_json_string_ext(fresh, JSON_C_TO_STRING_PLAIN)) == 0;
        int c = same ? 0 : network_cache_put(db, fresh);
        if (c < 0)
            log_errno(LOG_LEVEL_WARNING, c, "cannot keep a copy of the cluster networks");
        *from_cache = false;
        return 0;
    }
    _cleanup_json_ struct json_object *copy = NULL;
    int r = network_cache_get(db, &copy, NULL);
    if (r < 0)
        return r;
    *from_cache = true;
    return network_view_from_json(copy, out);
}

int clusternet_view(struct agent *agent, struct network_view *out, bool *from_cache)
{
    bool cached = false;
    int r = registry_is_self(agent->registry) ? clusternet_build(agent, out)
                                              : fetch(agent, out, &cached);
    if (from_cache)
        *from_cache = cached;
    return r;
}

static enum planner_role planner_role_of(enum network_role role)
{
    switch (role) {
    case NETWORK_ROLE_MANAGEMENT: return PLANNER_ROLE_MANAGEMENT;
    case NETWORK_ROLE_MIGRATION: return PLANNER_ROLE_MIGRATION;
    case NETWORK_ROLE_STORAGE: return PLANNER_ROLE_STORAGE;
    case NETWORK_ROLE_VM: return PLANNER_ROLE_VM;
    case NETWORK_ROLE_NONE: break;
    }
    return PLANNER_ROLE_NONE;
}

static enum planner_state planner_state_of(enum network_state state)
{
    switch (state) {
    case NETWORK_STATE_UP: return PLANNER_STATE_UP;
    case NETWORK_STATE_PARTITIONED: return PLANNER_STATE_PARTITIONED;
    case NETWORK_STATE_DOWN: return PLANNER_STATE_DOWN;
    case NETWORK_STATE_UNAVAILABLE: break;
    }
    return PLANNER_STATE_UNAVAILABLE;
}

int clusternet_pair(struct agent *agent, const char *source, const char *destination,
                    struct planner_network **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct network_view view;
    int r = clusternet_view(agent, &view, NULL);
    if (r == -ENOENT)
        return 0; /* no networks known: the planner refuses with its reason */
    if (r < 0)
        return r;
    *out = calloc(view.n ? view.n : 1, sizeof(**out));
    if (!*out) {
        network_view_release(&view);
        return -ENOMEM;
    }
    for (size_t i = 0; i < view.n; i++) {
        const struct cluster_network *net = &view.networks[i];
        struct planner_network *p = &(*out)[i];
        const char *s = network_address_of(net, source), *d = network_address_of(net, destination);
        snprintf(p->id, sizeof(p->id), "%s", net->settings.id);
        snprintf(p->name, sizeof(p->name), "%s", net->settings.name);
        p->role = planner_role_of(net->settings.role);
        p->metric = net->metric;
        snprintf(p->source_address, sizeof(p->source_address), "%s", s ? s : "");
        snprintf(p->destination_address, sizeof(p->destination_address), "%s", d ? d : "");
        /* What matters for the pair is that the two reach each other. */
        size_t is = SIZE_MAX, id = SIZE_MAX, m = net->n_interfaces;
        for (size_t k = 0; k < m; k++) {
            if (strcmp(net->interfaces[k].node, source) == 0)
                is = k;
            if (strcmp(net->interfaces[k].node, destination) == 0)
                id = k;
        }
        if (is == SIZE_MAX || id == SIZE_MAX)
            p->state = PLANNER_STATE_UNAVAILABLE;
        else if (net->reach[is * m + id] && net->reach[id * m + is])
            p->state = PLANNER_STATE_UP;
        else
            p->state = planner_state_of(net->state == NETWORK_STATE_UP ? NETWORK_STATE_PARTITIONED : net->state);
    }
    *n = view.n;
    network_view_release(&view);
    return 0;
}
