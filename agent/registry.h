/* The cluster registry: the one place that decides what must be unique or
 * agreed cluster-wide (MAC block claims, single-address claims, the member
 * list, the cluster networks, the heartbeat key), as one table of function
 * pointers behind struct registry, so the rest of the agent does not know
 * which implementation it talks to.
 *
 * Implementations (chosen by the 'registry' setting):
 * - "self" (agent/registry_self.c): this agent is the registry; every call
 *   is a transaction on its own SQLite database;
 * - an http(s):// URL (agent/registry_agent.c): another agent is the
 *   registry; every call is a REST call to it over the peer client;
 * - etcd://HOST:PORT,... (agent/registry_etcd.c): an etcd cluster is the
 *   registry; every agent is equal and claims with compare-and-swap
 *   transactions.
 *
 * Errors are negative errnos with a refusal (base/refusal.h) filled where
 * the call takes one, worded for the API (kind, problem type, detail):
 * -ENOENT (no such pool), -ENOSPC (pool exhausted), -EEXIST (the address
 * is another node's), -EHOSTUNREACH/-ETIMEDOUT and friends (registry
 * unreachable: REFUSAL_UNAVAILABLE registry-unreachable), -EOPNOTSUPP (this
 * implementation cannot do that).
 *
 * Thread-safe: every implementation may be called from any thread. */
#ifndef LMNET_AGENT_REGISTRY_H
#define LMNET_AGENT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "base/refusal.h"
#include "db/heartbeat_key.h"
#include "db/macpool.h"
#include "db/member.h"

struct agent;
struct network_settings;
struct network_view;
struct vlan;
struct registry;

/* What an agent presents when it joins (or re-registers with) the
 * cluster.  CREDENTIAL is whatever the join protocol asks this agent to
 * present (a join token or the member's own credential), or NULL; the
 * implementation carries it to whoever decides. */
struct registry_join {
    char node[37];  /* this agent's uuid */
    char name[256]; /* its host name */
    char url[256];  /* the base URL others reach it at */
    const char *credential;
    /* Out, when not NULL (room for CREDENTIAL_SIZE, agent/credential.h):
     * the member credential the registry issued for a join token, or "". */
    char *issued;
};

struct registry_ops {
    const char *name; /* "self", "agent" */
    void (*destroy)(struct registry *registry);
    /* Reads POOL's definition.  -ENOENT when the cluster has none. */
    int (*pool_get)(struct registry *registry, const char *pool, struct macpool *out,
                    struct refusal *err);
    /* Claims the next free block of POOL for NODE; RESERVED (room for
     * MACPOOL_MAX_RESERVED) gets the addresses other nodes hold inside it
     * as single claims. */
    int (*claim_block)(struct registry *registry, const char *pool, const char *node,
                       const char *actor, struct mac_block *out, uint64_t *reserved,
                       size_t *n_reserved, struct refusal *err);
    /* Claims the single address MAC of POOL for NODE (MAC may lie outside
     * the pool's ranges).  0 when NODE holds it now (or did already). */
    int (*claim_address)(struct registry *registry, const char *pool, const char *node,
                         uint64_t mac, const char *actor, struct mac_block *out,
                         struct refusal *err);
    /* Gives BLOCK of POOL, held by NODE, back to the pool.  The caller has
     * made sure no address in it is allocated.  -ENOENT when NODE does not
     * hold it. */
    int (*release_block)(struct registry *registry, const char *pool, const char *node,
                         const struct mac_block *block, const char *actor, struct refusal *err);
    /* Registers JOIN as a member (repeating it is harmless and keeps it
     * fresh). */
    int (*join)(struct registry *registry, const struct registry_join *join, struct refusal *err);
    /* The member list: *out (n) is the caller's to free(). */
    int (*members)(struct registry *registry, struct member **out, size_t *n, struct refusal *err);
    /* The cluster networks as the registry sees them (release with
     * network_view_release()). */
    int (*networks)(struct registry *registry, struct network_view *out);
    /* Stores NODE's host inventory (not consumed). -EAGAIN: not a member
     * yet or busy, try again next round. */
    int (*inventory_put)(struct registry *registry, const char *node,
                         struct json_object *inventory);
    /* Stores what NODE hears, {"NETWORK_ID": ["NODE", ...]} (not consumed). */
    int (*reachability_put)(struct registry *registry, const char *node, struct json_object *heard);
    /* The cluster's heartbeat key (made once, by whoever comes first). */
    int (*heartbeat_key)(struct registry *registry, uint8_t key[HEARTBEAT_KEY_SIZE]);

