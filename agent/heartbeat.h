/* Heartbeats on the cluster networks, and the upkeep that feeds them.
 *
 * One thread, "lmnet-heartbeat", every agent:
 * - every HEARTBEAT_REFRESH_MS it sends this host's inventory to the
 *   registry when it changed (agent/inventory.h) and reads the cluster
 *   networks (agent/clusternet.h);
 * - on each network where this host has an address and at least one other
 *   member has one too, it binds a UDP socket to that address and the
 *   heartbeat port (never the wildcard address) and sends a datagram every
 *   interval to every other member's address on the network;
 * - a datagram counts only when it names that network and a member whose
 *   address on it is the datagram's source; anything else is ignored and
 *   counted;
 * - a member is heard while its last heartbeat is younger than threshold x
 *   interval; what it hears it reports to the registry when it changes
 *   (and every few seconds), which turns all reports into the networks'
 *   states (agent/reachability.h).
 *
 * Datagram (84 bytes): "LMHB", version 1, 3 zero bytes, a 32-bit sequence
 * number (network order), the sender's node uuid (36 bytes) and the
 * network's id (36 bytes). */
#ifndef LMNET_AGENT_HEARTBEAT_H
#define LMNET_AGENT_HEARTBEAT_H

#include <json-c/json.h>

#define HEARTBEAT_REFRESH_MS 2000

struct agent;
struct heartbeat;

/* Starts the thread.  Returns 0 and *out, or a negative errno. */
int heartbeat_start(struct agent *agent, struct heartbeat **out);

/* Stops the thread, closes the sockets and frees; NULL is a no-op. */
void heartbeat_stop(struct heartbeat *heartbeat);

/* What the thread does now: listeners, peers heard, counters (caller
 * owns). */
struct json_object *heartbeat_status(struct heartbeat *heartbeat);

#endif
