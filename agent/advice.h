/* Good-practice checks over the cluster networks (GET /v1/cluster/checks,
 * `lmnetctl network check`): what an experienced cluster operator would
 * point out, each finding with the network, the nodes and NICs concerned
 * and how to fix it:
 * - no network has the role migration;
 * - a node's migration network shares a NIC with its management or storage
 *   network;
 * - a node's management network runs over a NIC that is a VM switch's
 *   uplink (or that switch's bridge);
 * - a network has a role but some member has no address on it;
 * - members on one network have different offload settings. */
#ifndef LMNET_AGENT_ADVICE_H
#define LMNET_AGENT_ADVICE_H

#include <stddef.h>
#include <json-c/json.h>
#include "model/network.h"

struct advice_member {
    char node[37];
    char name[64];
};

/* The findings for VIEW and the cluster's MEMBERS (n), as a JSON array of
 * {"check", "severity", "network", "summary", "nodes": [{"node",
 * "node_name", "nic"}], "fix"} (caller owns); empty when all is well. */
struct json_object *advice_check(const struct network_view *view, const struct advice_member *members,
                                 size_t n_members);

#endif
