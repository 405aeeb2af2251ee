/* Cluster networks: see model/network.h.
 *
 * Everything here is a function of its arguments; the database, the
 * inventories and the heartbeat table are read by agent/clusternet.c. */
#include "model/network.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <uuid/uuid.h>

static const char *const role_names[] = { "none", "management", "migration", "storage", "vm" };
static const char *const state_names[] = { "up", "partitioned", "down", "unavailable" };
/* An interface's own state reads differently from its network's. */
static const char *const interface_state_names[] = { "up", "partitioned", "unreachable",
                                                     "unavailable" };

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *network_role_to_string(enum network_role role)
{
    return (unsigned)role < N_OF(role_names) ? role_names[role] : "unknown";
}

int network_role_from_string(const char *text, enum network_role *role)
{
    for (unsigned i = 0; text && i < N_OF(role_names); i++)
        if (strcmp(text, role_names[i]) == 0) {
            *role = (enum network_role)i;
            return 0;
        }
    return -EINVAL;
}

const char *network_state_to_string(enum network_state state)
{
    return (unsigned)state < N_OF(state_names) ? state_names[state] : "unknown";
}

int network_state_from_string(const char *text, enum network_state *state)
{
    for (unsigned i = 0; text && i < N_OF(state_names); i++)
        if (strcmp(text, state_names[i]) == 0 || strcmp(text, interface_state_names[i]) == 0) {
            *state = (enum network_state)i;
            return 0;
        }
    return -EINVAL;
}

void network_default_name(unsigned number, char *buf, size_t size)
{
    snprintf(buf, size, "Cluster Network %u", number);
}

/* ---- discovery ---- */

static bool number_used(unsigned number, const struct network_settings *known, size_t n_known,
                        const struct network_settings *added, size_t n_added)
{
    char name[64];
    network_default_name(number, name, sizeof(name));
    for (size_t i = 0; i < n_known; i++)
        if (known[i].number == number || strcasecmp(known[i].name, name) == 0)
            return true;
    for (size_t i = 0; i < n_added; i++)
        if (added[i].number == number)
            return true;
    return false;
}

int network_discover(const struct network_endpoint *endpoints, size_t n_endpoints,
                     const struct network_settings *known, size_t n_known,
                     const char *const *management_addresses, size_t n_management,
                     struct network_settings **added, size_t *n_added)
{
    *added = NULL;
    *n_added = 0;
    struct network_settings *out = NULL;
    size_t n = 0;
    for (size_t e = 0; e < n_endpoints; e++) {
        struct subnet s;
        if (subnet_of(endpoints[e].address, endpoints[e].prefix, &s) < 0 || subnet_is_host_only(&s))
            continue;
        bool seen = false;
        for (size_t i = 0; i < n_known && !seen; i++)
            seen = subnet_equal(&known[i].subnet, &s);
        for (size_t i = 0; i < n && !seen; i++)
            seen = subnet_equal(&out[i].subnet, &s);
        if (seen)
            continue;
        struct network_settings *grown = realloc(out, (n + 1) * sizeof(*out));
        if (!grown) {
            free(out);
            return -ENOMEM;
        }
        out = grown;
        struct network_settings *ns = &out[n];
        memset(ns, 0, sizeof(*ns));
        uuid_t u;
        uuid_generate(u);
        uuid_unparse_lower(u, ns->id);
        unsigned number = 1;
        while (number_used(number, known, n_known, out, n))
            number++;
        ns->number = number;
        network_default_name(number, ns->name, sizeof(ns->name));
        ns->subnet = s;
        ns->auto_metric = true;
        ns->role = NETWORK_ROLE_NONE;
        for (size_t m = 0; m < n_management; m++)
            if (management_addresses[m] && subnet_contains(&s, management_addresses[m]))
                ns->role = NETWORK_ROLE_MANAGEMENT;
        n++;
    }
    *added = out;
    *n_added = n;
    return 0;
}

/* ---- state ---- */

enum network_state network_state_of(size_t n, const bool *reach)
{
    if (n < 2)
        return NETWORK_STATE_UNAVAILABLE;
    size_t ok = 0, pairs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (i != j) {
                pairs++;
                ok += reach[i * n + j] ? 1 : 0;
            }
    return ok == pairs ? NETWORK_STATE_UP : ok == 0 ? NETWORK_STATE_DOWN : NETWORK_STATE_PARTITIONED;
}

