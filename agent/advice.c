/* Good-practice checks: see agent/advice.h. */
#include "agent/advice.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct json_object *finding(struct json_object *list, const char *check, const char *severity,
                                   const struct cluster_network *net, const char *fix,
                                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static struct json_object *finding(struct json_object *list, const char *check, const char *severity,
                                   const struct cluster_network *net, const char *fix,
                                   const char *fmt, ...)
{
    char summary[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(summary, sizeof(summary), fmt, ap);
    va_end(ap);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "check", json_object_new_string(check));
    json_object_object_add(o, "severity", json_object_new_string(severity));
    json_object_object_add(o, "network", net ? json_object_new_string(net->settings.name) : NULL);
    json_object_object_add(o, "summary", json_object_new_string(summary));
    json_object_object_add(o, "nodes", json_object_new_array());
    json_object_object_add(o, "fix", json_object_new_string(fix));
    json_object_array_add(list, o);
    return o;
}

static void add_node(struct json_object *f, const char *node, const char *node_name, const char *nic)
{
    struct json_object *nodes = NULL;
    json_object_object_get_ex(f, "nodes", &nodes);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "node", json_object_new_string(node));
    json_object_object_add(o, "node_name", json_object_new_string(node_name));
    json_object_object_add(o, "nic", nic ? json_object_new_string(nic) : NULL);
    json_object_array_add(nodes, o);
}

static const struct network_endpoint *interface_of(const struct cluster_network *net, const char *node)
{
    for (size_t i = 0; i < net->n_interfaces; i++)
        if (strcmp(net->interfaces[i].node, node) == 0)
            return &net->interfaces[i];
    return NULL;
}

static void no_migration_network(const struct network_view *view, struct json_object *list)
{
    for (size_t i = 0; i < view->n; i++)
        if (view->networks[i].settings.role == NETWORK_ROLE_MIGRATION)
            return;
    finding(list, "no-migration-network", "warning", NULL,
            "give a network the hosts share, on its own NICs, the role migration: "
            "lmnetctl network set 'Cluster Network N' --role migration",
            "no cluster network has the role migration: live migrations are refused "
            "(or would have to share the management network)");
}

/* Each node whose NIC carries both a network of role A and one of role B. */
static void shared_nic(const struct network_view *view, enum network_role a, enum network_role b,
                       const char *check, const char *fix, struct json_object *list)
{
    for (size_t i = 0; i < view->n; i++) {
        const struct cluster_network *x = &view->networks[i];
        if (x->settings.role != a)
            continue;
        for (size_t j = 0; j < view->n; j++) {
            const struct cluster_network *y = &view->networks[j];
            if (j == i || y->settings.role != b)
                continue;
            struct json_object *f = NULL;
            for (size_t k = 0; k < x->n_interfaces; k++) {
                const struct network_endpoint *e = &x->interfaces[k];
                const struct network_endpoint *other = interface_of(y, e->node);
                if (!other || strcmp(other->nic, e->nic) != 0)
                    continue;
                if (!f)
                    f = finding(list, check, "warning", x, fix,
                                "'%s' (%s) and '%s' (%s) run over the same NIC", x->settings.name,
                                network_role_to_string(a), y->settings.name, network_role_to_string(b));
                add_node(f, e->node, e->node_name, e->nic);
            }
        }
    }
}

static void management_on_uplink(const struct network_view *view, struct json_object *list)
{
    for (size_t i = 0; i < view->n; i++) {
        const struct cluster_network *net = &view->networks[i];
        if (net->settings.role != NETWORK_ROLE_MANAGEMENT)
            continue;
        struct json_object *f = NULL;
        for (size_t k = 0; k < net->n_interfaces; k++) {
            const struct network_endpoint *e = &net->interfaces[k];
            if (!e->vswitch[0])
                continue;
            if (!f)
                f = finding(list, "management-on-vm-uplink", "warning", net,
                            "move the management address to a NIC of its own, or give the VM switch "
                            "another uplink",
                            "management network '%s' shares a NIC with a VM switch's uplink: VM traffic "
                            "can starve the cluster's own",
                            net->settings.name);
            add_node(f, e->node, e->node_name, e->nic);
        }
    }
}

static void role_not_everywhere(const struct network_view *view, const struct advice_member *members,
                                size_t n_members, struct json_object *list)
{
    for (size_t i = 0; i < view->n; i++) {
        const struct cluster_network *net = &view->networks[i];
        if (net->settings.role == NETWORK_ROLE_NONE)
            continue;
        struct json_object *f = NULL;
        for (size_t m = 0; m < n_members; m++) {
            if (interface_of(net, members[m].node))
                continue;
            if (!f)
                f = finding(list, "role-not-on-every-member", "warning", net,
                            "give every member an address on the network, or take the role away: "
                            "lmnetctl network set NAME --role none",
                            "'%s' has the role %s but not every member is on it", net->settings.name,
                            network_role_to_string(net->settings.role));
            add_node(f, members[m].node, members[m].name, NULL);
        }
    }
}

static void offloads_differ(const struct network_view *view, struct json_object *list)
{
    for (size_t i = 0; i < view->n; i++) {
        const struct cluster_network *net = &view->networks[i];
        for (unsigned o = 0; o < NIC_OFFLOAD_COUNT; o++) {
            int seen = -1;
            bool differ = false;
            for (size_t k = 0; k < net->n_interfaces; k++) {
                int v = net->interfaces[k].offloads[o];
                if (v < 0)
                    continue;
                if (seen >= 0 && v != seen)
                    differ = true;
                seen = v;
            }
            if (!differ)
                continue;
            const char *name = nic_offload_to_string((enum nic_offload)o);
            char fix[160];
            snprintf(fix, sizeof(fix), "set it the same on every member: lmnetctl nic set NIC %s=on (or off)",
                     name);
            struct json_object *f = finding(list, "offloads-differ", "warning", net, fix,
                                            "offload %s differs between the members on '%s'", name,
                                            net->settings.name);
            for (size_t k = 0; k < net->n_interfaces; k++) {
                const struct network_endpoint *e = &net->interfaces[k];
                if (e->offloads[o] < 0)
                    continue;
                add_node(f, e->node, e->node_name, e->nic);
                struct json_object *nodes = NULL;
                json_object_object_get_ex(f, "nodes", &nodes);
                struct json_object *last = json_object_array_get_idx(nodes, json_object_array_length(nodes) - 1);
                json_object_object_add(last, name, json_object_new_boolean(e->offloads[o]));
            }
        }
    }
}

struct json_object *advice_check(const struct network_view *view, const struct advice_member *members,
                                 size_t n_members)
{
    struct json_object *list = json_object_new_array();
    no_migration_network(view, list);
    shared_nic(view, NETWORK_ROLE_MIGRATION, NETWORK_ROLE_MANAGEMENT, "migration-shares-nic",
               "give live migration NICs of their own", list);
    shared_nic(view, NETWORK_ROLE_MIGRATION, NETWORK_ROLE_STORAGE, "migration-shares-nic",
               "give live migration NICs of their own", list);
    management_on_uplink(view, list);
    role_not_everywhere(view, members, n_members, list);
    offloads_differ(view, list);
    return list;
}
