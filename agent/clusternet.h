/* The cluster networks as this agent knows them.
 *
 * On the registry they are built on demand from the stored settings, the
 * members' inventories and the heartbeat reports (model/network.h does the
 * rules).  Every other agent asks the registry and keeps its last answer in
 * the database, so heartbeats and migrations carry on while the registry is
 * away; the answer then says it came from that copy. */
#ifndef LMNET_AGENT_CLUSTERNET_H
#define LMNET_AGENT_CLUSTERNET_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include "model/network.h"

struct agent;
struct planner_network;

/* Registry only: stores MEMBER's INVENTORY (not consumed) and creates the
 * networks for subnets seen for the first time, in one transaction.
 * Returns 0, -ENOENT when MEMBER is not a member, or a negative errno. */
int clusternet_record_inventory(struct agent *agent, const char *member, struct json_object *inventory);

/* The current view into *out (release with network_view_release()).
 * *from_cache (may be NULL) is set when the registry did not answer and
 * the stored copy was used.  Returns 0, -ENOENT when there is nothing to
 * show (registry away, nothing cached), or a negative errno. */
int clusternet_view(struct agent *agent, struct network_view *out, bool *from_cache);

/* Builds the view from this agent's own stored settings, the members'
 * inventories and the heartbeat reports (what the registry serves).
 * Release with network_view_release().  Returns 0 or a negative errno. */
int clusternet_build(struct agent *agent, struct network_view *out);

/* migrator_networks_fn: the networks as seen by the pair SOURCE,
 * DESTINATION (node uuids), for the planner. */
int clusternet_pair(struct agent *agent, const char *source, const char *destination,
                    struct planner_network **out, size_t *n);

#endif
