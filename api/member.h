/* Routes for /v1/cluster/members (list, join with a join token, show, a
 * member's own refresh, remove), /v1/cluster/join-tokens and
 * /v1/cluster/join. */
#ifndef LMNET_API_MEMBER_H
#define LMNET_API_MEMBER_H

#include "api/route.h"

extern const struct route member_routes[];

#endif
