/* The host inventory as members share it: this host's NICs (model/nic.h)
 * with the VM switch each one carries, sent to the registry, and the
 * registry's reading of everyone's inventory as network endpoints.
 *
 * Form: {"node": UUID, "name": HOSTNAME, "nics": [NIC as GET /v1/host/nics
 * gives it, plus "switch": the external switch it is the uplink or bridge
 * of, or null]}. */
#ifndef LMNET_AGENT_INVENTORY_H
#define LMNET_AGENT_INVENTORY_H

#include <stddef.h>
#include <json-c/json.h>
#include "model/network.h"

struct agent;

/* Reads this host's inventory.  Returns it (caller owns) or NULL when the
 * NICs cannot be read (logged). */
struct json_object *inventory_collect(struct agent *agent);

/* Turns ALL ({"MEMBER": {"inventory": {...}}, ...}, as
 * network_inventory_all() gives it) into one endpoint per address.  *out
 * (n) is the caller's to free().  Returns 0 or -ENOMEM; unreadable entries
 * are skipped. */
int inventory_endpoints(struct json_object *all, struct network_endpoint **out, size_t *n);

#endif
