/* Relaying a request to another agent and its answer, whatever it is, back
 * to the caller: how non-registry agents serve what the registry decides
 * (members, MAC pools, VLANs), and how any agent takes a migration for a VM
 * that runs elsewhere. */
#ifndef LMNET_API_RELAY_H
#define LMNET_API_RELAY_H

#include "api/route.h"

/* Sends METHOD PATH with BODY (may be NULL; not consumed) to the agent at
 * URL with the peer token and copies its status, body and Location into
 * RESP.  An agent that does not answer is a 502 problem of type
 * "peer-unreachable" naming WHO ("the registry", "the VM's host").
 * Returns 0 or the problem's negative errno. */
int relay(struct request *req, struct response *resp, const char *url, const char *who,
          const char *method, const char *path, struct json_object *body, long timeout_ms);

/* relay() to this agent's registry; its problem type is
 * "registry-unreachable".  With an etcd registry there is no registry
 * agent: a 409 "registry-is-etcd" problem says so. */
int relay_to_registry(struct request *req, struct response *resp, const char *method,
                      const char *path, struct json_object *body);

/* The problem for a registry call that failed with R: 503
 * "registry-unreachable" (with etcd's reason) for an etcd that did not
 * answer or refused.  Returns the problem's negative errno. */
int registry_problem(struct request *req, struct response *resp, int r, const char *what);

#endif
