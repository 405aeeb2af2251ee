/* Routes for /v1/migrations: submit (any agent; forwarded to the VM's
 * host), list, show with its journal, cancel, and the peer calls a source
 * agent makes on the destination (prepare, switchover, finish, abort). */
#ifndef LMNET_API_MIGRATION_H
#define LMNET_API_MIGRATION_H

#include "api/route.h"

struct migration_request;

/* Reads the body of POST /v1/migrations (REQ->json) into RQ, as the handler
 * does: vm, destination, mode and options (options.convergence refines
 * REQ->agent's defaults).  Returns 0, or sets a 422 problem on RESP naming
 * the field at fault and returns its result. */
int migration_request_parse(struct request *req, struct response *resp,
                            struct migration_request *rq);

extern const struct route migration_routes[];

#endif
