/* Routes for the cluster networks: /v1/cluster/networks (list, one, PATCH
 * name, role, metric), /v1/cluster/checks (good-practice advice),
 * /v1/cluster/heartbeats (this agent's heartbeat listeners and counters),
 * and the two calls agents make to the registry:
 * PUT /v1/cluster/members/{id}/inventory and .../reachability. */
#ifndef LMNET_API_NETWORK_H
#define LMNET_API_NETWORK_H

#include "api/route.h"

extern const struct route network_routes[];

#endif
