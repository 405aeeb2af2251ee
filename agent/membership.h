/* Cluster membership upkeep.
 *
 * On the registry agent (registry = self) it records the agent itself as a
 * member.  On every other agent a thread ("lmnet-member") registers this
 * agent with the registry every few seconds (POST /v1/cluster/members; the
 * registry upserts, so repeating is harmless and keeps last_seen fresh) and
 * copies the registry's member list into the local database, so peers stay
 * known while the registry is down.  The registry's reachability is kept for
 * /v1/health. */
#ifndef LMNET_AGENT_MEMBERSHIP_H
#define LMNET_AGENT_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

struct agent;
struct membership;

struct registry_status {
    bool self;               /* this agent is the registry */
    bool reachable;          /* last contact succeeded (always true for self) */
    int64_t last_contact_ms; /* wall clock of the last success, 0: never */
    char error[256];         /* why the last contact failed */
};

/* Starts membership upkeep for AGENT.  Returns 0 and *out, or a negative
 * errno. */
int membership_start(struct agent *agent, struct membership **out);

/* Stops the thread and frees; NULL is a no-op. */
void membership_stop(struct membership *membership);

/* Copies the registry's current status into *status (thread-safe). */
void membership_status(struct membership *membership, struct registry_status *status);

/* True when this agent is the registry. */
bool agent_is_registry(const struct agent *agent);

#endif