static enum network_state interface_state(size_t n, const bool *reach, size_t i)
{
    if (n < 2)
        return NETWORK_STATE_UNAVAILABLE;
    size_t ok = 0;
    for (size_t j = 0; j < n; j++)
        if (j != i)
            ok += (reach[i * n + j] ? 1 : 0) + (reach[j * n + i] ? 1 : 0);
    return ok == 2 * (n - 1) ? NETWORK_STATE_UP : ok == 0 ? NETWORK_STATE_DOWN : NETWORK_STATE_PARTITIONED;
}

/* ---- metric ---- */

static int metric_order(const void *a, const void *b)
{
    const struct cluster_network *x = *(const struct cluster_network *const *)a;
    const struct cluster_network *y = *(const struct cluster_network *const *)b;
    if (x->has_gateway != y->has_gateway)
        return x->has_gateway ? 1 : -1;
    if (x->speed_mbps != y->speed_mbps)
        return x->speed_mbps > y->speed_mbps ? -1 : 1; /* faster first; unknown (-1) last */
    return x->settings.number < y->settings.number ? -1 : x->settings.number > y->settings.number;
}

void network_auto_metrics(struct network_view *view)
{
    struct cluster_network **order = calloc(view->n ? view->n : 1, sizeof(*order));
    size_t n = 0;
    for (size_t i = 0; i < view->n; i++) {
        struct cluster_network *net = &view->networks[i];
        net->metric = net->settings.metric;
        if (net->settings.auto_metric && order)
            order[n++] = net;
    }
    if (!order)
        return;
    qsort(order, n, sizeof(*order), metric_order);
    int without = 1000, with = 10000;
    for (size_t i = 0; i < n; i++) {
        int *next = order[i]->has_gateway ? &with : &without;
        order[i]->metric = *next;
        *next += 100;
    }
    free(order);
}

/* ---- the view ---- */

static void network_release(struct cluster_network *net)
{
    free(net->interfaces);
    free(net->interface_states);
    free(net->reach);
}

void network_view_release(struct network_view *view)
{
    if (!view)
        return;
    for (size_t i = 0; i < view->n; i++)
        network_release(&view->networks[i]);
    free(view->networks);
    view->networks = NULL;
    view->n = 0;
}

static int by_number(const void *a, const void *b)
{
    const struct cluster_network *x = a, *y = b;
    return x->settings.number < y->settings.number ? -1 : x->settings.number > y->settings.number;
}

static int allocate_interfaces(struct cluster_network *net, size_t n)
{
    net->interfaces = calloc(n ? n : 1, sizeof(*net->interfaces));
    net->interface_states = calloc(n ? n : 1, sizeof(*net->interface_states));
    net->reach = calloc(n ? n * n : 1, sizeof(*net->reach));
    return net->interfaces && net->interface_states && net->reach ? 0 : -ENOMEM;
}

static void derive(struct cluster_network *net)
{
    size_t n = net->n_interfaces;
    net->has_gateway = false;
    net->speed_mbps = -1;
    for (size_t i = 0; i < n; i++) {
        const struct network_endpoint *e = &net->interfaces[i];
        net->has_gateway |= e->default_gateway;
        if (e->speed_mbps >= 0 && (net->speed_mbps < 0 || e->speed_mbps < net->speed_mbps))
            net->speed_mbps = e->speed_mbps;
    }
    net->state = network_state_of(n, net->reach);
    for (size_t i = 0; i < n; i++)
        net->interface_states[i] = interface_state(n, net->reach, i);
}

int network_view_build(const struct network_settings *settings, size_t n,
                       const struct network_endpoint *endpoints, size_t n_endpoints,
                       network_reach_fn *reach, void *ctx, struct network_view *out)
{
    memset(out, 0, sizeof(*out));
    out->networks = calloc(n ? n : 1, sizeof(*out->networks));
    if (!out->networks)
        return -ENOMEM;
    out->n = n;
    for (size_t k = 0; k < n; k++) {
        struct cluster_network *net = &out->networks[k];
        net->settings = settings[k];
        if (allocate_interfaces(net, n_endpoints) < 0) {
            network_view_release(out);
            return -ENOMEM;
        }
        for (size_t e = 0; e < n_endpoints; e++) {
            if (!subnet_contains(&net->settings.subnet, endpoints[e].address))
                continue;
            bool dup = false;
            for (size_t i = 0; i < net->n_interfaces && !dup; i++)
                dup = strcmp(net->interfaces[i].node, endpoints[e].node) == 0;
            if (!dup)
                net->interfaces[net->n_interfaces++] = endpoints[e];
        }
        size_t m = net->n_interfaces;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++)
                net->reach[i * m + j] = i != j && reach &&
                                        reach(ctx, net->settings.id, net->interfaces[i].node,
                                              net->interfaces[j].node);
        derive(net);
    }
    qsort(out->networks, out->n, sizeof(*out->networks), by_number);
    network_auto_metrics(out);
    return 0;
}

