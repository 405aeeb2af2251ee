/* Cluster membership upkeep and the members' credentials.
 *
 * Joining (issue 14): an admin asks the registry for a one-time join token
 * (POST /v1/cluster/join-tokens); on the new agent, POST /v1/cluster/join
 * {"token"} (lmnetctl cluster join TOKEN) makes this agent call its
 * configured registry with the token, its node id, name and URL.  The
 * registry spends the token and answers with this member's own credential,
 * which the member keeps in member_credential_file (mode 0600) and the
 * registry only as a hash.  The registry never calls a URL before the agent
 * behind it has proved itself, so no secret goes to an address someone
 * typed.  From then on every report the member makes about itself (its
 * refresh, inventory, reachability) carries that credential, and the
 * registry takes reports about a member only with that member's own
 * credential (SCOPE_MEMBER, api/route.h).
 *
 * On the registry agent (registry = self) it records the agent itself as a
 * member.  On every other agent a thread ("lmnet-member") refreshes this
 * agent's membership every few seconds (PUT /v1/cluster/members/ID with
 * the credential; repeating is harmless and keeps last_seen fresh) and
 * copies the registry's member list into the local database, so peers stay
 * known while the registry is down.  The registry's reachability is kept
 * for /v1/health. */
#ifndef LMNET_AGENT_MEMBERSHIP_H
#define LMNET_AGENT_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

struct agent;
struct membership;
struct refusal;

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

/* Joins the cluster with JOIN_TOKEN (a non-registry agent): calls the
 * registry, stores the member credential it issues and starts using it.
 * Returns 0, or a negative errno with ERR filled (-EACCES: the registry
 * refused the token; -EINVAL: this agent is the registry). */
int membership_join(struct agent *agent, const char *join_token, struct refusal *err);

/* Copies this member's credential into OUT (CREDENTIAL_SIZE bytes).
 * Returns 0, or -ENOENT before this agent has joined (or when MEMBERSHIP is
 * NULL). */
int membership_credential(struct membership *membership, char *out);

/* On the registry: the member whose credential PRESENTED is, its uuid into
 * MEMBER.  Returns 0, or -EACCES (not a member credential this registry
 * issued, or this agent is not the registry). */
int membership_authenticate(struct agent *agent, const char *presented, char member[37]);

/* True when this agent is the registry. */
bool agent_is_registry(const struct agent *agent);

#endif