    /* The catalogue, for implementations every agent writes to directly
     * (etcd); NULL where the API relays to a registry agent or writes its
     * own database (self).  Lists are the caller's to free(). */
    int (*pool_list)(struct registry *registry, struct macpool **out, size_t *n);
    /* -EEXIST (name taken), -EADDRINUSE (overlap; the other pool in CLASH,
     * 64 bytes). */
    int (*pool_create)(struct registry *registry, const struct macpool *pool, char *clash);
    /* -ENOENT, -EBUSY (blocks of it are claimed: one of them, with its
     * owner, into *HELD when not NULL). */
    int (*pool_delete)(struct registry *registry, const char *pool, struct mac_block *held);
    int (*network_list)(struct registry *registry, struct network_settings **out, size_t *n);
    /* Stores AFTER in place of BEFORE (same id): -EEXIST (name taken),
     * -EAGAIN (changed in between: read again). */
    int (*network_update)(struct registry *registry, const struct network_settings *before,
                          const struct network_settings *after);
    int (*vlan_list)(struct registry *registry, struct vlan **out, size_t *n);
    /* -EEXIST (id or name taken). */
    int (*vlan_create)(struct registry *registry, const struct vlan *vlan);
    /* -ENOENT. */
    int (*vlan_delete)(struct registry *registry, unsigned id);
};

struct registry {
    const struct registry_ops *ops;
    struct agent *agent;
};

/* Creates the registry AGENT's configuration names (agent->config.registry).
 * Returns 0 and *out (registry_destroy()), -EINVAL for a setting no
 * implementation takes, or a negative errno. */
int registry_create(struct agent *agent, struct registry **out);

/* The implementations' constructors (registry_create picks one). */
int registry_self_create(struct agent *agent, struct registry **out);
int registry_agent_create(struct agent *agent, const char *url, struct registry **out);
int registry_etcd_create(struct agent *agent, const char *endpoints, struct registry **out);

/* Copies the SQLite registry in DB (pools, block and address claims,
 * networks, VLANs, the heartbeat key; not the members, who join by
 * themselves) into the etcd registry ETCD_REGISTRY, reads every key back,
 * and marks it migrated.  Refuses (-EEXIST) when etcd already holds a
 * migrated or any registry under the prefix.  MESSAGE says what was done
 * or why not.  Returns 0 or a negative errno. */
int registry_etcd_migrate(struct registry *etcd_registry, struct db *db, char *message,
                          size_t size);

/* True when REGISTRY is this agent's own database (registry = self). */
bool registry_is_self(const struct registry *registry);

/* True when every agent writes the catalogue (pools, networks, VLANs)
 * straight into REGISTRY (etcd): the API calls the catalogue operations
 * instead of relaying to a registry agent. */
bool registry_is_shared(const struct registry *registry);

/* Dispatchers (see struct registry_ops). */
void registry_destroy(struct registry *registry); /* NULL is a no-op */
int registry_pool_get(struct registry *registry, const char *pool, struct macpool *out,
                      struct refusal *err);
int registry_claim_block(struct registry *registry, const char *pool, const char *node,
                         const char *actor, struct mac_block *out, uint64_t *reserved,
                         size_t *n_reserved, struct refusal *err);
int registry_claim_address(struct registry *registry, const char *pool, const char *node,
                           uint64_t mac, const char *actor, struct mac_block *out,
                           struct refusal *err);
int registry_release_block(struct registry *registry, const char *pool, const char *node,
                           const struct mac_block *block, const char *actor, struct refusal *err);
int registry_join(struct registry *registry, const struct registry_join *join, struct refusal *err);
int registry_members(struct registry *registry, struct member **out, size_t *n,
                     struct refusal *err);
int registry_networks(struct registry *registry, struct network_view *out);
int registry_inventory_put(struct registry *registry, const char *node,
                           struct json_object *inventory);
int registry_reachability_put(struct registry *registry, const char *node,
                              struct json_object *heard);
int registry_heartbeat_key(struct registry *registry, uint8_t key[HEARTBEAT_KEY_SIZE]);

#endif
