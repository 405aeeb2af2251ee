/* Relaying requests to other agents: see api/relay.h. */
#include "api/relay.h"

#include <errno.h>
#include <string.h>
#include "agent/agent.h"
#include "agent/etcd.h"
#include "agent/metrics.h"
#include "agent/peer.h"
#include "agent/registry.h"

/* The bytes of OBJ's JSON text, as the client sends it (0 for NULL). */
static uint64_t json_length(struct json_object *obj)
{
    return obj ? strlen(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN)) : 0;
}

static int relay_typed(struct request *req, struct response *resp, const char *url,
                       const char *who, const char *type, const char *method, const char *path,
                       struct json_object *body, long timeout_ms)
{
    struct client *client = NULL;
    int r = peer_client_create(req->agent, url, timeout_ms, &client);
    if (r < 0)
        return r;
    struct client_reply reply;
    r = client_call(client, method, path, body, NULL, &reply);
    client_destroy(client);
    metrics_count_relay(req->agent->metrics, r >= 0, json_length(body), json_length(reply.body));
    if (r < 0) {
        int p = response_problem(resp, 502, type, NULL, "%s at %s did not answer: %s", who, url,
                                 reply.error);
        client_reply_release(&reply);
        return p;
    }
    if (reply.status >= 400)
        resp->content_type = "application/problem+json";
    if (reply.location)
        response_header(resp, "Location", reply.location);
    response_json(resp, (int)reply.status, reply.body);
    reply.body = NULL;
    client_reply_release(&reply);
    return 0;
}

int relay(struct request *req, struct response *resp, const char *url, const char *who,
          const char *method, const char *path, struct json_object *body, long timeout_ms)
{
    return relay_typed(req, resp, url, who, "peer-unreachable", method, path, body, timeout_ms);
}

int relay_to_registry(struct request *req, struct response *resp, const char *method,
                      const char *path, struct json_object *body)
{
    if (registry_is_shared(req->agent->registry))
        return response_problem(resp, 409, "registry-is-etcd", NULL,
                                "%s %s goes to a registry agent, and this cluster's registry is "
                                "etcd (%s): every agent writes there itself",
                                method, path, req->agent->config.registry);
    return relay_typed(req, resp, req->agent->config.registry,
                       "this agent is not the registry, and the registry", "registry-unreachable",
                       method, path, body, 10000);
}

int registry_problem(struct request *req, struct response *resp, int r, const char *what)
{
    if (r == -EACCES) /* it answered: TLS or authentication refused */
        return response_problem(resp, 503, "registry-refused", NULL,
                                "cannot %s: the registry %s refused this agent: %s", what,
                                req->agent->config.registry, etcd_last_error());
    return response_problem(resp, 503, "registry-unreachable", NULL,
                            "cannot %s: the registry %s did not answer: %s", what,
                            req->agent->config.registry, etcd_last_error());
}
