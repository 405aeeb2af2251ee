/* Cluster networks: the subnets the members share, the Get-ClusterNetwork
 * view of the cluster.
 *
 * Pure rules over plain data, so each is tested on its own:
 * - discovery: every subnet on which some member has an address becomes a
 *   network the first time it is seen, named "Cluster Network N" with the
 *   lowest N not in use; the number and name are stored, so they survive
 *   restarts and do not move when other networks come and go;
 * - the automatic metric: from 1000 for networks without a default gateway
 *   and from 10000 for those with one, in steps of 100, faster links first
 *   (Windows' scheme);
 * - the measured state from the heartbeat matrix: up when every member
 *   reaches every other, partitioned when some pairs fail, down when none
 *   succeed, unavailable with fewer than two members on it.
 *
 * The registry builds the view from stored settings, the members'
 * inventories and the heartbeat reports (agent/clusternet.h); the other
 * agents read it back from JSON. */
#ifndef LMNET_AGENT_NETWORK_H
#define LMNET_AGENT_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "model/nic.h"
#include "model/subnet.h"

enum network_role {
    NETWORK_ROLE_NONE,
    NETWORK_ROLE_MANAGEMENT,
    NETWORK_ROLE_MIGRATION,
    NETWORK_ROLE_STORAGE,
    NETWORK_ROLE_VM,
};

enum network_state {
    NETWORK_STATE_UP,
    NETWORK_STATE_PARTITIONED,
    NETWORK_STATE_DOWN,
    NETWORK_STATE_UNAVAILABLE,
};

/* "none", "management", ...; from_string returns 0 or -EINVAL. */
const char *network_role_to_string(enum network_role role);
int network_role_from_string(const char *text, enum network_role *role);
/* "up", "partitioned", "down", "unavailable"; from_string likewise. */
const char *network_state_to_string(enum network_state state);
int network_state_from_string(const char *text, enum network_state *state);

/* One address of one NIC of one member, as its inventory reports it. */
struct network_endpoint {
    char node[37];        /* member uuid */
    char node_name[64];
    char nic[16];
    char address[64];
    unsigned prefix;
    int64_t speed_mbps;   /* -1 unknown */
    bool default_gateway; /* a default route leaves through this NIC */
    char vswitch[64];     /* the VM switch this NIC is the uplink or bridge of, "" none */
    int offloads[NIC_OFFLOAD_COUNT]; /* -1 unknown, 0 off, 1 on */
};

/* What is stored of a network (db/network.h). */
struct network_settings {
    char id[37];
    unsigned number;      /* N of "Cluster Network N" */
    char name[64];
    struct subnet subnet;
    enum network_role role;
    int metric;           /* the metric set by hand; used when !auto_metric */
    bool auto_metric;
};

/* A network with what is measured and derived. */
struct cluster_network {
    struct network_settings settings;
    int metric;              /* effective: automatic or set */
    bool has_gateway;        /* some interface on it carries a default route */
    int64_t speed_mbps;      /* the slowest known interface, -1 unknown */
    enum network_state state;
    size_t n_interfaces;
    struct network_endpoint *interfaces; /* one per member on it */
    enum network_state *interface_states; /* per interface (up/partitioned/down
                                             read as up/partial/unreachable) */
    bool *reach;             /* n_interfaces squared: reach[i * n + j] is true
                                when i's heartbeats arrive at j */
};

struct network_view {
    size_t n;
    struct cluster_network *networks; /* by number */
};

/* Whether FROM's heartbeats on NETWORK arrive at TO (node uuids). */
typedef bool network_reach_fn(void *ctx, const char *network_id, const char *from, const char *to);

/* Finds the subnets among ENDPOINTS that none of KNOWN covers and makes
 * settings for them: a new uuid, the lowest free number, the name "Cluster
 * Network N" (skipping names a rename already took), role management when
 * one of MANAGEMENT_ADDRESSES lies in it, else none, automatic metric.
 * *added (n_added) is the caller's to free().  Returns 0 or -ENOMEM. */
int network_discover(const struct network_endpoint *endpoints, size_t n_endpoints,
                     const struct network_settings *known, size_t n_known,
                     const char *const *management_addresses, size_t n_management,
                     struct network_settings **added, size_t *n_added);

/* Builds the view of SETTINGS (n): each network with the endpoints inside
 * its subnet (the first per member), the effective metric and the states
 * from REACH (may be NULL: nothing reaches anything).  *out is released
 * with network_view_release().  Returns 0 or -ENOMEM. */
int network_view_build(const struct network_settings *settings, size_t n,
                       const struct network_endpoint *endpoints, size_t n_endpoints,
                       network_reach_fn *reach, void *ctx, struct network_view *out);

void network_view_release(struct network_view *view);

/* The state of a network of N members from its reach matrix (n*n). */
enum network_state network_state_of(size_t n, const bool *reach);

/* Sets the effective metric of each network of VIEW: the set one, or the
 * automatic one. */
void network_auto_metrics(struct network_view *view);

/* Finds a network by id or name (case-insensitive name).  NULL if none. */
const struct cluster_network *network_view_find(const struct network_view *view, const char *key);

/* The address of NODE on NETWORK, or NULL. */
const char *network_address_of(const struct cluster_network *network, const char *node);

/* JSON form, with "interfaces" when WITH_INTERFACES (caller owns). */
struct json_object *network_to_json(const struct cluster_network *network, bool with_interfaces);

/* The view as {"items": [...]} with interfaces, and back (what non-registry
 * agents cache).  from_json returns 0 or -EINVAL. */
struct json_object *network_view_to_json(const struct network_view *view);
int network_view_from_json(struct json_object *obj, struct network_view *out);

/* Reads the link facts a NIC's JSON and an interface's JSON share
 * ("switch", "speed_mbps", "default_gateway", "offloads") into E; what is
 * missing reads as unknown (-1) or none. */
void network_endpoint_link_from_json(struct json_object *obj, struct network_endpoint *e);

/* The default name of network number N. */
void network_default_name(unsigned number, char *buf, size_t size);

#endif
