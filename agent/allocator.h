/* Allocating MAC addresses across the cluster: what the MAC-pool API and
 * the switch ports call to give a VM adapter an address, or take it back.
 *
 * An agent allocates inside blocks it owns, in its own database, with no
 * network round trip (db/macpool.h).  Only when its blocks of a pool are
 * full does it claim another block from the registry, and a requested
 * address outside its blocks is first claimed at the registry as a
 * single-address block; on the registry agent both are local calls, on the
 * others POST /v1/mac-pools/{name}/blocks over the peer client.  With the
 * registry unreachable an agent goes on allocating from the blocks it holds.
 *
 * The dynamic pool ("dynamic") is this host's own: 00:15:5d, then the last
 * two octets of the management IPv4 address, then 256 addresses.
 *
 * Every allocation, release and block claim is an event with the actor. */
#ifndef LMNET_AGENT_ALLOCATOR_H
#define LMNET_AGENT_ALLOCATOR_H

#include <stdbool.h>
#include <stdint.h>
#include "base/refusal.h"
#include "db/macpool.h"

struct agent;

struct allocation_request {
    bool has_mac;        /* a requested address */
    uint64_t mac;
    char vm[64];
    char adapter[64];
    char key[128];       /* Idempotency-Key, "" for none */
};

/* Allocates from POOL for REQUEST on behalf of ACTOR (token name).  Returns
 * 1 and *out for a new allocation, 0 and *out when the idempotency key
 * names an allocation made before (a retried request), or a negative errno
 * with ERR filled. */
int allocator_allocate(struct agent *agent, const char *pool,
                       const struct allocation_request *request, const char *actor,
                       struct mac_allocation *out, struct refusal *err);

/* Releases MAC from POOL.  Returns 0, or a negative errno with ERR filled
 * (-ENOENT: not allocated here). */
int allocator_release(struct agent *agent, const char *pool, uint64_t mac, const char *actor,
                      struct refusal *err);

/* Gives back to the registry this agent's blocks of static pools that have
 * no address allocated and were claimed at least MIN_AGE_MS ago (a claim
 * younger than that may be about to be allocated from), at most a few per
 * call: what a release could not give back (the registry away, the agent
 * stopped in between, blocks emptied by an older lmnetd).  Returns how
 * many went back, or a negative errno. */
int allocator_give_back_empty(struct agent *agent, int64_t min_age_ms);

/* Registry side of a claim: a block of POOL for NODE (HAS_MAC false) or the
 * single address MAC.  On success *block is the claim and RESERVED
 * (MACPOOL_MAX_RESERVED) the addresses other nodes hold inside it.  Returns
 * 0 or a negative errno with ERR filled. */
int allocator_claim(struct agent *agent, const char *pool, const char *node, bool has_mac,
                    uint64_t mac, const char *actor, struct mac_block *block, uint64_t *reserved,
                    size_t *n_reserved, struct refusal *err);

/* Fetches POOL's definition from the registry into this agent's database
 * when it is not there yet (a no-op on the registry).  Returns 0, -ENOENT
 * when the cluster has no such pool, or a negative errno with ERR filled. */
int allocator_learn_pool(struct agent *agent, const char *pool, struct refusal *err);

#endif
