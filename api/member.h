/* Routes for /v1/cluster/members: list, join (POST {"url"}), show, remove. */
#ifndef LMNET_API_MEMBER_H
#define LMNET_API_MEMBER_H

#include "api/route.h"

extern const struct route member_routes[];

#endif
