/* Agent-to-agent clients.  Peers present the token from peer_token_file;
 * the cluster's agents list that token in their token files.  A member's
 * reports to the registry present its own credential instead. */
#include "agent/peer.h"

#include "agent/agent.h"

int peer_client_create_as(const struct agent *agent, const char *url, const char *token,
                          long timeout_ms, struct client **out)
{
    (void)agent;
    struct client_options options = {
        .base_url = url,
        .token = token,
        .timeout_ms = timeout_ms,
    };
    return client_create(&options, out);
}

int peer_client_create(const struct agent *agent, const char *url, long timeout_ms,
                       struct client **out)
{
    return peer_client_create_as(agent, url, agent->peer_token, timeout_ms, out);
}