const struct cluster_network *network_view_find(const struct network_view *view, const char *key)
{
    for (size_t i = 0; key && i < view->n; i++)
        if (strcmp(view->networks[i].settings.id, key) == 0 ||
            strcasecmp(view->networks[i].settings.name, key) == 0)
            return &view->networks[i];
    return NULL;
}

const char *network_address_of(const struct cluster_network *net, const char *node)
{
    for (size_t i = 0; i < net->n_interfaces; i++)
        if (strcmp(net->interfaces[i].node, node) == 0)
            return net->interfaces[i].address;
    return NULL;
}

/* ---- JSON ---- */

static struct json_object *endpoint_to_json(const struct cluster_network *net, size_t i)
{
    const struct network_endpoint *e = &net->interfaces[i];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "node", json_object_new_string(e->node));
    json_object_object_add(o, "node_name", json_object_new_string(e->node_name));
    json_object_object_add(o, "nic", json_object_new_string(e->nic));
    json_object_object_add(o, "address", json_object_new_string(e->address));
    json_object_object_add(o, "prefix", json_object_new_int((int)e->prefix));
    json_object_object_add(o, "state",
                           json_object_new_string(interface_state_names[net->interface_states[i]]));
    json_object_object_add(o, "speed_mbps", e->speed_mbps >= 0 ? json_object_new_int64(e->speed_mbps) : NULL);
    json_object_object_add(o, "default_gateway", json_object_new_boolean(e->default_gateway));
    json_object_object_add(o, "switch", e->vswitch[0] ? json_object_new_string(e->vswitch) : NULL);
    struct json_object *off = json_object_new_object();
    for (unsigned k = 0; k < NIC_OFFLOAD_COUNT; k++)
        json_object_object_add(off, nic_offload_to_string((enum nic_offload)k),
                               e->offloads[k] < 0 ? NULL : json_object_new_boolean(e->offloads[k]));
    json_object_object_add(o, "offloads", off);
    struct json_object *pairs = json_object_new_array();
    size_t n = net->n_interfaces;
    for (size_t j = 0; j < n; j++) {
        if (j == i)
            continue;
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "node", json_object_new_string(net->interfaces[j].node));
        json_object_object_add(p, "node_name", json_object_new_string(net->interfaces[j].node_name));
        json_object_object_add(p, "reaches", json_object_new_boolean(net->reach[i * n + j]));
        json_object_object_add(p, "reached_by", json_object_new_boolean(net->reach[j * n + i]));
        json_object_array_add(pairs, p);
    }
    json_object_object_add(o, "reachability", pairs);
    return o;
}

struct json_object *network_to_json(const struct cluster_network *net, bool with_interfaces)
{
    const struct network_settings *s = &net->settings;
    char mask[64];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(s->id));
    json_object_object_add(o, "name", json_object_new_string(s->name));
    json_object_object_add(o, "number", json_object_new_int((int)s->number));
    json_object_object_add(o, "state", json_object_new_string(network_state_to_string(net->state)));
    json_object_object_add(o, "role", json_object_new_string(network_role_to_string(s->role)));
    json_object_object_add(o, "family", json_object_new_string(s->subnet.family == AF_INET6 ? "ipv6" : "ipv4"));
    json_object_object_add(o, "address", json_object_new_string(s->subnet.address));
    json_object_object_add(o, "address_mask", json_object_new_string(subnet_mask_text(&s->subnet, mask, sizeof(mask))));
    json_object_object_add(o, "prefix", json_object_new_int((int)s->subnet.prefix));
    json_object_object_add(o, "metric", json_object_new_int(net->metric));
    json_object_object_add(o, "auto_metric", json_object_new_boolean(s->auto_metric));
    json_object_object_add(o, "has_default_gateway", json_object_new_boolean(net->has_gateway));
    json_object_object_add(o, "speed_mbps", net->speed_mbps >= 0 ? json_object_new_int64(net->speed_mbps) : NULL);
    json_object_object_add(o, "members", json_object_new_int((int)net->n_interfaces));
    if (with_interfaces) {
        struct json_object *list = json_object_new_array();
        for (size_t i = 0; i < net->n_interfaces; i++)
            json_object_array_add(list, endpoint_to_json(net, i));
        json_object_object_add(o, "interfaces", list);
    }
    return o;
}

struct json_object *network_view_to_json(const struct network_view *view)
{
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < view->n; i++)
        json_object_array_add(items, network_to_json(&view->networks[i], true));
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "items", items);
    return o;
}

