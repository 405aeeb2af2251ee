/* Routes for /v1/health, /v1/version and /v1/host. */
#ifndef LMNET_API_SYSTEM_H
#define LMNET_API_SYSTEM_H

#include "api/route.h"

extern const struct route system_routes[];

#endif
