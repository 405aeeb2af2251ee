/* Agent-to-agent clients.  Peers present the token from peer_token_file;
 * the cluster's agents list that token in their token files. */
#include "agent/peer.h"

#include "agent/agent.h"

int peer_client_create(const struct agent *agent, const char *url, long timeout_ms,
                       struct client **out)
{
    struct client_options options = {
        .base_url = url,
        .token = agent->peer_token,
        .timeout_ms = timeout_ms,
    };
    return client_create(&options, out);
}
