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
 * Datagram, signed (96 bytes): "LMHB", version 2, 3 zero bytes, a 32-bit
 * sequence number (network order), the sender's node uuid (36 bytes), the
 * network's id (36 bytes), the sender's run (32 bits: the start time in
 * HEARTBEAT_RUN_TICK_MS since HEARTBEAT_RUN_EPOCH_MS, so each start's is
 * above the last one's), then the SipHash-2-4 tag of the 88 bytes before it
 * under the cluster's heartbeat key (db/heartbeat_key.h; the registry makes
 * it, the others fetch it with GET /v1/cluster/heartbeat-key and keep a
 * copy), little-endian.  A host with the key takes only signed datagrams
 * with a good tag and either a sequence number above the last one of that
 * run or a later run (a restarted member is heard again at once); an
 * earlier run only once the member has gone quiet (a clock set back).  So
 * a copy of a datagram cannot make a silent member look alive, nor keep a
 * restarted one from being heard.  Until a host has the key (a member
 * that never reached its registry) it sends and takes version 1: the same
 * first 84 bytes, unsigned. */
#ifndef LMNET_AGENT_HEARTBEAT_H
#define LMNET_AGENT_HEARTBEAT_H

#include <json-c/json.h>

#define HEARTBEAT_REFRESH_MS 2000
#define HEARTBEAT_RUN_EPOCH_MS INT64_C(1767225600000) /* 2026-01-01 UTC */
#define HEARTBEAT_RUN_TICK_MS  256                    /* 32 bits of them: until 2060 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "db/heartbeat_key.h"

struct agent;
struct heartbeat;

/* What a heartbeat datagram says, once it has been checked. */
struct heartbeat_datagram {
    int version;                  /* 1 (unsigned) or 2 (signed) */
    uint32_t seq;                 /* version 2 only, else 0 */
    uint32_t run;                 /* version 2 only, else 0 */
    const unsigned char *node;    /* the sender's node uuid: 36 bytes inside the packet */
    const unsigned char *network; /* the network's id: 36 bytes inside the packet */
};

/* Why a signed datagram of RUN and SEQ from a member does not count, given
 * the last one taken from it (SEEN false: none yet; LAST_RUN, LAST_SEQ) and
 * whether the member is heard now (HEARD); NULL when it counts.  The reason
 * is a static sentence. */
const char *heartbeat_refusal(bool seen, uint32_t last_run, uint32_t last_seq, bool heard,
                              uint32_t run, uint32_t seq);

/* The run of a start at WALL_MS (CLOCK_REALTIME milliseconds), at least 1. */
uint32_t heartbeat_run_at(int64_t wall_ms);

/* Checks the N bytes of PACKET as a host takes them: a version-2 datagram
 * with a good tag under KEY when KEY is not NULL, else a version-1 one.
 * Returns 0 and *out (pointing into PACKET), or -EINVAL with the reason,
 * a static sentence, in *why. */
int heartbeat_datagram_parse(const unsigned char *packet, size_t n,
                             const uint8_t key[HEARTBEAT_KEY_SIZE], struct heartbeat_datagram *out,
                             const char **why);

/* Starts the thread.  Returns 0 and *out, or a negative errno. */
int heartbeat_start(struct agent *agent, struct heartbeat **out);

/* Stops the thread, closes the sockets and frees; NULL is a no-op. */
void heartbeat_stop(struct heartbeat *heartbeat);

/* What the thread does now: listeners, peers heard, counters (caller
 * owns). */
struct json_object *heartbeat_status(struct heartbeat *heartbeat);

#endif