static const char *str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static bool copy_str(struct json_object *o, const char *key, char *buf, size_t size)
{
    const char *s = str_of(o, key);
    if (!s || strlen(s) >= size)
        return false;
    memcpy(buf, s, strlen(s) + 1);
    return true;
}

static int64_t int_of(struct json_object *o, const char *key, int64_t fallback)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
               ? json_object_get_int64(v)
               : fallback;
}

static bool bool_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static int endpoint_from_json(struct json_object *o, struct network_endpoint *e)
{
    memset(e, 0, sizeof(*e));
    if (!copy_str(o, "node", e->node, sizeof(e->node)) || !copy_str(o, "nic", e->nic, sizeof(e->nic)) ||
        !copy_str(o, "address", e->address, sizeof(e->address)))
        return -EINVAL;
    copy_str(o, "node_name", e->node_name, sizeof(e->node_name));
    e->prefix = (unsigned)int_of(o, "prefix", 0);
    network_endpoint_link_from_json(o, e);
    return 0;
}

void network_endpoint_link_from_json(struct json_object *o, struct network_endpoint *e)
{
    e->vswitch[0] = '\0';
    copy_str(o, "switch", e->vswitch, sizeof(e->vswitch));
    e->speed_mbps = int_of(o, "speed_mbps", -1);
    e->default_gateway = bool_of(o, "default_gateway");
    struct json_object *off = NULL, *v = NULL;
    json_object_object_get_ex(o, "offloads", &off);
    for (unsigned k = 0; k < NIC_OFFLOAD_COUNT; k++)
        e->offloads[k] = off && json_object_object_get_ex(off, nic_offload_to_string((enum nic_offload)k), &v) && v
                             ? json_object_get_boolean(v)
                             : -1;
}

static int network_from_json(struct json_object *o, struct cluster_network *net)
{
    struct network_settings *s = &net->settings;
    const char *address = str_of(o, "address");
    if (!copy_str(o, "id", s->id, sizeof(s->id)) || !copy_str(o, "name", s->name, sizeof(s->name)) ||
        !address || subnet_of(address, (unsigned)int_of(o, "prefix", 0), &s->subnet) < 0 ||
        network_role_from_string(str_of(o, "role"), &s->role) < 0 ||
        network_state_from_string(str_of(o, "state"), &net->state) < 0)
        return -EINVAL;
    s->number = (unsigned)int_of(o, "number", 0);
    s->auto_metric = bool_of(o, "auto_metric");
    net->metric = (int)int_of(o, "metric", 0);
    s->metric = net->metric;
    net->has_gateway = bool_of(o, "has_default_gateway");
    net->speed_mbps = int_of(o, "speed_mbps", -1);
    struct json_object *list = NULL;
    json_object_object_get_ex(o, "interfaces", &list);
    size_t n = list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    if (allocate_interfaces(net, n) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct json_object *item = json_object_array_get_idx(list, i);
        if (endpoint_from_json(item, &net->interfaces[i]) < 0)
            return -EINVAL;
        net->n_interfaces++;
        network_state_from_string(str_of(item, "state"), &net->interface_states[i]);
    }
    for (size_t i = 0; i < n; i++) {
        struct json_object *pairs = NULL;
        json_object_object_get_ex(json_object_array_get_idx(list, i), "reachability", &pairs);
        /* json-c asserts (aborts the agent) on the length of what is no list. */
        if (pairs && !json_object_is_type(pairs, json_type_array))
            return -EINVAL;
        for (size_t p = 0; pairs && p < json_object_array_length(pairs); p++) {
            struct json_object *pair = json_object_array_get_idx(pairs, p);
            const char *node = str_of(pair, "node");
            for (size_t j = 0; node && j < n; j++)
                if (j != i && strcmp(net->interfaces[j].node, node) == 0)
                    net->reach[i * n + j] = bool_of(pair, "reaches");
        }
    }
    return 0;
}

int network_view_from_json(struct json_object *obj, struct network_view *out)
{
    memset(out, 0, sizeof(*out));
    struct json_object *items = NULL;
    if (!obj || !json_object_object_get_ex(obj, "items", &items) ||
        !json_object_is_type(items, json_type_array))
        return -EINVAL;
    size_t n = json_object_array_length(items);
    out->networks = calloc(n ? n : 1, sizeof(*out->networks));
    if (!out->networks)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        out->n++;
        int r = network_from_json(json_object_array_get_idx(items, i), &out->networks[i]);
        if (r < 0) {
            network_view_release(out);
            return r;
        }
    }
    return 0;
}
