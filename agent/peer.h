/* Calls from this agent to another agent: a REST client (client/client.h)
 * aimed at the peer's base URL and presenting this agent's peer token. */
#ifndef LMNET_AGENT_PEER_H
#define LMNET_AGENT_PEER_H

#include "client/client.h"

struct agent;

/* Creates a client for the agent at URL with a TIMEOUT_MS per call.  The
 * caller owns *out (client_destroy()).  Returns 0 or a negative errno. */
int peer_client_create(const struct agent *agent, const char *url, long timeout_ms,
                       struct client **out);

/* The same, presenting TOKEN (a member credential) instead of the peer
 * token. */
int peer_client_create_as(const struct agent *agent, const char *url, const char *token,
                          long timeout_ms, struct client **out);

#endif
