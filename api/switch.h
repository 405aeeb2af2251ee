/* Routes for /v1/switches: list, create, show, delete. */
#ifndef LMNET_API_SWITCH_H
#define LMNET_API_SWITCH_H

#include "api/route.h"

extern const struct route switch_routes[];

#endif
