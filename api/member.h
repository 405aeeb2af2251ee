/* Routes for /v1/cluster/members (list, join with a join token, show, a
 * member's own refresh, remove), /v1/cluster/join-tokens and
 * /v1/cluster/join. */
#ifndef LMNET_API_MEMBER_H
#define LMNET_API_MEMBER_H

#include "api/route.h"

struct member;

/* Reads the body of POST /v1/cluster/members (REQ->json) as the registry's
 * handler does: the join token into TOKEN (TOKEN_SIZE bytes; the caller
 * wipes it), the agent's id, name and base URL into M (cleared first).
 * Returns 0, or sets a 422 problem on RESP naming the field at fault and
 * returns its result. */
int member_join_parse(struct request *req, struct response *resp, char *token, size_t token_size,
                      struct member *m);

extern const struct route member_routes[];

#endif
