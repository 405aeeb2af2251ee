/* Routes for the cluster networks: /v1/cluster/networks (list, one, PATCH
 * name, role, metric), /v1/cluster/checks (good-practice advice),
 * /v1/cluster/heartbeats (this agent's heartbeat listeners and counters),
 * and the two calls agents make to the registry:
 * PUT /v1/cluster/members/{id}/inventory and .../reachability. */
#ifndef LMNET_API_NETWORK_H
#define LMNET_API_NETWORK_H

#include "api/route.h"

struct network_settings;

/* Applies the body of PATCH /v1/cluster/networks/{id} (an object) to S, as
 * the handler does: name, role, metric, auto_metric.  Returns 0, or sets a
 * 422 problem on RESP naming the field at fault and returns its result. */
int network_patch_parse(struct response *resp, struct json_object *body, struct network_settings *s);

extern const struct route network_routes[];

#endif
